#!/usr/bin/env bash
# The ledger is kept per target, not per database: two targets of one configuration in the same
# PostgreSQL database (two tables), in the same SQLite file (two tables), or naming the same table
# twice, each load every row exactly once and each has its own ledger row (batch, target). Before,
# the second target found the batch in the shared ledger, was "skipped", and the batch said
# complete with its rows missing. A reprocess loads nothing again.
. "$(dirname "$0")/lib_pg.sh"

# results ID: "name:status:rows ..." of the last attempt.
results() { tjson '" ".join("%s:%s:%s" % (x["name"], x["status"], x["rows"]) for x in t)' "$1"; }
pg_targets_of() { pq dw "SELECT string_agg(target, ',' ORDER BY target) FROM zload_ledger WHERE batch_id = '$1'"; }
sq_targets_of() { sql "$WH" "SELECT group_concat(target, ',') FROM (SELECT target FROM zload_ledger WHERE batch_id = '$1' ORDER BY target)"; }

# expect_reprocess_skips ID NAMES...: a reprocess of the complete batch loads nothing anywhere.
expect_reprocess_skips() {
	local id=$1 name want=''
	shift
	ok zload batches reprocess "$id"
	assert_eq "loaded batch=$id status=complete rows=0" "$OUT" "reprocess of $id"
	for name; do want+="${want:+ }$name:complete:0"; done
	assert_eq "$want" "$(results "$id")" "reprocess of $id: every target skipped"
	assert_eq "$#" "$(tjson 'sum(1 for x in t if "already in the target" in (x.get("note") or ""))' "$id")" "reprocess of $id: notes"
}

# PostgreSQL: two tables in one database.
pql dw "CREATE TABLE t1 (id int, v text); CREATE TABLE t2 (id int, v text); CREATE TABLE t3 (id int, v text)" >/dev/null
pg_config pg2 <<EOF
{"s3Prefix": "b/pg2", "batchSize": 10, "format": {"header": true},
 "targets": [$(pg_target one public.t1), $(pg_target two public.t2)]}
EOF
csv_rows b/pg2/a.csv 30 1
csv_rows b/pg2/b.csv 12 100
load_one b/pg2 a.csv b.csv
pg_id=$BATCH
assert_eq "loaded batch=$pg_id status=complete rows=84" "$OUT" "two PostgreSQL tables: flush [$ERR]"
assert_eq complete "$(batch_status "$pg_id")" "two PostgreSQL tables: status"
assert_eq "one:complete:42 two:complete:42" "$(results "$pg_id")" "two PostgreSQL tables: per target"
for tb in t1 t2; do
	assert_eq "42 42 1731" "$(pq dw "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || sum(id) FROM $tb")" "two PostgreSQL tables: rows of $tb"
done
assert_eq "one,two" "$(pg_targets_of "$pg_id")" "two PostgreSQL tables: a ledger row per target"
assert_eq "b/pg2 b/pg2" "$(pq dw "SELECT string_agg(prefix, ' ') FROM zload_ledger WHERE batch_id = '$pg_id'")" "two PostgreSQL tables: prefixes"
expect_reprocess_skips "$pg_id" one two
assert_eq "42 42" "$(pg_count t1) $(pg_count t2)" "two PostgreSQL tables: rows after the reprocess"

# PostgreSQL: the same table twice (what the configuration asks for: every row twice).
pg_config pgsame <<EOF
{"s3Prefix": "b/pgsame", "batchSize": 10, "format": {"header": true},
 "targets": [$(pg_target x public.t3), $(pg_target y public.t3)]}
EOF
csv_rows b/pgsame/a.csv 5 1
load_one b/pgsame a.csv
same_id=$BATCH
assert_eq "loaded batch=$same_id status=complete rows=10" "$OUT" "one PostgreSQL table twice: flush [$ERR]"
assert_eq "x:complete:5 y:complete:5" "$(results "$same_id")" "one PostgreSQL table twice: per target"
assert_eq "10 5 2 2" "$(pq dw "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || min(n) || ' ' || max(n) FROM (SELECT id, count(*) OVER (PARTITION BY id) AS n FROM t3) s")" "one PostgreSQL table twice: each row twice"
assert_eq "x,y" "$(pg_targets_of "$same_id")" "one PostgreSQL table twice: a ledger row per target"
expect_reprocess_skips "$same_id" x y
assert_eq 10 "$(pg_count t3)" "one PostgreSQL table twice: rows after the reprocess"

# SQLite: two tables in one file, and one table twice.
make_table s1 "id INTEGER, v TEXT"
make_table s2 "id INTEGER, v TEXT"
make_table s3 "id INTEGER, v TEXT"
put_config sq2 <<'JSON'
{"s3Prefix": "b/sq2", "batchSize": 10, "format": {"header": true},
 "targets": [{"name": "first", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "s1"},
             {"name": "second", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "s2"}]}
JSON
put_config sqsame <<'JSON'
{"s3Prefix": "b/sqsame", "batchSize": 10, "format": {"header": true},
 "targets": [{"name": "p", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "s3"},
             {"name": "q", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "s3"}]}
JSON
csv_rows b/sq2/a.csv 7 1
csv_rows b/sq2/b.csv 3 50
load_one b/sq2 a.csv b.csv
sq_id=$BATCH
assert_eq "loaded batch=$sq_id status=complete rows=20" "$OUT" "two SQLite tables: flush [$ERR]"
assert_eq "first:complete:10 second:complete:10" "$(results "$sq_id")" "two SQLite tables: per target"
for tb in s1 s2; do
	assert_eq "10|10|181" "$(sql "$WH" "SELECT count(*), count(DISTINCT id), sum(id) FROM $tb")" "two SQLite tables: rows of $tb"
done
assert_eq "first,second" "$(sq_targets_of "$sq_id")" "two SQLite tables: a ledger row per target"
expect_reprocess_skips "$sq_id" first second
assert_eq "10 10" "$(rows s1) $(rows s2)" "two SQLite tables: rows after the reprocess"

csv_rows b/sqsame/a.csv 4 1
load_one b/sqsame a.csv
sqs_id=$BATCH
assert_eq "loaded batch=$sqs_id status=complete rows=8" "$OUT" "one SQLite table twice: flush [$ERR]"
assert_eq "p:complete:4 q:complete:4" "$(results "$sqs_id")" "one SQLite table twice: per target"
assert_eq "8|4|2|2" "$(sql "$WH" "SELECT count(*), count(DISTINCT id), min(n), max(n) FROM (SELECT id, count(*) OVER (PARTITION BY id) AS n FROM s3)")" "one SQLite table twice: each row twice"
assert_eq "p,q" "$(sq_targets_of "$sqs_id")" "one SQLite table twice: a ledger row per target"
expect_reprocess_skips "$sqs_id" p q
assert_eq 8 "$(rows s3)" "one SQLite table twice: rows after the reprocess"
