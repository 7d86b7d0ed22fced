/* The state snapshot (obs/snapshot.h) over the in-memory state, with batches made by the state's
 * own operations at chosen times: an open batch that falls due later, open batches that cannot
 * fall due or are due past the grace, expired leases and overdue retries, error batches of the
 * last 24 hours and before, the last loads with their rows and times, pending and failed
 * notifications; every field asserted, and the problem lines word for word. Each case runs on the
 * in-memory state and SQLite, and on PostgreSQL and DynamoDB under tests/conformance/with_pg.sh
 * and with_moto.sh (ZLOAD_TEST_PG, ZLOAD_TEST_DYNAMO). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "obs/snapshot.h"
#include "state_mem.h"
#include "util/timeutil.h"

#define NOW 1800000000000LL /* 2027-01-15T08:00:00Z */
#define SEC 1000LL
#define HOUR (3600 * SEC)

/* One backend under test: a fresh store per case, named by tag. */
typedef struct backend {
	const char *name;
	const char *env;                      /* the server's URL, for the backends that need one */
	void (*url)(const char *tag, char *out, size_t n);
	void (*drop)(const char *tag);
} backend;

static const backend *current;
static char tag[64];

static void mem_url(const char *t, char *out, size_t n) { snprintf(out, n, "mem:%s", t); }
static void mem_drop(const char *t) { zl_state_mem_drop(t); }

static void sqlite_url(const char *t, char *out, size_t n) { snprintf(out, n, "sqlite:/tmp/%s/state.db", t); }
static void sqlite_drop(const char *t)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '/tmp/%s'", t);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove /tmp/%s\n", t);
}

/* PostgreSQL (tests/conformance/with_pg.sh sets ZLOAD_TEST_PG): a schema per case. */
static void pg_url(const char *t, char *out, size_t n)
{
	const char *base = getenv("ZLOAD_TEST_PG");
	snprintf(out, n, "%s%cschema=%s", base, strchr(base, '?') ? '&' : '?', t);
}
static void pg_drop(const char *t)
{
	char sql[160];
	snprintf(sql, sizeof sql, "SET client_min_messages = warning; DROP SCHEMA IF EXISTS %s CASCADE", t);
	/* the conninfo as dbname, expanded: zload's libpq stubs (src/lazy) have no PQconnectdb */
	const char *keys[] = { "dbname", NULL }, *vals[] = { getenv("ZLOAD_TEST_PG"), NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(c) == CONNECTION_OK)
		PQclear(PQexec(c, sql));
	PQfinish(c);
}

/* DynamoDB (tests/conformance/with_moto.sh sets ZLOAD_TEST_DYNAMO): tables per case. */
int zl_state_dynamodb_drop(const char *target, zl_err *err);
static void dynamo_url(const char *t, char *out, size_t n)
{
	const char *base = getenv("ZLOAD_TEST_DYNAMO");
	snprintf(out, n, "%s%ctables=%s", base, strchr(base, '?') ? '&' : '?', t);
}
static void dynamo_drop(const char *t)
{
	char url[1024];
	zl_err err = { 0 };
	dynamo_url(t, url, sizeof url);
	zl_state_dynamodb_drop(url + strlen("dynamodb:"), &err);
}

static const backend backends[] = {
	{ "mem", NULL, mem_url, mem_drop },
	{ "sqlite", NULL, sqlite_url, sqlite_drop },
	{ "postgresql", "ZLOAD_TEST_PG", pg_url, pg_drop },
	{ "dynamodb", "ZLOAD_TEST_DYNAMO", dynamo_url, dynamo_drop },
};

static int setup(void **state)
{
	static int seq;
	char url[1024];
	zl_state *st = NULL;
	zl_err err = { 0 };
	snprintf(tag, sizeof tag, "zl_snapshot_%d_%d", (int)getpid(), ++seq);
	if (strcmp(current->name, "sqlite") == 0) {
		char dir[96];
		snprintf(dir, sizeof dir, "/tmp/%s", tag);
		if (mkdir(dir, 0700))
			return -1;
	}
	current->url(tag, url, sizeof url);
	if (strcmp(current->name, "dynamodb") == 0 && zl_state_init(url, NULL, &err))
		return fprintf(stderr, "%s: %s\n", url, err.msg), -1;
	if (zl_state_open(url, &st, &err))
		return fprintf(stderr, "%s: %s\n", url, err.msg), -1;
	*state = st;
	return 0;
}

