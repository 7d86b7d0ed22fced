/* The state conformance suite: one set of cases, run once per backend fixture (libuv's
 * TEST_*_ENTRY, git's GIT_TEST_DEFAULT_REF_FORMAT). A case that needs what a backend cannot do
 * checks a prerequisite and is skipped with the reason. ZLOAD_TEST_STATE=sqlite,mem picks fixtures.
 * Backend-specific checks (SQLite's WAL, schema version, file modes) stay in tests/unit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "state/state.h"
#include "state_mem.h"
#include "util/timeutil.h"

#define T0 ((int64_t)1700000000000)

/* One backend under test. */
typedef struct zl_state_fixture {
	const char *name;
	/* Opens a handle on the store that belongs to dir (a fresh directory per case); opening
	 * again with the same dir gives another handle on the same store. */
	int (*open)(const char *dir, zl_state **st, zl_err *err);
	/* Forgets the store of dir after a case (may be NULL). */
	void (*drop)(const char *dir);
	/* NULL when the fixture can run here, else why not (e.g. no server to test against). */
	const char *(*unavailable)(void);
	/* Prerequisite PROCESSES: NULL when several processes can share one store, else why not. */
	const char *no_processes;
	/* The fork case claims FORK_FILES / this many files per child (0 or 1: all): a store served
	 * by an emulator that answers a few hundred requests a second (moto) gets fewer. */
	int fork_divisor;
} zl_state_fixture;

static int open_url(const char *scheme, const char *dir, const char *file, zl_state **st, zl_err *err)
{
	char url[256];
	snprintf(url, sizeof url, "%s:%s%s", scheme, dir, file);
	return zl_state_open(url, st, err);
}

static int sqlite_open(const char *dir, zl_state **st, zl_err *err)
{
	return open_url("sqlite", dir, "/state.db", st, err);
}

static int mem_open(const char *dir, zl_state **st, zl_err *err)
{
	return open_url("mem", dir, "", st, err);
}

/* PostgreSQL: the server ZLOAD_TEST_PG names (a libpq URI; tests/conformance/with_pg.sh starts
 * one), one schema per case directory. */
static void pg_schema(const char *dir, char *out, size_t n)
{
	const char *base = strrchr(dir, '_'); /* the random part of mkdtemp's name */
	size_t len = (size_t)snprintf(out, n, "suite_");
	for (const unsigned char *p = (const unsigned char *)(base ? base + 1 : dir); *p && len + 2 < n; p++)
		len += (size_t)snprintf(out + len, n - len, "%02x", *p);
}

static int pg_open(const char *dir, zl_state **st, zl_err *err)
{
	const char *base = getenv("ZLOAD_TEST_PG");
	char schema[64], url[1024];
	pg_schema(dir, schema, sizeof schema);
	snprintf(url, sizeof url, "%s%cschema=%s", base, strchr(base, '?') ? '&' : '?', schema);
	return zl_state_open(url, st, err);
}

static void pg_drop(const char *dir)
{
	char schema[64], sql[192];
	pg_schema(dir, schema, sizeof schema);
	snprintf(sql, sizeof sql, "SET client_min_messages = warning; DROP SCHEMA IF EXISTS %s CASCADE", schema);
	/* the conninfo as dbname, expanded: zload's libpq stubs (src/lazy) have no PQconnectdb */
	const char *keys[] = { "dbname", NULL }, *vals[] = { getenv("ZLOAD_TEST_PG"), NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(c) == CONNECTION_OK)
		PQclear(PQexec(c, sql));
	PQfinish(c);
}

/* DynamoDB: the endpoint ZLOAD_TEST_DYNAMO names (a dynamodb:// URL without tables=;
 * tests/conformance/with_moto.sh starts moto), one set of tables per case directory. */
int zl_state_dynamodb_drop(const char *target, zl_err *err);

static void dynamo_url(const char *dir, char *out, size_t n)
{
	char tables[64];
	const char *base = getenv("ZLOAD_TEST_DYNAMO");
	pg_schema(dir, tables, sizeof tables);
	snprintf(out, n, "%s%ctables=%s", base, strchr(base, '?') ? '&' : '?', tables);
}

static int dynamo_open(const char *dir, zl_state **st, zl_err *err)
{
	char url[1024];
	dynamo_url(dir, url, sizeof url);
	int rc = zl_state_init(url, NULL, err);
	return rc ? rc : zl_state_open(url, st, err);
}

static void dynamo_drop(const char *dir)
{
	char url[1024];
	zl_err err = { 0 };
	dynamo_url(dir, url, sizeof url);
	zl_state_dynamodb_drop(url + strlen("dynamodb:"), &err);
}

static const char *dynamo_available(void)
{
	const char *url = getenv("ZLOAD_TEST_DYNAMO");
	return url && *url ? NULL : "ZLOAD_TEST_DYNAMO is not set (tests/conformance/with_moto.sh sets it)";
}

static const char *always_available(void) { return NULL; }

static const char *pg_available(void)
{
	const char *url = getenv("ZLOAD_TEST_PG");
	return url && *url ? NULL : "ZLOAD_TEST_PG is not set (tests/conformance/with_pg.sh sets it)";
}

static const zl_state_fixture fixtures[] = {
	{ "sqlite", sqlite_open, NULL, always_available, NULL, 1 },
	{ "mem", mem_open, zl_state_mem_drop, always_available,
	  "an in-memory store lives in one process", 1 },
	{ "postgresql", pg_open, pg_drop, pg_available, NULL, 1 },
	{ "dynamodb", dynamo_open, dynamo_drop, dynamo_available, NULL, 4 },
};

/* One case's world: its fixture, directory and first handle. */
typedef struct suite_ctx {
	const zl_state_fixture *fixture;
	char dir[64];
	zl_state *st;
	char dir2[64];   /* a second, separate store (other_store), "" until a case asks for one */
	zl_state *st2;
} suite_ctx;

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

/* cmocka hands each case its fixture as the initial state; the case gets a suite_ctx. */
static int setup(void **state)
{
	suite_ctx *fx = calloc(1, sizeof *fx);
	zl_err err = { 0 };

	if (!fx)
		return -1;
	fx->fixture = *state;
	*state = fx;
	strcpy(fx->dir, "/tmp/zl_state_suite_XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	if (fx->fixture->open(fx->dir, &fx->st, &err) != 0) {
		fprintf(stderr, "%s open: %s\n", fx->fixture->name, err.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	suite_ctx *fx = *state;
	if (!fx)
		return 0;
	zl_state_close(fx->st);
	zl_state_close(fx->st2);
	if (fx->fixture->drop) {
		fx->fixture->drop(fx->dir);
		if (fx->dir2[0])
			fx->fixture->drop(fx->dir2);
	}
	remove_dir(fx->dir);
	if (fx->dir2[0])
		remove_dir(fx->dir2);
	free(fx);
	return 0;
}

/* Another handle on the case's store. */
static zl_state *open_again(const suite_ctx *fx)
{
	zl_state *st = NULL;
	zl_err err = { 0 };
	if (fx->fixture->open(fx->dir, &st, &err) != 0)
		fprintf(stderr, "%s open again: %s\n", fx->fixture->name, err.msg);
	return st;
}

/* A second store of the case's fixture, separate from the first (its own fresh directory), for
 * copying from one store into another; opened on first use, closed and removed by teardown. */
static zl_state *other_store(suite_ctx *fx)
{
	zl_err err = { 0 };
	if (fx->st2)
		return fx->st2;
	strcpy(fx->dir2, "/tmp/zl_state_suite_XXXXXX");
	if (!mkdtemp(fx->dir2)) {
		fx->dir2[0] = '\0';
		fail_msg("mkdtemp for a second store failed");
	}
	if (fx->fixture->open(fx->dir2, &fx->st2, &err) != 0)
		fail_msg("%s open of a second store: %s", fx->fixture->name, err.msg);
	return fx->st2;
}

/* Claims bucket "b", key KEY (file id "b/KEY") into prefix, with opts (may be NULL). */
static int claim_opts(zl_state *st, const char *prefix, const char *key, int64_t size, int64_t now,
                      const zl_claim_opts *opts, zl_append_result *res)
{
	char id[256];
	zl_object o = { .bucket = (char *)"b", .key = (char *)key, .size = size, .etag = NULL };
	zl_err err = { 0 };

	snprintf(id, sizeof id, "b/%s", key);
	int rc = st->ops->claim_append(st, id, prefix, &o, now, opts, res, &err);
	if (rc)
		fprintf(stderr, "claim %s: %s\n", id, err.msg);
	return rc;
}

static int claim(zl_state *st, const char *prefix, const char *key, int64_t size, int64_t now,
                 zl_append_result *res)
{
	return claim_opts(st, prefix, key, size, now, NULL, res);
}

static zl_batch get_batch(zl_state *st, const char *id)
{
	zl_batch b;
	zl_err err = { 0 };
	int rc = st->ops->batch_get(st, id, &b, &err);
	if (rc)
		fprintf(stderr, "batch_get %s: %s\n", id, err.msg);
	assert_int_equal(rc, 0);
	return b;
}

/* How many batches match f. */
static size_t count_batches(zl_state *st, const zl_batch_filter *f)
{
	zl_batch *v = NULL;
	size_t n = 0;
	zl_err err = { 0 };
	assert_int_equal(st->ops->batch_list(st, f, &v, &n, &err), 0);
	zl_batch_list_free(v, n);
	return n;
}

/* Sums file_count and bytes over every batch. */
static void batch_totals(zl_state *st, int64_t *files, int64_t *bytes)
{
	zl_batch *v = NULL;
	size_t n = 0;
	zl_err err = { 0 };
	*files = *bytes = 0;
	assert_int_equal(st->ops->batch_list(st, NULL, &v, &n, &err), 0);
	for (size_t i = 0; i < n; i++) {
		*files += v[i].file_count;
		*bytes += v[i].bytes;
	}
	zl_batch_list_free(v, n);
}

/* Asserts that file_id is claimed, in a batch that still exists. */
static void expect_file_in_batch(zl_state *st, const char *file_id)
{
	zl_file_rec fr;
	zl_err err = { 0 };
	assert_int_equal(st->ops->file_get(st, file_id, &fr, &err), 0);
	assert_true(fr.batch_status[0] != '\0');
	zl_file_rec_release(&fr);
}

static void test_claim_append_creates_and_appends(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r1, r2, r3;
	zl_batch *list = NULL;
	size_t n = 0;
	zl_err err = { 0 };

	assert_int_equal(claim(st, "b/in", "a.csv", 100, T0, &r1), 0);
	assert_int_equal(r1.duplicate, 0);
	assert_int_equal(strlen(r1.batch_id), 36);
	assert_int_equal(r1.file_count, 1);
	assert_int_equal(r1.bytes, 100);
	assert_int_equal(r1.first_at, T0);

	assert_int_equal(claim(st, "b/in", "b.csv", 50, T0 + 10, &r2), 0);
	assert_string_equal(r2.batch_id, r1.batch_id);
	assert_int_equal(r2.file_count, 2);
	assert_int_equal(r2.bytes, 150);
	assert_int_equal(r2.first_at, T0);

	assert_int_equal(claim(st, "b/in", "c.csv", -1, T0 + 20, &r3), 0); /* unknown size counts 0 */
	assert_string_equal(r3.batch_id, r1.batch_id);
	assert_int_equal(r3.file_count, 3);
	assert_int_equal(r3.bytes, 150);
	assert_int_equal(r3.first_at, T0);

	zl_batch b = get_batch(st, r1.batch_id);
	assert_string_equal(b.prefix, "b/in");
	assert_int_equal(b.status, ZL_BATCH_OPEN);
	assert_int_equal(b.created_at, T0);
	assert_int_equal(b.first_at, T0);
	assert_int_equal(b.updated_at, T0 + 20);
	assert_int_equal(b.file_count, 3);
	assert_int_equal(b.bytes, 150);
	assert_int_equal(b.attempts, 0);
	assert_null(b.owner);
	assert_null(b.result);
	assert_null(b.error);
	assert_int_equal(b.nfiles, 3);
	assert_string_equal(b.files[0].file_id, "b/a.csv");
	assert_string_equal(b.files[1].file_id, "b/b.csv");
	assert_string_equal(b.files[2].file_id, "b/c.csv");
	assert_int_equal(b.files[2].size, 0);
	assert_string_equal(b.files[1].batch_status, "open");
	zl_batch_release(&b);

	/* one batch in all; another prefix gets its own */
	zl_append_result r4;
	assert_int_equal(claim(st, "b/other", "x.csv", 1, T0 + 30, &r4), 0);
	assert_string_not_equal(r4.batch_id, r1.batch_id);
	assert_int_equal(r4.file_count, 1);
	zl_batch_filter f = { .prefix = "b/in" };
	assert_int_equal(st->ops->batch_list(st, &f, &list, &n, &err), 0);
	assert_int_equal(n, 1);
	zl_batch_list_free(list, n);
}

static void test_claim_duplicate(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r1, r2, dup;

	assert_int_equal(claim(st, "b/in", "a.csv", 100, T0, &r1), 0);
	assert_int_equal(claim(st, "b/in", "b.csv", 20, T0 + 1, &r2), 0);
	assert_int_equal(claim(st, "b/in", "a.csv", 999, T0 + 2, &dup), 0);
	assert_int_equal(dup.duplicate, 1);
	assert_string_equal(dup.batch_id, r1.batch_id);
	assert_int_equal(dup.file_count, 2);
	assert_int_equal(dup.bytes, 120);
	assert_int_equal(dup.first_at, T0);

	zl_batch b = get_batch(st, r1.batch_id);
	assert_int_equal(b.file_count, 2);
	assert_int_equal(b.bytes, 120);
	assert_int_equal(b.updated_at, T0 + 1);
	assert_int_equal(b.nfiles, 2);
	zl_batch_release(&b);

	zl_file_rec fr;
	zl_err err = { 0 };
	assert_int_equal(st->ops->file_get(st, "b/a.csv", &fr, &err), 0);
	assert_int_equal(fr.size, 100);
	assert_int_equal(fr.received_at, T0);
	zl_file_rec_release(&fr);
}

static void test_lock_open_rotates_batch(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r1, r2, r3;
	zl_err err = { 0 };

	assert_int_equal(claim(st, "b/in", "a.csv", 1, T0, &r1), 0);
	assert_int_equal(st->ops->batch_lock(st, r1.batch_id, ZL_LOCK_OPEN, "o1", T0 + 5, T0 + 60000, &err), 0);
	assert_int_equal(claim(st, "b/in", "b.csv", 2, T0 + 10, &r2), 0);
	assert_string_not_equal(r2.batch_id, r1.batch_id);
	assert_int_equal(r2.file_count, 1);
	assert_int_equal(r2.bytes, 2);
	assert_int_equal(r2.first_at, T0 + 10);
	assert_int_equal(claim(st, "b/in", "c.csv", 3, T0 + 20, &r3), 0);
	assert_string_equal(r3.batch_id, r2.batch_id);

	zl_batch b = get_batch(st, r1.batch_id);
	assert_int_equal(b.status, ZL_BATCH_LOCKED);
	assert_string_equal(b.owner, "o1");
	assert_int_equal(b.locked_at, T0 + 5);
	assert_int_equal(b.updated_at, T0 + 5);
	assert_int_equal(b.lease_until, T0 + 60000);
	assert_int_equal(b.attempts, 1);
	assert_int_equal(b.file_count, 1);
	assert_int_equal(b.nfiles, 1);
	assert_string_equal(b.files[0].batch_status, "locked");
	zl_batch_release(&b);

	/* an open batch is not taken by a mask without ZL_LOCK_OPEN */
	assert_int_equal(st->ops->batch_lock(st, r2.batch_id, ZL_LOCK_EXPIRED | ZL_LOCK_FINISHED, "o2",
	                                     T0 + 30, T0 + 60000, &err), ZL_EBUSY);
	char want[128];
	snprintf(want, sizeof want, "batch %s is open, not lockable", r2.batch_id);
	assert_string_equal(err.msg, want);
}

static void test_lock_live_lease_busy(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r;
	zl_err err = { 0 };
	char want[128];

	assert_int_equal(claim(st, "b/in", "a.csv", 1, T0, &r), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o1", T0, T0 + 1000, &err), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN | ZL_LOCK_EXPIRED, "o2", T0 + 1,
	                                     T0 + 2000, &err), ZL_EBUSY);
	snprintf(want, sizeof want, "batch %s is locked by o1 until 2023-11-14T22:13:21.000Z",
	         r.batch_id);
	assert_string_equal(err.msg, want);

	zl_batch b = get_batch(st, r.batch_id);
	assert_string_equal(b.owner, "o1");
	assert_int_equal(b.attempts, 1);
	assert_int_equal(b.lease_until, T0 + 1000);
	zl_batch_release(&b);

	assert_int_equal(st->ops->batch_lock(st, "no-such-batch", ZL_LOCK_OPEN, "o1", T0, T0 + 1, &err),
	                 ZL_ENOTFOUND);
	assert_string_equal(err.msg, "no batch \"no-such-batch\"");
}

static void test_lease_expiry(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r;
	zl_err err = { 0 };
	const int64_t now = T0 + 100;

	assert_int_equal(claim(st, "b/in", "a.csv", 1, T0, &r), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o1", now, now + 1000, &err), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_EXPIRED, "o2", now + 500, now + 5000, &err),
	                 ZL_EBUSY);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_EXPIRED, "o2", now + 1000, now + 5000, &err),
	                 0);

	zl_batch b = get_batch(st, r.batch_id);
	assert_int_equal(b.status, ZL_BATCH_LOCKED);
	assert_int_equal(b.attempts, 2);
	assert_string_equal(b.owner, "o2");
	assert_int_equal(b.locked_at, now + 1000);
	assert_int_equal(b.lease_until, now + 5000);
	zl_batch_release(&b);
}

