#!/usr/bin/env bash
# The watcher never drops a file on a passing failure (issue #7, item 6): a claim that fails
# because the state database cannot be written (made immutable; where that is not allowed,
# write-locked past the busy timeout) is retried with back-off and the file loads once the state
# store is back; a file the watcher never heard of (a hard link makes no close or move event) is
# found by the periodic rescan.
. "$(dirname "$0")/lib.sh"

make_table t "id INTEGER, v TEXT"
put_config in <<'EOF2'
{"s3Prefix": "b/in", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
mkdir -p "$STORE/b/in"
start_serve serve --rescan 2
csv_rows b/in/first.csv 1 1
wait_for 10 count_is 1 rows t

# The state database cannot be written: the claim fails, and is retried.
freeze_state "$WS/state.db"
csv_rows b/in/while-down.csv 2 10
wait_for 30 log_has "$WS/serve.log" 'msg="cannot queue object: will retry" bucket=b key=in/while-down.csv'
sleep 2
thaw_state
wait_for 40 count_is 3 rows t
assert_contains "$(<"$WS/serve.log")" 'msg="object queued after retry" bucket=b key=in/while-down.csv' "the retry ($FROZEN_HOW state database)"

# A hard link into the store: no close-after-write or move event; the rescan finds it.
csv_rows outside/linked.csv 4 20
ln "$STORE/outside/linked.csv" "$STORE/b/in/linked.csv"
wait_for 15 count_is 7 rows t
assert_eq "1,10,11,20,21,22,23" "$(sql "$WH" "SELECT group_concat(id) FROM (SELECT id FROM t ORDER BY id)")" "every row once"
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 10
assert_eq 0 "$RC" "exit code"