static int teardown(void **state)
{
	zl_state_close(*state);
	current->drop(tag);
	return 0;
}

/* Stores a configuration of prefix with one sqlite target "wh" and the batching fields in extra. */
static void put_config(zl_state *st, const char *prefix, const char *extra)
{
	char json[1024];
	zl_err err = { 0 };
	snprintf(json, sizeof json,
	         "{\"s3Prefix\": \"%s\", %s, \"targets\": [{\"name\": \"wh\", \"type\": \"sqlite\", "
	         "\"path\": \"/tmp/zl-snapshot-wh.db\", \"targetTable\": \"t\"}]}",
	         prefix, extra);
	assert_int_equal(st->ops->config_put(st, prefix, json, &err), 0);
}

/* Appends bucket "b" object key (size bytes) to prefix's open batch at time at (limit files a
 * batch); returns the batch id in id. */
static void add_file(zl_state *st, const char *prefix, const char *key, int64_t size, int64_t at, int64_t limit,
                     char id[ZL_UUID_LEN])
{
	char file_id[256];
	zl_object o = { .bucket = "b", .key = (char *)key, .size = size };
	zl_claim_opts opts = { .max_files = limit };
	zl_append_result r;
	zl_err err = { 0 };
	snprintf(file_id, sizeof file_id, "b/%s", key);
	assert_int_equal(st->ops->claim_append(st, file_id, prefix, &o, at, &opts, &r, &err), 0);
	assert_int_equal(r.duplicate, 0);
	memcpy(id, r.batch_id, ZL_UUID_LEN);
}

/* A batch of one file of prefix locked by owner at at, until lease_until. */
static void locked_batch(zl_state *st, const char *prefix, const char *key, const char *owner, int64_t at,
                         int64_t lease_until, char id[ZL_UUID_LEN])
{
	zl_err err = { 0 };
	add_file(st, prefix, key, 100, at, 1, id);
	assert_int_equal(st->ops->batch_lock(st, id, ZL_LOCK_OPEN, owner, at, lease_until, &err), 0);
}

/* A batch of one file loaded at at: status, result JSON and error, with the notices given. */
static void finished_batch(zl_state *st, const char *prefix, const char *key, int64_t at, zl_batch_status status,
                           const char *result, const char *error, const zl_notice *notices, size_t n,
                           char id[ZL_UUID_LEN])
{
	zl_err err = { 0 };
	locked_batch(st, prefix, key, "host:1:aaaa", at - 2 * SEC, at + 60 * SEC, id);
	assert_int_equal(st->ops->batch_finish(st, id, "host:1:aaaa", status, at, 0, result, error, notices, n, &err), 0);
}

static zl_snapshot take(zl_state *st, int64_t now)
{
	zl_snapshot s;
	zl_err err = { 0 };
	assert_int_equal(zl_snapshot_take(st, now, &s, &err), 0);
	assert_int_equal(s.taken_at, now);
	return s;
}

static void assert_no_notices(const zl_snapshot *s)
{
	assert_int_equal(s->notices_pending, 0);
	assert_int_equal(s->notices_failed, 0);
	assert_int_equal(s->npending, 0);
	assert_int_equal(s->nfailed, 0);
}

static void test_empty(void **state)
{
	zl_snapshot s = take(*state, NOW);
	assert_int_equal(s.n, 0);
	assert_no_notices(&s);
	assert_int_equal(s.problems.n, 0);
	assert_true(zl_snapshot_healthy(&s));
	zl_snapshot_release(&s);
}