static void test_renew_finish_by_old_owner_lost(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r;
	zl_err err = { 0 };

	assert_int_equal(claim(st, "b/in", "a.csv", 1, T0, &r), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o1", T0, T0 + 1000, &err), 0);
	assert_int_equal(st->ops->batch_renew(st, r.batch_id, "o1", T0 + 3000, &err), 0);
	zl_batch b = get_batch(st, r.batch_id);
	assert_int_equal(b.lease_until, T0 + 3000);
	zl_batch_release(&b);

	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_EXPIRED, "o2", T0 + 3000, T0 + 9000, &err), 0);
	assert_int_equal(st->ops->batch_renew(st, r.batch_id, "o1", T0 + 9999, &err), ZL_ELOST);
	assert_non_null(strstr(err.msg, "locked by o2"));
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o1", ZL_BATCH_COMPLETE, T0 + 4000, 0, "{}", NULL, NULL, 0,
	                                       &err), ZL_ELOST);
	assert_int_equal(st->ops->batch_renew(st, "nope", "o1", T0, &err), ZL_ELOST);

	b = get_batch(st, r.batch_id);
	assert_int_equal(b.status, ZL_BATCH_LOCKED);
	assert_string_equal(b.owner, "o2");
	assert_int_equal(b.lease_until, T0 + 9000);
	assert_null(b.result);
	zl_batch_release(&b);

	/* the new holder can */
	assert_int_equal(st->ops->batch_renew(st, r.batch_id, "o2", T0 + 12000, &err), 0);
}

static void test_finish_complete(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r;
	zl_err err = { 0 };

	assert_int_equal(claim(st, "b/in", "a.csv", 1, T0, &r), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o1", T0 + 1, T0 + 1000, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o1", ZL_BATCH_COMPLETE, T0 + 500, 0,
	                                       "{\"pg\":{\"rows\":1}}", NULL, NULL, 0, &err), 0);
	zl_batch b = get_batch(st, r.batch_id);
	assert_int_equal(b.status, ZL_BATCH_COMPLETE);
	assert_int_equal(b.finished_at, T0 + 500);
	assert_int_equal(b.updated_at, T0 + 500);
	assert_int_equal(b.lease_until, 0);
	assert_null(b.owner);
	assert_string_equal(b.result, "{\"pg\":{\"rows\":1}}");
	assert_null(b.error);
	assert_string_equal(b.files[0].batch_status, "complete");
	zl_batch_release(&b);

	/* finishing twice is a lost lease; an open status is not a finish */
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o1", ZL_BATCH_ERROR, T0 + 600, 0, NULL, "x", NULL, 0, &err),
	                 ZL_ELOST);
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o1", ZL_BATCH_OPEN, T0 + 600, 0, NULL, NULL, NULL, 0, &err),
	                 ZL_EINVAL);
	/* a complete batch is not taken by ZL_LOCK_OPEN|ZL_LOCK_EXPIRED */
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN | ZL_LOCK_EXPIRED, "o2", T0 + 700,
	                                     T0 + 800, &err), ZL_EBUSY);
	char want[128];
	snprintf(want, sizeof want, "batch %s is complete, not lockable", r.batch_id);
	assert_string_equal(err.msg, want);
}

static void test_finish_retry_then_relock(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r;
	zl_err err = { 0 };

	assert_int_equal(claim(st, "b/in", "a.csv", 1, T0, &r), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o1", T0, T0 + 60000, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o1", ZL_BATCH_LOCKED, T0 + 100, T0 + 5000,
	                                       "{}", "connection refused", NULL, 0, &err), 0);
	zl_batch b = get_batch(st, r.batch_id);
	assert_int_equal(b.status, ZL_BATCH_LOCKED);
	assert_null(b.owner);
	assert_int_equal(b.lease_until, T0 + 5000);
	assert_int_equal(b.finished_at, 0);
	assert_int_equal(b.updated_at, T0 + 100);
	assert_string_equal(b.error, "connection refused");
	assert_string_equal(b.result, "{}");
	zl_batch_release(&b);

	assert_int_equal(st->ops->batch_renew(st, r.batch_id, "o1", T0 + 9000, &err), ZL_ELOST);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_EXPIRED, "o2", T0 + 4999, T0 + 9000, &err),
	                 ZL_EBUSY);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_EXPIRED, "o2", T0 + 5000, T0 + 9000, &err), 0);
	b = get_batch(st, r.batch_id);
	assert_int_equal(b.attempts, 2);
	assert_string_equal(b.owner, "o2");
	assert_string_equal(b.error, "connection refused"); /* kept until the next finish */
	zl_batch_release(&b);

	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o2", ZL_BATCH_COMPLETE, T0 + 6000, 0, "{\"ok\":1}",
	                                       NULL, NULL, 0, &err), 0);
	b = get_batch(st, r.batch_id);
	assert_int_equal(b.status, ZL_BATCH_COMPLETE);
	assert_null(b.error);
	assert_string_equal(b.result, "{\"ok\":1}");
	zl_batch_release(&b);
}

static void test_reprocess_resets_attempts(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r;
	zl_err err = { 0 };

	assert_int_equal(claim(st, "b/in", "a.csv", 1, T0, &r), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o1", T0, T0 + 10, &err), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_EXPIRED, "o2", T0 + 10, T0 + 20, &err), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_EXPIRED, "o3", T0 + 20, T0 + 30, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o3", ZL_BATCH_ERROR, T0 + 25, 0, "{}", "bad row", NULL, 0,
	                                       &err), 0);
	zl_batch b = get_batch(st, r.batch_id);
	assert_int_equal(b.attempts, 3);
	assert_int_equal(b.status, ZL_BATCH_ERROR);
	assert_int_equal(b.finished_at, T0 + 25);
	zl_batch_release(&b);

	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN | ZL_LOCK_EXPIRED, "o4", T0 + 40,
	                                     T0 + 50, &err), ZL_EBUSY);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_FINISHED, "o4", T0 + 40, T0 + 50, &err), 0);
	b = get_batch(st, r.batch_id);
	assert_int_equal(b.status, ZL_BATCH_LOCKED);
	assert_int_equal(b.attempts, 1);
	assert_int_equal(b.finished_at, 0);
	assert_string_equal(b.owner, "o4");
	assert_int_equal(b.locked_at, T0 + 40);
	zl_batch_release(&b);
}

static void test_unlock(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r;
	zl_err err = { 0 };
	char want[128];

	assert_int_equal(claim(st, "b/in", "a.csv", 1, T0, &r), 0);
	assert_int_equal(st->ops->batch_unlock(st, r.batch_id, T0 + 1, NULL, 0, &err), ZL_EBUSY);
	snprintf(want, sizeof want, "batch %s is open, not locked", r.batch_id);
	assert_string_equal(err.msg, want);

	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o1", T0 + 2, T0 + 1000, &err), 0);
	/* a live lease refuses, naming its holder; another owner cannot unlock it either */
	assert_int_equal(st->ops->batch_unlock(st, r.batch_id, T0 + 3, NULL, 0, &err), ZL_EBUSY);
	snprintf(want, sizeof want, "batch %s is locked by o1 until 2023-11-14T22:13:21.000Z",
	         r.batch_id);
	assert_string_equal(err.msg, want);
	assert_int_equal(st->ops->batch_unlock(st, r.batch_id, T0 + 3, "o2", 0, &err), ZL_EBUSY);
	/* force, or the holder itself */
	assert_int_equal(st->ops->batch_unlock(st, r.batch_id, T0 + 3, "o1", 0, &err), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o3", T0 + 4, T0 + 1000, &err), 0);
	assert_int_equal(st->ops->batch_unlock(st, r.batch_id, T0 + 5, NULL, 1, &err), 0);
	zl_batch b = get_batch(st, r.batch_id);
	assert_int_equal(b.status, ZL_BATCH_OPEN);
	assert_null(b.owner);
	assert_int_equal(b.lease_until, 0);
	assert_int_equal(b.updated_at, T0 + 5);
	assert_int_equal(b.locked_at, T0 + 4);
	zl_batch_release(&b);

	/* once locked, never appended to: a new file goes to a new batch */
	zl_append_result r2;
	assert_int_equal(claim(st, "b/in", "b.csv", 1, T0 + 6, &r2), 0);
	assert_string_not_equal(r2.batch_id, r.batch_id);
	assert_int_equal(r2.file_count, 1);
	b = get_batch(st, r.batch_id);
	assert_int_equal(b.file_count, 1);
	zl_batch_release(&b);

	/* an expired lease unlocks without force */
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o4", T0 + 7, T0 + 8, &err), 0);
	assert_int_equal(st->ops->batch_unlock(st, r.batch_id, T0 + 8, NULL, 0, &err), 0);

	assert_int_equal(st->ops->batch_unlock(st, "nope", T0, NULL, 0, &err), ZL_ENOTFOUND);
	assert_string_equal(err.msg, "no batch \"nope\"");
}

static void test_batch_get_files_in_order(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r;
	zl_err err = { 0 };
	char key[32];
	zl_batch b;

	/* keys whose text order differs from arrival order */
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof key, "k%02d.csv", (i * 7) % 40);
		assert_int_equal(claim(st, "b/in", key, i, T0 + i, &r), 0);
	}
	b = get_batch(st, r.batch_id);
	assert_int_equal(b.nfiles, 40);
	assert_int_equal(b.file_count, 40);
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof key, "b/k%02d.csv", (i * 7) % 40);
		assert_string_equal(b.files[i].file_id, key);
		assert_string_equal(b.files[i].bucket, "b");
		assert_string_equal(b.files[i].prefix, "b/in");
		assert_int_equal(b.files[i].size, i);
		assert_int_equal(b.files[i].received_at, T0 + i);
		assert_string_equal(b.files[i].batch_id, r.batch_id);
	}
	zl_batch_release(&b);

	assert_int_equal(st->ops->batch_get(st, "missing", &b, &err), ZL_ENOTFOUND);
	assert_string_equal(err.msg, "no batch \"missing\"");
}

/* Creates a batch in prefix at time t (one file) and, when status is not open, moves it there. */
static void make_batch(zl_state *st, const char *prefix, int64_t t, zl_batch_status status, char id[ZL_UUID_LEN])
{
	zl_append_result r;
	zl_err err = { 0 };
	char key[64];

	snprintf(key, sizeof key, "%s-%lld.csv", prefix, (long long)t);
	assert_int_equal(claim(st, prefix, key, 10, t, &r), 0);
	assert_int_equal(r.file_count, 1);
	strcpy(id, r.batch_id);
	if (status == ZL_BATCH_OPEN)
		return;
	assert_int_equal(st->ops->batch_lock(st, id, ZL_LOCK_OPEN, "o", t, t + 100000, &err), 0);
	if (status != ZL_BATCH_LOCKED)
		assert_int_equal(st->ops->batch_finish(st, id, "o", status, t + 1, 0, "{}", NULL, NULL, 0, &err), 0);
}

static void expect_list(zl_state *st, const zl_batch_filter *f, size_t n, const char *const *ids)
{
	zl_batch *v = NULL;
	size_t nv = 99;
	zl_err err = { 0 };

	assert_int_equal(st->ops->batch_list(st, f, &v, &nv, &err), 0);
	assert_int_equal(nv, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(v[i].id, ids[i]);
		assert_null(v[i].files);
		assert_int_equal(v[i].nfiles, 0);
	}
	zl_batch_list_free(v, nv);
}

static void test_batch_list_filters(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	char a1[ZL_UUID_LEN], a2[ZL_UUID_LEN], a3[ZL_UUID_LEN], c1[ZL_UUID_LEN], c2[ZL_UUID_LEN];

	make_batch(st, "b/a", T0 + 1000, ZL_BATCH_LOCKED, a1);
	make_batch(st, "b/a", T0 + 2000, ZL_BATCH_COMPLETE, a2);
	make_batch(st, "b/a", T0 + 3000, ZL_BATCH_OPEN, a3);
	make_batch(st, "b/c", T0 + 2500, ZL_BATCH_ERROR, c1);
	make_batch(st, "b/c", T0 + 4000, ZL_BATCH_OPEN, c2);

	expect_list(st, NULL, 5, (const char *const[]){ c2, a3, c1, a2, a1 });
	expect_list(st, &(zl_batch_filter){ 0 }, 5, (const char *const[]){ c2, a3, c1, a2, a1 });
	expect_list(st, &(zl_batch_filter){ .status_mask = ZL_STATUS_BIT(ZL_BATCH_OPEN) }, 2,
	            (const char *const[]){ c2, a3 });
	expect_list(st,
	            &(zl_batch_filter){ .status_mask = ZL_STATUS_BIT(ZL_BATCH_COMPLETE) |
	                                               ZL_STATUS_BIT(ZL_BATCH_ERROR) },
	            2, (const char *const[]){ c1, a2 });
	expect_list(st, &(zl_batch_filter){ .status_mask = ZL_STATUS_ALL }, 5,
	            (const char *const[]){ c2, a3, c1, a2, a1 });
	expect_list(st, &(zl_batch_filter){ .prefix = "b/a" }, 3, (const char *const[]){ a3, a2, a1 });
	expect_list(st, &(zl_batch_filter){ .prefix = "b/" }, 0, NULL);
	expect_list(st, &(zl_batch_filter){ .prefix = "b/c", .status_mask = ZL_STATUS_BIT(ZL_BATCH_OPEN) }, 1,
	            (const char *const[]){ c2 });
	expect_list(st, &(zl_batch_filter){ .since = T0 + 2000 }, 4, (const char *const[]){ c2, a3, c1, a2 });
	expect_list(st, &(zl_batch_filter){ .until = T0 + 2500 }, 3, (const char *const[]){ c1, a2, a1 });
	expect_list(st, &(zl_batch_filter){ .since = T0 + 2000, .until = T0 + 3000 }, 3,
	            (const char *const[]){ a3, c1, a2 });
	expect_list(st, &(zl_batch_filter){ .limit = 2 }, 2, (const char *const[]){ c2, a3 });
	expect_list(st, &(zl_batch_filter){ .prefix = "b/a", .since = T0 + 1500, .limit = 1 }, 1,
	            (const char *const[]){ a3 });

	zl_batch *v = NULL;
	size_t n = 0;
	zl_err err = { 0 };
	assert_int_equal(st->ops->batch_list(st, &(zl_batch_filter){ .prefix = "b/a" }, &v, &n, &err), 0);
	assert_int_equal(v[2].status, ZL_BATCH_LOCKED);
	assert_string_equal(v[2].owner, "o");
	assert_int_equal(v[2].created_at, T0 + 1000);
	assert_int_equal(v[2].file_count, 1);
	assert_int_equal(v[2].bytes, 10);
	assert_int_equal(v[1].status, ZL_BATCH_COMPLETE);
	assert_string_equal(v[1].result, "{}");
	zl_batch_list_free(v, n);
}

