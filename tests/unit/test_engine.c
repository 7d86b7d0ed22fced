/* The engine's load (protocol steps 5-6) against the in-memory state and the fault-injecting
 * target: the happy path, a fault at every step of the target transaction (transient: retried,
 * then loaded once; permanent: error naming the target), a commit reported lost, maxAttempts,
 * and two targets in one database. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_world.h"
#include "target_fault.h"
#include "util/timeutil.h"

#define NOTE_SKIPPED "batch already in the target's ledger: not loaded again"

static void expect_result(const zl_batch *b, size_t i, const char *key, const char *want)
{
	char *v = zl_world_result_field(b, i, key);
	assert_string_equal(v, want);
	free(v);
}

static int64_t audit_rows(const zl_world *w, const char *what)
{
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM audit WHERE what = '%s'", what);
	return zl_world_sql_int(w, sql);
}

/* Two files of two rows each (ids 1-4), batchSize 2: ingesting both locks the batch. */
static zl_ticket two_file_batch(zl_world *w, const char *extra)
{
	zl_world_config_t1(w, extra ? extra : "{\"batchSize\": 2}");
	zl_world_put_csv(w, "in/f1.csv", 1, 2);
	zl_world_put_csv(w, "in/f2.csv", 3, 2);
	int64_t now = zl_now_ms();
	zl_ingest_result r1 = zl_world_ingest(w, "in/f1.csv", now, 1);
	zl_ingest_result r2 = zl_world_ingest(w, "in/f2.csv", now, 1);
	assert_int_equal(r1.locked, 0);
	assert_int_equal(r2.locked, 1);
	assert_string_equal(r2.ticket.batch_id, r1.batch_id);
	return r2.ticket;
}

static void expect_loaded_once(zl_world *w, const char *batch_id, int attempts)
{
	zl_batch b = zl_world_batch(w, batch_id);
	assert_int_equal(b.status, ZL_BATCH_COMPLETE);
	assert_int_equal(b.attempts, attempts);
	assert_null(b.owner);
	assert_null(b.error);
	assert_true(b.finished_at > 0);
	zl_batch_release(&b);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 4);
	assert_int_equal(zl_world_sql_int(w, "SELECT sum(id) FROM t1"), 10);
	assert_int_equal(zl_world_ledger_rows(w, batch_id, "t1"), 1);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM zload_ledger"), 1);
	assert_int_equal(audit_rows(w, "t1 pre"), 1);
	assert_int_equal(audit_rows(w, "t1 post"), 1);
}

static void expect_nothing_loaded(zl_world *w, const char *batch_id)
{
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 0);
	assert_int_equal(zl_world_ledger_rows(w, batch_id, "t1"), 0);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM audit"), 0);
}

