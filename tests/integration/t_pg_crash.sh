#!/usr/bin/env bash
# SIGKILL during a COPY: `zload serve` dies while PostgreSQL is receiving a 2,000,000-row file.
# Nothing is committed, the batch stays locked under the dead loader's lease; a new serve takes
# it over once the lease expires and loads it exactly once.
. "$(dirname "$0")/lib_pg.sh"

N=2000000
pql dw "CREATE TABLE t (id int, v text)" >/dev/null
pg_config crash <<EOF
{"s3Prefix": "b/crash", "batchSize": 1, "leaseSecs": 3, "format": {"header": true},
 "targets": [$(pg_target pg public.t)]}
EOF
mkdir -p "$STORE/b/crash"
awk -v n=$N 'BEGIN { print "id,v"; for (i = 1; i <= n; i++) print i ",value-" i }' >"$STORE/b/crash/.big.csv.part"

start_serve serve1
mv "$STORE/b/crash/.big.csv.part" "$STORE/b/crash/big.csv"
wait_for 10 log_has "$WS/serve1.log" 'msg="loading batch"'
wait_for 10 pg_copy_active '"public"."t"'
log_has "$WS/serve1.log" 'msg="batch complete"' && fail "the batch completed before the kill"
kill -KILL "$SERVE_PID"
wait_exit "$SERVE_PID" 10
assert_eq 137 "$RC" "serve killed"
id=$(batch_ids --prefix b/crash)
old_owner=$(tjson 'j.get("owner")' "$id")

# The server notices the dead client and rolls its transaction back.
no_zload_backend() { [[ $(pq postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zload'") == 0 ]]; }
wait_for 20 no_zload_backend
assert_eq 0 "$(pg_count t)" "rows committed by the killed loader"
assert_eq 0 "$(pg_ledger_rows "$id")" "ledger rows after the kill"
assert_eq locked "$(batch_status "$id")" "batch status after the kill"
assert_eq 1 "$(batch_field "$id" attempts)" "attempts after the kill"
[[ $old_owner == *:* ]] || fail "the locked batch has no owner: [$old_owner]"
assert_contains "$(tjson 'j.get("leaseUntil")' "$id")" "T" "the lock has a lease"

# A new loader takes the batch over after the lease and loads it once.
start_serve serve2 --exit-when-idle 2
wait_exit "$SERVE_PID" 60
assert_eq 0 "$RC" "second serve exit code"
assert_eq complete "$(batch_status "$id")" "batch status after the takeover"
assert_eq 2 "$(batch_field "$id" attempts)" "attempts after the takeover"
assert_contains "$(grep 'msg="batch locked"' "$WS/serve2.log")" "batch=$id prefix=b/crash reason=\"lease expired\"" "takeover reason"
assert_not_contains "$(tjson 'j.get("owner")' "$id")" "$old_owner" "the dead loader no longer owns the batch"
assert_eq "$N $N 1 $N" "$(pq dw "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || min(id) || ' ' || max(id) FROM t")" "rows after the takeover"
assert_eq 1 "$(pg_ledger_rows "$id")" "ledger rows of the batch"
assert_eq 1 "$(pq dw "SELECT count(*) FROM zload_ledger")" "ledger rows in all"
assert_eq "$N" "$(tjson 't[0]["rows"]' "$id")" "rows in the batch result"