static void test_batch_delete(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	char open_id[ZL_UUID_LEN], locked_id[ZL_UUID_LEN], done_id[ZL_UUID_LEN], err_id[ZL_UUID_LEN];
	zl_err err = { 0 };
	char want[128];
	zl_batch b;

	make_batch(st, "b/a", T0 + 1, ZL_BATCH_LOCKED, locked_id);
	make_batch(st, "b/a", T0 + 2, ZL_BATCH_COMPLETE, done_id);
	make_batch(st, "b/a", T0 + 3, ZL_BATCH_ERROR, err_id);
	make_batch(st, "b/a", T0 + 4, ZL_BATCH_OPEN, open_id);

	assert_int_equal(st->ops->batch_delete(st, open_id, &err), ZL_EBUSY);
	snprintf(want, sizeof want, "batch %s is open, not finished", open_id);
	assert_string_equal(err.msg, want);
	assert_int_equal(st->ops->batch_delete(st, locked_id, &err), ZL_EBUSY);
	assert_int_equal(st->ops->batch_delete(st, "nope", &err), ZL_ENOTFOUND);

	assert_int_equal(st->ops->batch_delete(st, done_id, &err), 0);
	assert_int_equal(st->ops->batch_delete(st, err_id, &err), 0);
	assert_int_equal(st->ops->batch_get(st, done_id, &b, &err), ZL_ENOTFOUND);
	assert_int_equal(st->ops->batch_delete(st, done_id, &err), ZL_ENOTFOUND);
	expect_list(st, NULL, 2, (const char *const[]){ open_id, locked_id });

	/* the file records stay: a new event for them is still a duplicate */
	const char *const kept[] = { "b/b/a-1700000000001.csv", "b/b/a-1700000000002.csv", "b/b/a-1700000000003.csv",
	                             "b/b/a-1700000000004.csv" };
	for (int i = 0; i < 4; i++) {
		zl_file_rec fr;
		assert_int_equal(st->ops->file_get(st, kept[i], &fr, &err), 0);
		assert_string_equal(fr.batch_status, i == 1 || i == 2 ? "" : i == 0 ? "locked" : "open");
		zl_file_rec_release(&fr);
	}
	zl_append_result r;
	assert_int_equal(claim(st, "b/a", "b/a-1700000000002.csv", 10, T0 + 10, &r), 0);
	assert_int_equal(r.duplicate, 1);
	assert_string_equal(r.batch_id, done_id);
	assert_int_equal(r.file_count, 0);
}

static void test_file_get_and_delete(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r, r2;
	zl_file_rec f;
	zl_err err = { 0 };
	zl_object o = { .bucket = (char *)"bk", .key = (char *)"dir/x.csv", .size = 77, .etag = (char *)"e1" };

	assert_int_equal(st->ops->claim_append(st, "bk/dir/x.csv@e1", "bk/dir", &o, T0, NULL, &r, &err), 0);
	assert_int_equal(st->ops->file_get(st, "bk/dir/x.csv@e1", &f, &err), 0);
	assert_string_equal(f.file_id, "bk/dir/x.csv@e1");
	assert_string_equal(f.bucket, "bk");
	assert_string_equal(f.key, "dir/x.csv");
	assert_string_equal(f.etag, "e1");
	assert_string_equal(f.prefix, "bk/dir");
	assert_int_equal(f.size, 77);
	assert_int_equal(f.received_at, T0);
	assert_string_equal(f.batch_id, r.batch_id);
	assert_string_equal(f.batch_status, "open");
	zl_file_rec_release(&f);

	assert_int_equal(st->ops->file_get(st, "bk/nope", &f, &err), ZL_ENOTFOUND);
	assert_string_equal(err.msg, "no file record \"bk/nope\"");

	/* the batch is deleted: the record stays, with no batch status */
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o", T0, T0 + 10, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o", ZL_BATCH_COMPLETE, T0 + 1, 0, "{}", NULL, NULL, 0, &err),
	                 0);
	assert_int_equal(st->ops->file_get(st, "bk/dir/x.csv@e1", &f, &err), 0);
	assert_string_equal(f.batch_status, "complete");
	zl_file_rec_release(&f);
	assert_int_equal(st->ops->batch_delete(st, r.batch_id, &err), 0);
	assert_int_equal(st->ops->file_get(st, "bk/dir/x.csv@e1", &f, &err), 0);
	assert_string_equal(f.batch_status, "");
	assert_string_equal(f.batch_id, r.batch_id);
	zl_file_rec_release(&f);

	/* deleting the record lets the object be claimed again, into a new batch */
	assert_int_equal(st->ops->file_delete(st, "bk/dir/x.csv@e1", &err), 0);
	assert_int_equal(st->ops->file_get(st, "bk/dir/x.csv@e1", &f, &err), ZL_ENOTFOUND);
	assert_int_equal(st->ops->file_delete(st, "bk/dir/x.csv@e1", &err), ZL_ENOTFOUND);
	assert_string_equal(err.msg, "no file record \"bk/dir/x.csv@e1\"");
	assert_int_equal(st->ops->claim_append(st, "bk/dir/x.csv@e1", "bk/dir", &o, T0 + 5, NULL, &r2, &err), 0);
	assert_int_equal(r2.duplicate, 0);
	assert_string_not_equal(r2.batch_id, r.batch_id);

	/* a file forgotten from an open batch leaves it: counts and files go down together */
	zl_append_result r3;
	assert_int_equal(claim(st, "bk/dir", "y.csv", 5, T0 + 6, &r3), 0);
	assert_int_equal(st->ops->file_delete(st, "b/y.csv", &err), 0);
	zl_batch b = get_batch(st, r3.batch_id);
	assert_int_equal(b.file_count, 1);
	assert_int_equal(b.bytes, 77);
	assert_int_equal(b.nfiles, 1);
	zl_batch_release(&b);
	/* claimed again, it is in that batch once */
	assert_int_equal(claim(st, "bk/dir", "y.csv", 5, T0 + 7, &r3), 0);
	b = get_batch(st, r3.batch_id);
	assert_int_equal(b.file_count, 2);
	assert_int_equal(b.nfiles, 2);
	zl_batch_release(&b);

	/* a file forgotten from a finished batch stays in that batch's history (and a reprocess) */
	assert_int_equal(st->ops->batch_lock(st, r3.batch_id, ZL_LOCK_OPEN, "o", T0 + 8, T0 + 100, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, r3.batch_id, "o", ZL_BATCH_COMPLETE, T0 + 9, 0, "{}", NULL, NULL, 0, &err), 0);
	assert_int_equal(st->ops->file_delete(st, "b/y.csv", &err), 0);
	assert_int_equal(st->ops->file_get(st, "b/y.csv", &f, &err), ZL_ENOTFOUND);
	b = get_batch(st, r3.batch_id);
	assert_int_equal(b.file_count, 2);
	assert_int_equal(b.nfiles, 2);
	zl_batch_release(&b);
	zl_append_result r4;
	assert_int_equal(claim(st, "bk/dir", "y.csv", 5, T0 + 10, &r4), 0);
	assert_int_equal(r4.duplicate, 0);
	assert_string_not_equal(r4.batch_id, r3.batch_id);
}

static void test_config_crud(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_err err = { 0 };
	zl_strvec p, j;
	char *json = NULL;

	assert_int_equal(st->ops->config_get(st, "b/x", &json, &err), ZL_ENOTFOUND);
	assert_string_equal(err.msg, "no configuration for prefix \"b/x\"");
	assert_null(json);

	assert_int_equal(st->ops->config_put(st, "b/x", "{\"s3Prefix\":\"b/x\"}", &err), 0);
	assert_int_equal(st->ops->config_put(st, "a/y", "{\"s3Prefix\":\"a/y\"}", &err), 0);
	assert_int_equal(st->ops->config_put(st, "b/x", "{\"s3Prefix\":\"b/x\",\"batchSize\":5}", &err), 0);
	assert_int_equal(st->ops->config_get(st, "b/x", &json, &err), 0);
	assert_string_equal(json, "{\"s3Prefix\":\"b/x\",\"batchSize\":5}");
	free(json);

	zl_strvec_init(&p);
	zl_strvec_init(&j);
	assert_int_equal(zl_strvec_push(&p, "already"), 0);
	assert_int_equal(zl_strvec_push(&j, "there"), 0);
	assert_int_equal(st->ops->config_list(st, &p, &j, &err), 0);
	assert_int_equal(p.n, 3);
	assert_int_equal(j.n, 3);
	assert_string_equal(p.v[1], "a/y");
	assert_string_equal(j.v[1], "{\"s3Prefix\":\"a/y\"}");
	assert_string_equal(p.v[2], "b/x");
	assert_string_equal(j.v[2], "{\"s3Prefix\":\"b/x\",\"batchSize\":5}");
	zl_strvec_release(&p);
	zl_strvec_release(&j);

	assert_int_equal(st->ops->config_delete(st, "b/x", &err), 0);
	assert_int_equal(st->ops->config_get(st, "b/x", &json, &err), ZL_ENOTFOUND);
	assert_int_equal(st->ops->config_delete(st, "b/x", &err), ZL_ENOTFOUND);
	assert_string_equal(err.msg, "no configuration for prefix \"b/x\"");
	assert_int_equal(st->ops->config_list(st, &p, &j, &err), 0);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.v[0], "a/y");
	zl_strvec_release(&p);
	zl_strvec_release(&j);
}

/* Checks that every batch of prefix counts exactly its file rows; returns the total file_count. */
static int64_t check_counts(zl_state *st, const char *prefix)
{
	zl_batch *v = NULL;
	size_t n = 0;
	int64_t total = 0;
	zl_err err = { 0 };
	zl_batch_filter f = { .prefix = prefix };

	assert_int_equal(st->ops->batch_list(st, &f, &v, &n, &err), 0);
	for (size_t i = 0; i < n; i++) {
		zl_batch b = get_batch(st, v[i].id);
		assert_int_equal(b.file_count, (int64_t)b.nfiles);
		assert_int_equal(b.file_count, v[i].file_count);
		total += b.file_count;
		zl_batch_release(&b);
	}
	zl_batch_list_free(v, n);
	return total;
}

static void test_two_handles_interleaved(void **state)
{
	suite_ctx *fx = *state;
	zl_state *a = fx->st, *b = open_again(fx);
	zl_append_result r;
	zl_err err = { 0 };
	char key[32];
	int dups = 0;

	assert_non_null(b);
	for (int i = 0; i < 200; i++) {
		zl_state *st = i % 2 ? b : a;
		snprintf(key, sizeof key, "f%03d.csv", i);
		assert_int_equal(claim(st, "b/in", key, 1, T0 + i, &r), 0);
		/* every 5th file also re-sent through the other handle */
		if (i % 5 == 0) {
			zl_append_result d;
			assert_int_equal(claim(st == a ? b : a, "b/in", key, 1, T0 + i, &d), 0);
			assert_int_equal(d.duplicate, 1);
			assert_string_equal(d.batch_id, r.batch_id);
			dups++;
		}
		if (i % 37 == 36)
			assert_int_equal(st->ops->batch_lock(st == a ? b : a, r.batch_id, ZL_LOCK_OPEN, "o", T0 + i,
			                                     T0 + i + 1000, &err), 0);
	}
	assert_int_equal(dups, 40);
	assert_int_equal(check_counts(a, "b/in"), 200);
	assert_int_equal(check_counts(b, "b/in"), 200);
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof key, "b/f%03d.csv", i);
		expect_file_in_batch(a, key);
	}
	assert_int_equal(count_batches(b, NULL), 6);
	zl_state_close(b);
}

enum { FORK_CHILDREN = 2, FORK_FILES = 500 };

static int fork_files(const suite_ctx *fx)
{
	return fx->fixture->fork_divisor > 1 ? FORK_FILES / fx->fixture->fork_divisor : FORK_FILES;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)ms * 1000000L };
	nanosleep(&ts, NULL);
}

/* A child: waits for the parent, then claims its files on its own connection, pausing now and
 * then as real events do; exits 0 only if every claim was a new append. */
static void fork_child(const suite_ctx *fx, int child, int start_fd)
{
	zl_state *st = NULL;
	zl_err err = { 0 };
	int bad = 0;
	char key[64], c;

	if (fx->fixture->open(fx->dir, &st, &err) != 0)
		_exit(10);
	if (read(start_fd, &c, 1) != 0)
		_exit(11);
	for (int i = 0; i < fork_files(fx) && bad < 5; i++) {
		zl_append_result r;
		snprintf(key, sizeof key, "c%d/f%04d.csv", child, i);
		if (claim(st, "b/in", key, 3, T0 + i, &r) != 0 || r.duplicate || r.file_count < 1)
			bad++;
		if (i % 5 == 4)
			sleep_ms(1);
	}
	zl_state_close(st);
	_exit(bad ? 1 : 0);
}

typedef struct locked_count {
	char id[ZL_UUID_LEN];
	int64_t count;
} locked_count;

static void test_fork_concurrency(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st;
	zl_err err = { 0 };
	pid_t pids[FORK_CHILDREN];
	int running = FORK_CHILDREN, status, nlocked = 0;
	locked_count locked[512];
	int64_t t = T0;
	int start[2];

	if (fx->fixture->no_processes) {
		print_message("%s: skipped, needs several processes on one store: %s\n", fx->fixture->name,
		              fx->fixture->no_processes);
		skip();
	}
	/* the fixture's connection must not cross fork() */
	zl_state_close(fx->st);
	fx->st = NULL;
	assert_int_equal(pipe(start), 0);
	for (int c = 0; c < FORK_CHILDREN; c++) {
		pids[c] = fork();
		assert_true(pids[c] >= 0);
		if (pids[c] == 0) {
			close(start[1]);
			fork_child(fx, c, start[0]);
		}
	}
	close(start[0]);
	st = fx->st = open_again(fx);
	assert_non_null(st);
	close(start[1]);

	while (running > 0) {
		zl_batch *v = NULL;
		size_t n = 0;
		zl_batch_filter f = { .status_mask = ZL_STATUS_BIT(ZL_BATCH_OPEN), .prefix = "b/in" };

		assert_int_equal(st->ops->batch_list(st, &f, &v, &n, &err), 0);
		for (size_t i = 0; i < n && nlocked < 512; i++) {
			t++;
			assert_int_equal(st->ops->batch_lock(st, v[i].id, ZL_LOCK_OPEN, "parent", t, t + 60000, &err), 0);
			/* from now on the batch must never grow */
			zl_batch b = get_batch(st, v[i].id);
			strcpy(locked[nlocked].id, b.id);
			locked[nlocked++].count = b.file_count;
			zl_batch_release(&b);
		}
		zl_batch_list_free(v, n);
		sleep_ms(2);
		for (int c = 0; c < FORK_CHILDREN; c++)
			if (pids[c] > 0 && waitpid(pids[c], &status, WNOHANG) == pids[c]) {
				assert_true(WIFEXITED(status));
				assert_int_equal(WEXITSTATUS(status), 0);
				pids[c] = 0;
				running--;
			}
	}

	assert_true(nlocked > 3);
	for (int i = 0; i < nlocked; i++) {
		zl_batch b = get_batch(st, locked[i].id);
		assert_int_equal(b.status, ZL_BATCH_LOCKED);
		assert_int_equal(b.file_count, locked[i].count);
		zl_batch_release(&b);
	}
	for (int c = 0; c < FORK_CHILDREN; c++)
		for (int i = 0; i < fork_files(fx); i++) {
			char id[64];
			zl_file_rec fr;
			snprintf(id, sizeof id, "b/c%d/f%04d.csv", c, i);
			assert_int_equal(st->ops->file_get(st, id, &fr, &err), 0);
			assert_true(fr.batch_status[0] != '\0');
			zl_file_rec_release(&fr);
		}
	assert_int_equal(check_counts(st, "b/in"), FORK_CHILDREN * fork_files(fx));
	int64_t files, bytes;
	batch_totals(st, &files, &bytes);
	assert_int_equal(files, FORK_CHILDREN * fork_files(fx));
	assert_int_equal(bytes, 3 * FORK_CHILDREN * fork_files(fx));
}

enum { RACE_CHILDREN = 4, RACE_FILES = 150, RACE_CAP = 7 };

/* A racer: claims every one of the same RACE_FILES files (in its own order), locking batches
 * its claims fill, then tries to lock every open batch; reports on out one line per new claim
 * ("C key batch") and per lock it won ("L batch"). Exits 0 if every call succeeded. */