static void test_open_due_later(void **state)
{
	zl_state *st = *state;
	char id[ZL_UUID_LEN], id2[ZL_UUID_LEN];
	put_config(st, "b/in", "\"batchSize\": 10, \"batchSizeBytes\": 5000, \"batchTimeoutSecs\": 60");
	add_file(st, "b/in", "in/a.csv", 120, NOW - 10 * SEC, 10, id);
	add_file(st, "b/in", "in/b.csv", 30, NOW - 4 * SEC, 10, id2);
	assert_string_equal(id, id2);

	zl_snapshot s = take(st, NOW);
	assert_int_equal(s.n, 1);
	zl_snap_prefix *p = &s.v[0];
	assert_string_equal(p->prefix, "b/in");
	assert_true(p->configured);
	assert_int_equal(p->targets.n, 1);
	assert_string_equal(p->targets.v[0], "wh (sqlite)");
	assert_int_equal(p->batch_size, 10);
	assert_int_equal(p->batch_size_bytes, 5000);
	assert_int_equal(p->batch_timeout_ms, 60 * SEC);
	assert_int_equal(p->files_waiting, 2);
	assert_int_equal(p->oldest_open_at, NOW - 10 * SEC);
	assert_int_equal(p->nopen, 1);
	assert_int_equal(p->nlocked, 0);
	assert_int_equal(p->nrecent, 0);
	assert_int_equal(p->nerrors, 0);
	zl_snap_batch *o = &p->open[0];
	assert_string_equal(o->b.id, id);
	assert_string_equal(o->b.prefix, "b/in");
	assert_int_equal(o->b.status, ZL_BATCH_OPEN);
	assert_int_equal(o->b.file_count, 2);
	assert_int_equal(o->b.bytes, 150);
	assert_int_equal(o->b.first_at, NOW - 10 * SEC);
	assert_null(o->b.files);
	assert_int_equal(o->due_at, NOW + 50 * SEC);
	assert_null(o->due);
	assert_int_equal(o->rows, -1);
	assert_int_equal(o->load_ms, -1);
	assert_false(o->stuck);
	assert_string_equal(o->why_stuck, "");
	assert_no_notices(&s);
	assert_true(zl_snapshot_healthy(&s));
	zl_snapshot_release(&s);

	/* 51 s later it is due by age, and not stuck until the grace has passed */
	s = take(st, NOW + 51 * SEC);
	assert_string_equal(s.v[0].open[0].due, "batchTimeoutSecs");
	assert_false(s.v[0].open[0].stuck);
	assert_true(zl_snapshot_healthy(&s));
	zl_snapshot_release(&s);
	s = take(st, NOW + 50 * SEC + ZL_SNAP_STUCK_GRACE_MS + 1);
	zl_snap_batch *late = &s.v[0].open[0];
	assert_string_equal(late->due, "batchTimeoutSecs");
	assert_true(late->stuck);
	char t[40], want[512];
	zl_time_format(NOW + 50 * SEC, t, sizeof t);
	snprintf(want, sizeof want, "due (batchTimeoutSecs) since %s and no loader took it", t);
	assert_string_equal(late->why_stuck, want);
	assert_int_equal(s.problems.n, 1);
	snprintf(want, sizeof want, "batch %s (prefix b/in): stuck open: due (batchTimeoutSecs) since %s and no loader took it",
	         id, t);
	assert_string_equal(s.problems.v[0], want);
	zl_snapshot_release(&s);
}

