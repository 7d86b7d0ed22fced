#!/usr/bin/env bash
# PostgreSQL authentication: a SCRAM user and an MD5 user each load a CSV (separate fields and a
# conninfo string); a wrong password ends the batch in error with PostgreSQL's message, and no
# password ever shows in zload's output, logs or configuration listings.
. "$(dirname "$0")/lib_pg.sh"

pql dw "CREATE TABLE t_scram (id int, v text); CREATE TABLE t_md5 (id int, v text); CREATE TABLE t_ci (id int, v text); GRANT ALL ON t_md5 TO loader_md5" >/dev/null
BAD_PW='wrong-Secret-pw-91'

pg_config scram <<EOF
{"s3Prefix": "b/scram", "format": {"header": true},
 "targets": [$(pg_target pg t_scram)]}
EOF
pg_config md5 <<EOF
{"s3Prefix": "b/md5", "format": {"header": true},
 "targets": [$(pg_target pg t_md5 dw loader_md5 "$PG_MD5_PW" '"ledgerTable":"zload_ledger_md5"')]}
EOF
pg_config conninfo <<EOF
{"s3Prefix": "b/ci", "format": {"header": true},
 "targets": [{"type": "postgres", "name": "pg", "targetTable": "t_ci",
   "conninfo": "host=127.0.0.1 port=@PORT@ dbname=dw user=loader password=$PG_SCRAM_PW"}]}
EOF
pg_config bad <<EOF
{"s3Prefix": "b/bad", "format": {"header": true},
 "targets": [$(pg_target pg t_scram dw loader "$BAD_PW")]}
EOF
pg_config badci <<EOF
{"s3Prefix": "b/badci", "format": {"header": true},
 "targets": [{"type": "postgres", "name": "pg", "targetTable": "t_scram",
   "conninfo": "postgresql://loader:$BAD_PW@127.0.0.1:@PORT@/dw"}]}
EOF

# The server really asks for SCRAM from one and MD5 from the other.
assert_eq SCRAM-SHA-256 "$(pq postgres "SELECT left(rolpassword, 13) FROM pg_authid WHERE rolname = 'loader'")" "loader's password is SCRAM-hashed"
assert_eq md5 "$(pq postgres "SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = 'loader_md5'")" "loader_md5's password is MD5-hashed"

csv_rows b/scram/a.csv 3 1
csv_rows b/md5/a.csv 4 10
csv_rows b/ci/a.csv 2 20
csv_rows b/bad/a.csv 5 30
csv_rows b/badci/a.csv 5 40
logs=()

load_one b/scram a.csv
assert_eq 0 "$RC" "scram load exit code [$ERR]"
assert_eq "loaded batch=$BATCH status=complete rows=3" "$OUT" "scram load"
logs+=("$OUT" "$ERR")
assert_eq "1,v1 2,v2 3,v3" "$(pq dw "SELECT id || ',' || v FROM t_scram ORDER BY id" | tr '\n' ' ' | sed 's/ $//')" "rows loaded by the SCRAM user"
assert_eq 1 "$(pg_ledger_rows "$BATCH")" "ledger row of the SCRAM load"

load_one b/md5 a.csv
assert_eq 0 "$RC" "md5 load exit code [$ERR]"
assert_eq "loaded batch=$BATCH status=complete rows=4" "$OUT" "md5 load"
logs+=("$OUT" "$ERR")
assert_eq "4 46" "$(pq dw "SELECT count(*) || ' ' || sum(id) FROM t_md5")" "rows loaded by the MD5 user"
assert_eq loader_md5 "$(pq dw "SELECT tableowner FROM pg_tables WHERE tablename = 'zload_ledger_md5'")" "the MD5 user's ledger"

load_one b/ci a.csv
assert_eq 0 "$RC" "conninfo load exit code [$ERR]"
assert_eq "loaded batch=$BATCH status=complete rows=2" "$OUT" "conninfo load"
logs+=("$OUT" "$ERR")
assert_eq 2 "$(pg_count t_ci)" "rows loaded through conninfo"

