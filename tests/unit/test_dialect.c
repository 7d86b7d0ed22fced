/* The exact SQL text zload sends for COPY, JSON staging, SQLite inserts and the ledger (its
 * layout, look-ups and the migration from the older layout keyed by batch_id alone). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "target/dialect.h"

static void expect_copy(const zl_copy_spec *spec, const char *want)
{
	zl_buf b;
	zl_buf_init(&b, 0);
	assert_int_equal(zl_dialect_pg_copy(&b, spec), 0);
	assert_string_equal(zl_buf_str(&b), want);
	zl_buf_release(&b);
}

static void test_quoting(void **state)
{
	zl_buf b;
	zl_buf_init(&b, 0);
	zl_sql_ident(&b, "sales.Events \"2026\"");
	assert_string_equal(zl_buf_str(&b), "\"sales\".\"Events \"\"2026\"\"\"");
	zl_buf_reset(&b);
	zl_sql_ident(&b, "a..b");
	assert_string_equal(zl_buf_str(&b), "\"a\".\"\".\"b\"");
	zl_buf_reset(&b);
	zl_sql_name(&b, "a.b \"c\"");  /* a column or constraint: one name, dots kept */
	assert_string_equal(zl_buf_str(&b), "\"a.b \"\"c\"\"\"");
	zl_buf_reset(&b);
	zl_sql_literal(&b, "it's");
	assert_string_equal(zl_buf_str(&b), "'it''s'");
	zl_buf_reset(&b);
	zl_sql_literal(&b, "\t\\N\x01");
	assert_string_equal(zl_buf_str(&b), "E'\\t\\\\N\\x01'");
	zl_buf_release(&b);
}

static void test_copy_csv(void **state)
{
	zl_format f;
	zl_format_defaults(&f);
	zl_copy_spec spec = { .table = "public.events", .format = &f };
	expect_copy(&spec, "COPY \"public\".\"events\" FROM STDIN WITH (FORMAT csv, DELIMITER ',', QUOTE '\"', "
	                   "ESCAPE '\"', NULL '', HEADER false)");
	const char *cols[] = { "id", "kind" };
	f.header = 1;
	f.delimiter = '|';
	f.escape = '\\';
	f.null_string = "NA";
	spec.columns = cols;
	spec.ncolumns = 2;
	spec.options = "FORCE_NULL (kind), ENCODING 'LATIN1'";
	expect_copy(&spec, "COPY \"public\".\"events\" (\"id\", \"kind\") FROM STDIN WITH (FORMAT csv, DELIMITER '|', "
	                   "QUOTE '\"', ESCAPE E'\\\\', NULL 'NA', HEADER true, FORCE_NULL (kind), ENCODING 'LATIN1')");
}

static void test_copy_text(void **state)
{
	zl_format f;
	zl_format_defaults(&f);
	f.type = ZL_FMT_TEXT;
	f.delimiter = '\t';
	zl_copy_spec spec = { .table = "t", .format = &f };
	expect_copy(&spec, "COPY \"t\" FROM STDIN WITH (FORMAT text, DELIMITER E'\\t', NULL E'\\\\N')");
}

static void test_json(void **state)
{
	zl_format f;
	zl_format_defaults(&f);
	const char *cols[] = { "id", "name" };
	zl_copy_spec spec = { .table = "s.t", .format = &f };
	zl_buf b;
	zl_buf_init(&b, 0);
	zl_dialect_pg_json_insert(&b, &spec);
	assert_string_equal(zl_buf_str(&b), "INSERT INTO \"s\".\"t\" SELECT r.* FROM zload_json_stage s, "
	                                    "jsonb_populate_record(NULL::\"s\".\"t\", s.doc) r WHERE s.doc IS NOT NULL");
	zl_buf_reset(&b);
	spec.columns = cols;
	spec.ncolumns = 2;
	zl_dialect_pg_json_insert(&b, &spec);
	assert_string_equal(zl_buf_str(&b), "INSERT INTO \"s\".\"t\" (\"id\", \"name\") SELECT r.\"id\", r.\"name\" FROM "
	                                    "zload_json_stage s, jsonb_populate_record(NULL::\"s\".\"t\", s.doc) r WHERE s.doc IS NOT NULL");
	zl_buf_reset(&b);
	const char *dotted[] = { "a.b" };
	spec.columns = dotted;
	spec.ncolumns = 1;
	zl_dialect_pg_json_insert(&b, &spec);
	assert_string_equal(zl_buf_str(&b), "INSERT INTO \"s\".\"t\" (\"a.b\") SELECT r.\"a.b\" FROM "
	                                    "zload_json_stage s, jsonb_populate_record(NULL::\"s\".\"t\", s.doc) r WHERE s.doc IS NOT NULL");
	zl_buf_release(&b);
}

