#!/usr/bin/env bash
# A ledger of the older layout (keyed by batch_id alone, made here by hand with the old DDL) is
# migrated in place when a target connects: PostgreSQL and SQLite, a custom schema-qualified
# ledgerTable, two loaders migrating at once (the loser finds the work done). Old rows are kept
# with target '*', so a reprocess of an old batch loads nothing. A PostgreSQL loader that may not
# alter the ledger (owned by postgres; SELECT and INSERT granted) ends the batch in error naming
# the table and the statements its owner should run; once they ran, a reprocess loads.
. "$(dirname "$0")/lib_pg.sh"

OLD_DDL='(batch_id text PRIMARY KEY, prefix text NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now())'
results() { tjson '" ".join("%s:%s:%s" % (x["name"], x["status"], x["rows"]) for x in t)' "$1"; }
# pg_layout DB TABLE: "columns / primary key columns" of a ledger table.
pg_layout() {
	pq "$1" "SELECT (SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '$2'::regclass AND attnum > 0 AND NOT attisdropped)
	         || ' / ' || (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM pg_constraint c, unnest(c.conkey) WITH ORDINALITY k(attnum, n), pg_attribute a
	                      WHERE c.conrelid = '$2'::regclass AND c.contype = 'p' AND a.attrelid = c.conrelid AND a.attnum = k.attnum)"
}
pg_ledger() { pq "$1" "SELECT string_agg(batch_id || '|' || target || '|' || prefix || '|' || to_char(loaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), ' ' ORDER BY loaded_at, target) FROM $2"; }
OLD_TIME='2025-06-01 12:00:00'

# --- PostgreSQL, default ledger name: an old batch, then the ledger is put back in the old layout.
pql dw "CREATE TABLE t (id int, v text)" >/dev/null
pg_config pg <<EOF
{"s3Prefix": "b/pg", "format": {"header": true}, "targets": [$(pg_target one public.t)]}
EOF
csv_rows b/pg/a.csv 3 1
csv_rows b/pg/b.csv 4 10
load_one b/pg a.csv
old_id=$BATCH
assert_eq "loaded batch=$old_id status=complete rows=3" "$OUT" "the old batch [$ERR]"
pql dw "DROP TABLE zload_ledger; CREATE TABLE zload_ledger $OLD_DDL;
        INSERT INTO zload_ledger VALUES ('$old_id', 'b/pg', '$OLD_TIME+00')" >/dev/null
load_one b/pg b.csv
new_id=$BATCH
assert_eq "loaded batch=$new_id status=complete rows=4" "$OUT" "the load that migrates the ledger [$ERR]"
assert_eq "batch_id,prefix,loaded_at,target / batch_id,target" "$(pg_layout dw zload_ledger)" "PostgreSQL: migrated layout"
assert_eq "$old_id|*|b/pg|$OLD_TIME $new_id|one|b/pg|" "$(pg_ledger dw zload_ledger | sed -E 's/\|[0-9: -]+$/|/')" "PostgreSQL: the old row kept as '*', the new one per target"
assert_eq "" "$(pq dw "SELECT column_default FROM information_schema.columns WHERE table_name = 'zload_ledger' AND column_name = 'target'")" "PostgreSQL: no default left on target"
ok zload batches reprocess "$old_id"
assert_eq "loaded batch=$old_id status=complete rows=0" "$OUT" "PostgreSQL: reprocess of the old batch"
assert_contains "$(tjson 't[0].get("note")' "$old_id")" "already in the target's ledger" "PostgreSQL: the old batch is skipped"
assert_eq 7 "$(pg_count t)" "PostgreSQL: rows (nothing loaded twice)"
assert_eq 2 "$(pq dw "SELECT count(*) FROM zload_ledger")" "PostgreSQL: the reprocess added no ledger row"