for p in bad badci; do
	load_one b/$p a.csv
	assert_eq 1 "$RC" "wrong password ($p): flush exit code [$OUT] [$ERR]"
	assert_contains "$OUT" "loaded batch=$BATCH status=error" "wrong password ($p): flush output"
	logs+=("$OUT" "$ERR")
	assert_eq error "$(batch_status "$BATCH")" "wrong password ($p): batch status"
	assert_eq 1 "$(batch_field "$BATCH" attempts)" "wrong password ($p): not retried (authentication is permanent)"
	assert_contains "$(tjson 't[0]["error"]' "$BATCH")" 'password authentication failed for user "loader"' "wrong password ($p): target error"
	assert_eq error "$(tjson 't[0]["status"]' "$BATCH")" "wrong password ($p): target status"
	ok zload batches show "$BATCH"
	assert_contains "$OUT" 'password authentication failed for user "loader"' "wrong password ($p): batches show"
	logs+=("$OUT")
	ok zload batches show --json "$BATCH"
	logs+=("$OUT")
done
assert_eq 3 "$(pg_count t_scram)" "nothing loaded with a wrong password"

# A daemon with debug logs loads one more file of each kind; collect everything zload prints.
csv_rows b/scram/b.csv 1 100
csv_rows b/bad/b.csv 1 100
start_serve serve -v --exit-when-idle 1
wait_exit "$SERVE_PID" 30
assert_eq 0 "$RC" "serve exit code"
assert_eq 4 "$(pg_count t_scram)" "serve loaded b/scram/b.csv"
for p in scram md5 ci bad badci; do
	ok zload config get b/$p
	logs+=("$OUT" "$ERR")
done
ok zload config list --json
logs+=("$OUT")
for cmd in "batches list" "batches list --json"; do
	ok zload $cmd
	logs+=("$OUT")
done
for id in $(batch_ids); do
	ok zload batches show "$id"
	logs+=("$OUT")
	ok zload batches show --json "$id"
	logs+=("$OUT")
done
ok zload -v files show b/bad/a.csv
logs+=("$OUT" "$ERR")
# A configuration that fails validation next to a password does not echo it.
printf '{"s3Prefix": "b/x", "targets": [{"type": "postgres", "port": "x", "password": "%s", "conninfo": "password=%s", "targetTable": "t"}]}' "$BAD_PW" "$BAD_PW" >"$WS/invalid.json"
assert_exit 1 zload config put "$WS/invalid.json"
assert_contains "$ERR" "port" "the validation error names the field"
logs+=("$OUT" "$ERR")
all=$(printf '%s\n' "${logs[@]}"; cat "$WS"/*.log)
assert_contains "$all" 'password authentication failed' "the collected output holds the failures"
for pw in "$PG_SCRAM_PW" "$PG_MD5_PW" "$BAD_PW"; do
	assert_not_contains "$all" "$pw" "a password in zload's output"
done
# Every line zload logged is a structured log line (libpq notices are not printed raw).
stray=$(grep -v '^ts=' "$WS/serve.log")
assert_eq "" "$stray" "lines in serve.log that are not log lines"

# No password in the configuration: libpq's own sources apply (PGPASSWORD, then a .pgpass file).
pql dw "CREATE TABLE t_env (id int, v text)" >/dev/null
pg_config envpw <<EOF2
{"s3Prefix": "b/envpw", "format": {"header": true},
 "targets": [{"type": "postgres", "name": "pg", "host": "127.0.0.1", "port": @PORT@, "database": "dw",
   "user": "loader", "targetTable": "t_env"}]}
EOF2
csv_rows b/envpw/a.csv 2 50
csv_rows b/envpw/b.csv 3 60
csv_rows b/envpw/c.csv 1 70
PGPASSWORD=$PG_SCRAM_PW load_one b/envpw a.csv
assert_eq "loaded batch=$BATCH status=complete rows=2" "$OUT" "load with PGPASSWORD [$ERR]"
printf '127.0.0.1:%s:dw:loader:%s\n' "$PGPORT" "$PG_SCRAM_PW" >"$WS/pgpass"
chmod 600 "$WS/pgpass"
PGPASSFILE=$WS/pgpass load_one b/envpw b.csv
assert_eq "loaded batch=$BATCH status=complete rows=3" "$OUT" "load with a .pgpass file [$ERR]"
assert_eq 5 "$(pg_count t_env)" "rows loaded with libpq's password sources"
PGPASSWORD= PGPASSFILE=$WS/none load_one b/envpw c.csv
assert_contains "$OUT" "status=error" "no password anywhere: the batch fails [$OUT]"
assert_contains "$(tjson 't[0]["error"]' "$BATCH")" "password" "the error says a password is missing"
