#!/usr/bin/env bash
# A batch once locked never takes new files (issue #7, item 2). A loader commits target A, then
# dies while target B waits for a lock; its lease expires and the batch is unlocked. A file that
# arrives now must go to a new batch: appended to the old one, target A (whose ledger already
# holds the old batch) would skip it and its rows would be missing while the batch says complete.
. "$(dirname "$0")/lib.sh"

make_table "$WS/a.db" t "id INTEGER, v TEXT"
make_table "$WS/b.db" t "id INTEGER, v TEXT"
put_config seal <<'EOF2'
{"s3Prefix": "b/seal", "batchSize": 1, "leaseSecs": 1, "format": {"header": true},
 "targets": [{"name": "A", "type": "sqlite", "path": "@WS@/a.db", "targetTable": "t"},
             {"name": "B", "type": "sqlite", "path": "@WS@/b.db", "targetTable": "t"}]}
EOF2
csv_rows b/seal/f1.csv 3 1
csv_rows b/seal/f2.csv 4 100

hold_lock "$WS/b.db"
s3_event b seal/f1.csv >"$WS/f1.json"
start_bg loader "$ZLOAD" event "$WS/f1.json"
loader=$BG_PID
wait_for 10 count_is 1 sql "$WS/a.db" "SELECT count(*) FROM zload_ledger"
kill -KILL "$loader"
wait_exit "$loader" 10
release_lock "$WS/b.db"
first=$(batch_ids --prefix b/seal)
assert_eq locked "$(batch_status "$first")" "the dead loader's batch"
assert_eq "3 0" "$(rows t "$WS/a.db") $(rows t "$WS/b.db")" "target A committed, B did not"

sleep 1.2 # the 1 s lease expires
ok zload batches unlock "$first"
s3_event b seal/f2.csv >"$WS/f2.json"
ok zload event --no-load "$WS/f2.json"
second=$(sed -n 's/^queued b\/seal\/f2.csv batch=//p' <<<"$OUT")
[[ -n $second ]] || fail "f2 was not queued: $OUT"
[[ $second != "$first" ]] || fail "f2 was appended to batch $first, which was locked before"
assert_eq 1 "$(json "j['files']" zload batches show --json "$first")" "the old batch keeps its one file"

ok zload flush b/seal
assert_eq "complete complete" "$(batch_status "$first") $(batch_status "$second")" "both batches"
assert_eq "7 7" "$(rows t "$WS/a.db") $(rows t "$WS/b.db")" "every row in each target once"
assert_eq "7 7" "$(sql "$WS/a.db" "SELECT count(DISTINCT id) FROM t") $(sql "$WS/b.db" "SELECT count(DISTINCT id) FROM t")" "no row twice"
