/* The runtime over the in-memory state: submitters and loader threads share one store, every file
 * is loaded once, and batches queued but not started are released at shutdown. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_world.h"
#include "runtime/runtime.h"
#include "util/timeutil.h"

enum { SUBMITTERS = 2, FILES_EACH = 10 };

/* What the runtime's on_loaded callback saw. */
typedef struct loads {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, complete, failed;
} loads;

static void on_loaded(void *ud, const zl_ticket *k, const zl_load_summary *sum, int rc, const zl_err *err)
{
	loads *l = ud;
	pthread_mutex_lock(&l->mu);
	l->done++;
	if (rc == 0 && sum->status == ZL_BATCH_COMPLETE)
		l->complete++;
	else
		l->failed++;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

/* Waits until n loads were reported, at most timeout_ms; returns how many were. */
static int wait_loads(loads *l, int n, int64_t timeout_ms)
{
	int64_t end = zl_now_ms() + timeout_ms;
	pthread_mutex_lock(&l->mu);
	while (l->done < n && zl_now_ms() < end) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&l->cv, &l->mu, &ts);
	}
	int done = l->done;
	pthread_mutex_unlock(&l->mu);
	return done;
}

typedef struct submitter {
	pthread_t th;
	zl_rt *rt;
	int index;
	int failures;
} submitter;

static void *submit_files(void *arg)
{
	submitter *s = arg;
	for (int i = 0; i < FILES_EACH; i++) {
		char key[64];
		snprintf(key, sizeof key, "in/s%d-f%02d.csv", s->index, i);
		zl_object o = { .bucket = (char *)"b", .key = key, .size = -1 };
		zl_ingest_result res;
		zl_err err = { 0 };
		if (zl_rt_submit(s->rt, "test", &o, 0, &res, &err) != 0 || res.outcome != ZL_INGEST_QUEUED)
			s->failures++;
	}
	return NULL;
}

static void test_threads_share_one_state(void **state)
{
	zl_world *w = *state;
	zl_err err = { 0 };
	loads l = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	zl_rt *rt = NULL;

	zl_world_config_t1(w, "{\"batchSize\": 2}");
	for (int s = 0; s < SUBMITTERS; s++)
		for (int i = 0; i < FILES_EACH; i++) {
			char key[64];
			snprintf(key, sizeof key, "in/s%d-f%02d.csv", s, i);
			zl_world_put_csv(w, key, 100 * s + i, 1);
		}
	zl_rt_opts o = { .state_url = w->state_url, .store = w->store, .workers = 2, .on_loaded = on_loaded, .ud = &l };
	assert_int_equal(zl_rt_new(&o, &rt, &err), 0);
	submitter subs[SUBMITTERS];
	for (int s = 0; s < SUBMITTERS; s++) {
		subs[s] = (submitter){ .rt = rt, .index = s };
		assert_int_equal(pthread_create(&subs[s].th, NULL, submit_files, &subs[s]), 0);
	}
	for (int s = 0; s < SUBMITTERS; s++) {
		pthread_join(subs[s].th, NULL);
		assert_int_equal(subs[s].failures, 0);
	}
	const int batches = SUBMITTERS * FILES_EACH / 2;
	assert_int_equal(wait_loads(&l, batches, 60000), batches);
	assert_int_equal(l.complete, batches);
	assert_int_equal(l.failed, 0);
	/* a worker reports before it counts itself done: idle follows shortly */
	int idle = 0;
	for (int64_t end = zl_now_ms() + 10000; !(idle = zl_rt_idle(rt, NULL, &err)) && zl_now_ms() < end;)
		zl_sleep_ms(5);
	assert_int_equal(idle, 1);
	zl_rt_free(rt);

	zl_batch *v = NULL;
	size_t n = 0;
	assert_int_equal(w->e.st->ops->batch_list(w->e.st, NULL, &v, &n, &err), 0);
	assert_int_equal(n, (size_t)batches);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i].status, ZL_BATCH_COMPLETE);
		assert_int_equal(v[i].file_count, 2);
		assert_int_equal(v[i].attempts, 1);
		assert_int_equal(zl_world_ledger_rows(w, v[i].id, "t1"), 1);
	}
	zl_batch_list_free(v, n);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), SUBMITTERS * FILES_EACH);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(DISTINCT id) FROM t1"), SUBMITTERS * FILES_EACH);
}

