#!/usr/bin/env bash
# A ledger without the part column (made by an older zload) is left as it is by targets with
# parallelism 1, and given the column (old rows part 0, key (batch_id, target, part)) by the first
# target with parallelism above 1, from either older layout. A loader that may not alter it gets
# the statements its owner should run; once they ran, a reprocess loads.
# test-timeout: 180
. "$(dirname "$0")/lib_pg.sh"

# pg_layout DB TABLE: "columns / primary key columns" of a ledger table.
pg_layout() {
	pq "$1" "SELECT (SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '$2'::regclass AND attnum > 0 AND NOT attisdropped)
	         || ' / ' || (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM pg_constraint c, unnest(c.conkey) WITH ORDINALITY k(attnum, n), pg_attribute a
	                      WHERE c.conrelid = '$2'::regclass AND c.contype = 'p' AND a.attrelid = c.conrelid AND a.attnum = k.attnum)"
}
rows_of() { pq "$1" "SELECT string_agg(batch_id || ':' || target || ':' || part, ' ' ORDER BY batch_id, target, part) FROM $2"; }
target_with() { pg_target wh public.t "$1" loader "$PG_SCRAM_PW" "\"ledgerTable\": \"$2\"${3:+, $3}"; }

pql dw "CREATE TABLE t (id int, v text);
        CREATE TABLE ledger_a (batch_id text NOT NULL, target text NOT NULL, prefix text NOT NULL,
                               loaded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (batch_id, target));
        INSERT INTO ledger_a VALUES ('00-old', 'wh', 'b/a')" >/dev/null

# parallelism 1: the ledger keeps its layout.
pg_config a <<EOF
{"s3Prefix": "b/a", "batchSize": 2, "format": {"header": true}, "targets": [$(target_with dw ledger_a)]}
EOF
csv_rows b/a/1.csv 5 100
csv_rows b/a/2.csv 5 200
load_one b/a 1.csv 2.csv
first=$BATCH
assert_eq complete "$(batch_status "$first")" "parallelism 1 on the older layout [$OUT] [$ERR]"
assert_eq "batch_id,target,prefix,loaded_at / batch_id,target" "$(pg_layout dw ledger_a)" "layout unchanged by parallelism 1"

# parallelism 2: the part column is added, the rows kept as part 0.
pg_config a <<EOF
{"s3Prefix": "b/a", "batchSize": 2, "format": {"header": true}, "targets": [$(target_with dw ledger_a '"parallelism": 2')]}
EOF
csv_rows b/a/3.csv 5 300
csv_rows b/a/4.csv 5 400
load_one b/a 3.csv 4.csv
second=$BATCH
assert_eq complete "$(batch_status "$second")" "parallelism 2 migrates [$OUT] [$ERR]"
assert_eq "batch_id,target,prefix,loaded_at,part / batch_id,target,part" "$(pg_layout dw ledger_a)" "layout with parts"
assert_eq "00-old:wh:0 $first:wh:0 $second:wh:-2 $second:wh:0 $second:wh:1 $second:wh:2" "$(rows_of dw ledger_a)" "old rows kept as part 0"
assert_eq 20 "$(pg_count t)" "rows"
ok zload batches reprocess "$first"
assert_contains "$(tjson 't[0].get("note")' "$first")" "already in the target's ledger" "a batch from before the migration is still skipped"
assert_eq 20 "$(pg_count t)" "nothing loaded twice"

# Back to parallelism 1 on the new layout: whole batches as before.
pg_config a <<EOF
{"s3Prefix": "b/a", "batchSize": 2, "format": {"header": true}, "targets": [$(target_with dw ledger_a)]}
EOF
csv_rows b/a/5.csv 5 500
csv_rows b/a/6.csv 5 600
load_one b/a 5.csv 6.csv
assert_eq complete "$(batch_status "$BATCH")" "parallelism 1 on the new layout"
assert_eq 30 "$(pg_count t)" "rows"
assert_eq 1 "$(pq dw "SELECT count(*) FROM ledger_a WHERE batch_id = '$BATCH' AND part = 0")" "its row 0"

# The oldest layout (keyed by batch_id alone) goes through both migrations at once.
pql dw2 "CREATE TABLE t (id int, v text);
         CREATE TABLE ledger_b (batch_id text PRIMARY KEY, prefix text NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now());
         INSERT INTO ledger_b VALUES ('00-oldest', 'b/b')" >/dev/null
pg_config b <<EOF
{"s3Prefix": "b/b", "batchSize": 2, "format": {"header": true}, "targets": [$(target_with dw2 ledger_b '"parallelism": 2')]}
EOF
csv_rows b/b/1.csv 5 100
csv_rows b/b/2.csv 5 200
load_one b/b 1.csv 2.csv
assert_eq complete "$(batch_status "$BATCH")" "both migrations [$OUT] [$ERR]"
assert_eq "batch_id,prefix,loaded_at,target,part / batch_id,target,part" "$(pg_layout dw2 ledger_b)" "oldest layout migrated twice"
assert_eq "00-oldest:*:0 $BATCH:wh:-2 $BATCH:wh:0 $BATCH:wh:1 $BATCH:wh:2" "$(rows_of dw2 ledger_b)" "rows after both migrations"

# A loader without the rights: the ledger is owned by postgres; loader may SELECT and INSERT.
pq dw "CREATE TABLE ledger_c (batch_id text NOT NULL, target text NOT NULL, prefix text NOT NULL,
                              loaded_at timestamptz NOT NULL DEFAULT now(), CONSTRAINT c_key PRIMARY KEY (batch_id, target));
       GRANT SELECT, INSERT ON ledger_c TO loader" >/dev/null
pg_config c <<EOF
{"s3Prefix": "b/c", "batchSize": 2, "format": {"header": true}, "targets": [$(target_with dw ledger_c '"parallelism": 2')]}
EOF
csv_rows b/c/1.csv 5 700
csv_rows b/c/2.csv 5 800
load_one b/c 1.csv 2.csv
id=$BATCH
assert_eq 1 "$RC" "no rights: exit code"
assert_eq error "$(batch_status "$id")" "no rights: batch in error"
stmts='ALTER TABLE "ledger_c" ADD COLUMN part integer NOT NULL DEFAULT 0; ALTER TABLE "ledger_c" DROP CONSTRAINT "c_key"; ALTER TABLE "ledger_c" ADD PRIMARY KEY (batch_id, target, part)'
err=$(tjson 't[0]["error"]' "$id")
assert_contains "$err" "ledger table \"ledger_c\" has no part column, which a target with parallelism above 1 needs, and this loader may not change it (" "no rights: the error says what is missing"
assert_contains "$err" "must be owner of table ledger_c" "no rights: the server's reason"
assert_contains "$err" "have its owner run: BEGIN; $stmts; COMMIT;" "no rights: the statements to run"
assert_eq "batch_id,target,prefix,loaded_at / batch_id,target" "$(pg_layout dw ledger_c)" "no rights: layout unchanged"
pq dw "BEGIN; $stmts; COMMIT" >/dev/null
ok zload batches reprocess "$id"
assert_eq complete "$(batch_status "$id")" "after the owner migrated"
assert_eq "$id:wh:-2 $id:wh:0 $id:wh:1 $id:wh:2" "$(rows_of dw ledger_c)" "rows after the owner's migration"
assert_eq 40 "$(pg_count t)" "rows"
