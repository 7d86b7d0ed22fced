/* Time parsing and formatting, capped buffers, identifiers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/timeutil.h"
#include "util/uuid.h"

static void test_time_parse(void **state)
{
	int64_t ms;
	assert_int_equal(zl_time_parse("1764107018", &ms), 0);
	assert_int_equal(ms, 1764107018000);
	assert_int_equal(zl_time_parse("2026-11-25", &ms), 0);
	assert_int_equal(ms, 1795564800000);
	assert_int_equal(zl_time_parse("2026-11-25T21:43:38Z", &ms), 0);
	assert_int_equal(ms, 1795643018000);
	assert_int_equal(zl_time_parse("2026-11-25T22:43:38.250+01:00", &ms), 0);
	assert_int_equal(ms, 1795643018250);
	assert_int_equal(zl_time_parse("2026-13-01", &ms), ZL_EINVAL);
	assert_int_equal(zl_time_parse("yesterday", &ms), ZL_EINVAL);
	assert_int_equal(zl_time_parse("", &ms), ZL_EINVAL);
	char buf[40];
	assert_string_equal(zl_time_format(1795643018250, buf, sizeof buf), "2026-11-25T21:43:38.250Z");
}

static void test_buf_cap(void **state)
{
	zl_buf b;
	zl_buf_init(&b, 8);
	assert_int_equal(zl_buf_adds(&b, "12345678"), 0);
	assert_int_equal(zl_buf_addc(&b, '9'), ZL_ENOMEM);
	assert_string_equal(zl_buf_str(&b), "12345678");
	zl_buf_reset(&b);
	assert_int_equal(zl_buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_string_equal(zl_buf_str(&b), "42-x");
	zl_buf_release(&b);
}

static void test_uuid_order(void **state)
{
	char a[ZL_UUID_LEN], b[ZL_UUID_LEN];
	zl_uuid_v7(1000, a);
	zl_uuid_v7(2000, b);
	assert_int_equal(strlen(a), 36);
	assert_true(strcmp(a, b) < 0);
	assert_int_equal(a[14], '7');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_uuid_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
