/* Batching through the engine (protocol steps 3-4): a batch never takes more than batchSize
 * files, a batch once locked never takes another file (also after an unlock), and progress()
 * counts what can still move without a new event and describes what cannot. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_world.h"
#include "util/timeutil.h"

/* Writes in/f<i>.csv (two rows, ids 2i-1 and 2i) and ingests it. */
static zl_ingest_result put_and_ingest(zl_world *w, int i, int64_t now, int lock)
{
	char key[32];
	snprintf(key, sizeof key, "in/f%d.csv", i);
	zl_world_put_csv(w, key, 2 * i - 1, 2);
	return zl_world_ingest(w, key, now, lock);
}

static zl_batch *list_prefix(zl_world *w, const char *prefix, size_t *n)
{
	zl_batch_filter f = { .prefix = prefix };
	zl_batch *v = NULL;
	zl_err err = { 0 };
	assert_int_equal(w->e.st->ops->batch_list(w->e.st, &f, &v, n, &err), 0);
	return v;
}

static void test_batch_never_exceeds_batch_size(void **state)
{
	zl_world *w = *state;
	int64_t now = zl_now_ms();
	char ids[3][ZL_UUID_LEN];

	zl_world_config_t1(w, "{\"batchSize\": 3}");
	/* without locking (event --no-load): full batches stay open, and the fourth file starts a new one */
	for (int i = 1; i <= 7; i++) {
		zl_ingest_result r = put_and_ingest(w, i, now + i, 0);
		assert_int_equal(r.outcome, ZL_INGEST_QUEUED);
		assert_int_equal(r.locked, 0);
		if (i % 3 == 0)
			assert_string_equal(r.due, "batchSize");
		else
			assert_null(r.due);
		snprintf(ids[(i - 1) / 3], ZL_UUID_LEN, "%s", r.batch_id);
	}
	size_t n = 0;
	zl_batch *v = list_prefix(w, ZL_WORLD_PREFIX, &n);
	assert_int_equal(n, 3);
	int64_t counts[3] = { 1, 3, 3 }; /* newest first */
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i].status, ZL_BATCH_OPEN);
		assert_int_equal(v[i].file_count, counts[i]);
		assert_string_equal(v[i].id, ids[2 - i]);
	}
	zl_batch_list_free(v, n);

	/* the sweeper locks the two full ones, not the third (no batchTimeoutSecs) */
	zl_tickets locked;
	zl_err err = { 0 };
	zl_tickets_init(&locked);
	assert_int_equal(zl_engine_sweep(&w->e, now + 10, &locked, &err), 0);
	assert_int_equal(locked.n, 2);
	assert_string_equal(locked.v[0].batch_id, ids[0]); /* oldest first */
	assert_string_equal(locked.v[1].batch_id, ids[1]);
	zl_tickets_release(&locked);

	/* with locking, the file that fills the batch locks it */
	zl_ingest_result r8 = put_and_ingest(w, 8, now + 11, 1);
	assert_string_equal(r8.batch_id, ids[2]);
	assert_int_equal(r8.locked, 0);
	zl_ingest_result r9 = put_and_ingest(w, 9, now + 12, 1);
	assert_string_equal(r9.batch_id, ids[2]);
	assert_int_equal(r9.locked, 1);
	zl_ingest_result r10 = put_and_ingest(w, 10, now + 13, 1);
	assert_string_not_equal(r10.batch_id, ids[2]);
	v = list_prefix(w, ZL_WORLD_PREFIX, &n);
	assert_int_equal(n, 4);
	int64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		zl_batch b = zl_world_batch(w, v[i].id);
		assert_true(b.file_count <= 3);
		assert_int_equal(b.file_count, (int64_t)b.nfiles);
		total += b.file_count;
		zl_batch_release(&b);
	}
	zl_batch_list_free(v, n);
	assert_int_equal(total, 10);
}