static void test_happy_path(void **state)
{
	zl_world *w = *state;
	zl_err err = { 0 };
	zl_load_summary sum;

	assert_int_equal(zl_fault_set("t1", &(zl_fault){ 0 }), 0); /* counts calls only */
	zl_world_config_t1(w, "{\"batchSize\": 3, \"filenameFilterRegex\": \"\\\\.csv$\"}");
	for (int i = 0; i < 3; i++) {
		char key[32];
		snprintf(key, sizeof key, "in/f%d.csv", i + 1);
		zl_world_put_csv(w, key, 2 * i + 1, 2);
	}
	int64_t now = zl_now_ms();
	zl_ingest_result r1 = zl_world_ingest(w, "in/f1.csv", now, 1);
	zl_ingest_result r2 = zl_world_ingest(w, "in/f2.csv", now + 1, 1);
	assert_int_equal(r1.outcome, ZL_INGEST_QUEUED);
	assert_string_equal(r1.prefix, ZL_WORLD_PREFIX);
	assert_null(r1.due);
	assert_int_equal(r2.locked, 0);
	assert_string_equal(r2.batch_id, r1.batch_id);
	zl_batch b = zl_world_batch(w, r1.batch_id);
	assert_int_equal(b.status, ZL_BATCH_OPEN);
	assert_int_equal(b.bytes, 2 * (int64_t)strlen("id,name\n1,row 1\n2,row 2\n")); /* sizes from the store */
	zl_batch_release(&b);

	/* the third file fills the batch: locked in the same step, under a fresh owner */
	zl_ingest_result r3 = zl_world_ingest(w, "in/f3.csv", now + 2, 1);
	assert_int_equal(r3.outcome, ZL_INGEST_QUEUED);
	assert_int_equal(r3.locked, 1);
	assert_string_equal(r3.due, "batchSize");
	assert_string_equal(r3.ticket.batch_id, r1.batch_id);
	assert_int_equal(strncmp(r3.ticket.owner, w->e.host_pid, strlen(w->e.host_pid)), 0);
	b = zl_world_batch(w, r1.batch_id);
	assert_int_equal(b.status, ZL_BATCH_LOCKED);
	assert_string_equal(b.owner, r3.ticket.owner);
	assert_int_equal(b.lease_until, now + 2 + 60000);
	assert_int_equal(b.attempts, 1);
	zl_batch_release(&b);

	/* what is not queued */
	zl_ingest_result dup = zl_world_ingest(w, "in/f1.csv", now + 3, 1);
	assert_int_equal(dup.outcome, ZL_INGEST_DUPLICATE);
	assert_string_equal(dup.batch_id, r1.batch_id);
	zl_ingest_result filtered = zl_world_ingest(w, "in/notes.txt", now + 3, 1);
	assert_int_equal(filtered.outcome, ZL_INGEST_FILTERED);
	zl_object other = { .bucket = (char *)"other", .key = (char *)"in/x.csv", .size = 1 };
	zl_ingest_result unrouted;
	assert_int_equal(zl_engine_ingest(&w->e, &other, now + 3, 1, &unrouted, &err), 0);
	assert_int_equal(unrouted.outcome, ZL_INGEST_UNROUTED);

	assert_int_equal(zl_engine_load(&w->e, &r3.ticket, &sum, &err), 0);
	assert_int_equal(sum.status, ZL_BATCH_COMPLETE);
	assert_int_equal(sum.rows, 6);
	assert_string_equal(sum.error, "");
	b = zl_world_batch(w, r1.batch_id);
	assert_int_equal(b.status, ZL_BATCH_COMPLETE);
	assert_int_equal(b.attempts, 1);
	assert_int_equal(b.nfiles, 3);
	assert_null(b.owner);
	assert_null(b.error);
	assert_true(b.finished_at >= now);
	expect_result(&b, 0, "name", "t1");
	expect_result(&b, 0, "type", "fault");
	expect_result(&b, 0, "status", "complete");
	expect_result(&b, 0, "rows", "6");
	expect_result(&b, 0, "note", "");
	zl_batch_release(&b);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 6);
	assert_int_equal(zl_world_sql_int(w, "SELECT sum(id) FROM t1"), 21);
	assert_int_equal(zl_world_ledger_rows(w, r1.batch_id, "t1"), 1);
	assert_int_equal(audit_rows(w, "t1 pre"), 1);
	assert_int_equal(audit_rows(w, "t1 post"), 1);
	zl_fault_stats fs = zl_fault_stats_of("t1");
	assert_int_equal(fs.calls[ZL_FOP_CONNECT], 1);
	assert_int_equal(fs.calls[ZL_FOP_COPY], 3);
	assert_int_equal(fs.calls[ZL_FOP_EXEC], 2);
	assert_int_equal(fs.calls[ZL_FOP_COMMIT], 1);

	/* the finished attempt's ticket cannot load again */
	assert_int_equal(zl_engine_load(&w->e, &r3.ticket, &sum, &err), ZL_ELOST);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 6);

	/* a reprocess finds the batch in the ledger and loads nothing */
	zl_ticket again;
	assert_int_equal(zl_engine_lock(&w->e, r1.batch_id, ZL_WORLD_PREFIX, ZL_LOCK_FINISHED, zl_now_ms(), "reprocess",
	                                &again, &err), 0);
	assert_string_not_equal(again.owner, r3.ticket.owner);
	assert_int_equal(zl_engine_load(&w->e, &again, &sum, &err), 0);
	assert_int_equal(sum.status, ZL_BATCH_COMPLETE);
	assert_int_equal(sum.rows, 0);
	b = zl_world_batch(w, r1.batch_id);
	expect_result(&b, 0, "note", NOTE_SKIPPED);
	assert_int_equal(b.attempts, 1);
	zl_batch_release(&b);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 6);
	assert_int_equal(audit_rows(w, "t1 pre"), 1);
}

/* One step of the target transaction: the call-th call of op. */
typedef struct fault_step {
	zl_fault_op op;
	int call;
	const char *error; /* the batch's error afterwards */
} fault_step;

