/* The commit queue over SQLite state: threads submitting at once are claimed in shared groups,
 * one or two at a time, and each gets its own body's outcome (a duplicate across two bodies is a duplicate for exactly
 * one; a malformed body fails alone). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_world.h"
#include "runtime/commit_queue.h"
#include "runtime/runtime.h"

enum { THREADS = 16, MALFORMED = 5 };

#define REC(k) "{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"" k "\",\"size\":1}}}"

typedef struct submitter {
	pthread_t th;
	zl_commit_queue *q;
	pthread_barrier_t *go;
	char body[1024];
	int rc;
	zl_err err;
	zl_body_summary sum;
} submitter;

static void *submit(void *arg)
{
	submitter *s = arg;
	pthread_barrier_wait(s->go);
	s->rc = zl_commit_queue_submit(s->q, s->body, strlen(s->body), &s->sum, &s->err);
	return NULL;
}

/* The world, its state moved to SQLite (a state that groups), configured with prefix b/in. */
static void use_sqlite(zl_world *w)
{
	zl_err err = { 0 };
	zl_engine_close(&w->e);
	snprintf(w->state_url, sizeof w->state_url, "sqlite:%s/state.db", w->dir);
	if (zl_engine_open(&w->e, w->state_url, w->store, NULL, &err))
		fail_msg("sqlite state: %s", err.msg);
	zl_world_config_t1(w, "{\"batchSize\": 0, \"batchTimeoutSecs\": 86400}");
}

/* Claims recorded in the state file. */
static int64_t files_in_state(const zl_world *w)
{
	char path[160];
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t n = -1;
	snprintf(path, sizeof path, "%s/state.db", w->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM files", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* THREADS threads at once, while another process holds the state's write lock: the first leaders
 * wait in the state, the others queue behind them and are claimed together once the lock goes.
 * Each body has two keys of its own and in/shared.csv; body MALFORMED is not JSON. Checks every
 * submitter's outcome; returns the groups claimed. */
static size_t submit_at_once(zl_world *w, int leaders)
{
	zl_err err = { 0 };
	zl_rt *rt = NULL;
	zl_commit_queue *q = NULL;
	submitter s[THREADS];
	pthread_barrier_t go;
	char path[160];
	sqlite3 *lock;
	use_sqlite(w);
	zl_rt_opts o = { .state_url = w->state_url, .store = w->store, .workers = 0, .no_load = 1 };
	assert_int_equal(zl_rt_new(&o, &rt, &err), 0);
	assert_int_equal(zl_commit_queue_new(rt, "test", 0, leaders, &q, &err), 0);

	snprintf(path, sizeof path, "%s/state.db", w->dir);
	assert_int_equal(sqlite3_open(path, &lock), SQLITE_OK);
	assert_int_equal(sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	pthread_barrier_init(&go, NULL, THREADS + 1);
	for (int i = 0; i < THREADS; i++) {
		memset(&s[i], 0, sizeof s[i]);
		s[i].q = q;
		s[i].go = &go;
		if (i == MALFORMED)
			snprintf(s[i].body, sizeof s[i].body, "{\"Records\": [");
		else
			snprintf(s[i].body, sizeof s[i].body,
			         "{\"Records\":[" REC("in/t%d-a.csv") "," REC("in/shared.csv") "," REC("in/t%d-b.csv") "]}", i, i);
		assert_int_equal(pthread_create(&s[i].th, NULL, submit, &s[i]), 0);
	}
	pthread_barrier_wait(&go);
	usleep(300 * 1000); /* every submitter is in the state's wait or in the queue by now */
	assert_int_equal(sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(lock);
	for (int i = 0; i < THREADS; i++)
		pthread_join(s[i].th, NULL);
	pthread_barrier_destroy(&go);

	int shared_queued = 0;
	for (int i = 0; i < THREADS; i++) {
		if (i == MALFORMED) {
			assert_int_equal(s[i].rc, ZL_EINVAL);
			assert_non_null(strstr(s[i].err.msg, "invalid JSON"));
			assert_int_equal(s[i].sum.malformed, 1);
			assert_int_equal(s[i].sum.queued, 0);
			continue;
		}
		assert_int_equal(s[i].rc, 0);
		assert_int_equal(s[i].sum.records, 3);
		assert_int_equal(s[i].sum.failed + s[i].sum.malformed, 0);
		assert_int_equal(s[i].sum.queued + s[i].sum.duplicate, 3);
		assert_true(s[i].sum.queued == 2 || s[i].sum.queued == 3);
		shared_queued += s[i].sum.queued == 3;
	}
	assert_int_equal(shared_queued, 1); /* in/shared.csv: queued for one body, a duplicate for the others */
	assert_int_equal(files_in_state(w), 2 * (THREADS - 1) + 1);

	size_t groups, bodies;
	zl_commit_queue_stats(q, &groups, &bodies);
	assert_int_equal(bodies, THREADS);
	zl_commit_queue_free(q);
	zl_rt_free(rt);
	return groups;
}

/* One group at a time: the one that waited for the lock, then the 15 others together. */
static void test_concurrent_submitters(void **state) { assert_true(submit_at_once(*state, 1) <= 3); }

/* Two groups at a time: each answer still its own body's. */
static void test_two_leaders(void **state) { assert_true(submit_at_once(*state, 2) <= 4); }

/* A body alone is claimed at once, in a group of its own; an empty queue does not wait. */
static void test_alone(void **state)
{
	zl_world *w = *state;
	zl_err err = { 0 };
	zl_rt *rt = NULL;
	zl_commit_queue *q = NULL;
	zl_body_summary sum;
	use_sqlite(w);
	zl_rt_opts o = { .state_url = w->state_url, .store = w->store, .workers = 0, .no_load = 1 };
	assert_int_equal(zl_rt_new(&o, &rt, &err), 0);
	assert_int_equal(zl_commit_queue_new(rt, "test", 4, 1, &q, &err), 0);
	const char *body = "{\"Records\":[" REC("in/one.csv") "]}";
	for (int round = 0; round < 2; round++) {
		assert_int_equal(zl_commit_queue_submit(q, body, strlen(body), &sum, &err), 0);
		assert_int_equal(sum.records, 1);
		assert_int_equal(round ? sum.duplicate : sum.queued, 1);
	}
	size_t groups, bodies;
	zl_commit_queue_stats(q, &groups, &bodies);
	assert_int_equal(groups, 2);
	assert_int_equal(bodies, 2);
	zl_commit_queue_free(q);
	zl_rt_free(rt);
}

#define WORLD_TEST(f) cmocka_unit_test_setup_teardown(f, zl_world_setup, zl_world_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		WORLD_TEST(test_concurrent_submitters),
		WORLD_TEST(test_two_leaders),
		WORLD_TEST(test_alone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
