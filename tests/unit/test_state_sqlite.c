/* Tests of the SQLite state backend, each on a fresh database in its own temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "state/state.h"

#define T0 ((int64_t)1700000000000)

extern const zl_state_ops zl_state_sqlite_ops;

typedef struct fixture {
	char dir[64];
	char path[128];
	zl_state *st;
} fixture;

static int setup(void **state)
{
	fixture *fx = calloc(1, sizeof *fx);
	zl_err err = { 0 };
	char url[160];

	if (!fx)
		return -1;
	*state = fx;
	strcpy(fx->dir, "/tmp/zl_state_test_XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof fx->path, "%s/state.db", fx->dir);
	snprintf(url, sizeof url, "sqlite:%s", fx->path);
	if (zl_state_open(url, &fx->st, &err) != 0) {
		fprintf(stderr, "open: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	fixture *fx = *state;
	DIR *d;
	struct dirent *e;
	char p[512];

	if (!fx)
		return 0;
	zl_state_close(fx->st);
	if (fx->dir[0] && (d = opendir(fx->dir))) {
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
				snprintf(p, sizeof p, "%s/%s", fx->dir, e->d_name);
				unlink(p);
			}
		closedir(d);
		rmdir(fx->dir);
	}
	free(fx);
	return 0;
}

static zl_state *open_path(const char *path)
{
	zl_state *st = NULL;
	zl_err err = { 0 };
	if (zl_state_sqlite_ops.open(path, &st, &err) != 0)
		fprintf(stderr, "open %s: %s\n", path, err.msg);
	return st;
}

/* Claims bucket "b", key KEY (file id "b/KEY") into prefix. */
static int claim(zl_state *st, const char *prefix, const char *key, int64_t size, int64_t now,
                 zl_append_result *res)
{
	char id[256];
	zl_object o = { .bucket = (char *)"b", .key = (char *)key, .size = size, .etag = NULL };
	zl_err err = { 0 };

	snprintf(id, sizeof id, "b/%s", key);
	int rc = st->ops->claim_append(st, id, prefix, &o, now, NULL, res, &err);
	if (rc)
		fprintf(stderr, "claim %s: %s\n", id, err.msg);
	return rc;
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

static int64_t sql_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void test_open_sets_up_wal_and_schema(void **state)
{
	fixture *fx = *state;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	assert_int_equal(sql_int(fx->path, "PRAGMA user_version"), 2);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
	                                   " AND name IN ('configs', 'batches', 'files', 'meta')"), 4);
	struct stat sb;
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600); /* private: it holds configurations with passwords */
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);

	/* an existing database opens again, keeping its data */
	zl_append_result res;
	assert_int_equal(claim(fx->st, "b/in", "a.csv", 10, T0, &res), 0);
	zl_state *again = open_path(fx->path);
	assert_non_null(again);
	zl_batch b = get_batch(again, res.batch_id);
	assert_int_equal(b.file_count, 1);
	zl_batch_release(&b);
	zl_state_close(again);
}

static void test_open_errors(void **state)
{
	fixture *fx = *state;
	zl_state *st = NULL;
	zl_err err = { 0 };
	char path[256];

	assert_int_equal(zl_state_sqlite_ops.open("/dev/null/x/state.db", &st, &err), ZL_ESTATE);
	assert_null(st);
	assert_string_equal(err.msg, "cannot create the directory of state database \"/dev/null/x/state.db\": Not a directory");
	/* missing directories are created, private to the user */
	snprintf(path, sizeof path, "%s/new/dir/state.db", fx->dir);
	assert_int_equal(zl_state_sqlite_ops.open(path, &st, &err), 0);
	zl_state_close(st);
	st = NULL;
	struct stat sb;
	snprintf(path, sizeof path, "%s/new/dir", fx->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(zl_state_sqlite_ops.open("", &st, &err), ZL_EINVAL);

	/* a newer schema is refused */
	snprintf(path, sizeof path, "%s/newer.db", fx->dir);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(zl_state_sqlite_ops.open(path, &st, &err), ZL_ESTATE);
	assert_non_null(strstr(err.msg, "schema version 7"));
	assert_null(st);
}

static void test_claim_append_creates_and_appends(void **state)
{
	fixture *fx = *state;
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
	fixture *fx = *state;
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
	fixture *fx = *state;
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
	fixture *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r;
	zl_err err = { 0 };
	char want[128];

	assert_int_equal(claim(st, "b/in", "a.csv", 1, T0, &r), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o1", T0, T0 + 1000, &err), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN | ZL_LOCK_EXPIRED, "o2", T0 + 1,
	                                     T0 + 2000, &err), ZL_EBUSY);
	snprintf(want, sizeof want, "batch %s is locked by o1 until 2023-11-14T22:13:21.000Z (its lease is live)",
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
	fixture *fx = *state;
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
	fixture *fx = *state;
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
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o1", ZL_BATCH_COMPLETE, T0 + 4000, 0, "{}", NULL,
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
	fixture *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r;
	zl_err err = { 0 };

	assert_int_equal(claim(st, "b/in", "a.csv", 1, T0, &r), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o1", T0 + 1, T0 + 1000, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o1", ZL_BATCH_COMPLETE, T0 + 500, 0,
	                                       "{\"pg\":{\"rows\":1}}", NULL, &err), 0);
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
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o1", ZL_BATCH_ERROR, T0 + 600, 0, NULL, "x", &err),
	                 ZL_ELOST);
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o1", ZL_BATCH_OPEN, T0 + 600, 0, NULL, NULL, &err),
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
	fixture *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r;
	zl_err err = { 0 };

	assert_int_equal(claim(st, "b/in", "a.csv", 1, T0, &r), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o1", T0, T0 + 60000, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o1", ZL_BATCH_LOCKED, T0 + 100, T0 + 5000,
	                                       "{}", "connection refused", &err), 0);
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
	                                       NULL, &err), 0);
	b = get_batch(st, r.batch_id);
	assert_int_equal(b.status, ZL_BATCH_COMPLETE);
	assert_null(b.error);
	assert_string_equal(b.result, "{\"ok\":1}");
	zl_batch_release(&b);
}

