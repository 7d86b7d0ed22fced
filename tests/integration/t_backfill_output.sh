#!/usr/bin/env bash
# backfill's output (issue #7, item 16): one final summary line on stdout; progress (redrawn with
# \r) only when stderr is a terminal; with --log-format json stderr holds JSON lines only; objects
# already recorded are logged at debug level, as in serve.
. "$(dirname "$0")/lib.sh"

make_table t "id INTEGER, v TEXT"
put_config bf <<'EOF2'
{"s3Prefix": "b/bf", "batchSize": 100, "batchTimeoutSecs": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
for i in 1 2 3; do csv_rows "b/bf/$i.csv" 1 "$i"; done
csv_rows b/other/x.csv 1 9
ok zload backfill b
id=$(batch_ids --prefix b/bf)
assert_eq "listed 4, queued 3, already known 0, not routed or filtered 1" "$(head -n 1 <<<"$OUT")" "the summary on stdout"
assert_eq 1 "$(grep -c '^listed' <<<"$OUT")" "one summary line"
assert_not_contains "$ERR" "listed" "no progress on stderr when it is not a terminal"
assert_not_contains "$ERR" $'\r' "no carriage return"

csv_rows b/bf/4.csv 1 4
put_config one <<'EOF2'
{"s3Prefix": "b/one", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
csv_rows b/one/o.csv 1 100
ok zload --log-format json backfill b
assert_eq "listed 6, queued 2, already known 3, not routed or filtered 1" "$(head -n 1 <<<"$OUT")" "the second summary"
msgs=$("$PYTHON" -c '
import json, sys
msgs = [json.loads(line)["msg"] for line in sys.stdin if line.strip()]
assert "duplicate event ignored" not in msgs, msgs
print(" ".join(m.replace(" ", "_") for m in msgs))
' <<<"$ERR") || fail "stderr with --log-format json: [$ERR]"
assert_eq "batch_locked loading_batch batch_complete" "$msgs" "stderr: JSON lines about the load only"

# On a terminal, progress goes to stderr, redrawn in place, and the summary still to stdout.
if command -v script >/dev/null; then
	csv_rows b/bf/5.csv 1 5
	script -qec "$ZLOAD backfill --no-load b/bf 2>$WS/tty.err" /dev/null >"$WS/tty.out" </dev/null
	assert_contains "$(<"$WS/tty.out")" "listed 5, queued 1, already known 4, not routed or filtered 0" "summary on a terminal"
fi
ok zload flush b/bf
assert_eq 6 "$(rows t)" "rows"
