/* Batching decisions and retry back-off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/policy.h"

static void test_due(void **state)
{
	zl_config c = { .batch_size = 3, .batch_size_bytes = 1000, .batch_timeout_ms = 60000 };
	assert_int_equal(zl_batch_due(&c, 0, 0, 0, 10000000), ZL_DUE_NO);         /* empty: never */
	assert_int_equal(zl_batch_due(&c, 2, 999, 1000, 60999), ZL_DUE_NO);
	assert_int_equal(zl_batch_due(&c, 3, 10, 1000, 1000), ZL_DUE_COUNT);
	assert_int_equal(zl_batch_due(&c, 1, 1000, 1000, 1000), ZL_DUE_BYTES);
	assert_int_equal(zl_batch_due(&c, 1, 10, 1000, 61000), ZL_DUE_TIMEOUT);    /* age of the first file */
	c.batch_size = 0;
	c.batch_size_bytes = 0;
	assert_int_equal(zl_batch_due(&c, 500, 1 << 30, 1000, 2000), ZL_DUE_NO);  /* only the timeout counts */
	c.batch_timeout_ms = 0;
	c.batch_size = 1;
	assert_int_equal(zl_batch_due(&c, 1, 0, 0, 0), ZL_DUE_COUNT);
	assert_string_equal(zl_due_reason_name(ZL_DUE_TIMEOUT), "batchTimeoutSecs");
}

static void test_backoff(void **state)
{
	for (uint32_t rnd = 0; rnd < 5000; rnd += 499) {
		int64_t d1 = zl_retry_delay_ms(1, rnd), d3 = zl_retry_delay_ms(3, rnd), d20 = zl_retry_delay_ms(20, rnd);
		assert_true(d1 >= 500 && d1 <= 1000);
		assert_true(d3 >= 2000 && d3 <= 4000);
		assert_true(d20 >= 30000 && d20 <= 60000); /* capped */
	}
	assert_true(zl_retry_delay_ms(2, 0) != zl_retry_delay_ms(2, 777)); /* jitter */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_due),
		cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