# --- PostgreSQL, ledgerTable ops.ledger, two targets migrating at once: a session holds a lock on
# the ledger so both wait in ALTER TABLE; the first migrates, the second's ADD COLUMN fails and it
# finds the layout current.
pql dw "CREATE SCHEMA ops; CREATE TABLE ops.ledger $OLD_DDL; INSERT INTO ops.ledger VALUES ('01-some-old-batch', 'b/two', '$OLD_TIME+00');
        CREATE TABLE t1 (id int, v text); CREATE TABLE t2 (id int, v text)" >/dev/null
led='"ledgerTable": "ops.ledger"'
pg_config two <<EOF
{"s3Prefix": "b/two", "format": {"header": true},
 "targets": [$(pg_target first public.t1 dw loader "$PG_SCRAM_PW" "$led"), $(pg_target second public.t2 dw loader "$PG_SCRAM_PW" "$led")]}
EOF
csv_rows b/two/a.csv 5 1
start_bg locker psql -X -q -h "$PGDIR" -p "$PGPORT" -U postgres -d dw -c "BEGIN; LOCK TABLE ops.ledger IN ACCESS SHARE MODE; SELECT pg_sleep(2); COMMIT"
wait_for 10 count_is 1 pq dw "SELECT count(*) FROM pg_locks WHERE relation = 'ops.ledger'::regclass AND mode = 'AccessShareLock' AND granted"
load_one b/two a.csv
two_id=$BATCH
assert_eq "loaded batch=$two_id status=complete rows=10" "$OUT" "two loaders migrating at once [$ERR]"
assert_eq "first:complete:5 second:complete:5" "$(results "$two_id")" "two loaders migrating at once: per target"
assert_eq "batch_id,prefix,loaded_at,target / batch_id,target" "$(pg_layout dw ops.ledger)" "ops.ledger: migrated layout"
assert_eq "01-some-old-batch|*|b/two $two_id|first|b/two $two_id|second|b/two" \
	"$(pq dw "SELECT string_agg(batch_id || '|' || target || '|' || prefix, ' ' ORDER BY target) FROM ops.ledger")" "ops.ledger: rows"
assert_eq "5 5" "$(pg_count t1) $(pg_count t2)" "two loaders migrating at once: rows"
log_has "$PGDIR/server.log" 'column "target" of relation "ledger" already exists' || fail "the second migration did not meet the first (server log: $(grep ERROR "$PGDIR/server.log" | tail -n 5))"

# --- PostgreSQL, a loader without the rights: the ledger is owned by postgres (primary key named
# old_ledger_key, not <table>_pkey); loader has SELECT and INSERT on it.
pq dw2 "CREATE TABLE zload_ledger (batch_id text, prefix text NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now(), CONSTRAINT old_ledger_key PRIMARY KEY (batch_id));
        INSERT INTO zload_ledger VALUES ('01-older-batch', 'b/lp', '$OLD_TIME+00');
        GRANT SELECT, INSERT ON zload_ledger TO loader" >/dev/null
