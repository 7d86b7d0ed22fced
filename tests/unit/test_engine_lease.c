/* Leases and owners (issue #7 item 3): each load attempt has its own owner id, so an attempt whose
 * lease was taken over can neither load, renew nor finish the batch, even from the same process;
 * a lease lost while copying means no commit; a lease renewed while loading is kept. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_world.h"
#include "state_mem.h"
#include "target_fault.h"
#include "util/timeutil.h"

#define HOUR_MS 3600000

/* Two files of two rows each (ids 1-4) in a batch locked at now by the ingest of the second,
 * with a lease of lease_secs. */
static zl_ticket locked_batch(zl_world *w, int64_t now, int lease_secs)
{
	char extra[64];
	snprintf(extra, sizeof extra, "{\"batchSize\": 2, \"leaseSecs\": %d}", lease_secs);
	zl_world_config_t1(w, extra);
	zl_world_put_csv(w, "in/f1.csv", 1, 2);
	zl_world_put_csv(w, "in/f2.csv", 3, 2);
	zl_world_ingest(w, "in/f1.csv", now, 1);
	zl_ingest_result r = zl_world_ingest(w, "in/f2.csv", now, 1);
	assert_int_equal(r.locked, 1);
	return r.ticket;
}

static void expect_rows_once(zl_world *w, const char *batch_id)
{
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 4);
	assert_int_equal(zl_world_sql_int(w, "SELECT sum(id) FROM t1"), 10);
	assert_int_equal(zl_world_ledger_rows(w, batch_id, "t1"), 1);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM audit WHERE what = 't1 post'"), 1);
}

static void test_one_owner_per_attempt(void **state)
{
	zl_world *w = *state;
	zl_state *st = w->e.st;
	zl_err err = { 0 };
	zl_load_summary sum;
	char want[512];

	assert_int_equal(zl_fault_set("t1", &(zl_fault){ 0 }), 0);
	/* attempt A locked a minute ago with a one-second lease: it has expired */
	zl_ticket a = locked_batch(w, zl_now_ms() - 60000, 1);
	zl_ticket b;
	assert_int_equal(zl_engine_lock(&w->e, a.batch_id, ZL_WORLD_PREFIX, ZL_LOCK_EXPIRED, zl_now_ms(),
	                                "lease expired", &b, &err), 0);
	assert_string_equal(b.batch_id, a.batch_id);
	assert_string_not_equal(b.owner, a.owner);
	size_t hp = strlen(w->e.host_pid);
	assert_int_equal(strncmp(a.owner, w->e.host_pid, hp), 0);
	assert_int_equal(strncmp(b.owner, w->e.host_pid, hp), 0);
	zl_batch before = zl_world_batch(w, a.batch_id);
	assert_string_equal(before.owner, b.owner);
	assert_int_equal(before.attempts, 2);

	/* A can do nothing any more */
	assert_int_equal(zl_engine_load(&w->e, &a, &sum, &err), ZL_ELOST);
	snprintf(want, sizeof want, "batch %s is no longer locked by %s (it is locked by %s)", a.batch_id, a.owner,
	         b.owner);
	assert_string_equal(err.msg, want);
	assert_int_equal(st->ops->batch_renew(st, a.batch_id, a.owner, zl_now_ms() + HOUR_MS, &err), ZL_ELOST);
	assert_int_equal(st->ops->batch_finish(st, a.batch_id, a.owner, ZL_BATCH_COMPLETE, zl_now_ms(), 0, "{}", NULL, NULL, 0,
	                                       &err), ZL_ELOST);
	assert_int_equal(st->ops->batch_finish(st, a.batch_id, a.owner, ZL_BATCH_LOCKED, zl_now_ms(), 1, NULL, "x", NULL, 0,
	                                       &err), ZL_ELOST);
	zl_batch after = zl_world_batch(w, a.batch_id);
	assert_int_equal(after.status, ZL_BATCH_LOCKED);
	assert_string_equal(after.owner, b.owner);
	assert_int_equal(after.attempts, 2);
	assert_int_equal(after.lease_until, before.lease_until);
	assert_int_equal(after.updated_at, before.updated_at);
	assert_null(after.result);
	assert_null(after.error);
	zl_batch_release(&before);
	zl_batch_release(&after);
	assert_int_equal(zl_fault_stats_of("t1").calls[ZL_FOP_CONNECT], 0);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 0);

	/* B loads it */
	assert_int_equal(zl_engine_load(&w->e, &b, &sum, &err), 0);
	assert_int_equal(sum.status, ZL_BATCH_COMPLETE);
	expect_rows_once(w, a.batch_id);
	zl_batch done = zl_world_batch(w, a.batch_id);
	assert_int_equal(done.status, ZL_BATCH_COMPLETE);
	assert_int_equal(done.attempts, 2);
	zl_batch_release(&done);

	/* and neither ticket loads again */
	assert_int_equal(zl_engine_load(&w->e, &a, &sum, &err), ZL_ELOST);
	snprintf(want, sizeof want, "batch %s is no longer locked by %s (it is complete)", a.batch_id, a.owner);
	assert_string_equal(err.msg, want);
	assert_int_equal(zl_engine_load(&w->e, &b, &sum, &err), ZL_ELOST);
	expect_rows_once(w, a.batch_id);
}

