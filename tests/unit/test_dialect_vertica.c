/* The exact SQL text zload sends to Vertica: COPY in stream, mount and s3 modes with every format,
 * copyOptions passed as they are, the ledger, session settings and the rejected-row look-ups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "target/dialect_vertica.h"

static zl_format fmt(zl_format_type type, int header)
{
	zl_format f;
	zl_format_defaults(&f);
	f.type = type;
	if (type == ZL_FMT_TEXT)
		f.delimiter = '\t';
	f.header = header;
	return f;
}

static void expect_copy(const zl_vcopy_spec *spec, const char *want)
{
	zl_buf b;
	zl_buf_init(&b, 0);
	assert_int_equal(zl_dialect_vertica_copy(&b, spec), 0);
	assert_string_equal(zl_buf_str(&b), want);
	zl_buf_release(&b);
}

static void test_stream_formats(void **state)
{
	zl_format csv = fmt(ZL_FMT_CSV, 1), text = fmt(ZL_FMT_TEXT, 0), json = fmt(ZL_FMT_JSONL, 0);
	zl_vcopy_spec s = { .table = "public.events", .format = &csv };
	expect_copy(&s, "COPY \"public\".\"events\" FROM LOCAL STDIN DELIMITER ',' ENCLOSED BY '\"' NO ESCAPE NULL '' "
	                "SKIP 1 NO COMMIT");
	const char *cols[] = { "id", "Kind \"x\"" };
	s.columns = cols;
	s.ncolumns = 2;
	s.format = &text;
	expect_copy(&s, "COPY \"public\".\"events\" (\"id\", \"kind \"\"x\"\"\") FROM LOCAL STDIN DELIMITER E'\\t' NULL "
	                "E'\\\\N' NO COMMIT");
	s.ncolumns = 0;
	s.format = &json;
	s.rejected_table = "zload_rejects";
	expect_copy(&s, "COPY \"public\".\"events\" FROM LOCAL STDIN PARSER FJSONPARSER() REJECTED DATA AS TABLE "
	                "\"zload_rejects\" NO COMMIT");
	csv.delimiter = '|';
	csv.quote = '\'';
	csv.escape = '\\';
	csv.null_string = "NA";
	csv.header = 0;
	s.format = &csv;
	s.rejected_table = NULL;
	expect_copy(&s, "COPY \"public\".\"events\" FROM LOCAL STDIN DELIMITER '|' ENCLOSED BY '''' ESCAPE AS E'\\\\' "
	                "NULL 'NA' NO COMMIT");
}

static void test_copy_options_win(void **state)
{
	zl_format csv = fmt(ZL_FMT_CSV, 1);
	zl_vcopy_spec s = { .table = "testTable", .format = &csv, .options = "parser fdelimitedparser(delimiter=',')" };
	expect_copy(&s, "COPY \"testtable\" FROM LOCAL STDIN parser fdelimitedparser(delimiter=',') NO COMMIT");
}

static void test_mount_and_s3(void **state)
{
	zl_format csv = fmt(ZL_FMT_CSV, 0);
	const char *paths[] = { "/mnt/s3/myBucket/db_ingest/a.csv", "/mnt/s3/myBucket/db_ingest/it's.csv.gz",
	                        "/mnt/s3/myBucket/x.bz2" };
	zl_vcopy_spec s = { .table = "t", .format = &csv, .mode = ZL_VMODE_MOUNT, .sources = paths, .nsources = 3,
	                    .options = "DELIMITER '|' on any node DIRECT" };
	/* ON ANY NODE goes after each path, as Vertica's grammar wants it */
	expect_copy(&s, "COPY \"t\" FROM '/mnt/s3/myBucket/db_ingest/a.csv' ON ANY NODE, "
	                "'/mnt/s3/myBucket/db_ingest/it''s.csv.gz' ON ANY NODE GZIP, '/mnt/s3/myBucket/x.bz2' ON ANY NODE BZIP "
	                "DELIMITER '|' DIRECT NO COMMIT");
	s.options = "ON ANY NODE";
	s.nsources = 1;
	expect_copy(&s, "COPY \"t\" FROM '/mnt/s3/myBucket/db_ingest/a.csv' ON ANY NODE NO COMMIT");
	s.options = "ON ANY NODE DIRECT";
	s.nsources = 3;
	expect_copy(&s, "COPY \"t\" FROM '/mnt/s3/myBucket/db_ingest/a.csv' ON ANY NODE, "
	                "'/mnt/s3/myBucket/db_ingest/it''s.csv.gz' ON ANY NODE GZIP, '/mnt/s3/myBucket/x.bz2' ON ANY NODE BZIP "
	                "DIRECT NO COMMIT");
	const char *urls[] = { "s3://bkt/in/a.csv.zst" };
	s.mode = ZL_VMODE_S3;
	s.sources = urls;
	s.nsources = 1;
	s.options = NULL;
	expect_copy(&s, "COPY \"t\" FROM 's3://bkt/in/a.csv.zst' ZSTD DELIMITER ',' ENCLOSED BY '\"' NO ESCAPE NULL '' "
	                "NO COMMIT");
	csv.compression = ZL_COMP_GZIP; /* an explicit compression applies to every source */
	expect_copy(&s, "COPY \"t\" FROM 's3://bkt/in/a.csv.zst' GZIP DELIMITER ',' ENCLOSED BY '\"' NO ESCAPE NULL '' "
	                "NO COMMIT");
}