static void test_stuck_open(void **state)
{
	zl_state *st = *state;
	char never[ZL_UUID_LEN], orphan[ZL_UUID_LEN], full[ZL_UUID_LEN], want[512];
	put_config(st, "b/stuck", "\"batchSize\": 10");
	put_config(st, "b/full", "\"batchSize\": 2");
	/* invalid (no targets): skipped, as the engine skips it */
	zl_err err = { 0 };
	assert_int_equal(st->ops->config_put(st, "b/invalid", "{\"s3Prefix\": \"b/invalid\", \"batchSize\": 1}", &err), 0);
	add_file(st, "b/stuck", "stuck/a.csv", 10, NOW - HOUR, 10, never);
	add_file(st, "b/orphan", "orphan/a.csv", 20, NOW - 2 * HOUR, 10, orphan);
	add_file(st, "b/orphan", "orphan/b.csv", 20, NOW - HOUR, 10, orphan);
	add_file(st, "b/full", "full/a.csv", 1, NOW - 5 * SEC, 2, full);
	add_file(st, "b/full", "full/b.csv", 1, NOW - 3 * SEC, 2, full);

	zl_snapshot s = take(st, NOW);
	assert_int_equal(s.n, 3);
	/* configured prefixes first, by prefix; then the others */
	assert_string_equal(s.v[0].prefix, "b/full");
	assert_string_equal(s.v[1].prefix, "b/stuck");
	assert_string_equal(s.v[2].prefix, "b/orphan");

	zl_snap_batch *f = &s.v[0].open[0];
	assert_int_equal(s.v[0].nopen, 1);
	assert_string_equal(f->due, "batchSize");
	assert_int_equal(f->due_at, 0);
	assert_false(f->stuck); /* due for 3 s only */

	zl_snap_prefix *p = &s.v[1];
	assert_true(p->configured);
	assert_int_equal(p->batch_timeout_ms, 0);
	assert_int_equal(p->nopen, 1);
	zl_snap_batch *o = &p->open[0];
	assert_string_equal(o->b.id, never);
	assert_null(o->due);
	assert_int_equal(o->due_at, 0);
	assert_true(o->stuck);
	assert_string_equal(o->why_stuck, "1 of batchSize 10 files and no batchTimeoutSecs");

	p = &s.v[2];
	assert_false(p->configured);
	assert_int_equal(p->targets.n, 0);
	assert_int_equal(p->batch_size, 0);
	assert_int_equal(p->files_waiting, 2);
	assert_int_equal(p->oldest_open_at, NOW - 2 * HOUR);
	o = &p->open[0];
	assert_string_equal(o->b.id, orphan);
	assert_null(o->due);
	assert_true(o->stuck);
	assert_string_equal(o->why_stuck, "no configuration for the prefix: its 2 files never load");

	assert_false(zl_snapshot_healthy(&s));
	assert_int_equal(s.problems.n, 2);
	snprintf(want, sizeof want, "batch %s (prefix b/stuck): stuck open: 1 of batchSize 10 files and no batchTimeoutSecs",
	         never);
	assert_string_equal(s.problems.v[0], want);
	snprintf(want, sizeof want, "batch %s (prefix b/orphan): stuck open: no configuration for the prefix: its 2 files never load",
	         orphan);
	assert_string_equal(s.problems.v[1], want);
	zl_snapshot_release(&s);

	/* the full batch nobody took is stuck once the grace has passed */
	s = take(st, NOW - 3 * SEC + ZL_SNAP_STUCK_GRACE_MS + 1);
	assert_true(s.v[0].open[0].stuck);
	char t[40];
	zl_time_format(NOW - 3 * SEC, t, sizeof t);
	snprintf(want, sizeof want, "due (batchSize) since %s and no loader took it", t);
	assert_string_equal(s.v[0].open[0].why_stuck, want);
	assert_int_equal(s.problems.n, 3);
	zl_snapshot_release(&s);
}

