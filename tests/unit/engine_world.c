/* The engine test world: directories, files and databases made and removed per test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine_world.h"

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state_mem.h"
#include "target_fault.h"
#include "util/fsutil.h"
#include "util/log.h"

static void target_sql(const zl_world *w, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	assert_int_equal(sqlite3_open(w->db, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

int zl_world_setup(void **state)
{
	zl_world *w = calloc(1, sizeof *w);
	zl_err err = { 0 };
	char path[160];

	if (!w || zl_state_mem_register() || zl_fault_register())
		return -1;
	zl_log_setup(ZL_ERROR, 0);
	*state = w;
	strcpy(w->dir, "/tmp/zl_engine_test_XXXXXX");
	if (!mkdtemp(w->dir))
		return -1;
	snprintf(w->state_url, sizeof w->state_url, "mem:%s", w->dir);
	snprintf(w->db, sizeof w->db, "%s/target.db", w->dir);
	target_sql(w, "CREATE TABLE t1 (id INTEGER, name TEXT); CREATE TABLE t2 (id INTEGER, name TEXT);"
	              "CREATE TABLE audit (what TEXT)");
	snprintf(path, sizeof path, "%s/store/b/in/", w->dir);
	if (zl_mkdirs_for(path, 0700) != 0)
		return -1;
	snprintf(path, sizeof path, "dir:%s/store", w->dir);
	if (zl_store_open(path, &w->store, &err) || zl_engine_open(&w->e, w->state_url, w->store, NULL, &err)) {
		fprintf(stderr, "world: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

int zl_world_teardown(void **state)
{
	zl_world *w = *state;
	if (!w)
		return 0;
	zl_engine_close(&w->e);
	zl_store_close(w->store);
	zl_state_mem_drop(w->dir);
	zl_fault_clear();
	if (w->dir[0])
		nftw(w->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(w);
	return 0;
}

void zl_world_put_csv(zl_world *w, const char *key, int first, int nrows)
{
	char path[512];
	snprintf(path, sizeof path, "%s/store/b/%s", w->dir, key);
	assert_int_equal(zl_mkdirs_for(path, 0700), 0);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("id,name\n", f);
	for (int i = first; i < first + nrows; i++)
		fprintf(f, "%d,row %d\n", i, i);
	assert_int_equal(fclose(f), 0);
}

json_t *zl_world_target(const zl_world *w, const char *name, const char *table)
{
	char pre[96], post[96];
	snprintf(pre, sizeof pre, "INSERT INTO audit VALUES ('%s pre')", name);
	snprintf(post, sizeof post, "INSERT INTO audit VALUES ('%s post')", name);
	json_t *t = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", name, "type", "fault", "path", w->db,
	                      "targetTable", table, "preLoadStatement", pre, "postLoadStatement", post);
	assert_non_null(t);
	return t;
}

void zl_world_config(zl_world *w, const char *prefix, const char *extra, json_t *targets)
{
	json_error_t jerr;
	json_t *c = extra ? json_loads(extra, 0, &jerr) : json_object();
	zl_err err = { 0 };
	if (!c)
		fail_msg("extra configuration: %s", jerr.text);
	json_object_set_new(c, "s3Prefix", json_string(prefix));
	json_object_set_new(c, "format", json_pack("{s:s, s:b}", "type", "csv", "header", 1));
	json_object_set_new(c, "targets", targets);
	char *text = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	zl_config *parsed = NULL;
	if (zl_config_parse(text, &parsed, &err))
		fail_msg("configuration %s: %s", text, err.msg);
	zl_config_free(parsed);
	assert_int_equal(w->e.st->ops->config_put(w->e.st, prefix, text, &err), 0);
	free(text);
	assert_int_equal(zl_engine_refresh(&w->e, &err), 0);
	assert_non_null(zl_engine_config(&w->e, prefix));
}

void zl_world_config_t1(zl_world *w, const char *extra)
{
	json_t *targets = json_array();
	json_array_append_new(targets, zl_world_target(w, "t1", "t1"));
	zl_world_config(w, ZL_WORLD_PREFIX, extra, targets);
}

zl_ingest_result zl_world_ingest(zl_world *w, const char *key, int64_t now, int lock)
{
	zl_object o = { .bucket = (char *)"b", .key = (char *)key, .size = -1 };
	zl_ingest_result res;
	zl_err err = { 0 };
	int rc = zl_engine_ingest(&w->e, &o, now, lock, &res, &err);
	if (rc)
		fail_msg("ingest %s: %s", key, err.msg);
	return res;
}

zl_batch zl_world_batch(zl_world *w, const char *id)
{
	zl_batch b;
	zl_err err = { 0 };
	if (w->e.st->ops->batch_get(w->e.st, id, &b, &err))
		fail_msg("batch %s: %s", id, err.msg);
	return b;
}

zl_ticket zl_world_sweep_one(zl_world *w, int64_t now, const char *batch_id)
{
	zl_tickets locked;
	zl_err err = { 0 };
	zl_tickets_init(&locked);
	if (zl_engine_sweep(&w->e, now, &locked, &err))
		fail_msg("sweep: %s", err.msg);
	assert_int_equal(locked.n, 1);
	zl_ticket k = locked.v[0];
	zl_tickets_release(&locked);
	assert_string_equal(k.batch_id, batch_id);
	return k;
}

size_t zl_world_sweep_count(zl_world *w, int64_t now)
{
	zl_tickets locked;
	zl_err err = { 0 };
	zl_tickets_init(&locked);
	if (zl_engine_sweep(&w->e, now, &locked, &err))
		fail_msg("sweep: %s", err.msg);
	size_t n = locked.n;
	zl_tickets_release(&locked);
	return n;
}

/* Runs sql with text parameters (NULL ends them); returns the first column of the first row. */
static int64_t query_int(const zl_world *w, const char *sql, ...)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	va_list ap;

	assert_int_equal(sqlite3_open_v2(w->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	va_start(ap, sql);
	const char *p;
	for (int i = 1; (p = va_arg(ap, const char *)); i++)
		sqlite3_bind_text(st, i, p, -1, SQLITE_TRANSIENT);
	va_end(ap);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

int64_t zl_world_sql_int(const zl_world *w, const char *sql) { return query_int(w, sql, (const char *)NULL); }

int zl_world_ledger_per_target(const zl_world *w)
{
	return query_int(w, "SELECT count(*) FROM pragma_table_info('zload_ledger') WHERE name = 'target'",
	                 (const char *)NULL) == 1;
}

int64_t zl_world_ledger_rows(const zl_world *w, const char *batch_id, const char *target)
{
	if (query_int(w, "SELECT count(*) FROM sqlite_master WHERE name = 'zload_ledger'", (const char *)NULL) == 0)
		return 0;
	if (zl_world_ledger_per_target(w))
		return query_int(w, "SELECT count(*) FROM zload_ledger WHERE batch_id = ?1 AND target = ?2", batch_id,
		                 target, (const char *)NULL);
	return query_int(w, "SELECT count(*) FROM zload_ledger WHERE batch_id = ?1", batch_id, (const char *)NULL);
}

char *zl_world_result_field(const zl_batch *b, size_t i, const char *key)
{
	json_t *r = b->result ? json_loads(b->result, 0, NULL) : NULL;
	json_t *v = json_object_get(json_array_get(json_object_get(r, "targets"), i), key);
	char *out = NULL;
	if (json_is_string(v))
		out = strdup(json_string_value(v));
	else if (json_is_integer(v) && asprintf(&out, "%lld", (long long)json_integer_value(v)) < 0)
		out = NULL;
	json_decref(r);
	return out ? out : strdup("");
}