static void test_reprocess_resets_attempts(void **state)
{
	fixture *fx = *state;
	zl_state *st = fx->st;
	zl_append_result r;
	zl_err err = { 0 };

	assert_int_equal(claim(st, "b/in", "a.csv", 1, T0, &r), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_OPEN, "o1", T0, T0 + 10, &err), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_EXPIRED, "o2", T0 + 10, T0 + 20, &err), 0);
	assert_int_equal(st->ops->batch_lock(st, r.batch_id, ZL_LOCK_EXPIRED, "o3", T0 + 20, T0 + 30, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o3", ZL_BATCH_ERROR, T0 + 25, 0, "{}", "bad row",
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
	fixture *fx = *state;
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
	snprintf(want, sizeof want, "batch %s is locked by o1 until 2023-11-14T22:13:21.000Z (its lease is live)",
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
	fixture *fx = *state;
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
		assert_int_equal(st->ops->batch_finish(st, id, "o", status, t + 1, 0, "{}", NULL, &err), 0);
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
	fixture *fx = *state;
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
	fixture *fx = *state;
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
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM files"), 4);
	zl_append_result r;
	assert_int_equal(claim(st, "b/a", "b/a-1700000000002.csv", 10, T0 + 10, &r), 0);
	assert_int_equal(r.duplicate, 1);
	assert_string_equal(r.batch_id, done_id);
	assert_int_equal(r.file_count, 0);
}

static void test_file_get_and_delete(void **state)
{
	fixture *fx = *state;
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
	assert_int_equal(st->ops->batch_finish(st, r.batch_id, "o", ZL_BATCH_COMPLETE, T0 + 1, 0, "{}", NULL, &err),
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
	assert_int_equal(st->ops->batch_finish(st, r3.batch_id, "o", ZL_BATCH_COMPLETE, T0 + 9, 0, "{}", NULL, &err), 0);
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
	fixture *fx = *state;
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
	fixture *fx = *state;
	zl_state *a = fx->st, *b = open_path(fx->path);
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
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM files"), 200);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM batches"), 6);
	zl_state_close(b);
}

enum { FORK_CHILDREN = 2, FORK_FILES = 500 };

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)ms * 1000000L };
	nanosleep(&ts, NULL);
}

/* A child: waits for the parent, then claims its files on its own connection, pausing now and
 * then as real events do; exits 0 only if every claim was a new append. */
static void fork_child(const char *path, int child, int start_fd)
{
	zl_state *st = NULL;
	zl_err err = { 0 };
	int bad = 0;
	char key[64], c;

	if (zl_state_sqlite_ops.open(path, &st, &err) != 0)
		_exit(10);
	if (read(start_fd, &c, 1) != 0)
		_exit(11);
	for (int i = 0; i < FORK_FILES && bad < 5; i++) {
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
	fixture *fx = *state;
	zl_state *st;
	zl_err err = { 0 };
	pid_t pids[FORK_CHILDREN];
	int running = FORK_CHILDREN, status, nlocked = 0;
	locked_count locked[512];
	int64_t t = T0;
	int start[2];

	/* the fixture's connection must not cross fork() */
	zl_state_close(fx->st);
	fx->st = NULL;
	assert_int_equal(pipe(start), 0);
	for (int c = 0; c < FORK_CHILDREN; c++) {
		pids[c] = fork();
		assert_true(pids[c] >= 0);
		if (pids[c] == 0) {
			close(start[1]);
			fork_child(fx->path, c, start[0]);
		}
	}
	close(start[0]);
	st = fx->st = open_path(fx->path);
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
		for (int i = 0; i < FORK_FILES; i++) {
			char id[64];
			zl_file_rec fr;
			snprintf(id, sizeof id, "b/c%d/f%04d.csv", c, i);
			assert_int_equal(st->ops->file_get(st, id, &fr, &err), 0);
			assert_true(fr.batch_status[0] != '\0');
			zl_file_rec_release(&fr);
		}
	assert_int_equal(check_counts(st, "b/in"), FORK_CHILDREN * FORK_FILES);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM files"), FORK_CHILDREN * FORK_FILES);
	assert_int_equal(sql_int(fx->path, "SELECT sum(file_count) FROM batches"), FORK_CHILDREN * FORK_FILES);
	assert_int_equal(sql_int(fx->path, "SELECT sum(bytes) FROM batches"), 3 * FORK_CHILDREN * FORK_FILES);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM batches b WHERE file_count !="
	                                   " (SELECT count(*) FROM files f WHERE f.batch_id = b.id)"), 0);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM files f WHERE NOT EXISTS"
	                                   " (SELECT 1 FROM batches b WHERE b.id = f.batch_id)"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_sets_up_wal_and_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_append_creates_and_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_open_rotates_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_live_lease_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_renew_finish_by_old_owner_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finish_complete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finish_retry_then_relock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reprocess_resets_attempts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_get_files_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_list_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_get_and_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_handles_interleaved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_concurrency, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
