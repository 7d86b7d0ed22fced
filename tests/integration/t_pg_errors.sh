#!/usr/bin/env bash
# Bad rows and database errors end the batch in error with PostgreSQL's own words: the file, the
# COPY context line and the SQLSTATE; nothing of the batch is committed (not even its good files).
# A missing table says "does not exist", a missing privilege "permission denied"; a loader with
# only INSERT/SELECT privileges (no CREATE on the schema) still loads when the ledger exists
# (with the current layout: see t_ledger_migrate.sh for an older one).
. "$(dirname "$0")/lib_pg.sh"

pql dw "
CREATE TABLE t_bad (id int, v text);
CREATE TABLE t_priv (id int, v text);
CREATE SCHEMA lp;
CREATE TABLE lp.t (id int, v text);
CREATE TABLE lp.ledger (batch_id text NOT NULL, target text NOT NULL, prefix text NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (batch_id, target));
GRANT USAGE ON SCHEMA lp TO loader_md5;
GRANT INSERT ON lp.t TO loader_md5;
GRANT SELECT, INSERT ON lp.ledger TO loader_md5;" >/dev/null
pg_config bad <<EOF
{"s3Prefix": "b/bad", "batchSize": 100, "format": {"header": true},
 "targets": [$(pg_target pg public.t_bad)]}
EOF

# expect_error KEYS...: loads the files as one batch and checks it ends in error with no rows.
# Sets E to the target's error.
expect_error() {
	local before
	before=$(pg_count t_bad)
	load_one b/bad "$@"
	assert_eq 1 "$RC" "load of $*: exit code [$OUT] [$ERR]"
	assert_contains "$OUT" "loaded batch=$BATCH status=error rows=0" "load of $*: flush output"
	assert_eq error "$(batch_status "$BATCH")" "load of $*: batch status"
	assert_eq 1 "$(batch_field "$BATCH" attempts)" "load of $*: a bad row is not retried"
	assert_eq error "$(tjson 't[0]["status"]' "$BATCH")" "load of $*: target status"
	assert_eq 0 "$(tjson 't[0]["rows"]' "$BATCH")" "load of $*: target rows"
	assert_eq "" "$(tjson 't[0]["objects"]' "$BATCH")" "load of $*: no object counted as loaded"
	E=$(tjson 't[0]["error"]' "$BATCH")
	assert_contains "$(batch_field "$BATCH" error)" "target pg: $E" "load of $*: batch error"
	assert_eq "$before" "$(pg_count t_bad)" "load of $*: no row of the batch committed"
	assert_eq 0 "$(pg_ledger_rows "$BATCH")" "load of $*: not in the ledger"
}

for i in 1 2 3 4 5 6; do csv_rows b/bad/good$i.csv 3 1; done
printf 'id,v\n10,a\n11,b\n1x2,c\n13,d\n' | write_file b/bad/type.csv
expect_error good1.csv type.csv
assert_contains "$E" 'b/bad/type.csv: invalid input syntax for type integer: "1x2"' "wrong type: file and message"
assert_contains "$E" "[SQLSTATE 22P02]" "wrong type: SQLSTATE"
assert_contains "$E" 'COPY t_bad, line 4, column id: "1x2"' "wrong type: COPY context line"

printf 'id,v\n20,a\n21,b,extra\n' | write_file b/bad/extra.csv
expect_error good2.csv extra.csv
assert_contains "$E" "b/bad/extra.csv: extra data after last expected column" "too many columns: message"
assert_contains "$E" "[SQLSTATE 22P04]" "too many columns: SQLSTATE"
assert_contains "$E" "COPY t_bad, line 3" "too many columns: COPY context line"

printf 'id,v\n30,a\n31,b\n32,c\n33\n' | write_file b/bad/short.csv
expect_error short.csv good3.csv
assert_contains "$E" 'b/bad/short.csv: missing data for column "v"' "too few columns: message"
assert_contains "$E" "[SQLSTATE 22P04]" "too few columns: SQLSTATE"
assert_contains "$E" "COPY t_bad, line 5" "too few columns: COPY context line"