static void test_queued_batches_released_at_shutdown(void **state)
{
	zl_world *w = *state;
	zl_err err = { 0 };
	zl_rt *rt = NULL;
	char ids[2][ZL_UUID_LEN];

	zl_world_config_t1(w, "{\"batchSize\": 2}");
	zl_rt_opts o = { .state_url = w->state_url, .store = w->store, .workers = 0 };
	assert_int_equal(zl_rt_new(&o, &rt, &err), 0);
	for (int i = 0; i < 4; i++) {
		char key[32];
		snprintf(key, sizeof key, "in/f%d.csv", i);
		zl_world_put_csv(w, key, i, 1);
		zl_object obj = { .bucket = (char *)"b", .key = key, .size = -1 };
		zl_ingest_result res;
		assert_int_equal(zl_rt_submit(rt, "test", &obj, 0, &res, &err), 0);
		assert_int_equal(res.locked, i % 2);
		if (res.locked)
			snprintf(ids[i / 2], ZL_UUID_LEN, "%s", res.batch_id);
	}
	for (int i = 0; i < 2; i++) {
		zl_batch b = zl_world_batch(w, ids[i]);
		assert_int_equal(b.status, ZL_BATCH_LOCKED);
		zl_batch_release(&b);
	}
	zl_rt_free(rt); /* nothing drained them */
	for (int i = 0; i < 2; i++) {
		zl_batch b = zl_world_batch(w, ids[i]);
		assert_int_equal(b.status, ZL_BATCH_OPEN);
		assert_null(b.owner);
		assert_int_equal(b.file_count, 2);
		zl_batch_release(&b);
	}
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 0);

	/* the next runtime's sweep takes them at once (unlocked batches are due) and drains them */
	assert_int_equal(zl_rt_new(&o, &rt, &err), 0);
	assert_int_equal(zl_rt_sweep(rt, &err), 0);
	assert_int_equal(zl_rt_drain(rt), 0);
	zl_rt_free(rt);
	for (int i = 0; i < 2; i++) {
		zl_batch b = zl_world_batch(w, ids[i]);
		assert_int_equal(b.status, ZL_BATCH_COMPLETE);
		assert_int_equal(b.attempts, 2);
		zl_batch_release(&b);
	}
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 4);
}

/* Bodies submitted together (an SQS receive): each body's outcome on its own, a duplicate across
 * bodies still a duplicate. */
static void test_submit_bodies(void **state)
{
	zl_world *w = *state;
	zl_err err = { 0 }, errs[4];
	zl_rt *rt = NULL;
	int rcs[4];
	zl_body_summary sums[4];
	zl_world_config_t1(w, "{\"batchSize\": 0, \"batchTimeoutSecs\": 86400}");
	zl_rt_opts o = { .state_url = w->state_url, .store = w->store, .workers = 0, .no_load = 1 };
	assert_int_equal(zl_rt_new(&o, &rt, &err), 0);
#define REC(k) "{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"" k "\",\"size\":1}}}"
	const char *texts[4] = { "{\"Records\":[" REC("in/a.csv") "," REC("in/b.csv") "]}", "{\"Records\": [",
	                         "{\"Records\":[" REC("in/b.csv") "," REC("in/c.csv") "]}",
	                         "{\"Records\":[" REC("in/d.csv") "]}" };
#undef REC
	zl_text bodies[4];
	for (int i = 0; i < 4; i++)
		bodies[i] = (zl_text){ texts[i], strlen(texts[i]) };
	assert_int_equal(zl_rt_submit_bodies(rt, "test", bodies, 4, rcs, errs, sums), ZL_EINVAL);
	assert_int_equal(rcs[0], 0);
	assert_int_equal(rcs[1], ZL_EINVAL);
	assert_non_null(strstr(errs[1].msg, "invalid JSON"));
	assert_int_equal(rcs[2], 0);
	assert_int_equal(rcs[3], 0);
	assert_int_equal(sums[0].queued, 2);
	assert_int_equal(sums[1].malformed, 1);
	assert_int_equal(sums[1].records, 0);
	assert_int_equal(sums[2].queued, 1);
	assert_int_equal(sums[2].duplicate, 1); /* in/b.csv, claimed by the first body */
	assert_int_equal(sums[3].queued, 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(sums[i].failed, 0);
	zl_rt_free(rt);
}

#define WORLD_TEST(f) cmocka_unit_test_setup_teardown(f, zl_world_setup, zl_world_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		WORLD_TEST(test_threads_share_one_state),
		WORLD_TEST(test_queued_batches_released_at_shutdown),
		WORLD_TEST(test_submit_bodies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
