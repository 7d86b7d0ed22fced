#!/usr/bin/env bash
# PostgreSQL state (--state postgresql://...): its own schema created on first use, every URL form
# (URI, postgres://, conninfo, PGPASSWORD), errors that name the problem, the password kept out of
# the log, an older schema migrated once by one of several loaders starting together, a newer one
# refused, and a serve that loads through it.
. "$(dirname "$0")/lib_pg.sh"

PW=$PG_SCRAM_PW
URL="postgresql://loader:$PW@127.0.0.1:$PGPORT/dw?schema=zl_state"
export ZLOAD_STATE=$URL

pql dw "CREATE TABLE t (id int, v text)" >/dev/null
pg_config in <<EOF
{"s3Prefix": "b/in", "batchSize": 3, "format": {"header": true}, "targets": [$(pg_target pg t)]}
EOF

# The schema is zload's own, at the current version, and holds nothing of public's.
assert_eq "batches configs files meta outbox" \
	"$(pq dw "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'zl_state'")" \
	"tables of the state schema"
assert_eq 2 "$(pq dw "SELECT value FROM zl_state.meta WHERE key = 'schema_version'")" "schema version"
assert_eq 1 "$(pq dw "SELECT count(*) FROM zl_state.configs")" "configurations stored in the schema"
assert_eq "" "$(pq dw "SELECT string_agg(tablename, ' ') FROM pg_tables WHERE schemaname = 'public' AND tablename <> 't'")" \
	"nothing of zload's in public"

# Loads through it: three files fill a batch, a re-sent event is a duplicate.
for k in a b c; do csv_rows "b/in/$k.csv" 4 "$((${#k} * 100 + $(printf '%d' "'$k")))"; done
event_ok b in/a.csv in/b.csv in/c.csv
assert_eq 12 "$(pg_count t)" "rows loaded through PostgreSQL state"
id=$(batch_ids --prefix b/in)
assert_eq complete "$(batch_status "$id")" "batch status in PostgreSQL state"
assert_eq 3 "$(pq dw "SELECT file_count FROM zl_state.batches WHERE id = '$id'")" "files of the batch row"
event_ok b in/a.csv
assert_contains "$OUT" "duplicate" "a re-sent event"
assert_eq 12 "$(pg_count t)" "rows after the duplicate"
ok zload batches show "${id:0:8}"
assert_contains "$OUT" "$id" "batches show by a short id"

# Every URL form reaches the same state.
count_configs() { zload --state "$1" config list | grep -c 'b/in'; }
assert_eq 1 "$(count_configs "postgres://loader:$PW@127.0.0.1:$PGPORT/dw?schema=zl_state")" "postgres:// URL"
assert_eq 1 "$(count_configs "postgresql:host=127.0.0.1 port=$PGPORT user=loader password=$PW dbname=dw schema=zl_state")" \
	"conninfo form"
assert_eq 1 "$(PGPASSWORD=$PW count_configs "postgresql://loader@127.0.0.1:$PGPORT/dw?connect_timeout=5&schema=zl_state")" \
	"PGPASSWORD, and a libpq option beside schema"
printf '127.0.0.1:%s:dw:loader:%s\n' "$PGPORT" "$PW" >"$WS/pgpass"
chmod 600 "$WS/pgpass"
assert_eq 1 "$(PGPASSFILE=$WS/pgpass count_configs "postgresql://loader@127.0.0.1:$PGPORT/dw?schema=zl_state")" ".pgpass"
# the default schema is "zload"
ok zload --state "postgresql://loader:$PW@127.0.0.1:$PGPORT/dw" config list
assert_eq 2 "$(pq dw "SELECT value FROM zload.meta WHERE key = 'schema_version'")" "the default schema zload"

# Errors name the problem, and a refused login is not retried for the whole retry period.
assert_exit 1 zload --state "postgresql://loader@127.0.0.1:$PGPORT/dw?schema=Bad-Name" config list
assert_contains "$ERR" 'schema "Bad-Name" must be 1 to 63 lowercase letters, digits or _' "bad schema name"
assert_exit 1 zload --state "postgresql://loader@127.0.0.1:$PGPORT/dw?retry=soon" config list
assert_contains "$ERR" 'retry "soon" must be seconds from 0 to 86400' "bad retry"
t0=$(now_ms)
assert_exit 1 zload --state "postgresql://loader:wrong-pw@127.0.0.1:$PGPORT/dw?schema=zl_state" config list
assert_contains "$ERR" "cannot connect to the state database" "wrong password"
assert_contains "$ERR" "password authentication failed" "wrong password: the server's reason"
assert_not_contains "$ERR" "wrong-pw" "the password is not in the error"
(($(now_ms) - t0 < 5000)) || fail "a refused login was retried: $(($(now_ms) - t0)) ms"
# a server that is not there is retried for ?retry= seconds, then reported
dead=$(free_port)
t0=$(now_ms)
assert_exit 1 zload --state "postgresql://loader@127.0.0.1:$dead/dw?retry=2" config list
took=$(($(now_ms) - t0))
((took >= 1800 && took < 8000)) || fail "retry=2 against a closed port took $took ms"
assert_contains "$ERR" "cannot connect to the state database" "closed port"
assert_contains "$ERR" "Connection refused" "closed port: the reason"
# a role that may not create schemas gets PostgreSQL's reason
pq dw "CREATE ROLE reader LOGIN PASSWORD 'reader-pw'" >/dev/null
assert_exit 1 zload --state "postgresql://reader:reader-pw@127.0.0.1:$PGPORT/dw?schema=zl_denied" config list
assert_contains "$ERR" "permission denied" "a role without CREATE on the database"

