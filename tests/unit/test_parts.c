/* The split of a batch into parts (core/parts.c) and the reading of a batch's ledger rows
 * (target/target.c): what a load in parts decides from them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/parts.h"
#include "target/target.h"
#include "util/err.h"

static void split(const int64_t *sizes, size_t n, int k, int *part_of)
{
	zl_file_rec files[16];
	memset(files, 0, sizeof files);
	for (size_t i = 0; i < n; i++)
		files[i].size = sizes[i];
	assert_int_equal(zl_parts_split(files, n, k, part_of), 0);
}

static void test_largest_first(void **state)
{
	(void)state;
	/* 775, 665, ..., 115: each to the lightest part; a tie goes to the lower part. */
	int64_t sizes[] = { 775, 665, 555, 445, 335, 225, 115 };
	int got[7], want[7] = { 1, 2, 3, 3, 2, 1, 1 };
	split(sizes, 7, 3, got);
	assert_memory_equal(got, want, sizeof want);
	/* Arrival order does not matter, only sizes (and the index among equal sizes). */
	int64_t shuffled[] = { 115, 555, 775, 225, 665, 335, 445 };
	int want2[7] = { 1, 3, 1, 1, 2, 2, 3 };
	split(shuffled, 7, 3, got);
	assert_memory_equal(got, want2, sizeof want2);
}

static void test_every_part_gets_one(void **state)
{
	(void)state;
	/* One huge object and three empty ones: the empty ones still open parts 2..4. */
	int64_t sizes[] = { 1000000, 0, 0, 0 };
	int got[4], want[4] = { 1, 2, 3, 4 };
	split(sizes, 4, 4, got);
	assert_memory_equal(got, want, sizeof want);
	/* Unknown sizes count as 0: equal sizes go round the parts in arrival order. */
	int64_t unknown[] = { -1, -1, -1, -1, -1 };
	int got5[5], want5[5] = { 1, 2, 1, 2, 1 };
	split(unknown, 5, 2, got5);
	assert_memory_equal(got5, want5, sizeof want5);
}

static void test_same_every_time(void **state)
{
	(void)state;
	int64_t sizes[] = { 10, 20, 30, 20, 10, 30, 5, 5, 40 };
	int a[9], b[9];
	split(sizes, 9, 4, a);
	split(sizes, 9, 4, b);
	assert_memory_equal(a, b, sizeof a);
}

static void test_bad_k(void **state)
{
	(void)state;
	zl_file_rec files[2];
	int part_of[2];
	memset(files, 0, sizeof files);
	assert_int_equal(zl_parts_split(files, 2, 3, part_of), ZL_EINVAL);
	assert_int_equal(zl_parts_split(files, 2, 0, part_of), ZL_EINVAL);
	assert_int_equal(zl_parts_split(files, 2, ZL_PARTS_MAX + 1, part_of), ZL_EINVAL);
}

static void test_ledger_rows(void **state)
{
	(void)state;
	zl_ledger_parts p = { 0 };
	assert_int_equal(zl_ledger_parts_has(&p, 0), 0);
	assert_int_equal(zl_ledger_parts_has(&p, 2), 0);
	zl_ledger_parts_add(&p, -3);
	zl_ledger_parts_add(&p, 2);
	assert_int_equal(p.split, 3);
	assert_true(p.done == UINT64_C(2));
	assert_int_equal(zl_ledger_parts_has(&p, 0), 2); /* under way, not complete */
	assert_int_equal(zl_ledger_parts_has(&p, 2), 1);
	assert_int_equal(zl_ledger_parts_has(&p, 1), 2);
	assert_int_equal(zl_ledger_parts_has(&p, -3), 1);
	zl_ledger_parts_add(&p, 64);
	assert_true(p.done >> 63 & 1);
	zl_ledger_parts_add(&p, 0);
	assert_int_equal(zl_ledger_parts_has(&p, 0), 1);
	assert_int_equal(zl_ledger_parts_has(&p, 1), 1); /* row 0: every part is in */

	/* Two different splits cannot both be followed. */
	zl_ledger_parts q = { 0 };
	zl_ledger_parts_add(&q, -2);
	zl_ledger_parts_add(&q, -2);
	assert_int_equal(q.split, 2);
	zl_ledger_parts_add(&q, -4);
	assert_int_equal(q.split, -1);
	zl_ledger_parts_add(&q, -2);
	assert_int_equal(q.split, -1);
	zl_ledger_parts r = { 0 };
	zl_ledger_parts_add(&r, -(ZL_PARTS_MAX + 1));
	assert_int_equal(r.split, -1);
	zl_ledger_parts_add(&r, ZL_PARTS_MAX + 1); /* a part no split has: counted, never "done" */
	assert_true(r.done == 0);
	assert_int_equal(zl_ledger_parts_has(&r, 0), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_largest_first),
		cmocka_unit_test(test_every_part_gets_one),
		cmocka_unit_test(test_same_every_time),
		cmocka_unit_test(test_bad_k),
		cmocka_unit_test(test_ledger_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