static const fault_step at_connect = { ZL_FOP_CONNECT, 1, "target t1: injected fault in connect" };
static const fault_step at_begin = { ZL_FOP_BEGIN, 1, "target t1: injected fault in begin" };
static const fault_step at_ledger_has = { ZL_FOP_LEDGER_HAS, 1, "target t1: injected fault in ledger_has" };
static const fault_step at_pre = { ZL_FOP_EXEC, 1, "target t1: preLoadStatement: injected fault in exec" };
static const fault_step at_copy1 = { ZL_FOP_COPY, 1, "target t1: injected fault in copy" };
static const fault_step at_copy2 = { ZL_FOP_COPY, 2, "target t1: injected fault in copy" };
static const fault_step at_ledger_insert = { ZL_FOP_LEDGER_INSERT, 1, "target t1: injected fault in ledger_insert" };
static const fault_step at_post = { ZL_FOP_EXEC, 2, "target t1: postLoadStatement: injected fault in exec" };
static const fault_step at_commit = { ZL_FOP_COMMIT, 1, "target t1: injected fault in commit" };

/* A transient fault: the attempt is recorded as a retry, nothing stays in the target, and the
 * retry (swept when due, not before) loads the batch once. */
static void transient_then_retry(zl_world *w, const fault_step *s)
{
	zl_err err = { 0 };
	zl_load_summary sum;
	zl_fault plan = { .ops = ZL_FAULT_MASK(s->op), .countdown = s->call, .code = ZL_ETRANSIENT };

	assert_int_equal(zl_fault_set("t1", &plan), 0);
	zl_ticket k = two_file_batch(w, NULL);
	int64_t t0 = zl_now_ms();
	assert_int_equal(zl_engine_load(&w->e, &k, &sum, &err), 0);
	int64_t t1 = zl_now_ms();
	assert_int_equal(sum.status, ZL_BATCH_LOCKED);
	assert_string_equal(sum.error, s->error);
	assert_int_equal(sum.rows, 0);
	assert_true(sum.retry_at >= t0 + 500 && sum.retry_at <= t1 + 1000); /* first back-off: 0.5-1 s */
	zl_batch b = zl_world_batch(w, k.batch_id);
	assert_int_equal(b.status, ZL_BATCH_LOCKED);
	assert_null(b.owner);
	assert_int_equal(b.lease_until, sum.retry_at);
	assert_int_equal(b.attempts, 1);
	assert_string_equal(b.error, s->error);
	assert_int_equal(b.finished_at, 0);
	expect_result(&b, 0, "status", "retry");
	expect_result(&b, 0, "error", s->error + strlen("target t1: "));
	zl_batch_release(&b);
	assert_int_equal(zl_fault_stats_of("t1").hits, 1);
	expect_nothing_loaded(w, k.batch_id);

	assert_int_equal(zl_world_sweep_count(w, sum.retry_at - 1), 0);
	zl_ticket retry = zl_world_sweep_one(w, sum.retry_at, k.batch_id);
	assert_string_not_equal(retry.owner, k.owner);
	assert_int_equal(zl_engine_load(&w->e, &retry, &sum, &err), 0);
	assert_int_equal(sum.status, ZL_BATCH_COMPLETE);
	assert_int_equal(sum.rows, 4);
	assert_int_equal(zl_fault_stats_of("t1").hits, 1);
	expect_loaded_once(w, k.batch_id, 2);
}

/* A permanent fault: the batch ends in error naming the target, nothing stays in the target, no
 * sweep retries it; a reprocess then loads it once. */
static void permanent_error(zl_world *w, const fault_step *s)
{
	zl_err err = { 0 };
	zl_load_summary sum;
	zl_fault plan = { .ops = ZL_FAULT_MASK(s->op), .countdown = s->call, .code = ZL_ELOAD };

	assert_int_equal(zl_fault_set("t1", &plan), 0);
	zl_ticket k = two_file_batch(w, NULL);
	assert_int_equal(zl_engine_load(&w->e, &k, &sum, &err), 0);
	assert_int_equal(sum.status, ZL_BATCH_ERROR);
	assert_string_equal(sum.error, s->error);
	zl_batch b = zl_world_batch(w, k.batch_id);
	assert_int_equal(b.status, ZL_BATCH_ERROR);
	assert_int_equal(b.attempts, 1);
	assert_string_equal(b.error, s->error);
	assert_null(b.owner);
	assert_true(b.finished_at > 0);
	expect_result(&b, 0, "status", "error");
	zl_batch_release(&b);
	expect_nothing_loaded(w, k.batch_id);
	assert_int_equal(zl_world_sweep_count(w, zl_now_ms() + 3600000), 0);

	zl_ticket again;
	assert_int_equal(zl_engine_lock(&w->e, k.batch_id, ZL_WORLD_PREFIX, ZL_LOCK_FINISHED, zl_now_ms(), "reprocess",
	                                &again, &err), 0);
	assert_int_equal(zl_engine_load(&w->e, &again, &sum, &err), 0);
	assert_int_equal(sum.status, ZL_BATCH_COMPLETE);
	expect_loaded_once(w, k.batch_id, 1);
}