static void race_child(const suite_ctx *fx, int child, int start_fd, FILE *out)
{
	zl_state *st = NULL;
	zl_err err = { 0 };
	char key[64], owner[32], c;
	int bad = 0;

	snprintf(owner, sizeof owner, "racer-%d", child);
	const zl_claim_opts opts = { .max_files = RACE_CAP, .lock_owner = owner, .lease_until = T0 + 3600000 };
	if (fx->fixture->open(fx->dir, &st, &err) != 0)
		_exit(10);
	if (read(start_fd, &c, 1) != 0)
		_exit(11);
	for (int n = 0; n < RACE_FILES; n++) {
		int i = (n * (2 * child + 1) + 17 * child) % RACE_FILES; /* a different order per child */
		zl_append_result r;
		snprintf(key, sizeof key, "r/f%04d.csv", i);
		if (claim_opts(st, "b/race", key, 10, T0 + n, &opts, &r) != 0) {
			bad++;
			continue;
		}
		if (!r.duplicate)
			fprintf(out, "C %s %s\n", key, r.batch_id);
		if (r.locked)
			fprintf(out, "L %s\n", r.batch_id);
	}
	zl_batch *v = NULL;
	size_t nb = 0;
	zl_batch_filter f = { .status_mask = ZL_STATUS_BIT(ZL_BATCH_OPEN), .prefix = "b/race" };
	if (st->ops->batch_list(st, &f, &v, &nb, &err) != 0)
		bad++;
	for (size_t i = 0; i < nb; i++) {
		int rc = st->ops->batch_lock(st, v[i].id, ZL_LOCK_OPEN, owner, T0 + 5000, T0 + 3600000, &err);
		if (rc == 0)
			fprintf(out, "L %s\n", v[i].id);
		else if (rc != ZL_EBUSY)
			bad++;
	}
	zl_batch_list_free(v, nb);
	fclose(out);
	zl_state_close(st);
	_exit(bad ? 1 : 0);
}

/* Several processes claim the same files and lock the same batches at once: each file is
 * claimed once, each batch locked once, no batch grows past its cap or after its lock. */
static void test_fork_duplicates_and_locks(void **state)
{
	suite_ctx *fx = *state;
	pid_t pids[RACE_CHILDREN];
	int start[2], status;
	char path[RACE_CHILDREN][128];

	if (fx->fixture->no_processes) {
		print_message("%s: skipped, needs several processes on one store: %s\n", fx->fixture->name,
		              fx->fixture->no_processes);
		skip();
	}
	zl_state_close(fx->st);
	fx->st = NULL;
	assert_int_equal(pipe(start), 0);
	for (int c = 0; c < RACE_CHILDREN; c++) {
		snprintf(path[c], sizeof path[c], "%s/race%d.out", fx->dir, c);
		FILE *out = fopen(path[c], "w");
		assert_non_null(out);
		pids[c] = fork();
		assert_true(pids[c] >= 0);
		if (pids[c] == 0) {
			close(start[1]);
			race_child(fx, c, start[0], out);
		}
		fclose(out);
	}
	close(start[0]);
	close(start[1]);
	for (int c = 0; c < RACE_CHILDREN; c++) {
		assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}

	zl_state *st = fx->st = open_again(fx);
	assert_non_null(st);
	int claimed[RACE_FILES] = { 0 }, nclaims = 0, nlocks = 0;
	char locks[RACE_FILES + RACE_CHILDREN][ZL_UUID_LEN];
	for (int c = 0; c < RACE_CHILDREN; c++) {
		FILE *in = fopen(path[c], "r");
		char line[256], key[64], id[ZL_UUID_LEN];
		int i;
		assert_non_null(in);
		while (fgets(line, sizeof line, in)) {
			if (sscanf(line, "C r/f%d.csv %36s", &i, id) == 2) {
				assert_true(i >= 0 && i < RACE_FILES);
				claimed[i]++;
				nclaims++;
				snprintf(key, sizeof key, "b/r/f%04d.csv", i);
				zl_file_rec fr;
				zl_err err = { 0 };
				assert_int_equal(st->ops->file_get(st, key, &fr, &err), 0);
				assert_string_equal(fr.batch_id, id); /* the batch its claimer was told */
				zl_file_rec_release(&fr);
			} else if (sscanf(line, "L %36s", id) == 1) {
				for (int k = 0; k < nlocks; k++)
					assert_string_not_equal(locks[k], id); /* no batch locked twice */
				assert_true(nlocks < RACE_FILES + RACE_CHILDREN);
				strcpy(locks[nlocks++], id);
			}
		}
		fclose(in);
	}
	assert_int_equal(nclaims, RACE_FILES);
	for (int i = 0; i < RACE_FILES; i++)
		assert_int_equal(claimed[i], 1);
	zl_batch *v = NULL;
	size_t n = 0;
	zl_err err = { 0 };
	zl_batch_filter f = { .prefix = "b/race" };
	assert_int_equal(st->ops->batch_list(st, &f, &v, &n, &err), 0);
	int64_t files = 0;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i].status, ZL_BATCH_LOCKED); /* every batch was locked by someone */
		assert_true(v[i].file_count >= 1 && v[i].file_count <= RACE_CAP);
		zl_batch b = get_batch(st, v[i].id);
		assert_int_equal((int64_t)b.nfiles, v[i].file_count);
		zl_batch_release(&b);
		files += v[i].file_count;
	}
	assert_int_equal((int)n, nlocks);
	assert_int_equal(files, RACE_FILES);
	zl_batch_list_free(v, n);
}

static void test_claim_caps_files_and_bytes(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r1, r2, r3, r4, r5, r6;
	const zl_claim_opts two_files = { .max_files = 2 };
	const zl_claim_opts hundred_bytes = { .max_bytes = 100 };

	/* a batch holding max_files files takes no more */
	assert_int_equal(claim_opts(st, "b/in", "a.csv", 1, T0, &two_files, &r1), 0);
	assert_int_equal(claim_opts(st, "b/in", "b.csv", 1, T0 + 1, &two_files, &r2), 0);
	assert_string_equal(r2.batch_id, r1.batch_id);
	assert_int_equal(r2.file_count, 2);
	assert_int_equal(r2.locked, 0); /* no lock_owner: full, but left open for a sweeper */
	assert_int_equal(claim_opts(st, "b/in", "c.csv", 1, T0 + 2, &two_files, &r3), 0);
	assert_string_not_equal(r3.batch_id, r1.batch_id);
	assert_int_equal(r3.file_count, 1);
	assert_int_equal(r3.first_at, T0 + 2);
	zl_batch b = get_batch(st, r1.batch_id);
	assert_int_equal(b.status, ZL_BATCH_OPEN);
	assert_int_equal(b.file_count, 2);
	zl_batch_release(&b);
	/* without a cap the newest open batch takes it, however many it holds */
	assert_int_equal(claim(st, "b/in", "d.csv", 1, T0 + 3, &r4), 0);
	assert_string_equal(r4.batch_id, r3.batch_id);
	/* forgetting a file makes room in a full batch; of two with room, the newest takes the next */
	zl_err err = { 0 };
	assert_int_equal(st->ops->file_delete(st, "b/a.csv", &err), 0);
	assert_int_equal(st->ops->file_delete(st, "b/d.csv", &err), 0);
	assert_int_equal(claim_opts(st, "b/in", "h.csv", 1, T0 + 4, &two_files, &r4), 0);
	assert_string_equal(r4.batch_id, r3.batch_id);
	assert_int_equal(claim_opts(st, "b/in", "i.csv", 1, T0 + 5, &two_files, &r4), 0);
	assert_string_equal(r4.batch_id, r1.batch_id);
	assert_int_equal(r4.file_count, 2);

	/* a batch holding max_bytes takes no more; a file that crosses the cap still goes in */
	assert_int_equal(claim_opts(st, "b/by", "e.csv", 60, T0 + 10, &hundred_bytes, &r4), 0);
	assert_int_equal(claim_opts(st, "b/by", "f.csv", 60, T0 + 11, &hundred_bytes, &r5), 0);
	assert_string_equal(r5.batch_id, r4.batch_id);
	assert_int_equal(r5.bytes, 120);
	assert_int_equal(claim_opts(st, "b/by", "g.csv", 1, T0 + 12, &hundred_bytes, &r6), 0);
	assert_string_not_equal(r6.batch_id, r4.batch_id);
	assert_int_equal(r6.bytes, 1);
	assert_int_equal(r6.file_count, 1);
}

static void test_claim_locks_when_full(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r1, r2, r3, dup;
	const zl_claim_opts opts = { .max_files = 2, .lock_owner = "loader-1", .lease_until = T0 + 60000 };

	assert_int_equal(claim_opts(st, "b/in", "a.csv", 5, T0, &opts, &r1), 0);
	assert_int_equal(r1.locked, 0);
	zl_batch b = get_batch(st, r1.batch_id);
	assert_int_equal(b.status, ZL_BATCH_OPEN);
	assert_null(b.owner);
	zl_batch_release(&b);

	assert_int_equal(claim_opts(st, "b/in", "b.csv", 7, T0 + 5, &opts, &r2), 0);
	assert_int_equal(r2.locked, 1);
	assert_string_equal(r2.batch_id, r1.batch_id);
	assert_int_equal(r2.file_count, 2);
	assert_int_equal(r2.bytes, 12);
	b = get_batch(st, r1.batch_id);
	assert_int_equal(b.status, ZL_BATCH_LOCKED);
	assert_string_equal(b.owner, "loader-1");
	assert_int_equal(b.locked_at, T0 + 5);
	assert_int_equal(b.lease_until, T0 + 60000);
	assert_int_equal(b.updated_at, T0 + 5);
	assert_int_equal(b.attempts, 1);
	assert_int_equal(b.nfiles, 2);
	zl_batch_release(&b);

	/* a duplicate changes nothing and locks nothing */
	assert_int_equal(claim_opts(st, "b/in", "b.csv", 7, T0 + 6, &opts, &dup), 0);
	assert_int_equal(dup.duplicate, 1);
	assert_int_equal(dup.locked, 0);
	assert_string_equal(dup.batch_id, r1.batch_id);
	assert_int_equal(dup.file_count, 2);
	/* the next file starts a new batch */
	assert_int_equal(claim_opts(st, "b/in", "c.csv", 1, T0 + 7, &opts, &r3), 0);
	assert_string_not_equal(r3.batch_id, r1.batch_id);
	assert_int_equal(r3.locked, 0);

	/* locks by bytes too */
	const zl_claim_opts by_bytes = { .max_bytes = 10, .lock_owner = "loader-2", .lease_until = T0 + 100 };
	assert_int_equal(claim_opts(st, "b/by", "big.csv", 10, T0 + 8, &by_bytes, &r1), 0);
	assert_int_equal(r1.locked, 1);
	b = get_batch(st, r1.batch_id);
	assert_string_equal(b.owner, "loader-2");
	zl_batch_release(&b);
}

/* Group commit, for backends that have it: claims in a group see each other, none is visible to
 * another handle or durable before group_end(1); group_end(0) loses them all; a refused claim
 * does not spoil the others; a claim that fills its batch locks it in the group. */
static void test_group_commit(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r1, r2, r3, rl;
	zl_file_rec f;
	zl_err err = { 0 };
	if (!st->ops->group_begin) {
		print_message("%s: skipped, no group commit\n", fx->fixture->name);
		return;
	}
	assert_int_equal(st->ops->group_end(st, 1, &err), ZL_EINVAL); /* none open */
	/* rolled back: nothing stays */
	assert_int_equal(st->ops->group_begin(st, &err), 0);
	assert_int_equal(st->ops->group_begin(st, &err), ZL_EINVAL);
	assert_int_equal(claim(st, "b/in", "a.csv", 10, T0, &r1), 0);
	assert_int_equal(claim(st, "b/in", "a.csv", 10, T0, &r2), 0);
	assert_int_equal(r2.duplicate, 1); /* the group sees its own claims */
	assert_string_equal(r2.batch_id, r1.batch_id);
	assert_int_equal(st->ops->group_end(st, 0, &err), 0);
	assert_int_equal(st->ops->file_get(st, "b/a.csv", &f, &err), ZL_ENOTFOUND);
	assert_int_equal(count_batches(st, NULL), 0);

	/* committed: another handle sees nothing until then */
	zl_state *other = open_again(fx);
	assert_non_null(other);
	assert_int_equal(st->ops->group_begin(st, &err), 0);
	assert_int_equal(claim(st, "b/in", "a.csv", 10, T0, &r1), 0);
	zl_object bad = { .bucket = NULL, .key = (char *)"x.csv", .size = 1 };
	zl_claim_opts none = { 0 };
	assert_int_equal(st->ops->claim_append(st, "b/x.csv", "b/in", &bad, T0, &none, &r3, &err), ZL_EINVAL);
	assert_int_equal(claim(st, "b/in", "b.csv", 5, T0 + 1, &r2), 0);
	assert_string_equal(r2.batch_id, r1.batch_id);
	assert_int_equal(r2.file_count, 2);
	zl_claim_opts lock = { .max_files = 1, .lock_owner = "owner-1", .lease_until = T0 + 60000 };
	assert_int_equal(claim_opts(st, "b/full", "c.csv", 1, T0 + 2, &lock, &rl), 0);
	assert_int_equal(rl.locked, 1);
	assert_int_equal(other->ops->file_get(other, "b/a.csv", &f, &err), ZL_ENOTFOUND);
	assert_int_equal(st->ops->group_end(st, 1, &err), 0);
	assert_int_equal(other->ops->file_get(other, "b/a.csv", &f, &err), 0);
	assert_string_equal(f.batch_id, r1.batch_id);
	zl_file_rec_release(&f);
	assert_int_equal(other->ops->file_get(other, "b/x.csv", &f, &err), ZL_ENOTFOUND);
	zl_batch b = get_batch(other, r1.batch_id);
	assert_int_equal(b.file_count, 2);
	assert_int_equal(b.bytes, 15);
	zl_batch_release(&b);
	b = get_batch(other, rl.batch_id);
	assert_int_equal(b.status, ZL_BATCH_LOCKED);
	assert_string_equal(b.owner, "owner-1");
	zl_batch_release(&b);
	zl_state_close(other);
	/* and the handle works as before after a group */
	assert_int_equal(claim(st, "b/in", "d.csv", 1, T0 + 3, &r3), 0);
	assert_int_equal(r3.file_count, 3);
	/* a duplicate in a group leaves no new batch behind, even when no batch is open */
	int nb = (int)count_batches(st, NULL);
	assert_int_equal(st->ops->batch_lock(st, r1.batch_id, ZL_LOCK_OPEN, "owner-2", T0 + 4, T0 + 60000, &err), 0);
	assert_int_equal(st->ops->group_begin(st, &err), 0);
	assert_int_equal(claim(st, "b/in", "a.csv", 10, T0 + 5, &r2), 0);
	assert_int_equal(r2.duplicate, 1);
	assert_string_equal(r2.batch_id, r1.batch_id);
	assert_int_equal(r2.file_count, 3);
	assert_int_equal(st->ops->group_end(st, 1, &err), 0);
	assert_int_equal((int)count_batches(st, NULL), nb);
}