static void test_locked(void **state)
{
	zl_state *st = *state;
	char live[ZL_UUID_LEN], expired[ZL_UUID_LEN], retry[ZL_UUID_LEN], soon[ZL_UUID_LEN], want[512], t[40];
	zl_err err = { 0 };
	put_config(st, "b/l", "\"batchSize\": 1, \"batchTimeoutSecs\": 30");
	locked_batch(st, "b/l", "l/expired.csv", "host:1:dead", NOW - 10 * 60 * SEC, NOW - 2 * 60 * SEC, expired);
	locked_batch(st, "b/l", "l/live.csv", "host:2:beef", NOW - 5 * SEC, NOW + 55 * SEC, live);
	locked_batch(st, "b/l", "l/retry.csv", "host:3:cafe", NOW - 5 * 60 * SEC, NOW, retry);
	assert_int_equal(st->ops->batch_finish(st, retry, "host:3:cafe", ZL_BATCH_LOCKED, NOW - 4 * 60 * SEC, NOW - 90 * SEC,
	                                       "{\"attempt\": 1, \"targets\": [{\"name\": \"wh\", \"rows\": 0}], \"ms\": 7}",
	                                       "target wh: database is locked", NULL, 0, &err), 0);
	/* a lease expired 30 s ago is within the grace: a sweeper may take it any moment */
	locked_batch(st, "b/l", "l/soon.csv", "host:4:f00d", NOW - 2 * 60 * SEC, NOW - 30 * SEC, soon);

	zl_snapshot s = take(st, NOW);
	assert_int_equal(s.n, 1);
	zl_snap_prefix *p = &s.v[0];
	assert_int_equal(p->nopen, 0);
	assert_int_equal(p->files_waiting, 0);
	assert_int_equal(p->oldest_open_at, 0);
	assert_int_equal(p->nlocked, 4);
	/* oldest created first */
	assert_string_equal(p->locked[0].b.id, expired);
	assert_string_equal(p->locked[1].b.id, retry);
	assert_string_equal(p->locked[2].b.id, soon);
	assert_string_equal(p->locked[3].b.id, live);

	zl_snap_batch *x = &p->locked[0];
	assert_int_equal(x->b.status, ZL_BATCH_LOCKED);
	assert_string_equal(x->b.owner, "host:1:dead");
	assert_int_equal(x->b.lease_until, NOW - 2 * 60 * SEC);
	assert_true(x->stuck);
	zl_time_format(NOW - 2 * 60 * SEC, t, sizeof t);
	snprintf(want, sizeof want, "lease of host:1:dead expired at %s and no loader reclaimed it", t);
	assert_string_equal(x->why_stuck, want);
	assert_int_equal(x->rows, -1);

	x = &p->locked[3];
	assert_false(x->stuck);
	assert_string_equal(x->b.owner, "host:2:beef");
	assert_int_equal(x->b.lease_until, NOW + 55 * SEC);
	assert_int_equal(x->b.locked_at, NOW - 5 * SEC);
	assert_int_equal(x->b.attempts, 1);

	x = &p->locked[1];
	assert_null(x->b.owner);
	assert_int_equal(x->b.lease_until, NOW - 90 * SEC);
	assert_string_equal(x->b.error, "target wh: database is locked");
	assert_int_equal(x->rows, 0);
	assert_int_equal(x->load_ms, 7);
	assert_true(x->stuck);
	zl_time_format(NOW - 90 * SEC, t, sizeof t);
	char retry_why[256];
	snprintf(retry_why, sizeof retry_why, "retry was due at %s and no loader took it", t);
	assert_string_equal(x->why_stuck, retry_why);

	assert_false(p->locked[2].stuck);
	assert_string_equal(p->locked[2].why_stuck, "");

	assert_int_equal(s.problems.n, 2);
	zl_time_format(NOW - 2 * 60 * SEC, t, sizeof t);
	snprintf(want, sizeof want,
	         "batch %s (prefix b/l): stuck locked: lease of host:1:dead expired at %s and no loader reclaimed it", expired, t);
	assert_string_equal(s.problems.v[0], want);
	snprintf(want, sizeof want, "batch %s (prefix b/l): stuck locked: %s", retry, retry_why);
	assert_string_equal(s.problems.v[1], want);
	zl_snapshot_release(&s);
}