#define FAULT_STEP_TESTS(X)                                                                                \
	X(connect) X(begin) X(ledger_has) X(pre) X(copy1) X(copy2) X(ledger_insert) X(post) X(commit)

#define DEFINE_STEP_TESTS(step)                                                                            \
	static void test_transient_at_##step(void **state) { transient_then_retry(*state, &at_##step); }        \
	static void test_permanent_at_##step(void **state) { permanent_error(*state, &at_##step); }
FAULT_STEP_TESTS(DEFINE_STEP_TESTS)

/* The commit happened, but the loader was told it failed (a lost connection): the retry finds the
 * batch in the ledger and does not load it again. */
static void test_commit_succeeded_then_transient(void **state)
{
	zl_world *w = *state;
	zl_err err = { 0 };
	zl_load_summary sum;
	zl_fault plan = { .ops = ZL_FAULT_MASK(ZL_FOP_COMMIT), .countdown = 1, .code = ZL_ETRANSIENT, .after = 1 };

	assert_int_equal(zl_fault_set("t1", &plan), 0);
	zl_ticket k = two_file_batch(w, NULL);
	assert_int_equal(zl_engine_load(&w->e, &k, &sum, &err), 0);
	assert_int_equal(sum.status, ZL_BATCH_LOCKED);
	assert_string_equal(sum.error, "target t1: injected fault in commit");
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 4); /* it did commit */
	assert_int_equal(zl_world_ledger_rows(w, k.batch_id, "t1"), 1);

	zl_ticket retry = zl_world_sweep_one(w, sum.retry_at, k.batch_id);
	assert_int_equal(zl_engine_load(&w->e, &retry, &sum, &err), 0);
	assert_int_equal(sum.status, ZL_BATCH_COMPLETE);
	assert_int_equal(sum.rows, 0);
	zl_batch b = zl_world_batch(w, k.batch_id);
	expect_result(&b, 0, "status", "complete");
	expect_result(&b, 0, "note", NOTE_SKIPPED);
	expect_result(&b, 0, "rows", "0");
	zl_batch_release(&b);
	expect_loaded_once(w, k.batch_id, 2);
	zl_fault_stats fs = zl_fault_stats_of("t1");
	assert_int_equal(fs.calls[ZL_FOP_COPY], 2);   /* both in the first attempt */
	assert_int_equal(fs.calls[ZL_FOP_COMMIT], 1); /* the retry rolled back its empty transaction */
	assert_int_equal(fs.calls[ZL_FOP_LEDGER_HAS], 2);
}

/* A rollback that never happens (the connection is closed instead) leaves nothing either. */
static void test_rollback_skipped_leaves_nothing(void **state)
{
	zl_world *w = *state;
	zl_err err = { 0 };
	zl_load_summary sum;
	/* copy 2 fails, and from then on every counted call: the rollback is skipped */
	zl_fault plan = { .ops = ZL_FAULT_MASK(ZL_FOP_COPY) | ZL_FAULT_MASK(ZL_FOP_ROLLBACK), .countdown = 2,
	                  .persistent = 1, .code = ZL_ELOAD };

	assert_int_equal(zl_fault_set("t1", &plan), 0);
	zl_ticket k = two_file_batch(w, NULL);
	assert_int_equal(zl_engine_load(&w->e, &k, &sum, &err), 0);
	assert_int_equal(sum.status, ZL_BATCH_ERROR);
	zl_fault_stats fs = zl_fault_stats_of("t1");
	assert_int_equal(fs.calls[ZL_FOP_ROLLBACK], 1);
	assert_int_equal(fs.hits, 2);
	expect_nothing_loaded(w, k.batch_id);
}

