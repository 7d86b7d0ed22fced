/* The PostgreSQL state URL: zload's options (schema, retry) taken out of a libpq URI or
 * connection string, everything else left for libpq, and errors that name the bad value; the
 * password masked when a URL is shown. No server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/scrub.h"
#include "state/state_pg_int.h"

typedef struct parsed {
	int rc;
	char conninfo[512];
	char schema[64];
	int64_t retry_ms;
	char error[256];
} parsed;

static parsed parse(const char *target)
{
	pg_state h = { 0 };
	zl_err err = { 0 };
	parsed p = { 0 };
	p.rc = pg_parse_target(&h, target, &err);
	if (h.conninfo)
		strcpy(p.conninfo, h.conninfo);
	strcpy(p.schema, h.schema);
	p.retry_ms = h.retry_ms;
	strcpy(p.error, err.msg);
	free(h.conninfo);
	return p;
}

static void test_uri(void **state)
{
	parsed p = parse("//loader:pw@db:5432/ops?schema=zl_state&sslmode=require&retry=5&connect_timeout=3");
	assert_int_equal(p.rc, 0);
	assert_string_equal(p.conninfo, "postgresql://loader:pw@db:5432/ops?sslmode=require&connect_timeout=3");
	assert_string_equal(p.schema, "zl_state");
	assert_int_equal(p.retry_ms, 5000);

	p = parse("//db/ops");
	assert_int_equal(p.rc, 0);
	assert_string_equal(p.conninfo, "postgresql://db/ops");
	assert_string_equal(p.schema, "zload");
	assert_int_equal(p.retry_ms, 30000);

	p = parse("//db/ops?schema=s1"); /* only zload's option: no query left */
	assert_string_equal(p.conninfo, "postgresql://db/ops");
	assert_string_equal(p.schema, "s1");
	p = parse("///ops?host=/run/pg&port=5433&user=postgres");
	assert_string_equal(p.conninfo, "postgresql:///ops?host=/run/pg&port=5433&user=postgres");
}

static void test_conninfo(void **state)
{
	parsed p = parse("host=db dbname=ops schema=zl password='a b\\'c' retry=0 user=loader");
	assert_int_equal(p.rc, 0);
	assert_string_equal(p.conninfo, "host=db dbname=ops password='a b\\'c' user=loader");
	assert_string_equal(p.schema, "zl");
	assert_int_equal(p.retry_ms, 0);

	p = parse(""); /* libpq's defaults: PGHOST, PGDATABASE, ... */
	assert_int_equal(p.rc, 0);
	assert_string_equal(p.conninfo, "");
	assert_string_equal(p.schema, "zload");
}

static void test_bad_options(void **state)
{
	parsed p = parse("//db/ops?schema=Public");
	assert_int_equal(p.rc, ZL_EINVAL);
	assert_string_equal(p.error, "state URL: schema \"Public\" must be 1 to 63 lowercase letters, digits or _, "
	                             "not starting with a digit");
	assert_int_equal(parse("//db/ops?schema=1abc").rc, ZL_EINVAL);
	assert_int_equal(parse("//db/ops?schema=").rc, ZL_EINVAL);
	assert_int_equal(parse("//db/ops?schema=a;drop").rc, ZL_EINVAL);
	assert_int_equal(parse("schema=\"x y\"").rc, ZL_EINVAL);
	p = parse("//db/ops?retry=-1");
	assert_int_equal(p.rc, ZL_EINVAL);
	assert_string_equal(p.error, "state URL: retry \"-1\" must be seconds from 0 to 86400");
	assert_int_equal(parse("//db/ops?retry=86401").rc, ZL_EINVAL);
	assert_int_equal(parse("//db/ops?retry=10s").rc, ZL_EINVAL);
	assert_int_equal(parse("retry=").rc, ZL_EINVAL);
}

static void test_redacted(void **state)
{
	char *s = zl_url_redacted("postgresql://loader:s3cret-pw@db/ops?schema=zl");
	assert_string_equal(s, "postgresql://loader:********@db/ops?schema=zl");
	free(s);
	s = zl_url_redacted("postgresql:host=db password=s3cret-pw dbname=ops");
	assert_string_equal(s, "postgresql:host=db password=******** dbname=ops");
	free(s);
	s = zl_url_redacted("postgresql://loader@db/ops");
	assert_string_equal(s, "postgresql://loader@db/ops");
	free(s);
	s = zl_url_redacted("sqlite:/var/lib/zload/state.db");
	assert_string_equal(s, "sqlite:/var/lib/zload/state.db");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_conninfo),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_redacted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
