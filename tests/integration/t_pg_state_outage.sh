#!/usr/bin/env bash
# The state PostgreSQL goes away under a running `zload serve` (its own cluster; the target stays
# up): longer than the retry period, while files keep arriving, then back on the same address.
# Nothing is lost or loaded twice, no batch is left behind, and the log says "unreachable" and
# "reachable again" once each, not once per attempt.
. "$(dirname "$0")/lib_pg.sh"

state_pg_start
export ZLOAD_STATE="postgresql://loader:$PG_SCRAM_PW@127.0.0.1:$SPORT/dw?schema=zl&retry=3"
pql dw "CREATE TABLE t (id int, v text)" >/dev/null
pg_config out <<EOF
{"s3Prefix": "b/out", "batchSize": 5, "batchTimeoutSecs": 1, "leaseSecs": 6, "format": {"header": true},
 "targets": [$(pg_target pg t)]}
EOF

rows_at_least() { (($(pg_count t) >= $1)); }
start_serve serve
for i in $(seq 1 20); do csv_rows "b/out/f$i.csv" 10 $((i * 100)); done
wait_for 20 rows_at_least 100

state_stop
for i in $(seq 21 40); do
	csv_rows "b/out/f$i.csv" 10 $((i * 100))
	sleep 0.3
done
sleep 2 # down for about 8 s in all: longer than retry=3
state_resume

wait_for 60 rows_at_least 400
settled() { [[ $(batch_count --status open) == 0 && $(batch_count --status locked) == 0 ]]; }
wait_for 30 settled
assert_eq 400 "$(pg_count t)" "rows after the outage"
assert_eq 400 "$(pq dw "SELECT count(DISTINCT id) FROM t")" "each row once"
assert_eq 0 "$(batch_count --status error)" "batches in error"
assert_eq 40 "$(json "sum(b['files'] for b in j)" zload batches list --json)" "files in batches"
assert_eq 1 "$(grep -c 'msg="state database unreachable; retrying"' "$WS/serve.log")" "unreachable, logged once"
assert_eq 1 "$(grep -c 'msg="state database reachable again"' "$WS/serve.log")" "reachable again, logged once"
assert_contains "$(grep 'msg="state database unreachable; retrying"' "$WS/serve.log")" "error=" \
	"the unreachable line gives the reason"

# A fail-over: a new primary (a copy of the data directory, as a promoted replica would have it)
# comes up on the same address; the loader reconnects to it and goes on.
state_stop
as_pg cp -a "$SDIR/data" "$SDIR/data2"
as_pg rm -rf "$SDIR/data"
as_pg mv "$SDIR/data2" "$SDIR/data"
state_resume
for i in $(seq 41 50); do csv_rows "b/out/f$i.csv" 10 $((i * 100)); done
wait_for 60 rows_at_least 500
wait_for 30 settled
assert_eq 500 "$(pq dw "SELECT count(DISTINCT id) FROM t")" "each row once after the fail-over"
assert_eq 500 "$(pg_count t)" "rows after the fail-over"
assert_eq 0 "$(batch_count --status error)" "batches in error after the fail-over"
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 20
assert_eq 0 "$RC" "serve exit code after SIGTERM"
