#!/usr/bin/env bash
# batchTimeoutSecs: under `zload serve`, a batch holding one file (batchSize 10, timeout 2 s)
# loads by itself, with no further event, once its first file is 2 s old.
. "$(dirname "$0")/lib.sh"

make_table t "id INTEGER, v TEXT"
put_config timeout <<'EOF2'
{"s3Prefix": "b/slow", "batchSize": 10, "batchTimeoutSecs": 2, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
mkdir -p "$STORE/b/slow"
start_serve serve
csv_rows b/slow/only.csv 4
wait_for 10 log_has "$WS/serve.log" 'msg="file queued"'
id=$(batch_ids --prefix b/slow)
assert_eq open "$(batch_status "$id")" "just queued"
wait_for 10 status_is "$id" complete
assert_eq 4 "$(rows t)" "rows"
assert_contains "$(grep 'batch locked' "$WS/serve.log")" "batch=$id prefix=b/slow reason=batchTimeoutSecs" "lock reason"
waited=$(json "int((__import__('datetime').datetime.fromisoformat(j['lockedAt'].replace('Z','+00:00')) - __import__('datetime').datetime.fromisoformat(j['firstFileAt'].replace('Z','+00:00'))).total_seconds() * 1000)" \
	zload batches show --json "$id")
((waited >= 2000)) || fail "locked ${waited} ms after the first file: before batchTimeoutSecs"
((waited < 6000)) || fail "locked ${waited} ms after the first file: the sweeper runs every second"
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 10
assert_eq 0 "$RC" "serve exit code after SIGTERM"