/* A batch the original loader locked has no lease (nor, in zload's terms, an owner). */
static void test_locked_without_lease(void **state)
{
	zl_state *st = *state;
	zl_err err = { 0 };
	const char *id = "01a20000-0000-7000-8000-00000000000a";
	put_config(st, "b/o", "\"batchSize\": 1");
	zl_batch b = { .prefix = "b/o", .status = ZL_BATCH_LOCKED, .created_at = NOW - HOUR, .first_at = NOW - HOUR,
	               .updated_at = NOW - HOUR, .locked_at = NOW - HOUR, .file_count = 1, .bytes = 10, .attempts = 1 };
	snprintf(b.id, sizeof b.id, "%s", id);
	assert_int_equal(st->ops->batch_import(st, &b, &err), 0);
	zl_snapshot s = take(st, NOW);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].nlocked, 1);
	zl_snap_batch *x = &s.v[0].locked[0];
	assert_string_equal(x->b.id, id);
	assert_null(x->b.owner);
	assert_int_equal(x->b.lease_until, 0);
	assert_true(x->stuck);
	assert_string_equal(x->why_stuck, "locked without a lease and no loader reclaimed it");
	assert_int_equal(s.problems.n, 1);
	assert_string_equal(s.problems.v[0],
	                    "batch 01a20000-0000-7000-8000-00000000000a (prefix b/o): stuck locked: locked without a lease and "
	                    "no loader reclaimed it");
	zl_snapshot_release(&s);
}

static void test_errors_and_recent(void **state)
{
	zl_state *st = *state;
	char old_err[ZL_UUID_LEN], new_err[ZL_UUID_LEN], ok[ZL_UUID_LEN], want[512];
	put_config(st, "b/e", "\"batchSize\": 1");
	finished_batch(st, "b/e", "e/old.csv", NOW - 25 * HOUR, ZL_BATCH_ERROR, NULL, "no configuration for prefix \"b/e\"",
	               NULL, 0, old_err);
	finished_batch(st, "b/e", "e/ok.csv", NOW - 3 * HOUR, ZL_BATCH_COMPLETE,
	               "{\"attempt\": 1, \"targets\": [{\"name\": \"wh\", \"rows\": 40}, {\"name\": \"wh2\", \"rows\": 2}],"
	               " \"ms\": 123}",
	               NULL, NULL, 0, ok);
	finished_batch(st, "b/e", "e/new.csv", NOW - HOUR, ZL_BATCH_ERROR,
	               "{\"attempt\": 1, \"targets\": [{\"name\": \"wh\", \"status\": \"error\", \"rows\": 0}], \"ms\": 5}",
	               "target wh: no such table: t", NULL, 0, new_err);

	zl_snapshot s = take(st, NOW);
	assert_int_equal(s.n, 1);
	zl_snap_prefix *p = &s.v[0];
	assert_int_equal(p->nopen, 0);
	assert_int_equal(p->nlocked, 0);
	assert_int_equal(p->nerrors, 1); /* the one of 25 h ago is out of the window */
	zl_snap_batch *e = &p->errors[0];
	assert_string_equal(e->b.id, new_err);
	assert_int_equal(e->b.status, ZL_BATCH_ERROR);
	assert_int_equal(e->b.finished_at, NOW - HOUR);
	assert_string_equal(e->b.error, "target wh: no such table: t");
	assert_int_equal(e->rows, 0);
	assert_int_equal(e->load_ms, 5);
	assert_false(e->stuck);

	assert_int_equal(p->nrecent, 3); /* newest first */
	assert_string_equal(p->recent[0].b.id, new_err);
	assert_string_equal(p->recent[1].b.id, ok);
	assert_int_equal(p->recent[1].b.status, ZL_BATCH_COMPLETE);
	assert_int_equal(p->recent[1].rows, 42);
	assert_int_equal(p->recent[1].load_ms, 123);
	assert_int_equal(p->recent[1].b.finished_at, NOW - 3 * HOUR);
	assert_string_equal(p->recent[2].b.id, old_err);
	assert_int_equal(p->recent[2].rows, -1); /* no result */
	assert_int_equal(p->recent[2].load_ms, -1);

	assert_int_equal(s.problems.n, 1);
	snprintf(want, sizeof want, "batch %s (prefix b/e): error: target wh: no such table: t", new_err);
	assert_string_equal(s.problems.v[0], want);
	assert_false(zl_snapshot_healthy(&s));
	zl_snapshot_release(&s);

	/* an error batch of a prefix without a configuration names its prefix too */
	char orphan[ZL_UUID_LEN];
	finished_batch(st, "b/gone", "gone/a.csv", NOW - 10 * SEC, ZL_BATCH_ERROR, NULL,
	               "no configuration for prefix \"b/gone\"", NULL, 0, orphan);
	s = take(st, NOW);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.v[1].prefix, "b/gone");
	assert_false(s.v[1].configured);
	assert_int_equal(s.v[1].nerrors, 1);
	assert_int_equal(s.v[1].nrecent, 1);
	assert_int_equal(s.problems.n, 2);
	snprintf(want, sizeof want, "batch %s (prefix b/gone): error: no configuration for prefix \"b/gone\"", orphan);
	assert_string_equal(s.problems.v[1], want);
	zl_snapshot_release(&s);
}