static void test_locked_batch_takes_no_new_file(void **state)
{
	zl_world *w = *state;
	zl_state *st = w->e.st;
	zl_err err = { 0 };
	zl_load_summary sum;
	int64_t now = zl_now_ms();

	zl_world_config_t1(w, "{\"batchSize\": 3}");
	zl_ingest_result r1 = put_and_ingest(w, 1, now, 1);
	put_and_ingest(w, 2, now + 1, 1);
	/* a flush locks it with two files */
	zl_ticket k;
	assert_int_equal(zl_engine_lock(&w->e, r1.batch_id, ZL_WORLD_PREFIX, ZL_LOCK_OPEN, now + 2, "flush", &k, &err),
	                 0);
	zl_ingest_result r3 = put_and_ingest(w, 3, now + 3, 1);
	assert_string_not_equal(r3.batch_id, r1.batch_id);

	/* unlocked, it is open again but still takes nothing */
	assert_int_equal(st->ops->batch_unlock(st, r1.batch_id, now + 4, k.owner, 0, &err), 0);
	zl_batch b = zl_world_batch(w, r1.batch_id);
	assert_int_equal(b.status, ZL_BATCH_OPEN);
	zl_batch_release(&b);
	zl_ingest_result r4 = put_and_ingest(w, 4, now + 5, 1);
	assert_string_equal(r4.batch_id, r3.batch_id);
	assert_int_equal(r4.locked, 0);
	b = zl_world_batch(w, r1.batch_id);
	assert_int_equal(b.file_count, 2);
	assert_int_equal(b.nfiles, 2);
	zl_batch_release(&b);

	/* the sweeper loads it at once, as it is: only its two files */
	zl_ticket again = zl_world_sweep_one(w, now + 6, r1.batch_id);
	assert_int_equal(zl_engine_load(&w->e, &again, &sum, &err), 0);
	assert_int_equal(sum.status, ZL_BATCH_COMPLETE);
	assert_int_equal(sum.rows, 4);
	assert_int_equal(zl_world_sql_int(w, "SELECT sum(id) FROM t1"), 1 + 2 + 3 + 4);

	/* the other batch fills with the fifth file and loads the rest */
	zl_ingest_result r5 = put_and_ingest(w, 5, now + 7, 1);
	assert_string_equal(r5.batch_id, r3.batch_id);
	assert_int_equal(r5.locked, 1);
	assert_int_equal(zl_engine_load(&w->e, &r5.ticket, &sum, &err), 0);
	assert_int_equal(sum.rows, 6);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 10);
	assert_int_equal(zl_world_sql_int(w, "SELECT sum(id) FROM t1"), 55);
	assert_int_equal(zl_world_ledger_rows(w, r1.batch_id, "t1"), 1);
	assert_int_equal(zl_world_ledger_rows(w, r3.batch_id, "t1"), 1);
}

/* A configuration with target t1 for prefix; its files are b/<dir>/... */
static void config_for(zl_world *w, const char *prefix, const char *extra)
{
	json_t *targets = json_array();
	json_array_append_new(targets, zl_world_target(w, "t1", "t1"));
	zl_world_config(w, prefix, extra, targets);
}

static zl_ingest_result ingest_into(zl_world *w, const char *dir, const char *name, int64_t now, int lock)
{
	char key[64];
	snprintf(key, sizeof key, "%s/%s", dir, name);
	zl_world_put_csv(w, key, 1, 1);
	return zl_world_ingest(w, key, now, lock);
}

static void expect_progress(zl_world *w, int64_t now, int64_t pending, size_t nstuck, const char *const *stuck)
{
	zl_strvec lines;
	zl_err err = { 0 };
	int64_t p = -1;
	zl_strvec_init(&lines);
	assert_int_equal(zl_engine_progress(&w->e, now, &p, &lines, &err), 0);
	assert_int_equal(p, pending);
	assert_int_equal(lines.n, nstuck);
	for (size_t i = 0; i < nstuck; i++)
		assert_string_equal(lines.v[i], stuck[i]);
	zl_strvec_release(&lines);
	assert_int_equal(zl_engine_progress(&w->e, now, &p, NULL, &err), 0);
	assert_int_equal(p, pending);
}