/* maxAttempts transient failures end the batch in error, with the last attempt's error. */
static void test_max_attempts(void **state)
{
	zl_world *w = *state;
	zl_err err = { 0 };
	zl_load_summary sum;
	zl_fault connect_fails = { .ops = ZL_FAULT_MASK(ZL_FOP_CONNECT), .countdown = 1, .persistent = 1,
	                           .code = ZL_ETRANSIENT };
	zl_fault copy_fails = { .ops = ZL_FAULT_MASK(ZL_FOP_COPY), .countdown = 1, .code = ZL_ETRANSIENT };

	assert_int_equal(zl_fault_set("t1", &connect_fails), 0);
	zl_ticket k = two_file_batch(w, "{\"batchSize\": 2, \"maxAttempts\": 3}");
	for (int attempt = 1; attempt <= 3; attempt++) {
		if (attempt == 3)
			assert_int_equal(zl_fault_set("t1", &copy_fails), 0);
		assert_int_equal(zl_engine_load(&w->e, &k, &sum, &err), 0);
		zl_batch b = zl_world_batch(w, k.batch_id);
		assert_int_equal(b.attempts, attempt);
		if (attempt < 3) {
			assert_int_equal(sum.status, ZL_BATCH_LOCKED);
			assert_string_equal(b.error, "target t1: injected fault in connect");
			k = zl_world_sweep_one(w, sum.retry_at, k.batch_id);
		} else {
			assert_int_equal(sum.status, ZL_BATCH_ERROR);
			assert_int_equal(b.status, ZL_BATCH_ERROR);
			assert_string_equal(b.error, "target t1: injected fault in copy");
		}
		zl_batch_release(&b);
	}
	expect_nothing_loaded(w, k.batch_id);
	assert_int_equal(zl_world_sweep_count(w, zl_now_ms() + 3600000), 0);
}

/* A loader that crashes each time (its lease expires): past maxAttempts the batch ends in error
 * without touching the target. */
static void test_max_attempts_by_expired_leases(void **state)
{
	zl_world *w = *state;
	zl_err err = { 0 };
	zl_load_summary sum;

	zl_world_config_t1(w, "{\"batchSize\": 1, \"maxAttempts\": 2, \"leaseSecs\": 1}");
	zl_world_put_csv(w, "in/f1.csv", 1, 2);
	int64_t t = zl_now_ms() - 600000;
	zl_ingest_result r = zl_world_ingest(w, "in/f1.csv", t, 1);
	assert_int_equal(r.locked, 1);
	zl_ticket k = zl_world_sweep_one(w, t + 1000, r.batch_id); /* attempt 2: crashes too */
	k = zl_world_sweep_one(w, t + 2000, r.batch_id);           /* attempt 3: over the limit */
	assert_int_equal(zl_engine_load(&w->e, &k, &sum, &err), 0);
	assert_int_equal(sum.status, ZL_BATCH_ERROR);
	const char *want = "gave up after 2 attempts (maxAttempts 2): the loader's lease expired each time; last error: none";
	assert_string_equal(sum.error, want);
	zl_batch b = zl_world_batch(w, r.batch_id);
	assert_int_equal(b.status, ZL_BATCH_ERROR);
	assert_int_equal(b.attempts, 3);
	assert_string_equal(b.error, want);
	zl_batch_release(&b);
	assert_int_equal(zl_fault_stats_of("t1").calls[ZL_FOP_CONNECT], 0);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 0);
}

/* Prerequisite of the two-target cases: a ledger row per (batch, target). */
static void require_ledger_per_target(zl_world *w)
{
	if (zl_world_ledger_per_target(w))
		return;
	print_message("skipped: the SQLite target's ledger has no target column, so two targets in one database "
	              "share one row per batch (the per-target ledger is not in this tree)\n");
	skip();
}

static zl_ticket two_target_batch(zl_world *w)
{
	json_t *targets = json_array();
	json_array_append_new(targets, zl_world_target(w, "t1", "t1"));
	json_array_append_new(targets, zl_world_target(w, "t2", "t2"));
	zl_world_config(w, ZL_WORLD_PREFIX, "{\"batchSize\": 2}", targets);
	zl_world_put_csv(w, "in/f1.csv", 1, 2);
	zl_world_put_csv(w, "in/f2.csv", 3, 2);
	int64_t now = zl_now_ms();
	zl_world_ingest(w, "in/f1.csv", now, 1);
	zl_ingest_result r = zl_world_ingest(w, "in/f2.csv", now, 1);
	assert_int_equal(r.locked, 1);
	return r.ticket;
}

