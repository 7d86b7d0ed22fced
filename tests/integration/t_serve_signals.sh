#!/usr/bin/env bash
# zload serve: files already in the store are picked up by the start-up scan; SIGTERM (and SIGINT)
# while idle exits 0 promptly; on a restart, files already recorded are not loaded again.
. "$(dirname "$0")/lib.sh"

make_table t "id INTEGER, v TEXT"
put_config pre <<'EOF2'
{"s3Prefix": "b/pre", "batchSize": 2, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
csv_rows b/pre/1.csv 3 10
csv_rows b/pre/2.csv 4 20
csv_rows b/pre/sub/3.csv 5 30 # below the prefix: routed to its longest configured parent
printf 'id,v\n' | write_file b/pre/.hidden.csv # hidden names are never picked up

start_serve serve1
wait_for 10 count_is 1 batch_count --status complete
assert_eq "1 1" "$(batch_count --status open) $(json "j[0]['files']" zload batches list --json --status open)" "one file left in an open batch"
assert_eq 7 "$(rows t)" "rows loaded from the start-up scan"
assert_eq 3 "$(grep -c 'msg="file queued"' "$WS/serve1.log")" "files queued by the scan"
assert_not_contains "$(<"$WS/serve1.log")" ".hidden" "hidden file"

t0=$(now_ms)
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 5
assert_eq 0 "$RC" "exit code after SIGTERM"
elapsed=$(($(now_ms) - t0))
((elapsed < 3000)) || fail "serve took ${elapsed} ms to exit after SIGTERM"
assert_contains "$(<"$WS/serve1.log")" 'msg="signal received: finishing in-flight batches"' "signal logged"

# Restart: nothing is queued or loaded again; the open batch stays open.
start_serve serve2
csv_rows b/pre/4.csv 1 40 # fills the open batch
wait_for 10 count_is 2 batch_count --status complete
assert_eq 13 "$(rows t)" "rows after the restart"
log=$(<"$WS/serve2.log")
assert_eq 1 "$(grep -c 'msg="file queued"' <<<"$log")" "only the new file is queued after the restart"
assert_contains "$log" "key=pre/4.csv" "the new file"
kill -INT "$SERVE_PID"
wait_exit "$SERVE_PID" 5
assert_eq 0 "$RC" "exit code after SIGINT"

# A third start with nothing new: exits when idle, loads nothing.
start_serve serve3 --exit-when-idle 1
wait_exit "$SERVE_PID" 10
assert_eq 0 "$RC" "exit code when idle"
assert_not_contains "$(<"$WS/serve3.log")" 'msg="file queued"' "nothing queued on the third start"
assert_not_contains "$(<"$WS/serve3.log")" 'msg="batch locked"' "nothing loaded on the third start"
assert_eq 2 "$(batch_count)" "batches"
assert_eq 13 "$(rows t)" "rows"
assert_eq 0 "$(sql "$WH" 'SELECT count(*) - count(DISTINCT id) FROM t')" "no row twice"

# SIGTERM while a batch is loading: serve finishes the batch, then exits 0. The target is
# write-locked so that the load is surely in flight when the signal arrives.
hold_lock "$WH"
start_serve serve4
csv_rows b/pre/6.csv 2 60
csv_rows b/pre/7.csv 3 70
wait_for 10 log_has "$WS/serve4.log" 'msg="loading batch"'
kill -TERM "$SERVE_PID"
wait_for 5 log_has "$WS/serve4.log" 'msg="signal received: finishing in-flight batches"'
not_running "$SERVE_PID" && fail "serve exited before its in-flight batch finished"
release_lock "$WH"
wait_exit "$SERVE_PID" 15
assert_eq 0 "$RC" "exit code after SIGTERM during a load"
id=$(batch_ids | head -n 1)
assert_eq complete "$(batch_status "$id")" "the in-flight batch completed"
assert_eq 2 "$(batch_field "$id" files)" "files of the in-flight batch"
assert_eq 18 "$(rows t)" "rows"