/* The other loader of the lease-loss cases: its own engine on the same state. */
typedef struct takeover {
	zl_world *w;
	zl_engine other;
	char batch_id[ZL_UUID_LEN];
	zl_ticket taken;     /* the other loader's ticket */
	int lock_rc;
	int saw_lost;     /* the first attempt's renewer was told ZL_ELOST */
	int64_t swept;    /* lease-live case: batches a sweep could take while the hook waited */
	long renewals;    /* lease-live case: renewals seen while the hook waited */
} takeover;

/* Waits until the first attempt's renewer was told ZL_ELOST and has stopped: it closes its state
 * handle after setting the flag the loading thread checks before committing. */
static int wait_renewer_lost(const char *store, long closes_before, int64_t timeout_ms)
{
	for (int64_t end = zl_mono_ms() + timeout_ms; zl_mono_ms() < end; zl_sleep_ms(10)) {
		zl_state_mem_stats s = zl_state_mem_stats_of(store);
		if (s.renewals_lost > 0 && s.closes > closes_before)
			return 1;
	}
	return 0;
}

/* At the first copy: another loader takes the batch over (as when the lease expired meanwhile),
 * then the hook waits until the first attempt's renewer has noticed. */
static void take_over(void *ud, zl_fault_op op)
{
	takeover *t = ud;
	zl_err err = { 0 };
	long closes = zl_state_mem_stats_of(t->w->dir).closes;
	t->lock_rc = zl_engine_lock(&t->other, t->batch_id, ZL_WORLD_PREFIX, ZL_LOCK_EXPIRED,
	                            zl_now_ms() + HOUR_MS, "lease expired", &t->taken, &err);
	t->saw_lost = wait_renewer_lost(t->w->dir, closes, 10000);
}