static void test_two_targets_one_database(void **state)
{
	zl_world *w = *state;
	zl_err err = { 0 };
	zl_load_summary sum;

	zl_ticket k = two_target_batch(w);
	assert_int_equal(zl_engine_load(&w->e, &k, &sum, &err), 0);
	require_ledger_per_target(w);
	if (sum.status != ZL_BATCH_COMPLETE) print_message("error: %s\n", sum.error);
	assert_int_equal(sum.status, ZL_BATCH_COMPLETE);
	assert_int_equal(sum.rows, 8);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 4);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t2"), 4);
	assert_int_equal(zl_world_ledger_rows(w, k.batch_id, "t1"), 1);
	assert_int_equal(zl_world_ledger_rows(w, k.batch_id, "t2"), 1);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM zload_ledger"), 2);
	assert_int_equal(audit_rows(w, "t1 post"), 1);
	assert_int_equal(audit_rows(w, "t2 post"), 1);
	zl_batch b = zl_world_batch(w, k.batch_id);
	for (size_t i = 0; i < 2; i++) {
		expect_result(&b, i, "name", i ? "t2" : "t1");
		expect_result(&b, i, "status", "complete");
		expect_result(&b, i, "rows", "4");
	}
	zl_batch_release(&b);

	/* a reprocess skips both */
	zl_ticket again;
	assert_int_equal(zl_engine_lock(&w->e, k.batch_id, ZL_WORLD_PREFIX, ZL_LOCK_FINISHED, zl_now_ms(), "reprocess",
	                                &again, &err), 0);
	assert_int_equal(zl_engine_load(&w->e, &again, &sum, &err), 0);
	assert_int_equal(sum.rows, 0);
	b = zl_world_batch(w, k.batch_id);
	expect_result(&b, 0, "note", NOTE_SKIPPED);
	expect_result(&b, 1, "note", NOTE_SKIPPED);
	zl_batch_release(&b);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 4);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t2"), 4);
}

/* One target commits, the other fails transiently: the retry loads only the one that failed. */
static void test_two_targets_retry_loads_the_failed_one(void **state)
{
	zl_world *w = *state;
	zl_err err = { 0 };
	zl_load_summary sum;
	zl_fault t2_commit = { .ops = ZL_FAULT_MASK(ZL_FOP_COMMIT), .countdown = 1, .code = ZL_ETRANSIENT };

	assert_int_equal(zl_fault_set("t2", &t2_commit), 0);
	zl_ticket k = two_target_batch(w);
	assert_int_equal(zl_engine_load(&w->e, &k, &sum, &err), 0);
	require_ledger_per_target(w);
	assert_int_equal(sum.status, ZL_BATCH_LOCKED);
	assert_string_equal(sum.error, "target t2: injected fault in commit");
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 4);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t2"), 0);
	assert_int_equal(zl_world_ledger_rows(w, k.batch_id, "t1"), 1);
	assert_int_equal(zl_world_ledger_rows(w, k.batch_id, "t2"), 0);

	zl_ticket retry = zl_world_sweep_one(w, sum.retry_at, k.batch_id);
	assert_int_equal(zl_engine_load(&w->e, &retry, &sum, &err), 0);
	assert_int_equal(sum.status, ZL_BATCH_COMPLETE);
	assert_int_equal(sum.rows, 4);
	zl_batch b = zl_world_batch(w, k.batch_id);
	expect_result(&b, 0, "note", NOTE_SKIPPED);
	expect_result(&b, 1, "note", "");
	expect_result(&b, 1, "rows", "4");
	zl_batch_release(&b);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 4);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t2"), 4);
	assert_int_equal(zl_world_ledger_rows(w, k.batch_id, "t2"), 1);
	assert_int_equal(audit_rows(w, "t1 post"), 1);
	assert_int_equal(audit_rows(w, "t2 post"), 1);
}

#define WORLD_TEST(f) cmocka_unit_test_setup_teardown(f, zl_world_setup, zl_world_teardown)
#define STEP_ENTRIES(step) WORLD_TEST(test_transient_at_##step), WORLD_TEST(test_permanent_at_##step),

int main(void)
{
	const struct CMUnitTest tests[] = {
		WORLD_TEST(test_happy_path),
		FAULT_STEP_TESTS(STEP_ENTRIES)
		WORLD_TEST(test_commit_succeeded_then_transient),
		WORLD_TEST(test_rollback_skipped_leaves_nothing),
		WORLD_TEST(test_max_attempts),
		WORLD_TEST(test_max_attempts_by_expired_leases),
		WORLD_TEST(test_two_targets_one_database),
		WORLD_TEST(test_two_targets_retry_loads_the_failed_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