static void expect_text(int (*fn)(zl_buf *, const char *), const char *ledger, const char *want)
{
	zl_buf b;
	zl_buf_init(&b, 0);
	assert_int_equal(fn(&b, ledger), 0);
	assert_string_equal(zl_buf_str(&b), want);
	zl_buf_release(&b);
}

static void test_pg_ledger(void **state)
{
	expect_text(zl_dialect_pg_ledger_create, "ops.ledger",
	            "CREATE TABLE IF NOT EXISTS \"ops\".\"ledger\" (batch_id text NOT NULL, target text NOT NULL, "
	            "part integer NOT NULL DEFAULT 0, prefix text NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now(), "
	            "PRIMARY KEY (batch_id, target, part))");
	expect_text(zl_dialect_pg_ledger_select, "zload_ledger",
	            "SELECT COALESCE((to_jsonb(l) ->> 'part')::integer, 0) FROM \"zload_ledger\" l "
	            "WHERE l.batch_id = $1 AND l.target IN ($2, '*')");
	expect_text(zl_dialect_pg_ledger_insert, "zload_ledger",
	            "INSERT INTO \"zload_ledger\" (batch_id, target, prefix) VALUES ($1, $2, $3)");
	expect_text(zl_dialect_pg_ledger_insert_part, "zload_ledger",
	            "INSERT INTO \"zload_ledger\" (batch_id, target, prefix, part) VALUES ($1, $2, $3, $4)");
	assert_string_equal(zl_dialect_pg_ledger_layout,
	                    "SELECT l.rel IS NOT NULL, "
	                    "EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = l.rel AND a.attname = 'target' AND NOT a.attisdropped), "
	                    "EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = l.rel AND a.attname = 'part' AND NOT a.attisdropped), "
	                    "(SELECT c.conname FROM pg_constraint c WHERE c.conrelid = l.rel AND c.contype = 'p') "
	                    "FROM (SELECT to_regclass($1) AS rel) l");
}

static void test_pg_ledger_migrate(void **state)
{
	zl_buf b;
	zl_buf_init(&b, 0);
	assert_int_equal(zl_dialect_pg_ledger_migrate(&b, "zload_ledger", "zload_ledger_pkey"), 0);
	assert_string_equal(zl_buf_str(&b),
	                    "ALTER TABLE \"zload_ledger\" ADD COLUMN target text NOT NULL DEFAULT '*'; "
	                    "ALTER TABLE \"zload_ledger\" ALTER COLUMN target DROP DEFAULT; "
	                    "ALTER TABLE \"zload_ledger\" DROP CONSTRAINT \"zload_ledger_pkey\"; "
	                    "ALTER TABLE \"zload_ledger\" ADD PRIMARY KEY (batch_id, target)");
	/* the constraint is named as the database says, one identifier even with a dot */
	zl_buf_reset(&b);
	assert_int_equal(zl_dialect_pg_ledger_migrate(&b, "ops.Ledger", "my.\"key\""), 0);
	assert_string_equal(zl_buf_str(&b),
	                    "ALTER TABLE \"ops\".\"Ledger\" ADD COLUMN target text NOT NULL DEFAULT '*'; "
	                    "ALTER TABLE \"ops\".\"Ledger\" ALTER COLUMN target DROP DEFAULT; "
	                    "ALTER TABLE \"ops\".\"Ledger\" DROP CONSTRAINT \"my.\"\"key\"\"\"; "
	                    "ALTER TABLE \"ops\".\"Ledger\" ADD PRIMARY KEY (batch_id, target)");
	/* an old table without a primary key: nothing to drop */
	zl_buf_reset(&b);
	assert_int_equal(zl_dialect_pg_ledger_migrate(&b, "l", NULL), 0);
	assert_string_equal(zl_buf_str(&b),
	                    "ALTER TABLE \"l\" ADD COLUMN target text NOT NULL DEFAULT '*'; "
	                    "ALTER TABLE \"l\" ALTER COLUMN target DROP DEFAULT; "
	                    "ALTER TABLE \"l\" ADD PRIMARY KEY (batch_id, target)");
	zl_buf_reset(&b);
	assert_int_equal(zl_dialect_pg_ledger_migrate_parts(&b, "ops.Ledger", "Ledger_pkey"), 0);
	assert_string_equal(zl_buf_str(&b),
	                    "ALTER TABLE \"ops\".\"Ledger\" ADD COLUMN part integer NOT NULL DEFAULT 0; "
	                    "ALTER TABLE \"ops\".\"Ledger\" DROP CONSTRAINT \"Ledger_pkey\"; "
	                    "ALTER TABLE \"ops\".\"Ledger\" ADD PRIMARY KEY (batch_id, target, part)");
	zl_buf_release(&b);
}

