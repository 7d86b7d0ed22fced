/* The pool's bookkeeping (target/pool.c) with an in-memory target type that counts its
 * connections: reuse per key, never two holders at once, the per-key cap, the checks, the
 * closing after a transient error, the idle time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "target/pool.h"
#include "util/timeutil.h"

typedef struct counted {
	zl_target base;
	int alive;
} counted;

static int opened, closed;
extern const zl_target_ops counted_ops;

static int c_connect(const json_t *cfg, zl_target **out, zl_err *err)
{
	(void)cfg;
	(void)err;
	counted *c = calloc(1, sizeof *c);
	c->base.ops = &counted_ops;
	c->alive = 1;
	opened++;
	*out = &c->base;
	return 0;
}

static void c_close(zl_target *t)
{
	closed++;
	free(t);
}

static int c_check(zl_target *t) { return ((counted *)t)->alive; }

const zl_target_ops counted_ops = { .type = "counted", .connect = c_connect, .close = c_close, .check = c_check };

static void test_pool(void **state)
{
	(void)state;
	zl_err err;
	zl_target *a = NULL, *b = NULL, *c = NULL, *d = NULL;
	json_t *k1 = json_pack("{s:s, s:s}", "host", "h", "password", "one");
	json_t *k2 = json_pack("{s:s, s:s}", "host", "h", "password", "two");
	zl_pool_configure(60, 2);

	assert_int_equal(zl_pool_get(&counted_ops, k1, "t", &a, &err), 0);
	assert_int_equal(zl_pool_get(&counted_ops, k1, "t", &b, &err), 0);
	assert_ptr_not_equal(a, b); /* a held connection is not handed out again */
	assert_int_equal(opened, 2);
	zl_pool_put(a, "t", 0);
	zl_pool_put(b, "t", ZL_ELOAD); /* a permanent error: the connection itself is fine */
	assert_int_equal(zl_pool_idle_count(), 2);

	assert_int_equal(zl_pool_get(&counted_ops, k1, "t", &c, &err), 0);
	assert_true(c == a || c == b);
	assert_int_equal(opened, 2);
	assert_int_equal(zl_pool_get(&counted_ops, k2, "t", &d, &err), 0); /* another password: a new one */
	assert_int_equal(opened, 3);
	zl_pool_put(d, "t", ZL_ETRANSIENT); /* closed, not kept */
	assert_int_equal(closed, 1);

	/* An idle connection its check finds dead is closed and replaced. */
	zl_target *other = c == a ? b : a;
	((counted *)other)->alive = 0;
	zl_pool_put(c, "t", 0);
	zl_target *e = NULL, *f = NULL;
	assert_int_equal(zl_pool_get(&counted_ops, k1, "t", &e, &err), 0);
	assert_ptr_equal(e, c); /* the live one, never the dead */
	assert_int_equal(zl_pool_get(&counted_ops, k1, "t", &f, &err), 0);
	assert_int_equal(closed, 2);
	assert_int_equal(opened, 4);

	/* At most 2 idle per key; the third is closed. */
	zl_target *g = NULL;
	assert_int_equal(zl_pool_get(&counted_ops, k1, "t", &g, &err), 0);
	zl_pool_put(e, "t", 0);
	zl_pool_put(f, "t", 0);
	zl_pool_put(g, "t", 0);
	assert_int_equal(zl_pool_idle_count(), 2);
	assert_int_equal(closed, 3);

	/* Past the idle time they are closed. */
	zl_pool_expire(zl_mono_ms() + 61000);
	assert_int_equal(zl_pool_idle_count(), 0);
	assert_int_equal(closed, 5);

	/* Idle time 0: nothing is kept. */
	zl_pool_configure(0, 2);
	assert_int_equal(zl_pool_get(&counted_ops, k1, "t", &a, &err), 0);
	zl_pool_put(a, "t", 0);
	assert_int_equal(zl_pool_idle_count(), 0);
	assert_int_equal(closed, 6);
	zl_pool_close_all();
	json_decref(k1);
	json_decref(k2);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_pool) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