# The password is never in the log.
start_serve serve --exit-when-idle 1
wait_exit "$SERVE_PID" 20
assert_eq 0 "$RC" "serve --exit-when-idle"
assert_contains "$(<"$WS/serve.log")" "state=\"postgresql://loader:********@127.0.0.1:$PGPORT/dw?schema=zl_state\"" \
	"serve logs the state URL with the password masked"
assert_not_contains "$(<"$WS/serve.log")" "$PW" "the password in serve's log"

# An older schema (version 1, as the first zload with PostgreSQL state made it) is migrated in
# place, once, by one of four loaders starting together; its data stays.
pq dw "CREATE SCHEMA zl_old AUTHORIZATION loader" >/dev/null
pql dw "SET search_path = zl_old;
CREATE TABLE configs (prefix text COLLATE \"C\" PRIMARY KEY, json text NOT NULL, updated_at bigint);
CREATE TABLE batches (id text COLLATE \"C\" PRIMARY KEY, prefix text COLLATE \"C\" NOT NULL, status text NOT NULL,
 created_at bigint, first_at bigint, updated_at bigint, locked_at bigint, finished_at bigint, lease_until bigint,
 file_count bigint NOT NULL DEFAULT 0, bytes bigint NOT NULL DEFAULT 0, attempts integer NOT NULL DEFAULT 0,
 owner text, result text, error text);
CREATE INDEX batches_prefix_status ON batches (prefix, status, created_at);
CREATE INDEX batches_status_created ON batches (status, created_at);
CREATE TABLE files (seq bigserial NOT NULL, file_id text COLLATE \"C\" PRIMARY KEY, bucket text NOT NULL,
 key text NOT NULL, etag text, prefix text NOT NULL, size bigint NOT NULL DEFAULT 0, received_at bigint,
 batch_id text COLLATE \"C\");
CREATE INDEX files_batch ON files (batch_id, seq);
CREATE TABLE meta (key text PRIMARY KEY, value bigint NOT NULL);
INSERT INTO meta VALUES ('schema_version', 1), ('config_version', 0);
INSERT INTO configs VALUES ('b/old', '{\"s3Prefix\": \"b/old\", \"targets\": []}', 0);
INSERT INTO batches (id, prefix, status, created_at, first_at, updated_at, finished_at, file_count)
 VALUES ('0190aaaa-0000-7000-8000-000000000001', 'b/old', 'complete', 1, 1, 2, 2, 1);
INSERT INTO files (file_id, bucket, key, prefix, size, received_at, batch_id)
 VALUES ('b/old/x.csv', 'b', 'old/x.csv', 'b/old', 5, 1, '0190aaaa-0000-7000-8000-000000000001');" >/dev/null
OLD="postgresql://loader:$PW@127.0.0.1:$PGPORT/dw?schema=zl_old"
pids=()
for i in 1 2 3 4; do
	"$ZLOAD" --state "$OLD" batches list >"$WS/old$i.out" 2>"$WS/old$i.err" &
	pids+=($!)
done
for i in 1 2 3 4; do
	wait "${pids[$((i - 1))]}" || fail "loader $i on the older schema: $(<"$WS/old$i.err")"
	assert_contains "$(<"$WS/old$i.out")" "0190aaaa-0000-7000-8000-000000000001" "loader $i lists the old batch"
done
assert_eq 1 "$(cat "$WS"/old*.err | grep -c 'msg="migrated the state schema" schema=zl_old from=1 to=2')" \
	"one loader migrated, once"
assert_eq 2 "$(pq dw "SELECT value FROM zl_old.meta WHERE key = 'schema_version'")" "version after the migration"
assert_eq 1 "$(pq dw "SELECT count(*) FROM pg_tables WHERE schemaname = 'zl_old' AND tablename = 'outbox'")" \
	"the outbox added by the migration"
assert_exit 0 zload --state "$OLD" files show b/old/x.csv
assert_contains "$OUT" "0190aaaa-0000-7000-8000-000000000001" "the old file record"

# Eight loaders creating a fresh schema together: all succeed, one schema.
pids=()
for i in 1 2 3 4 5 6 7 8; do
	"$ZLOAD" --state "postgresql://loader:$PW@127.0.0.1:$PGPORT/dw?schema=zl_race" config list \
		>/dev/null 2>"$WS/race$i.err" &
	pids+=($!)
done
for i in 1 2 3 4 5 6 7 8; do wait "${pids[$((i - 1))]}" || fail "loader $i creating the schema: $(<"$WS/race$i.err")"; done
assert_eq 2 "$(pq dw "SELECT value FROM zl_race.meta WHERE key = 'schema_version'")" "the schema made by the race"

# A schema newer than this zload is refused, unchanged.
pq dw "UPDATE zl_race.meta SET value = 99 WHERE key = 'schema_version'" >/dev/null
assert_exit 1 zload --state "postgresql://loader:$PW@127.0.0.1:$PGPORT/dw?schema=zl_race" config list
assert_contains "$ERR" 'state schema "zl_race" has version 99; this zload knows 2' "a newer schema"
assert_eq 99 "$(pq dw "SELECT value FROM zl_race.meta WHERE key = 'schema_version'")" "the newer schema is left alone"
