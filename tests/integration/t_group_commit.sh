#!/usr/bin/env bash
# Group commit (SQLite state): the claims of one event body go into one transaction per 1,000
# records. A record is answered "queued" only once its group is durable: `zload event` SIGKILLed
# at random moments of a 20,000-record body has printed only records the state holds; whole groups
# are in the state or none of their records; sending the body again claims exactly the rest; a
# duplicate inside one body is still a duplicate; a refused record does not fail the others.
. "$(dirname "$0")/lib.sh"

make_table t "id INTEGER, v TEXT"
put_config g <<'EOF2'
{"s3Prefix": "b/g", "batchSize": 0, "batchTimeoutSecs": 86400, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
N=20000
"$PYTHON" - "$N" >"$WS/body.json" <<'EOF'
import json, sys
n = int(sys.argv[1])
recs = [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
         "s3": {"bucket": {"name": "b"}, "object": {"key": "g/f%05d.csv" % i, "size": 10}}} for i in range(n)]
print(json.dumps({"Records": recs}))
EOF
claimed() { sqlite3 "$WS/state.db" "SELECT count(*) FROM files"; }

# Killed at three moments: what was printed is in the state, and the state holds whole groups.
for delay in 0.05 0.15 0.3; do
	"$ZLOAD" event --no-load "$WS/body.json" >"$WS/out.txt" 2>"$WS/err.txt" &
	pid=$!
	sleep "$delay"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	n=$(claimed)
	# whole lines only: the kill may cut the last one
	printed=$(grep -cE '^queued b/g/f[0-9]{5}\.csv batch=[0-9a-f-]{36}$' "$WS/out.txt")
	(( n % 1000 == 0 )) || fail "after a kill at ${delay}s the state holds $n files: not whole groups of 1000"
	(( printed <= n )) || fail "after a kill at ${delay}s: $printed records printed as queued, only $n in the state"
	sqlite3 "$WS/state.db" "SELECT file_id FROM files" | sort >"$WS/in_state.txt"
	missing=$(sed -nE 's/^queued (b\/g\/f[0-9]{5}\.csv) batch=[0-9a-f-]{36}$/\1/p' "$WS/out.txt" | sort | comm -23 - "$WS/in_state.txt" | head -n 3)
	assert_eq "" "$missing" "records printed as queued but not in the state (kill at ${delay}s)"
	assert_eq "$printed" "$(sed -nE 's/^queued (b\/g\/f[0-9]{5}\.csv) batch=[0-9a-f-]{36}$/\1/p' "$WS/out.txt" | sort | comm -12 - "$WS/in_state.txt" | wc -l)" \
		"every record printed as queued found in the state (kill at ${delay}s)"
	echo "REPORT kill at ${delay}s: $n files in the state, $printed printed as queued"
done

# The body again: exactly the rest is queued, the others are duplicates.
before=$(claimed)
ok zload event --no-load "$WS/body.json"
assert_eq $((N - before)) "$(grep -c '^queued ' <<<"$OUT")" "queued by the body sent again"
assert_eq "$before" "$(grep -c '^duplicate ' <<<"$OUT")" "duplicates by the body sent again"
assert_eq "$N" "$(claimed)" "every record claimed once"
assert_eq "$N" "$(sqlite3 "$WS/state.db" "SELECT sum(file_count) FROM batches")" "batch totals"

# Inside one body: a duplicate is a duplicate, a refused record spoils nothing.
printf '{"Records":[%s,%s,%s]}' \
	'{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"g/new.csv","size":1}}}' \
	'{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"g/new.csv","size":1}}}' \
	'{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"g/../../etc/passwd","size":1}}}' \
	>"$WS/mixed.json"
assert_exit 1 zload event --no-load "$WS/mixed.json"
assert_eq "queued b/g/new.csv batch=$(sqlite3 "$WS/state.db" "SELECT batch_id FROM files WHERE file_id = 'b/g/new.csv'")
duplicate b/g/new.csv" "$OUT" "a duplicate inside the body"
assert_contains "$ERR" "object refused" "the refused record is logged"
assert_eq $((N + 1)) "$(claimed)" "the refused record left nothing, the others stayed"

# backfill submits what it lists a page of 1,000 at a time, one group each: killed, it leaves whole
# pages; run again, it queues exactly the rest.
put_config bf <<'EOF2'
{"s3Prefix": "b/bf", "batchSize": 0, "batchTimeoutSecs": 86400, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
mkdir -p "$STORE/b/bf"
for i in $(seq -w 1 2500); do printf 'id,v\n%d,x\n' "$i" >"$STORE/b/bf/f$i.csv"; done
bf_claimed() { sqlite3 "$WS/state.db" "SELECT count(*) FROM files WHERE prefix = 'b/bf'"; }
"$ZLOAD" backfill --no-load b/bf >"$WS/bf.out" 2>"$WS/bf.err" &
pid=$!
wait_for 20 eval '[[ $(bf_claimed) -ge 1000 ]] || not_running $pid'
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
n=$(bf_claimed)
(( n % 1000 == 0 || n == 2500 )) || fail "a killed backfill left $n files: not whole pages"
echo "REPORT backfill killed with $n of 2500 claimed"
ok zload backfill --no-load b/bf
assert_eq "listed 2500, queued $((2500 - n)), already known $n, not routed or filtered 0" "$OUT" "backfill again"
assert_eq 2500 "$(bf_claimed)" "every listed file claimed once"
