#!/usr/bin/env bash
# The state connection breaks right after the server got a commit and before zload heard the
# answer (tests/integration/pg_cutter.py between zload and the state PostgreSQL cuts every 3rd
# commit point): zload cannot know whether its claim, lock, renew or finish went through. It
# reconnects, retries, and recognises its own committed change, so every file still loads once.
. "$(dirname "$0")/lib_pg.sh"

CPORT=$(free_port)
echo 0 >"$WS/cut-every"
start_bg cutter "$PYTHON" "$IT_DIR/pg_cutter.py" "$CPORT" "$PGPORT" "$WS/cut-every"
wait_for 10 log_has "$WS/cutter.log" listening
export ZLOAD_STATE="postgresql://loader:$PG_SCRAM_PW@127.0.0.1:$CPORT/dw?schema=zl&retry=20"

pql dw "CREATE TABLE t (id int, v text)" >/dev/null
pg_config cut <<EOF
{"s3Prefix": "b/cut", "batchSize": 4, "batchTimeoutSecs": 1, "leaseSecs": 5, "format": {"header": true},
 "targets": [$(pg_target pg t)]}
EOF

echo 3 >"$WS/cut-every"
start_serve serve
for i in $(seq 1 60); do
	csv_rows "b/cut/f$i.csv" 10 $((i * 100))
	((i % 10 == 0)) && sleep 0.5
done
rows_are() { [[ $(pg_count t) == "$1" ]]; }
settled() { [[ $(batch_count --status open) == 0 && $(batch_count --status locked) == 0 ]]; }
wait_for 90 rows_are 600
echo 0 >"$WS/cut-every"
wait_for 30 settled
cuts=$(grep -c '^cut ' "$WS/cutter.log")
((cuts >= 10)) || fail "only $cuts connections were cut"
assert_eq 600 "$(pg_count t)" "rows with cut commits"
assert_eq 600 "$(pq dw "SELECT count(DISTINCT id) FROM t")" "each row once"
assert_eq 0 "$(batch_count --status error)" "batches in error"
assert_eq 60 "$(json "sum(b['files'] for b in j)" zload batches list --json)" "files in batches"
assert_eq 60 "$(pq dw "SELECT count(*) FROM zl.files")" "file records"
assert_eq 0 "$(pq dw "SELECT count(*) FROM zl.files f LEFT JOIN zl.batches b ON b.id = f.batch_id WHERE b.id IS NULL")" \
	"file records without a batch"
assert_eq "$(pq dw "SELECT count(*) FROM zl.batches")" "$(pq dw "SELECT count(*) FROM zload_ledger")" \
	"one ledger row per batch"
# zload knew its own change each time: no attempt was taken for another loader's, none redone
assert_eq 0 "$(grep -c 'msg="batch taken over by another attempt"' "$WS/serve.log")" "finishes taken for lost leases"
assert_eq 1 "$(json "max(b['attempts'] for b in j)" zload batches list --json)" "attempts of the most tried batch"
assert_eq 0 "$(grep -c 'attempt=2' "$WS/serve.log")" "second attempts"
echo "t_pg_state_cut: $cuts commits cut: $(sed 's/^cut [0-9]* after //; s/ after / /' "$WS/cutter.log" | grep -v listening | sort | uniq -c | tr -s ' \n' ' ')" >&2