static void test_sqlite(void **state)
{
	zl_buf b;
	zl_buf_init(&b, 0);
	const char *cols[] = { "id", "a.b", "c\"d" };
	assert_int_equal(zl_dialect_sqlite_insert(&b, "main.t", cols, 3), 0);
	assert_string_equal(zl_buf_str(&b), "INSERT INTO \"main\".\"t\"(\"id\", \"a.b\", \"c\"\"d\") VALUES(?, ?, ?)");
	zl_buf_release(&b);
	expect_text(zl_dialect_sqlite_ledger_create, "zload_ledger",
	            "CREATE TABLE IF NOT EXISTS \"zload_ledger\"(batch_id TEXT NOT NULL, target TEXT NOT NULL, "
	            "prefix TEXT NOT NULL, loaded_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (batch_id, target))");
	expect_text(zl_dialect_sqlite_ledger_select, "zload_ledger",
	            "SELECT 1 FROM \"zload_ledger\" WHERE batch_id = ?1 AND target IN (?2, '*')");
	expect_text(zl_dialect_sqlite_ledger_insert, "zload_ledger",
	            "INSERT INTO \"zload_ledger\"(batch_id, target, prefix) VALUES(?1, ?2, ?3)");
	expect_text(zl_dialect_sqlite_ledger_migrate, "zload_ledger",
	            "ALTER TABLE \"zload_ledger\" RENAME TO \"zload_ledger_old_layout\"; "
	            "CREATE TABLE \"zload_ledger\"(batch_id TEXT NOT NULL, target TEXT NOT NULL, prefix TEXT NOT NULL, "
	            "loaded_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (batch_id, target)); "
	            "INSERT INTO \"zload_ledger\"(batch_id, target, prefix, loaded_at) "
	            "SELECT batch_id, '*', prefix, loaded_at FROM \"zload_ledger_old_layout\"; "
	            "DROP TABLE \"zload_ledger_old_layout\"");
	/* RENAME TO takes the bare name: the table stays in its schema */
	expect_text(zl_dialect_sqlite_ledger_migrate, "aux.led",
	            "ALTER TABLE \"aux\".\"led\" RENAME TO \"led_old_layout\"; "
	            "CREATE TABLE \"aux\".\"led\"(batch_id TEXT NOT NULL, target TEXT NOT NULL, prefix TEXT NOT NULL, "
	            "loaded_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (batch_id, target)); "
	            "INSERT INTO \"aux\".\"led\"(batch_id, target, prefix, loaded_at) "
	            "SELECT batch_id, '*', prefix, loaded_at FROM \"aux\".\"led_old_layout\"; "
	            "DROP TABLE \"aux\".\"led_old_layout\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_copy_csv),
		cmocka_unit_test(test_copy_text),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_pg_ledger),
		cmocka_unit_test(test_pg_ledger_migrate),
		cmocka_unit_test(test_sqlite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