static void test_claim_invalid(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r;
	zl_err err = { 0 };
	zl_object no_key = { .bucket = (char *)"b", .key = NULL, .size = 1 };

	assert_int_equal(st->ops->claim_append(st, "b/x", "b/in", &no_key, T0, NULL, &r, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "claim needs a file id, prefix, bucket and key");
	assert_int_equal(st->ops->claim_append(st, NULL, "b/in", &no_key, T0, NULL, &r, &err), ZL_EINVAL);
	assert_int_equal(count_batches(st, NULL), 0);
}

static void test_lock_by_mask(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r;
	zl_err err = { 0 };
	char want[160];

	assert_int_equal(claim(st, "b/in", "a.csv", 1, T0, &r), 0);
	/* nothing but ZL_LOCK_OPEN takes an open batch */
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_FINISHED, "o1", T0, T0 + 100, &err), ZL_EBUSY);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, 0, "o1", T0, T0 + 100, &err), ZL_EBUSY);
	snprintf(want, sizeof want, "batch %s is open, not lockable", r.batch_id);
	assert_string_equal(err.msg, want);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, NULL, T0, T0 + 100, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "locking a batch needs a batch id and an owner");
	assert_int_equal(st->ops->batch_lock(st, NULL, ZL_LOCK_OPEN, "o1", T0, T0 + 100, &err), ZL_EINVAL);

	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o1", T0, T0 + 100, &err), 0);
	/* a locked batch is not taken by OPEN or FINISHED, even when its lease has expired */
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN | ZL_LOCK_FINISHED, "o2", T0 + 500,
	                                     T0 + 600, &err), ZL_EBUSY);
	/* a retry scheduled by finish (no owner) is due at retry_at, for EXPIRED only */
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o1", ZL_BATCH_LOCKED, T0 + 10, T0 + 2000, NULL,
	                                       "busy", NULL, 0, &err), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_EXPIRED, "o2", T0 + 1999, T0 + 9000, &err),
	                 ZL_EBUSY);
	snprintf(want, sizeof want, "batch %s is locked, not lockable", r.batch_id);
	assert_string_equal(err.msg, want);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN | ZL_LOCK_FINISHED, "o2", T0 + 2000,
	                                     T0 + 9000, &err), ZL_EBUSY);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_EXPIRED, "o2", T0 + 2000, T0 + 9000, &err), 0);
	zl_batch b = get_batch(st, r.batch_id);
	assert_string_equal(b.owner, "o2");
	assert_int_equal(b.attempts, 2);
	assert_int_equal(b.lease_until, T0 + 9000);
	zl_batch_release(&b);

	/* all bits: whatever state the batch is in, as long as no live lease holds it */
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o2", ZL_BATCH_ERROR, T0 + 3000, 0, NULL, "bad", NULL, 0,
	                                       &err), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN | ZL_LOCK_EXPIRED | ZL_LOCK_FINISHED, "o3",
	                                     T0 + 4000, T0 + 5000, &err), 0);
	b = get_batch(st, r.batch_id);
	assert_string_equal(b.owner, "o3");
	assert_int_equal(b.attempts, 1);
	assert_string_equal(b.error, "bad");
	zl_batch_release(&b);
}

static void test_finish_invalid(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r;
	zl_err err = { 0 };

	assert_int_equal(claim(st, "b/in", "a.csv", 1, T0, &r), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o1", T0, T0 + 100, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, NULL, ZL_BATCH_COMPLETE, T0, 0, NULL, NULL, NULL, 0, &err),
	                 ZL_EINVAL);
	assert_string_equal(err.msg, "finishing a batch needs a batch id and an owner");
	char want[160];
	snprintf(want, sizeof want, "batch %s cannot finish as open", r.batch_id);
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o1", ZL_BATCH_OPEN, T0, 0, NULL, NULL, NULL, 0, &err),
	                 ZL_EINVAL);
	assert_string_equal(err.msg, want);
	assert_int_equal(st->ops->batch_renew(st, r.batch_id, NULL, T0, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "renewing a lease needs a batch id and an owner");
	/* the lost-lease messages name the owner, the batch and what it is now */
	assert_int_equal(st->ops->batch_renew(st, r.batch_id, "o9", T0 + 50, &err), ZL_ELOST);
	snprintf(want, sizeof want, "o9 lost the lease on batch %s: it is locked by o1", r.batch_id);
	assert_string_equal(err.msg, want);
	assert_int_equal(st->ops->batch_finish(st, "gone", "o9", ZL_BATCH_COMPLETE, T0, 0, NULL, NULL, NULL, 0, &err),
	                 ZL_ELOST);
	assert_string_equal(err.msg, "o9 lost the lease on batch gone: the batch was deleted");
	zl_batch b = get_batch(st, r.batch_id);
	assert_int_equal(b.status, ZL_BATCH_LOCKED);
	assert_int_equal(b.lease_until, T0 + 100);
	zl_batch_release(&b);
	/* a retry clears the owner: the old owner's renewal then fails too */
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o1", ZL_BATCH_LOCKED, T0 + 1, T0 + 10, NULL, NULL, NULL, 0,
	                                       &err), 0);
	assert_int_equal(st->ops->batch_renew(st, r.batch_id, "o1", T0 + 50, &err), ZL_ELOST);
	snprintf(want, sizeof want, "o1 lost the lease on batch %s: it is locked", r.batch_id);
	assert_string_equal(err.msg, want);
}

static void test_unlock_scheduled_retry(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r;
	zl_err err = { 0 };

	/* a retry waiting for its time has no owner: it unlocks without force */
	assert_int_equal(claim(st, "b/in", "a.csv", 1, T0, &r), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o1", T0, T0 + 100, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o1", ZL_BATCH_LOCKED, T0 + 1, T0 + 50000, NULL,
	                                       "busy", NULL, 0, &err), 0);
	assert_int_equal(st->ops->batch_unlock(st, r.batch_id, T0 + 2, "o1", 0, &err), ZL_EBUSY);
	assert_int_equal(st->ops->batch_unlock(st, r.batch_id, T0 + 2, NULL, 0, &err), 0);
	zl_batch b = get_batch(st, r.batch_id);
	assert_int_equal(b.status, ZL_BATCH_OPEN);
	assert_int_equal(b.lease_until, 0);
	assert_int_equal(b.attempts, 1);
	assert_string_equal(b.error, "busy");
	zl_batch_release(&b);
	/* unlocking an unlocked or finished batch is refused */
	char want[160];
	assert_int_equal(st->ops->batch_unlock(st, r.batch_id, T0 + 3, NULL, 1, &err), ZL_EBUSY);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o2", T0 + 4, T0 + 100, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o2", ZL_BATCH_COMPLETE, T0 + 5, 0, "{}", NULL, NULL, 0, &err),
	                 0);
	assert_int_equal(st->ops->batch_unlock(st, r.batch_id, T0 + 6, NULL, 1, &err), ZL_EBUSY);
	snprintf(want, sizeof want, "batch %s is complete, not locked", r.batch_id);
	assert_string_equal(err.msg, want);
}

