#!/usr/bin/env bash
# Exactly once across crashes, with Vertica: a loader SIGKILLed in the middle of a COPY LOCAL of a
# large object (its lease is short, so a daemon takes the batch over), and the emulator itself
# SIGKILLed and restarted on its port in the middle of a COPY: each time the half-done transaction
# is rolled back and the retry loads every row exactly once.
. "$(dirname "$0")/lib_pg.sh"
. "$IT_DIR/lib_vertica.sh"

vemu_start v --user "dbadmin:$VPW:sha512"
pq dw "CREATE TABLE public.big (id int, v text)" >/dev/null
pg_config big <<EOF2
{"s3Prefix": "b/big", "batchSize": 1, "leaseSecs": 2, "maxAttempts": 20, "format": {"header": true},
 "targets": [$(vt_target v public.big)]}
EOF2
copy_running() { [[ $(vemu_events v statement "e['sql'][:4]" | grep -c COPY) -ge "$1" ]]; }

# 1. The loader dies mid-COPY.
csv_rows b/big/one.csv 200000 1
s3_event b big/one.csv >"$WS/one.json"
start_bg loader "$ZLOAD" event "$WS/one.json"
wait_for 30 copy_running 1
kill -KILL "$BG_PID"
wait_exit "$BG_PID" 10
wait_for 10 eval '[[ $(vemu_events v disconnect "e[\"in_txn\"]" | grep -c True) -ge 1 ]]'
assert_eq 0 "$(pq dw "SELECT count(*) FROM public.big")" "nothing of the killed COPY stayed"
start_serve serve1 --no-watch --exit-when-idle 1
wait_exit "$SERVE_PID" 120
assert_eq 200000 "$(pq dw "SELECT count(*) FROM public.big")" "the retry loaded every row once"
assert_eq 200000 "$(pq dw "SELECT count(DISTINCT id) FROM public.big")" "no row twice"

# 2. The server dies mid-COPY and comes back on the same port.
csv_rows b/big/two.csv 200000 1000001
s3_event b big/two.csv >"$WS/two.json"
start_serve serve2 --no-watch --exit-when-idle 2
ok zload event --no-load "$WS/two.json"
wait_for 60 copy_running 3
kill -KILL "$VEMU_PID"
wait_exit "$VEMU_PID" 10
vemu_restart v2 --user "dbadmin:$VPW:sha512"
wait_exit "$SERVE_PID" 180
assert_eq 400000 "$(pq dw "SELECT count(*) FROM public.big")" "every row of both files once"
assert_eq 400000 "$(pq dw "SELECT count(DISTINCT id) FROM public.big")" "no row twice"
assert_eq 2 "$(pq dw "SELECT count(*) FROM zload_ledger")" "two batches in the ledger"
