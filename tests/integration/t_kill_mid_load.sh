#!/usr/bin/env bash
# A loader killed (SIGKILL) in the middle of a load: the target's transaction rolls back (0 rows)
# and the batch stays locked; once its lease (leaseSecs 2) expires, another serve's sweeper
# reclaims it ("lease expired") and loads it: complete, attempt 2, every row exactly once.
. "$(dirname "$0")/lib.sh"

n=3000000
make_table t "id INTEGER, ts TEXT, v TEXT"
put_config kill <<'EOF2'
{"s3Prefix": "b/big", "batchSize": 1, "leaseSecs": 2, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
awk -v n=$n 'BEGIN { print "id,ts,v"; for (i = 1; i <= n; i++) print i ",2026-11-25T10:00:00Z,value-" i }' |
	write_file b/big/huge.csv

start_serve serve1 # the start-up scan finds the file
wait_for 20 log_has "$WS/serve1.log" 'msg="loading batch"'
sleep 0.3 # let it insert for a while
kill -KILL "$SERVE_PID"
wait_exit "$SERVE_PID" 10
assert_eq 137 "$RC" "the loader was killed"
assert_not_contains "$(<"$WS/serve1.log")" 'msg="batch complete"' "the load did not finish before the kill"

id=$(batch_ids --prefix b/big)
assert_eq 1 "$(batch_count)" "batches"
assert_eq locked "$(batch_status "$id")" "status after the kill"
assert_eq 1 "$(batch_field "$id" attempts)" "attempts after the kill"
assert_contains "$(batch_field "$id" owner)" ":$SERVE_PID:" "owner is the killed loader"
assert_eq 0 "$(rows t)" "rows in the target after the kill (transaction rolled back)"
assert_eq 0 "$(sql "$WH" "SELECT count(*) FROM zload_ledger")" "ledger rows after the kill (the ledger table itself is made at connect)"

start_serve serve2 --exit-when-idle 1
wait_exit "$SERVE_PID" 60
assert_eq 0 "$RC" "serve --exit-when-idle exit code"
log=$(<"$WS/serve2.log")
assert_contains "$log" "msg=\"batch locked\" batch=$id prefix=b/big reason=\"lease expired\"" "reclaimed by the sweeper"
assert_contains "$log" "msg=\"batch complete\" batch=$id prefix=b/big rows=$n attempt=2" "loaded on the second attempt"
assert_not_contains "$log" 'msg="file queued"' "the start-up scan does not queue the recorded file again"
assert_eq complete "$(batch_status "$id")" "status"
assert_eq 2 "$(batch_field "$id" attempts)" "attempts"
assert_eq 1 "$(batch_count)" "batches"
assert_eq $n "$(rows t)" "rows in the target"
assert_eq "1|$n|$n" "$(sql "$WH" 'SELECT min(id), max(id), count(*) FROM t')" "every row once"
assert_eq "$id" "$(sql "$WH" 'SELECT batch_id FROM zload_ledger')" "ledger"