printf 'id,v\n40,"never closed\n41,b\n' | write_file b/bad/quote.csv
expect_error good4.csv quote.csv
assert_contains "$E" "b/bad/quote.csv: unterminated CSV quoted field" "unterminated quote: message"
assert_contains "$E" "[SQLSTATE 22P04]" "unterminated quote: SQLSTATE"

# A corrupt compressed file: the read error names the file.
awk 'BEGIN { print "id,v"; for (i = 0; i < 20000; i++) print i ",x" i }' | gzip -c | head -c 20000 | write_file b/bad/cut.csv.gz
expect_error good5.csv cut.csv.gz
assert_contains "$E" "b/bad/cut.csv.gz" "truncated gzip: the file"
assert_not_contains "$E" "zload: reading the object failed" "truncated gzip: our read error, not the server's echo of it"

assert_eq 0 "$(pg_count t_bad)" "t_bad after every failed batch"
load_one b/bad good6.csv
assert_eq "loaded batch=$BATCH status=complete rows=3" "$OUT" "the good file alone loads"

# Missing table.
pg_config missing <<EOF
{"s3Prefix": "b/missing", "format": {"header": true},
 "targets": [$(pg_target pg public.t_missing)]}
EOF
csv_rows b/missing/a.csv 2
load_one b/missing a.csv
assert_eq 1 "$RC" "missing table: exit code"
assert_eq error "$(batch_status "$BATCH")" "missing table: batch status"
E=$(tjson 't[0]["error"]' "$BATCH")
assert_contains "$E" 'relation "public.t_missing" does not exist' "missing table: message"
assert_contains "$E" "[SQLSTATE 42P01]" "missing table: SQLSTATE"
assert_not_contains "$E" "portal" "missing table: no internal query in the message"
assert_contains "$E" "b/missing/a.csv" "missing table: the file"

# Missing privilege: loader_md5 on a table of loader's without a grant.
pg_config priv <<EOF
{"s3Prefix": "b/priv", "format": {"header": false},
 "targets": [$(pg_target pg t_priv dw loader_md5 "$PG_MD5_PW" '"ledgerTable": "zload_ledger_md5"')]}
EOF
printf '1,a\n' | write_file b/priv/a.csv
load_one b/priv a.csv
assert_eq 1 "$RC" "missing privilege: exit code"
assert_eq error "$(batch_status "$BATCH")" "missing privilege: batch status"
E=$(tjson 't[0]["error"]' "$BATCH")
assert_contains "$E" "permission denied for table t_priv" "missing privilege: message"
assert_contains "$E" "[SQLSTATE 42501]" "missing privilege: SQLSTATE"
assert_eq 0 "$(pg_count t_priv)" "missing privilege: nothing loaded"
pq dw "GRANT INSERT ON t_priv TO loader_md5" >/dev/null
ok zload batches reprocess "$BATCH"
assert_eq complete "$(batch_status "$BATCH")" "missing privilege: complete after the grant and reprocess"
assert_eq 1 "$(pg_count t_priv)" "missing privilege: loaded after the grant"

# Least privilege: USAGE on the schema, INSERT on the table, SELECT+INSERT on an existing ledger.
pg_config lp <<EOF
{"s3Prefix": "b/lp", "format": {"header": true},
 "targets": [$(pg_target pg lp.t dw loader_md5 "$PG_MD5_PW" '"ledgerTable": "lp.ledger"')]}
EOF
csv_rows b/lp/a.csv 4
load_one b/lp a.csv
assert_eq "loaded batch=$BATCH status=complete rows=4" "$OUT" "least-privilege loader [$ERR]"
assert_eq 4 "$(pg_count lp.t)" "least privilege: rows"
assert_eq 1 "$(pg_ledger_rows "$BATCH" dw lp.ledger)" "least privilege: ledger row"
