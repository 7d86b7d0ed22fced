#!/usr/bin/env bash
# No partial file is claimed. Writers keep a 10,000-row CSV open and append slowly: one while
# `zload serve` starts (its start-up scan finds the file), one in a directory moved in after serve
# started (the walk of the new directory finds it), one in a directory created in place. Each file
# is claimed only after its writer closes it, and all 30,000 rows load exactly once: no
# "duplicate" for the close event, each batch holds the file's full size. --exit-when-idle does
# not exit while a found file waits to settle.
. "$(dirname "$0")/lib.sh"

make_table t "id INTEGER, v TEXT"
put_config partial <<'EOF'
{"s3Prefix": "land/in", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF
mkdir -p "$STORE/land/in" "$WS/stage/sub"

# slow_writer PATH FIRST NAME: writes "id,v" and 10,000 rows from id FIRST in 40 chunks 0.1 s
# apart, keeping PATH open; writes the wall clock (ms) to $WS/NAME.closed just before closing.
slow_writer() {
	local fd i
	exec {fd}>"$1"
	echo "id,v" >&"$fd"
	for ((i = 0; i < 40; i++)); do
		awk -v s=$(($2 + i * 250)) 'BEGIN { for (j = s; j < s + 250; j++) print j ",v" j }' >&"$fd"
		sleep 0.1
	done
	now_ms >"$WS/$3.closed"
	exec {fd}>&-
}
grown() { (($(stat -c %s "$1" 2>/dev/null || echo 0) > 100)); }

start_bg w1 slow_writer "$STORE/land/in/start.csv" 1 w1
w1=$BG_PID
wait_for 10 grown "$STORE/land/in/start.csv"
start_serve serve --exit-when-idle 1
mkdir -p "$STORE/land/in/new/deeper"
start_bg w3 slow_writer "$STORE/land/in/new/deeper/made.csv" 20001 w3
w3=$BG_PID
start_bg w2 slow_writer "$WS/stage/sub/moved.csv" 10001 w2
w2=$BG_PID
wait_for 10 grown "$WS/stage/sub/moved.csv"
mv "$WS/stage/sub" "$STORE/land/in/sub"
for pid in "$w1" "$w2" "$w3"; do
	wait_exit "$pid" 30
	assert_eq 0 "$RC" "writer exit code"
done
wait_exit "$SERVE_PID" 30
assert_eq 0 "$RC" "serve --exit-when-idle exit code"

log=$(<"$WS/serve.log")
assert_not_contains "$log" "duplicate" "serve log"
assert_eq 3 "$(grep -c 'msg="file queued"' <<<"$log")" "files queued"
assert_eq 30000 "$(rows t)" "rows"
assert_eq 30000 "$(sql "$WH" 'SELECT count(DISTINCT id) FROM t')" "distinct ids"
assert_eq "1|30000" "$(sql "$WH" 'SELECT min(id), max(id) FROM t')" "id range"
assert_eq 3 "$(batch_count --status complete)" "complete batches"
for f in w1:in/start.csv w2:in/sub/moved.csv w3:in/new/deeper/made.csv; do
	name=${f%%:*} key=${f#*:}
	size=$(stat -c %s "$STORE/land/$key")
	ok zload files show "land/$key"
	id=$(awk '$1 == "batch" { print $2 }' <<<"$OUT")
	assert_eq complete "$(batch_status "$id")" "status of the batch of $key"
	assert_eq "1 $size" "$(batch_field "$id" files) $(batch_field "$id" bytes)" "the batch of $key holds the whole file"
	received=$(json "int(__import__('datetime').datetime.fromisoformat(j['fileList'][0]['received'].replace('Z','+00:00')).timestamp() * 1000)" \
		zload batches show --json "$id")
	closed=$(<"$WS/$name.closed")
	((received >= closed)) || fail "$key claimed at $received, before its writer closed it at $closed"
done
