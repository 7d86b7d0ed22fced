/* The exact SQL text zload sends for COPY, JSON staging and the ledger. */
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

static void test_json_and_ledger(void **state)
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
	zl_dialect_pg_ledger_insert(&b, "zload_ledger");
	assert_string_equal(zl_buf_str(&b), "INSERT INTO \"zload_ledger\" (batch_id, prefix) VALUES ($1, $2)");
	zl_buf_reset(&b);
	zl_dialect_pg_ledger_create(&b, "ops.ledger");
	assert_string_equal(zl_buf_str(&b), "CREATE TABLE IF NOT EXISTS \"ops\".\"ledger\" (batch_id text PRIMARY KEY, "
	                                    "prefix text NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now())");
	zl_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_copy_csv),
		cmocka_unit_test(test_copy_text),
		cmocka_unit_test(test_json_and_ledger),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