static void test_recent_limit(void **state)
{
	zl_state *st = *state;
	char ids[7][ZL_UUID_LEN];
	put_config(st, "b/r", "\"batchSize\": 1");
	for (int i = 0; i < 7; i++) {
		char key[32], result[256];
		snprintf(key, sizeof key, "r/%d.csv", i);
		snprintf(result, sizeof result, "{\"attempt\": 1, \"targets\": [{\"name\": \"wh\", \"rows\": %d}], \"ms\": %d}",
		         10 * i, 100 + i);
		finished_batch(st, "b/r", key, NOW - (7 - i) * 60 * SEC, ZL_BATCH_COMPLETE, result, NULL, NULL, 0, ids[i]);
	}
	zl_snapshot s = take(st, NOW);
	zl_snap_prefix *p = &s.v[0];
	assert_int_equal(p->nrecent, ZL_SNAP_RECENT);
	for (int k = 0; k < ZL_SNAP_RECENT; k++) {
		int i = 6 - k;
		assert_string_equal(p->recent[k].b.id, ids[i]);
		assert_int_equal(p->recent[k].rows, 10 * i);
		assert_int_equal(p->recent[k].load_ms, 100 + i);
		assert_int_equal(p->recent[k].b.finished_at, NOW - (7 - i) * 60 * SEC);
	}
	assert_int_equal(p->nerrors, 0);
	assert_true(zl_snapshot_healthy(&s));
	zl_snapshot_release(&s);
}

static void test_notices(void **state)
{
	zl_state *st = *state;
	zl_err err = { 0 };
	char id[ZL_UUID_LEN], fid[ZL_UUID_LEN], oldid[ZL_UUID_LEN], want[512];
	put_config(st, "b/n", "\"batchSize\": 1");
	/* 12 batches, each queueing one notice, due when the batch finished (newest last) */
	for (int i = 0; i < 12; i++) {
		char key[32];
		zl_notice no = { .dest = "https://hooks.example/ok?token=s3cret", .event = "success", .subject = "loaded",
		                 .body = "{}", .max_attempts = 3 };
		snprintf(key, sizeof key, "n/%02d.csv", i);
		finished_batch(st, "b/n", key, NOW - (20 - i) * 60 * SEC, ZL_BATCH_COMPLETE, "{\"targets\": [], \"ms\": 1}",
		               NULL, &no, 1, id);
	}
	/* a failure notice that failed an hour ago, one that failed two days ago */
	zl_notice fail = { .dest = "mailto:ops@example.com", .event = "failure", .subject = "failed", .body = "{}",
	                   .max_attempts = 1 };
	finished_batch(st, "b/n", "n/f.csv", NOW - HOUR, ZL_BATCH_ERROR, NULL, "target wh: boom", &fail, 1, fid);
	finished_batch(st, "b/n", "n/old.csv", NOW - 48 * HOUR, ZL_BATCH_ERROR, NULL, "target wh: old", &fail, 1, oldid);
	zl_notice_rec rec;
	int claimed = 0;
	for (int k = 0; k < 2; k++) {
		const char *batch = k ? oldid : fid;
		int64_t at = k ? NOW - 48 * HOUR : NOW - HOUR;
		assert_int_equal(st->ops->notice_claim(st, "sender", at + SEC, at + 60 * SEC, batch, &rec, &claimed, &err), 0);
		assert_int_equal(claimed, 1);
		assert_int_equal(st->ops->notice_settle(st, rec.id, "sender", ZL_NOTICE_FAILED, at + 2 * SEC, 0,
		                                        "smtp: connection refused", &err), 0);
		zl_notice_rec_release(&rec);
	}

	zl_snapshot s = take(st, NOW);
	assert_int_equal(s.notices_pending, 12);
	assert_int_equal(s.npending, ZL_SNAP_NOTICES);
	for (int i = 0; i < ZL_SNAP_NOTICES; i++) { /* oldest due first */
		assert_int_equal(s.pending[i].next_at, NOW - (20 - i) * 60 * SEC);
		assert_int_equal(s.pending[i].status, ZL_NOTICE_PENDING);
		assert_string_equal(s.pending[i].prefix, "b/n");
		assert_string_equal(s.pending[i].event, "success");
	}
	assert_int_equal(s.notices_failed, 1);
	assert_int_equal(s.nfailed, 1);
	assert_string_equal(s.failed[0].batch_id, fid);
	assert_string_equal(s.failed[0].last_error, "smtp: connection refused");
	/* the error batch of an hour ago and its failed notice; not the one of two days ago */
	assert_int_equal(s.v[0].nerrors, 1);
	assert_int_equal(s.problems.n, 2);
	snprintf(want, sizeof want, "batch %s (prefix b/n): error: target wh: boom", fid);
	assert_string_equal(s.problems.v[0], want);
	snprintf(want, sizeof want,
	         "batch %s (prefix b/n): failure notification %lld to mailto:ops@example.com failed after 1 attempts: "
	         "smtp: connection refused",
	         fid, (long long)s.failed[0].id);
	assert_string_equal(s.problems.v[1], want);
	zl_snapshot_release(&s);
}