pql dw2 "CREATE TABLE t (id int, v text)" >/dev/null
pg_config lp <<EOF
{"s3Prefix": "b/lp", "format": {"header": true}, "targets": [$(pg_target lp public.t dw2)]}
EOF
csv_rows b/lp/a.csv 6 1
load_one b/lp a.csv
lp_id=$BATCH
assert_eq 1 "$RC" "no rights: exit code"
stmts="BEGIN; ALTER TABLE \"zload_ledger\" ADD COLUMN target text NOT NULL DEFAULT '*'; ALTER TABLE \"zload_ledger\" ALTER COLUMN target DROP DEFAULT; ALTER TABLE \"zload_ledger\" DROP CONSTRAINT \"old_ledger_key\"; ALTER TABLE \"zload_ledger\" ADD PRIMARY KEY (batch_id, target); COMMIT;"
want="target lp: ledger table \"zload_ledger\" has the layout of an older zload (keyed by batch_id alone) and this loader may not change it (must be owner of table zload_ledger [SQLSTATE 42501]); have its owner run: $stmts"
assert_eq "loaded batch=$lp_id status=error rows=0 error=$want" "$OUT" "no rights: flush output"
assert_eq error "$(batch_status "$lp_id")" "no rights: batch status"
assert_eq "$want" "$(batch_field "$lp_id" error)" "no rights: batch error"
assert_eq 1 "$(batch_field "$lp_id" attempts)" "no rights: not retried (permanent)"
assert_eq 0 "$(pq dw2 "SELECT count(*) FROM t")" "no rights: nothing loaded"
assert_eq "batch_id,prefix,loaded_at / batch_id" "$(pg_layout dw2 zload_ledger)" "no rights: the ledger is unchanged"
# The owner runs what the message says, as it says it.
pq dw2 "${want#*have its owner run: }" >/dev/null
assert_eq "batch_id,prefix,loaded_at,target / batch_id,target" "$(pg_layout dw2 zload_ledger)" "after the owner's statements: layout"
ok zload batches reprocess "$lp_id"
assert_eq "loaded batch=$lp_id status=complete rows=6" "$OUT" "reprocess after the owner migrated the ledger"
assert_eq 6 "$(pq dw2 "SELECT count(*) FROM t")" "rows after the reprocess"
assert_eq "01-older-batch|*|b/lp $lp_id|lp|b/lp" \
	"$(pq dw2 "SELECT string_agg(batch_id || '|' || target || '|' || prefix, ' ' ORDER BY loaded_at) FROM zload_ledger")" "ledger after the reprocess"
assert_eq postgres "$(pq dw2 "SELECT tableowner FROM pg_tables WHERE tablename = 'zload_ledger'")" "the ledger is still postgres's"

# --- SQLite: the same, in place (rebuilt in one transaction).
make_table t "id INTEGER, v TEXT"
put_config sq <<'JSON'
{"s3Prefix": "b/sq", "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
JSON
csv_rows b/sq/a.csv 2 1
csv_rows b/sq/b.csv 3 10
load_one b/sq a.csv
sq_old=$BATCH
assert_eq "loaded batch=$sq_old status=complete rows=2" "$OUT" "SQLite: the old batch [$ERR]"
sql "$WH" "DROP TABLE zload_ledger; CREATE TABLE zload_ledger(batch_id TEXT PRIMARY KEY, prefix TEXT NOT NULL, loaded_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
           INSERT INTO zload_ledger VALUES ('$sq_old', 'b/sq', '$OLD_TIME')" || fail "cannot make the old SQLite ledger"
load_one b/sq b.csv
sq_new=$BATCH
assert_eq "loaded batch=$sq_new status=complete rows=3" "$OUT" "SQLite: the load that migrates the ledger [$ERR]"
assert_eq "batch_id:1,target:2,prefix:0,loaded_at:0" "$(sql "$WH" "SELECT group_concat(name || ':' || pk, ',') FROM pragma_table_info('zload_ledger')")" "SQLite: migrated layout"
assert_eq "$sq_old|*|b/sq|$OLD_TIME $sq_new|wh|b/sq" \
	"$(sql "$WH" "SELECT group_concat(x, ' ') FROM (SELECT batch_id || '|' || target || '|' || prefix || CASE target WHEN '*' THEN '|' || loaded_at ELSE '' END AS x FROM zload_ledger ORDER BY loaded_at)")" "SQLite: ledger rows"
assert_eq 0 "$(sql "$WH" "SELECT count(*) FROM sqlite_master WHERE name LIKE '%old_layout%'")" "SQLite: no table left from the rebuild"
ok zload batches reprocess "$sq_old"
assert_eq "loaded batch=$sq_old status=complete rows=0" "$OUT" "SQLite: reprocess of the old batch"
assert_eq 5 "$(rows t)" "SQLite: rows (nothing loaded twice)"