static void test_progress(void **state)
{
	zl_world *w = *state;
	zl_state *st = w->e.st;
	zl_err err = { 0 };
	int64_t now = zl_now_ms();
	char stuck_line[256], gone_line[256];

	config_for(w, "b/stuck", "{\"batchSize\": 10}");
	config_for(w, "b/aging", "{\"batchSize\": 10, \"batchTimeoutSecs\": 60}");
	config_for(w, "b/full", "{\"batchSize\": 2}");
	config_for(w, "b/lk", "{\"batchSize\": 1}");
	config_for(w, "b/gone", "{\"batchSize\": 10}");
	expect_progress(w, now, 0, 0, NULL);

	zl_ingest_result stuck = ingest_into(w, "stuck", "a.csv", now, 1);
	ingest_into(w, "stuck", "b.csv", now, 1);
	zl_ingest_result aging = ingest_into(w, "aging", "a.csv", now + 1, 1);
	ingest_into(w, "full", "a.csv", now + 2, 0);
	zl_ingest_result full = ingest_into(w, "full", "b.csv", now + 2, 0); /* due, left open */
	assert_string_equal(full.due, "batchSize");
	zl_ingest_result lk = ingest_into(w, "lk", "a.csv", now + 3, 1);
	assert_int_equal(lk.locked, 1);
	zl_ingest_result gone = ingest_into(w, "gone", "a.csv", now + 4, 1);
	assert_int_equal(st->ops->config_delete(st, "b/gone", &err), 0);
	assert_int_equal(zl_engine_refresh(&w->e, &err), 0);
	assert_null(zl_engine_config(&w->e, "b/gone"));

	/* pending: aging (will fall due), full (due), lk (locked); stuck: gone, stuck (newest first) */
	snprintf(gone_line, sizeof gone_line, "%s (prefix b/gone, 1 files): no configuration for the prefix",
	         gone.batch_id);
	snprintf(stuck_line, sizeof stuck_line, "%s (prefix b/stuck): 2 of batchSize 10 files and no batchTimeoutSecs",
	         stuck.batch_id);
	expect_progress(w, now + 5, 3, 2, (const char *const[]){ gone_line, stuck_line });
	/* a minute on, aging is due rather than aging: still pending */
	expect_progress(w, now + 61000, 3, 2, (const char *const[]){ gone_line, stuck_line });

	/* a flushed batch is locked: pending, no longer stuck */
	zl_ticket k;
	assert_int_equal(zl_engine_lock(&w->e, stuck.batch_id, "b/stuck", ZL_LOCK_OPEN, now + 6, "flush", &k, &err), 0);
	expect_progress(w, now + 7, 4, 1, (const char *const[]){ gone_line });
	/* finished batches are neither */
	zl_load_summary sum;
	assert_int_equal(zl_engine_load(&w->e, &lk.ticket, &sum, &err), 0);
	assert_int_equal(sum.status, ZL_BATCH_COMPLETE);
	expect_progress(w, now + 8, 3, 1, (const char *const[]){ gone_line });
	/* an open batch emptied by forgetting its file is neither */
	assert_int_equal(st->ops->file_delete(st, "b/aging/a.csv", &err), 0);
	zl_batch b = zl_world_batch(w, aging.batch_id);
	assert_int_equal(b.file_count, 0);
	zl_batch_release(&b);
	expect_progress(w, now + 9, 2, 1, (const char *const[]){ gone_line });
}

#define WORLD_TEST(f) cmocka_unit_test_setup_teardown(f, zl_world_setup, zl_world_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		WORLD_TEST(test_batch_never_exceeds_batch_size),
		WORLD_TEST(test_locked_batch_takes_no_new_file),
		WORLD_TEST(test_progress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