static void test_lease_lost_during_copy(void **state)
{
	zl_world *w = *state;
	zl_err err = { 0 };
	zl_load_summary sum;
	takeover t = { .w = w, .lock_rc = 1 };

	zl_ticket a = locked_batch(w, zl_now_ms(), 1);
	assert_int_equal(zl_engine_open(&t.other, w->state_url, w->store, NULL, &err), 0); /* sees the configuration */
	memcpy(t.batch_id, a.batch_id, sizeof t.batch_id);
	zl_fault plan = { .hook_ops = ZL_FAULT_MASK(ZL_FOP_COPY), .hook_at = 1, .hook = take_over, .hook_ud = &t };
	assert_int_equal(zl_fault_set("t1", &plan), 0);

	assert_int_equal(zl_engine_load(&w->e, &a, &sum, &err), ZL_ELOST);
	char want[256];
	snprintf(want, sizeof want, "batch \"%s\": lease lost while loading; another loader owns it", a.batch_id);
	assert_string_equal(err.msg, want);
	assert_int_equal(t.lock_rc, 0);
	assert_int_equal(t.saw_lost, 1);
	zl_fault_stats fs = zl_fault_stats_of("t1");
	assert_int_equal(fs.hooked, 1);
	assert_int_equal(fs.calls[ZL_FOP_COPY], 2);
	assert_int_equal(fs.calls[ZL_FOP_LEDGER_INSERT], 1);
	assert_int_equal(fs.calls[ZL_FOP_COMMIT], 0); /* rolled back instead */
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 0);
	assert_int_equal(zl_world_ledger_rows(w, a.batch_id, "t1"), 0);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM audit"), 0);
	/* A did not record an outcome: the batch is the new owner's, untouched */
	zl_batch b = zl_world_batch(w, a.batch_id);
	assert_int_equal(b.status, ZL_BATCH_LOCKED);
	assert_string_equal(b.owner, t.taken.owner);
	assert_int_equal(b.attempts, 2);
	assert_null(b.result);
	zl_batch_release(&b);

	/* the new owner loads it once */
	assert_int_equal(zl_engine_load(&t.other, &t.taken, &sum, &err), 0);
	assert_int_equal(sum.status, ZL_BATCH_COMPLETE);
	assert_int_equal(sum.rows, 4);
	expect_rows_once(w, a.batch_id);
	assert_int_equal(zl_fault_stats_of("t1").calls[ZL_FOP_COMMIT], 1);
	zl_engine_close(&t.other);
}

/* The lease of the renewal case: renewed every third of it, so a renewer late by up to two
 * thirds still keeps it. */
#define LEASE_SECS 2

/* At the first copy: waits longer than the lease, then sweeps; the renewer keeps it live. */
static void outlast_lease(void *ud, zl_fault_op op)
{
	takeover *t = ud;
	zl_err err = { 0 };
	zl_tickets locked;
	zl_tickets_init(&locked);
	zl_sleep_ms(LEASE_SECS * 1000 + 500);
	t->renewals = zl_state_mem_stats_of(t->w->dir).renewals;
	if (zl_engine_sweep(&t->other, zl_now_ms(), &locked, &err) == 0)
		t->swept = (int64_t)locked.n;
	else
		t->swept = -1;
	zl_tickets_release(&locked);
}

static void test_lease_renewed_while_loading(void **state)
{
	zl_world *w = *state;
	zl_err err = { 0 };
	zl_load_summary sum;
	takeover t = { .w = w, .swept = -2 };

	zl_ticket a = locked_batch(w, zl_now_ms(), LEASE_SECS);
	assert_int_equal(zl_engine_open(&t.other, w->state_url, w->store, NULL, &err), 0); /* sees the configuration */
	zl_fault plan = { .hook_ops = ZL_FAULT_MASK(ZL_FOP_COPY), .hook_at = 1, .hook = outlast_lease, .hook_ud = &t };
	assert_int_equal(zl_fault_set("t1", &plan), 0);

	assert_int_equal(zl_engine_load(&w->e, &a, &sum, &err), 0);
	assert_int_equal(sum.status, ZL_BATCH_COMPLETE);
	assert_true(t.renewals >= 1);
	assert_int_equal(t.swept, 0); /* past the lease's length, it is still live */
	assert_int_equal(zl_state_mem_stats_of(w->dir).renewals_lost, 0);
	expect_rows_once(w, a.batch_id);
	zl_batch b = zl_world_batch(w, a.batch_id);
	assert_int_equal(b.attempts, 1);
	zl_batch_release(&b);
	zl_engine_close(&t.other);
}

#define WORLD_TEST(f) cmocka_unit_test_setup_teardown(f, zl_world_setup, zl_world_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		WORLD_TEST(test_one_owner_per_attempt),
		WORLD_TEST(test_lease_lost_during_copy),
		WORLD_TEST(test_lease_renewed_while_loading),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