static void expect(int rc, zl_buf *b, const char *want)
{
	assert_int_equal(rc, 0);
	assert_string_equal(zl_buf_str(b), want);
	zl_buf_reset(b);
}

static void test_ledger_and_session(void **state)
{
	zl_buf b;
	zl_buf_init(&b, 0);
	expect(zl_dialect_vertica_ledger_create(&b, "loader.zload_ledger"), &b,
	       "CREATE TABLE IF NOT EXISTS \"loader\".\"zload_ledger\" (batch_id varchar(64) NOT NULL, target "
	       "varchar(512) NOT NULL, prefix varchar(4096) NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now(), "
	       "PRIMARY KEY (batch_id, target) ENABLED)");
	expect(zl_dialect_vertica_table_exists(&b, "loader.zload_ledger"), &b,
	       "SELECT count(*) FROM v_catalog.tables WHERE table_schema = 'loader' AND table_name = 'zload_ledger'");
	/* identifiers are case-insensitive in Vertica: sent folded, so look-ups match what was made */
	expect(zl_dialect_vertica_table_exists(&b, "Loader.ZLoad_Ledger"), &b,
	       "SELECT count(*) FROM v_catalog.tables WHERE table_schema = 'loader' AND table_name = 'zload_ledger'");
	expect(zl_dialect_vertica_ledger_create(&b, "Loader.ZLoad_Ledger"), &b,
	       "CREATE TABLE IF NOT EXISTS \"loader\".\"zload_ledger\" (batch_id varchar(64) NOT NULL, target "
	       "varchar(512) NOT NULL, prefix varchar(4096) NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now(), "
	       "PRIMARY KEY (batch_id, target) ENABLED)");
	expect(zl_dialect_vertica_table_exists(&b, "zload_ledger"), &b,
	       "SELECT count(*) FROM v_catalog.tables WHERE table_schema = CURRENT_SCHEMA() AND table_name = 'zload_ledger'");
	expect(zl_dialect_vertica_ledger_select(&b, "zload_ledger", "01a2-b", "v'1"), &b,
	       "SELECT 1 FROM \"zload_ledger\" WHERE batch_id = '01a2-b' AND target IN ('v''1', '*')");
	expect(zl_dialect_vertica_ledger_insert(&b, "zload_ledger", "01a2-b", "v1", "bkt/in"), &b,
	       "INSERT INTO \"zload_ledger\" (batch_id, target, prefix) VALUES ('01a2-b', 'v1', 'bkt/in')");
	expect(zl_dialect_vertica_session_set(&b, "AWSAuth", "AKID:se'cret"), &b,
	       "ALTER SESSION SET AWSAuth = 'AKID:se''cret'");
	expect(zl_dialect_vertica_truncate(&b, "public.t"), &b, "TRUNCATE TABLE \"public\".\"t\"");
	expect(zl_dialect_vertica_rejects(&b, "zload_rejects", 5), &b,
	       "SELECT row_number, rejected_reason FROM \"zload_rejects\" WHERE transaction_id = CURRENT_TRANS_ID() AND "
	       "statement_id = (SELECT max(statement_id) FROM \"zload_rejects\" WHERE transaction_id = "
	       "CURRENT_TRANS_ID()) ORDER BY row_number LIMIT 5");
	assert_string_equal(zl_dialect_vertica_copy_counts, "SELECT GET_NUM_ACCEPTED_ROWS(), GET_NUM_REJECTED_ROWS()");
	zl_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_formats),
		cmocka_unit_test(test_copy_options_win),
		cmocka_unit_test(test_mount_and_s3),
		cmocka_unit_test(test_ledger_and_session),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
