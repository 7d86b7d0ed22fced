/* SQLite-only checks of the SQLite state backend (WAL, schema version, file modes), each on a fresh
 * database in its own temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	fixture *fx = *state;

	if (!fx)
		return 0;
	zl_state_close(fx->st);
	if (fx->dir[0]) /* with the directories test_open_errors makes */
		nftw(fx->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
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

	assert_int_equal(sql_int(fx->path, "PRAGMA user_version"), 3);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
	                                   " AND name IN ('configs', 'batches', 'files', 'meta', 'outbox')"), 5);
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

/* A version 2 database (no outbox) is migrated in place when opened: its batches stay, and a
 * finish queues notifications from then on. */
static void test_migrates_version_2(void **state)
{
	fixture *fx = *state;
	zl_append_result res;
	zl_err err = { 0 };
	sqlite3 *db = NULL;

	assert_int_equal(claim(fx->st, "b/in", "a.csv", 10, T0, &res), 0);
	zl_state_close(fx->st);
	fx->st = NULL;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE outbox; PRAGMA user_version = 2", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM sqlite_master WHERE name = 'outbox'"), 0);

	fx->st = open_path(fx->path);
	assert_non_null(fx->st);
	assert_int_equal(sql_int(fx->path, "PRAGMA user_version"), 3);
	zl_batch b = get_batch(fx->st, res.batch_id);
	assert_int_equal(b.file_count, 1);
	zl_batch_release(&b);
	zl_notice n = { "exec:/bin/true", "success", "Lambda Vertica Batch Load X OK", "{}", 10 };
	assert_int_equal(fx->st->ops->batch_lock(fx->st, res.batch_id, ZL_LOCK_OPEN, "o", T0, T0 + 1000, &err), 0);
	assert_int_equal(fx->st->ops->batch_finish(fx->st, res.batch_id, "o", ZL_BATCH_COMPLETE, T0 + 1, 0, "{}", NULL, &n,
	                                           1, &err), 0);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM outbox WHERE status = 'pending'"), 1);
}

/* The backend-neutral cases (claims, leases, unlock, lists, configurations, concurrency) are in
 * tests/conformance/state_suite.c, run against this backend and the others. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_sets_up_wal_and_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrates_version_2, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