static void test_resolve(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_append_result a, b, c;
	char out[ZL_UUID_LEN], want[256], upper[ZL_UUID_LEN];
	zl_err err = { 0 };

	/* a and b are created in the same millisecond: their ids share 12 hex digits */
	assert_int_equal(claim(st, "b/a", "a.csv", 1, T0, &a), 0);
	assert_int_equal(claim(st, "b/b", "b.csv", 1, T0, &b), 0);
	assert_int_equal(claim(st, "b/c", "c.csv", 1, T0 + 86400000LL * 365, &c), 0);
	assert_int_equal(strncmp(a.batch_id, b.batch_id, 13), 0);

	assert_int_equal(st->ops->batch_resolve(st, a.batch_id, out, &err), 0);
	assert_string_equal(out, a.batch_id);
	/* the shortest unambiguous prefix of c, in either case */
	snprintf(upper, sizeof upper, "%.6s", c.batch_id);
	for (char *p = upper; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 32);
	assert_int_equal(st->ops->batch_resolve(st, upper, out, &err), 0);
	assert_string_equal(out, c.batch_id);
	/* a prefix of both a and b is ambiguous and names them, lowest first */
	const char *lo = strcmp(a.batch_id, b.batch_id) < 0 ? a.batch_id : b.batch_id;
	const char *hi = lo == a.batch_id ? b.batch_id : a.batch_id;
	char shared[16];
	snprintf(shared, sizeof shared, "%.13s", a.batch_id);
	assert_int_equal(st->ops->batch_resolve(st, shared, out, &err), ZL_EINVAL);
	snprintf(want, sizeof want, "batch id \"%s\" is ambiguous: %s, %s", shared, lo, hi);
	assert_string_equal(err.msg, want);
	assert_string_equal(out, "");
	/* three candidates: "..." */
	assert_int_equal(claim(st, "b/d", "d.csv", 1, T0, &c), 0);
	assert_int_equal(st->ops->batch_resolve(st, shared, out, &err), ZL_EINVAL);
	assert_non_null(strstr(err.msg, ", ..."));

	assert_int_equal(st->ops->batch_resolve(st, "abc", out, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "batch id \"abc\" is too short: give at least 4 characters");
	assert_int_equal(st->ops->batch_resolve(st, "ffff", out, &err), ZL_ENOTFOUND);
	assert_string_equal(err.msg, "no batch \"ffff\"");
	assert_int_equal(st->ops->batch_resolve(st, "xyz1", out, &err), ZL_ENOTFOUND);
	assert_string_equal(err.msg, "no batch \"xyz1\"");
	assert_int_equal(st->ops->batch_resolve(st, "", out, &err), ZL_ENOTFOUND);
}

static void test_config_version(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st, *other = open_again(fx);
	zl_err err = { 0 };
	int64_t v0 = -1, v, seen;
	char *json = NULL;
	zl_strvec p, j;

	assert_non_null(other);
	assert_int_equal(st->ops->config_version(st, &v0, &err), 0);
	assert_int_equal(st->ops->config_put(st, "b/x", "{}", &err), 0);
	assert_int_equal(st->ops->config_version(st, &v, &err), 0);
	assert_true(v != v0);
	/* another handle sees the same version */
	assert_int_equal(other->ops->config_version(other, &seen, &err), 0);
	assert_int_equal(seen, v);

	/* reads and failed deletes change nothing */
	int64_t before = v;
	assert_int_equal(st->ops->config_get(st, "b/x", &json, &err), 0);
	free(json);
	zl_strvec_init(&p);
	zl_strvec_init(&j);
	assert_int_equal(st->ops->config_list(st, &p, &j, &err), 0);
	zl_strvec_release(&p);
	zl_strvec_release(&j);
	assert_int_equal(st->ops->config_delete(st, "b/none", &err), ZL_ENOTFOUND);
	assert_int_equal(st->ops->config_version(st, &v, &err), 0);
	assert_int_equal(v, before);

	/* a replacement, even with the same text, and a delete each change it */
	assert_int_equal(other->ops->config_put(other, "b/x", "{}", &err), 0);
	assert_int_equal(st->ops->config_version(st, &v, &err), 0);
	assert_true(v != before);
	before = v;
	assert_int_equal(other->ops->config_delete(other, "b/x", &err), 0);
	assert_int_equal(st->ops->config_version(st, &v, &err), 0);
	assert_true(v != before);
	assert_int_equal(st->ops->config_put(st, NULL, "{}", &err), ZL_EINVAL);
	assert_string_equal(err.msg, "configuration needs a prefix and JSON text");
	zl_state_close(other);
}

/* A rewrite no one asked for (sealing an older zload's plain secrets) stores only over the text
 * it read: an edit made meanwhile, by this handle or another, stays. */
static void test_config_replace(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st, *other = open_again(fx);
	zl_err err = { 0 };
	int64_t v0, v;
	char *json = NULL;

	assert_non_null(other);
	assert_int_equal(st->ops->config_put(st, "b/x", "{\"a\":1}", &err), 0);
	assert_int_equal(st->ops->config_version(st, &v0, &err), 0);
	assert_int_equal(other->ops->config_replace(other, "b/x", "{\"a\":1}", "{\"a\":2}", &err), 0);
	assert_int_equal(st->ops->config_get(st, "b/x", &json, &err), 0);
	assert_string_equal(json, "{\"a\":2}");
	free(json);
	assert_int_equal(st->ops->config_version(st, &v, &err), 0);
	assert_true(v != v0);

	/* stale: the stored text is no longer the one read */
	assert_int_equal(st->ops->config_replace(st, "b/x", "{\"a\":1}", "{\"a\":3}", &err), ZL_EBUSY);
	assert_string_equal(err.msg, "the configuration for prefix \"b/x\" changed meanwhile");
	assert_int_equal(st->ops->config_get(st, "b/x", &json, &err), 0);
	assert_string_equal(json, "{\"a\":2}");
	free(json);
	v0 = v;
	assert_int_equal(st->ops->config_version(st, &v, &err), 0);
	assert_int_equal(v, v0);
	/* deleted meanwhile: nothing comes back */
	assert_int_equal(st->ops->config_delete(st, "b/x", &err), 0);
	assert_int_equal(other->ops->config_replace(other, "b/x", "{\"a\":2}", "{\"a\":4}", &err), ZL_EBUSY);
	assert_int_equal(st->ops->config_get(st, "b/x", &json, &err), ZL_ENOTFOUND);
	zl_state_close(other);
}

/* ---- the notification outbox ---- */

static const zl_notice two_notices[] = {
	{ "https://hooks.example/ok", "success", "Lambda Vertica Batch Load X OK", "{\"status\":\"ok\"}", 3 },
	{ "mailto:ops@example.com", "success", "Lambda Vertica Batch Load X OK", "{\"status\":\"ok\"}", 10 },
};

/* A locked batch of prefix holding one file claimed at t, locked by owner "o". */
static void locked_batch(zl_state *st, const char *prefix, const char *key, int64_t t, char id[ZL_UUID_LEN])
{
	zl_append_result r;
	zl_err err = { 0 };
	assert_int_equal(claim(st, prefix, key, 10, t, &r), 0);
	strcpy(id, r.batch_id);
	assert_int_equal(st->ops->batch_lock(st, id, ZL_LOCK_OPEN, "o", t, t + 100000, &err), 0);
}

static size_t count_notices(zl_state *st, unsigned mask, const char *batch_id)
{
	zl_notice_filter f = { .status_mask = mask, .batch_id = batch_id };
	zl_notice_rec *v = NULL;
	size_t n = 0;
	zl_err err = { 0 };
	assert_int_equal(st->ops->notice_list(st, &f, &v, &n, &err), 0);
	zl_notice_list_free(v, n);
	return n;
}

/* The one notice with this id. */
static zl_notice_rec get_notice(zl_state *st, int64_t id)
{
	zl_notice_rec *v = NULL, out = { 0 };
	size_t n = 0;
	zl_err err = { 0 };
	assert_int_equal(st->ops->notice_list(st, NULL, &v, &n, &err), 0);
	for (size_t i = 0; i < n; i++)
		if (v[i].id == id) {
			out = v[i];
			memset(&v[i], 0, sizeof v[i]);
		}
	zl_notice_list_free(v, n);
	assert_true(out.id == id);
	return out;
}

static void test_finish_queues_notices(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_notice_rec *v = NULL;
	size_t n = 0;
	zl_err err = { 0 };
	char id[ZL_UUID_LEN];

	locked_batch(st, "b/in", "a.csv", T0, id);
	assert_int_equal(count_notices(st, 0, NULL), 0);
	assert_int_equal(st->ops->batch_finish(st, id, "o", ZL_BATCH_COMPLETE, T0 + 50, 0, "{}", NULL, two_notices, 2,
	                                       &err), 0);
	assert_int_equal(st->ops->notice_list(st, NULL, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_true(v[0].id > v[1].id && v[1].id > 0); /* newest first */
	for (size_t i = 0; i < 2; i++) {
		const zl_notice *want = &two_notices[1 - i];
		assert_string_equal(v[i].batch_id, id);
		assert_string_equal(v[i].prefix, "b/in");
		assert_string_equal(v[i].dest, want->dest);
		assert_string_equal(v[i].event, "success");
		assert_string_equal(v[i].subject, want->subject);
		assert_string_equal(v[i].body, want->body);
		assert_int_equal(v[i].max_attempts, want->max_attempts);
		assert_int_equal(v[i].status, ZL_NOTICE_PENDING);
		assert_int_equal(v[i].attempts, 0);
		assert_int_equal(v[i].created_at, T0 + 50);
		assert_int_equal(v[i].next_at, T0 + 50);
		assert_int_equal(v[i].sent_at, 0);
		assert_null(v[i].owner);
		assert_null(v[i].last_error);
	}
	zl_notice_list_free(v, n);
	zl_batch b = get_batch(st, id);
	assert_int_equal(b.status, ZL_BATCH_COMPLETE);
	zl_batch_release(&b);
}

static void test_finish_notices_atomic(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_err err = { 0 };
	char id[ZL_UUID_LEN], want[160];

	locked_batch(st, "b/in", "a.csv", T0, id);
	/* a finish by a loader that lost the batch queues nothing */
	assert_int_equal(st->ops->batch_finish(st, id, "stale", ZL_BATCH_COMPLETE, T0 + 1, 0, "{}", NULL, two_notices, 2,
	                                       &err), ZL_ELOST);
	assert_int_equal(count_notices(st, 0, NULL), 0);
	/* a scheduled retry takes no notices, and changes nothing when given some */
	assert_int_equal(st->ops->batch_finish(st, id, "o", ZL_BATCH_LOCKED, T0 + 2, T0 + 10, "{}", "busy", two_notices,
	                                       1, &err), ZL_EINVAL);
	snprintf(want, sizeof want, "batch %s: a scheduled retry queues no notifications", id);
	assert_string_equal(err.msg, want);
	zl_batch b = get_batch(st, id);
	assert_string_equal(b.owner, "o");
	zl_batch_release(&b);
	assert_int_equal(st->ops->batch_finish(st, id, "o", ZL_BATCH_LOCKED, T0 + 2, T0 + 10, "{}", "busy", NULL, 0, &err),
	                 0);
	assert_int_equal(count_notices(st, 0, NULL), 0);
	/* the retry fails for good: one notice; a reprocess that completes notifies again */
	assert_int_equal(st->ops->batch_lock(st, id, ZL_LOCK_EXPIRED, "o2", T0 + 10, T0 + 1000, &err), 0);
	zl_notice failure = { "exec:/bin/true", "failure", "Lambda Vertica Batch Load X Failure", "{}", 10 };
	assert_int_equal(st->ops->batch_finish(st, id, "o2", ZL_BATCH_ERROR, T0 + 20, 0, "{}", "bad", &failure, 1, &err),
	                 0);
	assert_int_equal(count_notices(st, 0, id), 1);
	assert_int_equal(st->ops->batch_lock(st, id, ZL_LOCK_FINISHED, "o3", T0 + 30, T0 + 1000, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, id, "o3", ZL_BATCH_COMPLETE, T0 + 40, 0, "{}", NULL, two_notices, 1,
	                                       &err), 0);
	assert_int_equal(count_notices(st, 0, id), 2);
	assert_int_equal(count_notices(st, ZL_STATUS_BIT(ZL_NOTICE_PENDING), id), 2);
}

static void test_notice_claim_lease(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st, *other = open_again(fx);
	zl_notice_rec a, b;
	int claimed = -1;
	zl_err err = { 0 };
	char id[ZL_UUID_LEN], want[160];

	assert_non_null(other);
	locked_batch(st, "b/in", "a.csv", T0, id);
	assert_int_equal(st->ops->batch_finish(st, id, "o", ZL_BATCH_COMPLETE, T0, 0, "{}", NULL, two_notices, 1, &err), 0);
	/* nothing is due before next_at */
	assert_int_equal(st->ops->notice_claim(st, "s1", T0 - 1, T0 + 1000, NULL, &a, &claimed, &err), 0);
	assert_int_equal(claimed, 0);
	assert_int_equal(st->ops->notice_claim(st, "s1", T0, T0 + 1000, NULL, &a, &claimed, &err), 0);
	assert_int_equal(claimed, 1);
	assert_int_equal(a.attempts, 1);
	assert_string_equal(a.owner, "s1");
	assert_int_equal(a.lease_until, T0 + 1000);
	assert_string_equal(a.dest, two_notices[0].dest);
	assert_string_equal(a.body, two_notices[0].body);
	/* another sender on the same state does not take it while the lease is live */
	assert_int_equal(other->ops->notice_claim(other, "s2", T0 + 999, T0 + 2000, NULL, &b, &claimed, &err), 0);
	assert_int_equal(claimed, 0);
	/* after it, it does; the first sender's settle is then refused */
	assert_int_equal(other->ops->notice_claim(other, "s2", T0 + 1000, T0 + 3000, NULL, &b, &claimed, &err), 0);
	assert_int_equal(claimed, 1);
	assert_int_equal(b.id, a.id);
	assert_int_equal(b.attempts, 2);
	assert_int_equal(st->ops->notice_settle(st, a.id, "s1", ZL_NOTICE_SENT, T0 + 1001, 0, NULL, &err), ZL_ELOST);
	snprintf(want, sizeof want, "s1 lost notification %lld: it is pending by s2", (long long)a.id);
	assert_string_equal(err.msg, want);
	assert_int_equal(other->ops->notice_settle(other, b.id, "s2", ZL_NOTICE_SENT, T0 + 1002, 0, NULL, &err), 0);
	zl_notice_rec got = get_notice(st, a.id);
	assert_int_equal(got.status, ZL_NOTICE_SENT);
	assert_int_equal(got.sent_at, T0 + 1002);
	assert_int_equal(got.attempts, 2);
	assert_null(got.owner);
	assert_int_equal(got.lease_until, 0);
	zl_notice_rec_release(&got);
	/* a sent notice is never claimed again, nor settled twice */
	assert_int_equal(st->ops->notice_claim(st, "s1", T0 + 99999, T0 + 199999, NULL, &got, &claimed, &err), 0);
	assert_int_equal(claimed, 0);
	assert_int_equal(other->ops->notice_settle(other, b.id, "s2", ZL_NOTICE_SENT, T0 + 1003, 0, NULL, &err), ZL_ELOST);
	zl_notice_rec_release(&a);
	zl_notice_rec_release(&b);
	zl_state_close(other);
}

static void test_notice_backoff_and_failed(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_notice_rec a, x;
	int claimed = -1;
	zl_err err = { 0 };
	char id1[ZL_UUID_LEN], id2[ZL_UUID_LEN];

	locked_batch(st, "b/in", "a.csv", T0, id1);
	locked_batch(st, "b/in", "b.csv", T0, id2);
	assert_int_equal(st->ops->batch_finish(st, id1, "o", ZL_BATCH_COMPLETE, T0, 0, "{}", NULL, two_notices, 1, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, id2, "o", ZL_BATCH_COMPLETE, T0 + 5, 0, "{}", NULL, two_notices, 1, &err),
	                 0);
	/* the batch filter */
	assert_int_equal(st->ops->notice_claim(st, "s", T0 + 10, T0 + 100, id2, &a, &claimed, &err), 0);
	assert_int_equal(claimed, 1);
	assert_string_equal(a.batch_id, id2);
	/* a failed delivery: due again at next_at, with its error; the other batch's notice is due first */
	assert_int_equal(st->ops->notice_settle(st, a.id, "s", ZL_NOTICE_PENDING, T0 + 11, T0 + 1000, "HTTP 503", &err), 0);
	zl_notice_rec got = get_notice(st, a.id);
	assert_int_equal(got.status, ZL_NOTICE_PENDING);
	assert_int_equal(got.next_at, T0 + 1000);
	assert_int_equal(got.attempts, 1);
	assert_string_equal(got.last_error, "HTTP 503");
	assert_null(got.owner);
	zl_notice_rec_release(&got);
	assert_int_equal(st->ops->notice_claim(st, "s", T0 + 999, T0 + 2000, NULL, &x, &claimed, &err), 0);
	assert_int_equal(claimed, 1);
	assert_string_equal(x.batch_id, id1);
	assert_int_equal(st->ops->notice_settle(st, x.id, "s", ZL_NOTICE_SENT, T0 + 999, 0, NULL, &err), 0);
	zl_notice_rec_release(&x);
	assert_int_equal(st->ops->notice_claim(st, "s", T0 + 999, T0 + 2000, NULL, &x, &claimed, &err), 0);
	assert_int_equal(claimed, 0);
	assert_int_equal(st->ops->notice_claim(st, "s", T0 + 1000, T0 + 2000, NULL, &x, &claimed, &err), 0);
	assert_int_equal(claimed, 1);
	assert_int_equal(x.id, a.id);
	assert_int_equal(x.attempts, 2);
	/* the last delivery fails: failed, with the last error, never claimed again */
	assert_int_equal(st->ops->notice_settle(st, x.id, "s", ZL_NOTICE_FAILED, T0 + 1001, 0, "HTTP 500", &err), 0);
	got = get_notice(st, a.id);
	assert_int_equal(got.status, ZL_NOTICE_FAILED);
	assert_string_equal(got.last_error, "HTTP 500");
	assert_int_equal(got.attempts, 2);
	zl_notice_rec_release(&got);
	zl_notice_rec_release(&x);
	assert_int_equal(st->ops->notice_claim(st, "s", T0 + 999999, T0 + 2000000, NULL, &x, &claimed, &err), 0);
	assert_int_equal(claimed, 0);
	assert_int_equal(count_notices(st, ZL_STATUS_BIT(ZL_NOTICE_FAILED), NULL), 1);
	assert_int_equal(count_notices(st, ZL_STATUS_BIT(ZL_NOTICE_SENT), NULL), 1);
	assert_int_equal(count_notices(st, ZL_STATUS_BIT(ZL_NOTICE_SENT) | ZL_STATUS_BIT(ZL_NOTICE_FAILED), id2), 1);
	zl_notice_rec_release(&a);
}

static void test_notice_requeue(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_notice_rec a, b;
	int claimed;
	size_t n = 9;
	zl_err err = { 0 };
	char id[ZL_UUID_LEN], want[200], t[40];

	locked_batch(st, "b/in", "a.csv", T0, id);
	assert_int_equal(st->ops->batch_finish(st, id, "o", ZL_BATCH_ERROR, T0, 0, "{}", "x", two_notices, 2, &err), 0);
	assert_int_equal(st->ops->notice_claim(st, "s", T0, T0 + 100, NULL, &a, &claimed, &err), 0);
	assert_int_equal(st->ops->notice_settle(st, a.id, "s", ZL_NOTICE_FAILED, T0 + 1, 0, "refused", &err), 0);
	assert_int_equal(st->ops->notice_claim(st, "s", T0 + 2, T0 + 100, NULL, &b, &claimed, &err), 0);
	assert_int_equal(claimed, 1);
	/* pending and held by a live lease: refused */
	assert_int_equal(st->ops->notice_requeue(st, b.id, T0 + 3, &n, &err), ZL_EBUSY);
	snprintf(want, sizeof want, "notification %lld is being sent by s (lease until %s)", (long long)b.id,
	         zl_time_format(T0 + 100, t, sizeof t));
	assert_string_equal(err.msg, want);
	assert_int_equal(n, 0);
	assert_int_equal(st->ops->notice_settle(st, b.id, "s", ZL_NOTICE_SENT, T0 + 4, 0, NULL, &err), 0);
	/* sent: refused; unknown: not found */
	assert_int_equal(st->ops->notice_requeue(st, b.id, T0 + 5, &n, &err), ZL_EBUSY);
	snprintf(want, sizeof want, "notification %lld was sent at %s", (long long)b.id, zl_time_format(T0 + 4, t, sizeof t));
	assert_string_equal(err.msg, want);
	assert_int_equal(st->ops->notice_requeue(st, 999999, T0 + 5, &n, &err), ZL_ENOTFOUND);
	assert_string_equal(err.msg, "no notification 999999");
	/* failed: pending again, due now, attempts from 0, the last error kept */
	assert_int_equal(st->ops->notice_requeue(st, a.id, T0 + 6, &n, &err), 0);
	assert_int_equal(n, 1);
	zl_notice_rec got = get_notice(st, a.id);
	assert_int_equal(got.status, ZL_NOTICE_PENDING);
	assert_int_equal(got.attempts, 0);
	assert_int_equal(got.next_at, T0 + 6);
	assert_string_equal(got.last_error, "refused");
	zl_notice_rec_release(&got);
	/* every failed one */
	zl_notice_rec c;
	assert_int_equal(st->ops->notice_claim(st, "s", T0 + 7, T0 + 100, NULL, &c, &claimed, &err), 0);
	assert_int_equal(st->ops->notice_settle(st, c.id, "s", ZL_NOTICE_FAILED, T0 + 8, 0, "refused again", &err), 0);
	assert_int_equal(st->ops->notice_requeue(st, 0, T0 + 9, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(st->ops->notice_requeue(st, 0, T0 + 9, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(count_notices(st, ZL_STATUS_BIT(ZL_NOTICE_PENDING), NULL), 1);
	zl_notice_rec_release(&a);
	zl_notice_rec_release(&b);
	zl_notice_rec_release(&c);
}

static void test_notice_list_limit(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_notice_rec *v = NULL;
	size_t n = 0;
	zl_err err = { 0 };
	char id[ZL_UUID_LEN];

	locked_batch(st, "b/in", "a.csv", T0, id);
	assert_int_equal(st->ops->batch_finish(st, id, "o", ZL_BATCH_COMPLETE, T0, 0, "{}", NULL, two_notices, 2, &err), 0);
	zl_notice_filter f = { .limit = 1 };
	assert_int_equal(st->ops->notice_list(st, &f, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].dest, two_notices[1].dest);
	zl_notice_list_free(v, n);
	assert_int_equal(count_notices(st, 0, "01a00000-0000-7000-8000-000000000000"), 0);
	assert_int_equal(count_notices(st, ZL_STATUS_BIT(ZL_NOTICE_SENT), NULL), 0);
}

static void test_batch_delete_forgets_delivered_notices(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_notice_rec a;
	int claimed;
	zl_err err = { 0 };
	char id[ZL_UUID_LEN], other[ZL_UUID_LEN];

	locked_batch(st, "b/in", "a.csv", T0, id);
	locked_batch(st, "b/in", "b.csv", T0, other);
	assert_int_equal(st->ops->batch_finish(st, id, "o", ZL_BATCH_COMPLETE, T0, 0, "{}", NULL, two_notices, 2, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, other, "o", ZL_BATCH_COMPLETE, T0 + 1, 0, "{}", NULL, two_notices, 1,
	                                       &err), 0);
	assert_int_equal(st->ops->notice_claim(st, "s", T0, T0 + 100, id, &a, &claimed, &err), 0);
	assert_int_equal(st->ops->notice_settle(st, a.id, "s", ZL_NOTICE_SENT, T0 + 1, 0, NULL, &err), 0);
	assert_int_equal(st->ops->batch_delete(st, id, &err), 0);
	/* the delivered one goes with its batch; the pending one is still delivered; others stay */
	assert_int_equal(count_notices(st, 0, id), 1);
	assert_int_equal(count_notices(st, ZL_STATUS_BIT(ZL_NOTICE_PENDING), id), 1);
	assert_int_equal(count_notices(st, 0, other), 1);
	zl_notice_rec_release(&a);
}

/* ---- copying a store: file_scan, batch_import, file_import, notice_import ---- */

#define NOW (T0 + 100000) /* "now" for the copied stores: the stale lease has ended, the retry is due */

/* What src_store built: the batches (one per status and history) and the forgotten file's new id. */
typedef struct src_store {
	char done[ZL_UUID_LEN], failed[ZL_UUID_LEN], stale[ZL_UUID_LEN], retry[ZL_UUID_LEN];
	char unlocked[ZL_UUID_LEN], open[ZL_UUID_LEN], deleted[ZL_UUID_LEN];
	char retired[256];
} src_store;

/* Claims bucket "b", key KEY with an etag (file id "b/KEY@ETAG") into prefix at now. */
static void claim_tagged(zl_state *st, const char *prefix, const char *key, const char *etag, int64_t size,
                         int64_t now, char batch_id[ZL_UUID_LEN])
{
	char id[256];
	zl_object o = { .bucket = (char *)"b", .key = (char *)key, .size = size, .etag = (char *)etag };
	zl_append_result r;
	zl_err err = { 0 };

	snprintf(id, sizeof id, "b/%s@%s", key, etag);
	assert_int_equal(st->ops->claim_append(st, id, prefix, &o, now, NULL, &r, &err), 0);
	assert_int_equal(r.duplicate, 0);
	strcpy(batch_id, r.batch_id);
}

/* Delivers the pending notice of batch_id that is due first: sent, or failed with error. */
static void deliver(zl_state *st, const char *batch_id, int64_t t, const char *error)
{
	zl_notice_rec n;
	int claimed = 0;
	zl_err err = { 0 };
	assert_int_equal(st->ops->notice_claim(st, "sender", t, t + 100, batch_id, &n, &claimed, &err), 0);
	assert_int_equal(claimed, 1);
	assert_int_equal(st->ops->notice_settle(st, n.id, "sender", error ? ZL_NOTICE_FAILED : ZL_NOTICE_SENT, t + 1,
	                                        0, error, &err), 0);
	zl_notice_rec_release(&n);
}

/* A store with something of everything: two configurations; a complete batch (a file with an etag,
 * a forgotten one, notices sent and pending), an error batch (a failed notice), a batch locked by
 * a loader whose lease has ended, a scheduled retry, an unlocked batch, an open batch (a file
 * forgotten from it), and the file record and pending notice of a deleted batch. */
static void build_source(zl_state *st, src_store *ids)
{
	zl_append_result r;
	zl_err err = { 0 };
	char id[ZL_UUID_LEN];
	zl_batch b;

	assert_int_equal(st->ops->config_put(st, "b/c", "{\"s3Prefix\": \"b/c\", \"targets\": []}", &err), 0);
	assert_int_equal(st->ops->config_put(st, "b/o", "{\"password\":\"<encrypted:sealed>\"}", &err), 0);

	claim_tagged(st, "b/c", "c/1.csv", "e1", 10, T0 + 1000, ids->done);
	assert_int_equal(claim(st, "b/c", "c/2.csv", 20, T0 + 1001, &r), 0);
	assert_int_equal(claim(st, "b/c", "c/3.csv", 30, T0 + 1002, &r), 0);
	assert_int_equal(st->ops->batch_lock(st, ids->done, ZL_LOCK_OPEN, "o", T0 + 1100, T0 + 2100, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, ids->done, "o", ZL_BATCH_COMPLETE, T0 + 1200, 0,
	                                       "{\"targets\":[{\"name\":\"t\"}]}", NULL, two_notices, 2, &err), 0);
	deliver(st, ids->done, T0 + 1300, NULL);
	assert_int_equal(st->ops->file_delete(st, "b/c/2.csv", &err), 0);
	b = get_batch(st, ids->done);
	assert_int_equal(b.nfiles, 3);
	strcpy(ids->retired, b.files[1].file_id);
	assert_true(strncmp(ids->retired, "b/c/2.csv#", 10) == 0);
	zl_batch_release(&b);

	locked_batch(st, "b/e", "e/1.csv", T0 + 2000, ids->failed);
	assert_int_equal(st->ops->batch_finish(st, ids->failed, "o", ZL_BATCH_ERROR, T0 + 2100, 0, "{}",
	                                       "COPY failed: boom", two_notices, 1, &err), 0);
	deliver(st, ids->failed, T0 + 2200, "HTTP 500");

	assert_int_equal(claim(st, "b/l", "l/1.csv", 10, T0 + 3000, &r), 0);
	strcpy(ids->stale, r.batch_id);
	assert_int_equal(st->ops->batch_lock(st, ids->stale, ZL_LOCK_OPEN, "dead", T0 + 3000, T0 + 3100, &err), 0);

	locked_batch(st, "b/r", "r/1.csv", T0 + 4000, ids->retry);
	assert_int_equal(st->ops->batch_finish(st, ids->retry, "o", ZL_BATCH_LOCKED, T0 + 4100, T0 + 9000,
	                                       "{\"attempt\":1}", "connection refused", NULL, 0, &err), 0);

	locked_batch(st, "b/u", "u/1.csv", T0 + 5000, ids->unlocked);
	assert_int_equal(st->ops->batch_unlock(st, ids->unlocked, T0 + 5100, "o", 0, &err), 0);

	assert_int_equal(claim(st, "b/o", "o/1.csv", 10, T0 + 6000, &r), 0);
	strcpy(ids->open, r.batch_id);
	assert_int_equal(claim(st, "b/o", "o/2.csv", 20, T0 + 6001, &r), 0);
	assert_int_equal(claim(st, "b/o", "o/3.csv", 30, T0 + 6002, &r), 0);
	assert_int_equal(st->ops->file_delete(st, "b/o/2.csv", &err), 0);

	locked_batch(st, "b/d", "d/1.csv", T0 + 7000, ids->deleted);
	assert_int_equal(st->ops->batch_finish(st, ids->deleted, "o", ZL_BATCH_COMPLETE, T0 + 7100, 0, "{}", NULL,
	                                       two_notices, 2, &err), 0);
	deliver(st, ids->deleted, T0 + 7200, NULL);
	assert_int_equal(st->ops->batch_delete(st, ids->deleted, &err), 0);
	(void)id;
}

/* Every file record of st, ordered by file id, read page by page of page records. */
static zl_file_rec *scan_all(zl_state *st, size_t page, size_t *n)
{
	zl_file_rec *all = NULL;
	char after[512] = "";
	zl_err err = { 0 };

	*n = 0;
	for (;;) {
		zl_file_rec *v = NULL;
		size_t nv = 99;
		assert_int_equal(st->ops->file_scan(st, after, page, &v, &nv, &err), 0);
		assert_true(nv <= page);
		all = realloc(all, (*n + nv + 1) * sizeof *all);
		assert_non_null(all);
		for (size_t i = 0; i < nv; i++) {
			assert_true(strcmp(v[i].file_id, after) > 0);
			assert_true(v[i].batch_id[0] != '\0');
			snprintf(after, sizeof after, "%s", v[i].file_id);
			all[(*n)++] = v[i];
		}
		free(v);
		if (nv < page)
			return all;
	}
}

/* Copies src into dst with the import operations: configurations (with_rest), batches oldest
 * first each with its files, every file record (those already copied are no change), then the
 * outbox oldest first (with_rest). Every import must succeed. */
static void copy_store(zl_state *src, zl_state *dst, int with_rest)
{
	zl_strvec prefixes, jsons;
	zl_batch *v = NULL;
	size_t n = 0;
	zl_err err = { 0 };

	zl_strvec_init(&prefixes);
	zl_strvec_init(&jsons);
	assert_int_equal(src->ops->config_list(src, &prefixes, &jsons, &err), 0);
	for (size_t i = 0; with_rest && i < prefixes.n; i++)
		assert_int_equal(dst->ops->config_put(dst, prefixes.v[i], jsons.v[i], &err), 0);
	zl_strvec_release(&prefixes);
	zl_strvec_release(&jsons);

	assert_int_equal(src->ops->batch_list(src, NULL, &v, &n, &err), 0);
	for (size_t i = n; i-- > 0;) {
		zl_batch b = get_batch(src, v[i].id);
		int rc = dst->ops->batch_import(dst, &b, &err);
		if (rc)
			fail_msg("batch_import %s: %s", b.id, err.msg);
		for (size_t k = 0; k < b.nfiles; k++)
			if (dst->ops->file_import(dst, &b.files[k], &err))
				fail_msg("file_import %s: %s", b.files[k].file_id, err.msg);
		zl_batch_release(&b);
	}
	zl_batch_list_free(v, n);

	zl_file_rec *files = scan_all(src, 3, &n);
	for (size_t i = 0; i < n; i++)
		if (dst->ops->file_import(dst, &files[i], &err))
			fail_msg("file_import %s: %s", files[i].file_id, err.msg);
	zl_file_list_free(files, n);

	zl_notice_rec *nv = NULL;
	assert_int_equal(src->ops->notice_list(src, NULL, &nv, &n, &err), 0);
	for (size_t i = n; with_rest && i-- > 0;)
		assert_int_equal(dst->ops->notice_import(dst, &nv[i], &err), 0);
	zl_notice_list_free(nv, n);
}

static void expect_same_str(const char *want, const char *got, const char *what)
{
	if (!want || !got) {
		if (want != got)
			fail_msg("%s: expected %s, got %s", what, want ? want : "NULL", got ? got : "NULL");
		return;
	}
	if (strcmp(want, got) != 0)
		fail_msg("%s: expected \"%s\", got \"%s\"", what, want, got);
}

static void expect_same_file(const zl_file_rec *want, const zl_file_rec *got)
{
	expect_same_str(want->file_id, got->file_id, "file_id");
	expect_same_str(want->bucket, got->bucket, "bucket");
	expect_same_str(want->key, got->key, "key");
	expect_same_str(want->etag, got->etag, "etag");
	expect_same_str(want->prefix, got->prefix, "prefix");
	assert_int_equal(want->size, got->size);
	assert_int_equal(want->received_at, got->received_at);
	assert_string_equal(want->batch_id, got->batch_id);
	assert_string_equal(want->batch_status, got->batch_status);
	assert_true(zl_file_rec_same(want, got));
}

static void expect_same_batch(const zl_batch *want, const zl_batch *got)
{
	assert_string_equal(want->id, got->id);
	expect_same_str(want->prefix, got->prefix, "batch prefix");
	assert_int_equal(want->status, got->status);
	assert_int_equal(want->created_at, got->created_at);
	assert_int_equal(want->first_at, got->first_at);
	assert_int_equal(want->updated_at, got->updated_at);
	assert_int_equal(want->locked_at, got->locked_at);
	assert_int_equal(want->finished_at, got->finished_at);
	assert_int_equal(want->lease_until, got->lease_until);
	assert_int_equal(want->file_count, got->file_count);
	assert_int_equal(want->bytes, got->bytes);
	assert_int_equal(want->attempts, got->attempts);
	expect_same_str(want->owner, got->owner, "batch owner");
	expect_same_str(want->result, got->result, "batch result");
	expect_same_str(want->error, got->error, "batch error");
	assert_int_equal(want->nfiles, got->nfiles);
	for (size_t i = 0; i < want->nfiles; i++)
		expect_same_file(&want->files[i], &got->files[i]);
}

/* Everything but the id, which the destination gives anew. */
static void expect_same_notice(const zl_notice_rec *want, const zl_notice_rec *got)
{
	assert_string_equal(want->batch_id, got->batch_id);
	expect_same_str(want->prefix, got->prefix, "notice prefix");
	expect_same_str(want->dest, got->dest, "notice dest");
	expect_same_str(want->event, got->event, "notice event");
	expect_same_str(want->subject, got->subject, "notice subject");
	expect_same_str(want->body, got->body, "notice body");
	assert_int_equal(want->status, got->status);
	assert_int_equal(want->attempts, got->attempts);
	assert_int_equal(want->max_attempts, got->max_attempts);
	assert_int_equal(want->created_at, got->created_at);
	assert_int_equal(want->next_at, got->next_at);
	assert_int_equal(want->sent_at, got->sent_at);
	assert_int_equal(want->lease_until, got->lease_until);
	expect_same_str(want->owner, got->owner, "notice owner");
	expect_same_str(want->last_error, got->last_error, "notice last_error");
}

/* dst holds what src holds: configurations, batches (listed and with their files), every file
 * record (and what file_get says of it), and the outbox in the same order. */
static void expect_same_stores(zl_state *src, zl_state *dst)
{
	zl_strvec p1, j1, p2, j2;
	zl_err err = { 0 };
	size_t n1, n2;

	zl_strvec_init(&p1), zl_strvec_init(&j1), zl_strvec_init(&p2), zl_strvec_init(&j2);
	assert_int_equal(src->ops->config_list(src, &p1, &j1, &err), 0);
	assert_int_equal(dst->ops->config_list(dst, &p2, &j2, &err), 0);
	assert_int_equal(p1.n, p2.n);
	for (size_t i = 0; i < p1.n; i++) {
		assert_string_equal(p1.v[i], p2.v[i]);
		assert_string_equal(j1.v[i], j2.v[i]);
	}
	zl_strvec_release(&p1), zl_strvec_release(&j1), zl_strvec_release(&p2), zl_strvec_release(&j2);

	zl_batch *b1 = NULL, *b2 = NULL;
	assert_int_equal(src->ops->batch_list(src, NULL, &b1, &n1, &err), 0);
	assert_int_equal(dst->ops->batch_list(dst, NULL, &b2, &n2, &err), 0);
	assert_int_equal(n1, n2);
	for (size_t i = 0; i < n1; i++) {
		expect_same_batch(&b1[i], &b2[i]);
		zl_batch g1 = get_batch(src, b1[i].id), g2 = get_batch(dst, b1[i].id);
		expect_same_batch(&g1, &g2);
		zl_batch_release(&g1);
		zl_batch_release(&g2);
	}
	zl_batch_list_free(b1, n1);
	zl_batch_list_free(b2, n2);

	zl_file_rec *f1 = scan_all(src, 4, &n1), *f2 = scan_all(dst, 1000, &n2);
	assert_int_equal(n1, n2);
	for (size_t i = 0; i < n1; i++) {
		zl_file_rec g1, g2;
		expect_same_str(f1[i].file_id, f2[i].file_id, "scanned file_id");
		assert_true(zl_file_rec_same(&f1[i], &f2[i]));
		assert_int_equal(src->ops->file_get(src, f1[i].file_id, &g1, &err), 0);
		assert_int_equal(dst->ops->file_get(dst, f1[i].file_id, &g2, &err), 0);
		expect_same_file(&g1, &g2);
		zl_file_rec_release(&g1);
		zl_file_rec_release(&g2);
	}
	zl_file_list_free(f1, n1);
	zl_file_list_free(f2, n2);

	zl_notice_rec *o1 = NULL, *o2 = NULL;
	assert_int_equal(src->ops->notice_list(src, NULL, &o1, &n1, &err), 0);
	assert_int_equal(dst->ops->notice_list(dst, NULL, &o2, &n2, &err), 0);
	assert_int_equal(n1, n2);
	for (size_t i = 0; i < n1; i++) {
		expect_same_notice(&o1[i], &o2[i]);
		if (i)
			assert_true(o2[i].id < o2[i - 1].id);
	}
	zl_notice_list_free(o1, n1);
	zl_notice_list_free(o2, n2);
}

static void test_file_scan_pages(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	static const char *const keys[] = { "a/2.csv", "a/10.csv", "B/1.csv", "a/1.csv", "a/1.csv.gz" };
	static const char *const sorted[] = { "b/B/1.csv", "b/a/1.csv", "b/a/1.csv.gz", "b/a/10.csv", "b/a/2.csv" };
	zl_append_result r;
	zl_file_rec *v = NULL;
	size_t n = 99;
	zl_err err = { 0 };

	assert_int_equal(st->ops->file_scan(st, "", 10, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	free(v);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(claim(st, "b/a", keys[i], (int64_t)i + 1, T0 + (int64_t)i, &r), 0);
	/* byte order, from after (exclusive), at most limit, batch_id set */
	assert_int_equal(st->ops->file_scan(st, "", 2, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].file_id, sorted[0]);
	assert_string_equal(v[1].file_id, sorted[1]);
	assert_string_equal(v[0].bucket, "b");
	assert_string_equal(v[0].key, "B/1.csv");
	assert_string_equal(v[0].prefix, "b/a");
	assert_int_equal(v[0].size, 3);
	assert_int_equal(v[0].received_at, T0 + 2);
	assert_string_equal(v[0].batch_id, r.batch_id);
	zl_file_list_free(v, n);
	assert_int_equal(st->ops->file_scan(st, "b/a/1.csv", 10, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(v[i].file_id, sorted[2 + i]);
	zl_file_list_free(v, n);
	assert_int_equal(st->ops->file_scan(st, "b/a/2.csv", 10, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	free(v);
	size_t total;
	v = scan_all(st, 1, &total);
	assert_int_equal(total, 5);
	zl_file_list_free(v, total);
}

static void test_import_copies_store(void **state)
{
	suite_ctx *fx = *state;
	zl_state *src = fx->st, *dst = other_store(fx);
	src_store ids;
	int64_t v0, v1, v2;
	size_t n;
	zl_err err = { 0 };

	build_source(src, &ids);
	assert_int_equal(dst->ops->config_version(dst, &v0, &err), 0);
	copy_store(src, dst, 1);
	expect_same_stores(src, dst);
	assert_int_equal(dst->ops->config_version(dst, &v1, &err), 0);
	assert_true(v1 != v0);

	/* what the source is made of, seen in the destination */
	zl_batch b = get_batch(dst, ids.done);
	assert_int_equal(b.nfiles, 3);
	assert_string_equal(b.files[0].file_id, "b/c/1.csv@e1");
	assert_string_equal(b.files[0].etag, "e1");
	assert_string_equal(b.files[1].file_id, ids.retired);
	assert_string_equal(b.files[2].file_id, "b/c/3.csv");
	zl_batch_release(&b);
	b = get_batch(dst, ids.stale);
	assert_int_equal(b.status, ZL_BATCH_LOCKED);
	assert_string_equal(b.owner, "dead");
	assert_int_equal(b.lease_until, T0 + 3100);
	zl_batch_release(&b);
	b = get_batch(dst, ids.retry);
	assert_null(b.owner);
	assert_int_equal(b.lease_until, T0 + 9000);
	assert_string_equal(b.error, "connection refused");
	zl_batch_release(&b);
	b = get_batch(dst, ids.open);
	assert_int_equal(b.nfiles, 2);
	assert_int_equal(b.file_count, 2);
	assert_int_equal(b.bytes, 40);
	zl_batch_release(&b);
	zl_file_rec f;
	assert_int_equal(dst->ops->file_get(dst, "b/d/1.csv", &f, &err), 0);
	assert_string_equal(f.batch_id, ids.deleted);
	assert_string_equal(f.batch_status, "");
	zl_file_rec_release(&f);
	assert_int_equal(dst->ops->file_get(dst, "b/o/2.csv", &f, &err), ZL_ENOTFOUND);
	assert_int_equal(dst->ops->file_get(dst, "b/c/2.csv", &f, &err), ZL_ENOTFOUND);
	assert_int_equal(count_notices(dst, ZL_STATUS_BIT(ZL_NOTICE_PENDING), NULL), 2);
	assert_int_equal(count_notices(dst, ZL_STATUS_BIT(ZL_NOTICE_SENT), NULL), 1);
	assert_int_equal(count_notices(dst, ZL_STATUS_BIT(ZL_NOTICE_FAILED), ids.failed), 1);
	assert_int_equal(count_notices(dst, 0, ids.deleted), 1);

	/* importing the same records again is no change */
	copy_store(src, dst, 0);
	expect_same_stores(src, dst);
	assert_int_equal(dst->ops->config_version(dst, &v2, &err), 0);
	assert_int_equal(v2, v1);
	zl_file_rec *all = scan_all(dst, 100, &n);
	assert_int_equal(n, 10);
	zl_file_list_free(all, n);
}

static void test_import_conflicts(void **state)
{
	suite_ctx *fx = *state;
	zl_state *src = fx->st, *dst = other_store(fx);
	src_store ids;
	zl_err err = { 0 };

	build_source(src, &ids);
	copy_store(src, dst, 1);

	/* a batch with the same id: changed since (updated_at), or in another status */
	zl_batch b = get_batch(src, ids.open);
	b.updated_at++;
	assert_int_equal(dst->ops->batch_import(dst, &b, &err), ZL_EBUSY);
	assert_non_null(strstr(err.msg, ids.open));
	b.updated_at--;
	b.status = ZL_BATCH_LOCKED;
	assert_int_equal(dst->ops->batch_import(dst, &b, &err), ZL_EBUSY);
	assert_non_null(strstr(err.msg, ids.open));
	b.status = ZL_BATCH_OPEN;
	assert_int_equal(dst->ops->batch_import(dst, &b, &err), 0);

	/* a file record with the same id and another size, batch or etag */
	zl_file_rec f = b.files[0];
	f.size++;
	assert_int_equal(dst->ops->file_import(dst, &f, &err), ZL_EBUSY);
	assert_non_null(strstr(err.msg, f.file_id));
	f.size--;
	strcpy(f.batch_id, ids.done);
	assert_int_equal(dst->ops->file_import(dst, &f, &err), ZL_EBUSY);
	assert_non_null(strstr(err.msg, f.file_id));
	strcpy(f.batch_id, ids.open);
	f.etag = (char *)"other";
	assert_int_equal(dst->ops->file_import(dst, &f, &err), ZL_EBUSY);
	f.etag = NULL;
	assert_int_equal(dst->ops->file_import(dst, &f, &err), 0);
	zl_batch_release(&b);
	expect_same_stores(src, dst);

	/* a batch goes in as it is: its totals are its own, not counted from files */
	zl_batch lone = { .id = "01a00000-0000-7000-8000-0000000000aa", .prefix = (char *)"b/lone",
	                  .status = ZL_BATCH_COMPLETE, .created_at = T0, .first_at = T0, .updated_at = T0 + 5,
	                  .locked_at = T0 + 1, .finished_at = T0 + 5, .file_count = 7, .bytes = 70, .attempts = 2,
	                  .result = (char *)"{}" };
	assert_int_equal(dst->ops->batch_import(dst, &lone, &err), 0);
	assert_int_equal(dst->ops->batch_import(dst, &lone, &err), 0);
	b = get_batch(dst, lone.id);
	expect_same_batch(&lone, &b);
	zl_batch_release(&b);
	/* a file record whose batch does not exist, appended after the batch's other files */
	zl_file_rec orphan = { .file_id = (char *)"b/x/1.csv", .bucket = (char *)"b", .key = (char *)"x/1.csv",
	                       .prefix = (char *)"b/x", .size = 5, .received_at = T0 + 1,
	                       .batch_id = "01a00000-0000-7000-8000-0000000000bb" };
	assert_int_equal(dst->ops->file_import(dst, &orphan, &err), 0);
	assert_int_equal(dst->ops->file_get(dst, "b/x/1.csv", &f, &err), 0);
	assert_true(zl_file_rec_same(&orphan, &f));
	assert_string_equal(f.batch_status, "");
	zl_file_rec_release(&f);
	zl_file_rec late = { .file_id = (char *)"b/a/0.csv", .bucket = (char *)"b", .key = (char *)"a/0.csv",
	                     .prefix = (char *)"b/o", .size = 1, .received_at = T0 };
	strcpy(late.batch_id, ids.open);
	assert_int_equal(dst->ops->file_import(dst, &late, &err), 0);
	b = get_batch(dst, ids.open);
	assert_int_equal(b.nfiles, 3);
	assert_string_equal(b.files[2].file_id, "b/a/0.csv");
	assert_int_equal(b.file_count, 2); /* the batch's own totals */
	zl_batch_release(&b);
}

static void test_import_then_use(void **state)
{
	suite_ctx *fx = *state;
	zl_state *src = fx->st, *dst = other_store(fx);
	src_store ids;
	zl_append_result r;
	zl_err err = { 0 };

	build_source(src, &ids);
	copy_store(src, dst, 1);

	/* a claimed file, also of a deleted batch, is a duplicate; a forgotten one is new */
	assert_int_equal(claim(dst, "b/c", "c/3.csv", 30, NOW, &r), 0);
	assert_int_equal(r.duplicate, 1);
	assert_string_equal(r.batch_id, ids.done);
	assert_int_equal(claim(dst, "b/d", "d/1.csv", 10, NOW, &r), 0);
	assert_int_equal(r.duplicate, 1);
	assert_string_equal(r.batch_id, ids.deleted);
	assert_int_equal(claim(dst, "b/o", "o/2.csv", 20, NOW, &r), 0);
	assert_int_equal(r.duplicate, 0);
	/* the open batch that was never locked takes new files, after its own */
	assert_string_equal(r.batch_id, ids.open);
	assert_int_equal(r.file_count, 3);
	assert_int_equal(r.bytes, 60);
	assert_int_equal(r.first_at, T0 + 6000);
	zl_batch b = get_batch(dst, ids.open);
	assert_int_equal(b.nfiles, 3);
	assert_string_equal(b.files[0].file_id, "b/o/1.csv");
	assert_string_equal(b.files[2].file_id, "b/o/2.csv");
	zl_batch_release(&b);
	/* a batch that was ever locked takes none: a new batch */
	assert_int_equal(claim(dst, "b/u", "u/2.csv", 10, NOW, &r), 0);
	assert_int_equal(r.duplicate, 0);
	assert_string_not_equal(r.batch_id, ids.unlocked);
	assert_int_equal(r.file_count, 1);
	assert_int_equal(claim(dst, "b/l", "l/2.csv", 10, NOW, &r), 0);
	assert_string_not_equal(r.batch_id, ids.stale);
	assert_int_equal(claim(dst, "b/c", "c/2.csv", 20, NOW, &r), 0);
	assert_int_equal(r.duplicate, 0);
	assert_string_not_equal(r.batch_id, ids.done);

	/* the stale lock is reclaimed, the retry is due, the unlocked batch locks again */
	assert_int_equal(dst->ops->batch_lock(dst, ids.stale, ZL_LOCK_EXPIRED, "new", NOW, NOW + 1000, &err), 0);
	assert_int_equal(dst->ops->batch_lock(dst, ids.retry, ZL_LOCK_EXPIRED, "new", NOW, NOW + 1000, &err), 0);
	b = get_batch(dst, ids.retry);
	assert_int_equal(b.attempts, 2);
	zl_batch_release(&b);
	assert_int_equal(dst->ops->batch_lock(dst, ids.unlocked, ZL_LOCK_OPEN, "new", NOW, NOW + 1000, &err), 0);
	assert_int_equal(dst->ops->batch_finish(dst, ids.stale, "new", ZL_BATCH_COMPLETE, NOW + 1, 0, "{}", NULL,
	                                        two_notices, 1, &err), 0);
	/* the source's pending notices are delivered, then the new one (a new id, after theirs) */
	zl_notice_rec n;
	int claimed;
	int64_t last = 0;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(dst->ops->notice_claim(dst, "s", NOW + 2, NOW + 100, NULL, &n, &claimed, &err), 0);
		assert_int_equal(claimed, 1);
		assert_true(n.id > last);
		last = n.id;
		assert_string_equal(n.batch_id, i == 0 ? ids.done : i == 1 ? ids.deleted : ids.stale);
		assert_int_equal(dst->ops->notice_settle(dst, n.id, "s", ZL_NOTICE_SENT, NOW + 3, 0, NULL, &err), 0);
		zl_notice_rec_release(&n);
	}
	assert_int_equal(count_notices(dst, ZL_STATUS_BIT(ZL_NOTICE_SENT), NULL), 4);
	/* the finished imported batches are reprocessed and deleted as any other */
	assert_int_equal(dst->ops->batch_lock(dst, ids.failed, ZL_LOCK_FINISHED, "new", NOW, NOW + 1000, &err), 0);
	assert_int_equal(dst->ops->batch_delete(dst, ids.done, &err), 0);
	/* the source is as it was */
	assert_int_equal(claim(src, "b/o", "o/2.csv", 20, NOW, &r), 0);
	assert_int_equal(r.file_count, 3);
}

static void test_notice_import_new_ids(void **state)
{
	suite_ctx *fx = *state;
	zl_state *st = fx->st;
	zl_notice_rec *v = NULL;
	size_t n = 0;
	zl_err err = { 0 };
	char id[ZL_UUID_LEN];

	locked_batch(st, "b/in", "a.csv", T0, id);
	assert_int_equal(st->ops->batch_finish(st, id, "o", ZL_BATCH_COMPLETE, T0, 0, "{}", NULL, two_notices, 2, &err), 0);
	assert_int_equal(st->ops->notice_list(st, NULL, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	int64_t newest = v[0].id;
	/* one held by a sender, as it is; one sent long ago, of a batch this store does not have */
	zl_notice_rec held = { .batch_id = "01a00000-0000-7000-8000-0000000000cc", .prefix = (char *)"b/gone",
	                       .dest = (char *)"exec:/bin/true", .event = (char *)"failure", .subject = (char *)"S",
	                       .body = (char *)"{}", .status = ZL_NOTICE_PENDING, .attempts = 2, .max_attempts = 5,
	                       .created_at = T0 - 50, .next_at = T0 - 10, .lease_until = T0 + 60, .owner = (char *)"snd",
	                       .last_error = (char *)"exit 1" };
	zl_notice_rec sent = { .batch_id = "01a00000-0000-7000-8000-0000000000cc", .prefix = (char *)"b/gone",
	                       .dest = (char *)"mailto:a@example.com", .event = (char *)"failure", .subject = (char *)"S",
	                       .body = (char *)"{\"x\":1}", .status = ZL_NOTICE_SENT, .attempts = 1, .max_attempts = 1,
	                       .created_at = T0 - 40, .next_at = T0 - 40, .sent_at = T0 - 30 };
	zl_notice_list_free(v, n);
	assert_int_equal(st->ops->notice_import(st, &held, &err), 0);
	assert_int_equal(st->ops->notice_import(st, &sent, &err), 0);
	assert_int_equal(st->ops->notice_list(st, NULL, &v, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_true(v[1].id > newest);
	assert_true(v[0].id > v[1].id);
	expect_same_notice(&sent, &v[0]);
	expect_same_notice(&held, &v[1]);
	zl_notice_list_free(v, n);
	/* the held one is not claimed until its lease ends, then it is due */
	zl_notice_rec c;
	int claimed;
	assert_int_equal(st->ops->notice_claim(st, "s2", T0 + 1, T0 + 100, held.batch_id, &c, &claimed, &err), 0);
	assert_int_equal(claimed, 0);
	assert_int_equal(st->ops->notice_claim(st, "s2", T0 + 60, T0 + 100, held.batch_id, &c, &claimed, &err), 0);
	assert_int_equal(claimed, 1);
	assert_string_equal(c.dest, "exec:/bin/true");
	assert_int_equal(c.attempts, 3);
	zl_notice_rec_release(&c);
}

/* Every case, registered once per fixture: cmocka hands the fixture to setup as the initial state. */
#define STATE_CASE(f, fixture) cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, (void *)(fixture))
#define STATE_CASES(fx)                                                                                    \
	{                                                                                                      \
		STATE_CASE(test_claim_append_creates_and_appends, fx), STATE_CASE(test_claim_duplicate, fx),       \
		STATE_CASE(test_claim_caps_files_and_bytes, fx), STATE_CASE(test_claim_locks_when_full, fx),        \
		STATE_CASE(test_claim_invalid, fx), STATE_CASE(test_group_commit, fx),                             \
		STATE_CASE(test_lock_open_rotates_batch, fx),                                                      \
		STATE_CASE(test_lock_live_lease_busy, fx), STATE_CASE(test_lock_by_mask, fx),                      \
		STATE_CASE(test_lease_expiry, fx), STATE_CASE(test_renew_finish_by_old_owner_lost, fx),            \
		STATE_CASE(test_finish_complete, fx), STATE_CASE(test_finish_invalid, fx),                         \
		STATE_CASE(test_finish_retry_then_relock, fx), STATE_CASE(test_reprocess_resets_attempts, fx),     \
		STATE_CASE(test_unlock, fx), STATE_CASE(test_unlock_scheduled_retry, fx),                          \
		STATE_CASE(test_resolve, fx), STATE_CASE(test_batch_get_files_in_order, fx),                       \
		STATE_CASE(test_batch_list_filters, fx), STATE_CASE(test_batch_delete, fx),                        \
		STATE_CASE(test_file_get_and_delete, fx), STATE_CASE(test_config_crud, fx),                        \
		STATE_CASE(test_config_replace, fx), STATE_CASE(test_config_version, fx), STATE_CASE(test_two_handles_interleaved, fx),                 \
		STATE_CASE(test_fork_concurrency, fx), STATE_CASE(test_fork_duplicates_and_locks, fx),             \
		STATE_CASE(test_finish_queues_notices, fx),                 \
		STATE_CASE(test_finish_notices_atomic, fx), STATE_CASE(test_notice_claim_lease, fx),               \
		STATE_CASE(test_notice_backoff_and_failed, fx), STATE_CASE(test_notice_requeue, fx),               \
		STATE_CASE(test_notice_list_limit, fx), STATE_CASE(test_batch_delete_forgets_delivered_notices, fx), \
		STATE_CASE(test_file_scan_pages, fx), STATE_CASE(test_import_copies_store, fx),                    \
		STATE_CASE(test_import_conflicts, fx), STATE_CASE(test_import_then_use, fx),                       \
		STATE_CASE(test_notice_import_new_ids, fx),                                                        \
	}

/* Whether ZLOAD_TEST_STATE (a comma-separated list of fixture names; unset: all) picks name. */
static int selected(const char *name)
{
	const char *want = getenv("ZLOAD_TEST_STATE");
	size_t n = strlen(name);
	if (!want || !*want)
		return 1;
	for (const char *p = want; *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, name, n) == 0)
			return 1;
		p += len + (p[len] == ',');
	}
	return 0;
}

int main(void)
{
	int failed = 0, ran = 0;

	if (zl_state_mem_register() != 0) {
		fprintf(stderr, "cannot register the mem state backend\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
		const zl_state_fixture *fx = &fixtures[i];
		const char *why = fx->unavailable();
		if (!selected(fx->name))
			continue;
		if (why && getenv("ZLOAD_TEST_STATE")) { /* asked for by name: it must run */
			fprintf(stderr, "state suite, fixture %s: cannot run: %s\n", fx->name, why);
			failed++;
			continue;
		}
		if (why) {
			printf("state suite, fixture %s: skipped: %s\n", fx->name, why);
			continue;
		}
		printf("state suite, fixture %s\n", fx->name);
		const struct CMUnitTest cases[] = STATE_CASES(fx);
		failed += cmocka_run_group_tests_name(fx->name, cases, NULL, NULL);
		ran++;
	}
	if (!ran) {
		fprintf(stderr, "no state fixture ran (ZLOAD_TEST_STATE=%s)\n", getenv("ZLOAD_TEST_STATE"));
		return 1;
	}
	return failed ? 1 : 0;
}