/* A failed notification's destination shows as listings show it (no query, no user information). */
static void test_notice_destination_hidden(void **state)
{
	zl_state *st = *state;
	zl_err err = { 0 };
	char id[ZL_UUID_LEN];
	put_config(st, "b/h", "\"batchSize\": 1");
	zl_notice no = { .dest = "https://user:pw@hooks.example/ok?token=s3cret", .event = "success", .subject = "s",
	                 .body = "{}", .max_attempts = 1 };
	finished_batch(st, "b/h", "h/a.csv", NOW - 60 * SEC, ZL_BATCH_COMPLETE, "{\"targets\": [], \"ms\": 1}", NULL, &no, 1,
	               id);
	zl_notice_rec rec;
	int claimed = 0;
	assert_int_equal(st->ops->notice_claim(st, "sender", NOW - 50 * SEC, NOW, NULL, &rec, &claimed, &err), 0);
	assert_int_equal(st->ops->notice_settle(st, rec.id, "sender", ZL_NOTICE_FAILED, NOW - 49 * SEC, 0, "HTTP 500",
	                                        &err), 0);
	zl_notice_rec_release(&rec);
	zl_snapshot s = take(st, NOW);
	assert_int_equal(s.problems.n, 1);
	assert_null(strstr(s.problems.v[0], "s3cret"));
	assert_null(strstr(s.problems.v[0], "pw@"));
	assert_non_null(strstr(s.problems.v[0], "hooks.example/ok"));
	assert_int_equal(s.notices_pending, 0);
	zl_snapshot_release(&s);
}

#define SNAP_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		SNAP_TEST(test_empty),
		SNAP_TEST(test_open_due_later),
		SNAP_TEST(test_stuck_open),
		SNAP_TEST(test_locked),
		SNAP_TEST(test_locked_without_lease),
		SNAP_TEST(test_errors_and_recent),
		SNAP_TEST(test_recent_limit),
		SNAP_TEST(test_notices),
		SNAP_TEST(test_notice_destination_hidden),
	};
	int failed = 0;
	if (zl_state_mem_register())
		return 1;
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
		current = &backends[i];
		if (current->env && !(getenv(current->env) && *getenv(current->env))) {
			printf("snapshot on %s: skipped: %s is not set\n", current->name, current->env);
			continue;
		}
		failed += cmocka_run_group_tests_name(current->name, tests, NULL, NULL);
	}
	return failed ? 1 : 0;
}
