#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/config.h"
#include "target/target.h"
#include "util/buf.h"

extern const zl_target_ops zl_target_sqlite_ops;

/* A reader over a byte array that returns at most chunk bytes per call. */
typedef struct mem_reader {
	zl_reader base;
	const char *data;
	size_t len, pos, chunk;
} mem_reader;

static ssize_t mem_read(zl_reader *r, void *buf, size_t n, zl_err *err)
{
	mem_reader *m = (mem_reader *)r;
	size_t k = m->len - m->pos;
	if (k > n)
		k = n;
	if (k > m->chunk)
		k = m->chunk;
	memcpy(buf, m->data + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

static void mem_close(zl_reader *r) { free(r); }

static zl_reader *mem_new(const void *data, size_t len, size_t chunk)
{
	mem_reader *m = calloc(1, sizeof *m);
	assert_non_null(m);
	m->base.read = mem_read;
	m->base.close = mem_close;
	m->base.name = "mem";
	m->data = data;
	m->len = len;
	m->chunk = chunk;
	return &m->base;
}

typedef struct fixture {
	char dir[64];
	char path[128];
	sqlite3 *db;     /* a second connection, for setup and checks */
	zl_target *t;
} fixture;

static void sql(fixture *fx, const char *s)
{
	char *msg = NULL;
	if (sqlite3_exec(fx->db, s, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", s, msg);
}

/* The first column of the first row of a query, as text ("NULL" for NULL). */
static char *query(fixture *fx, const char *s)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(fx->db, s, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", s, sqlite3_errmsg(fx->db));
	char *out = strdup("");
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);
		free(out);
		out = strdup(v ? (const char *)v : "NULL");
	}
	sqlite3_finalize(st);
	return out;
}

static void expect_query(fixture *fx, const char *s, const char *want)
{
	char *got = query(fx, s), buf[1024];
	snprintf(buf, sizeof buf, "%s", got);
	free(got);
	assert_string_equal(buf, want);
}

static json_t *cfg_for(fixture *fx, const char *table, const char *extra)
{
	char text[1024];
	snprintf(text, sizeof text, "{\"type\":\"sqlite\",\"name\":\"lite\",\"path\":\"%s\",\"targetTable\":\"%s\"%s}",
	         fx->path, table, extra ? extra : "");
	json_error_t jerr;
	json_t *cfg = json_loads(text, 0, &jerr);
	if (!cfg)
		fail_msg("%s: %s", text, jerr.text);
	return cfg;
}

static zl_target *connect_to(fixture *fx, const char *table, const char *extra)
{
	json_t *cfg = cfg_for(fx, table, extra);
	zl_err err = {0};
	zl_target *t = NULL;
	assert_int_equal(zl_fields_check(zl_target_ops_find("sqlite")->fields, cfg, "", &err), 0);
	if (zl_target_ops_find("sqlite")->connect(cfg, &t, &err) != 0)
		fail_msg("connect: %s", err.msg);
	json_decref(cfg);
	return t;
}

static int setup(void **state)
{
	fixture *fx = calloc(1, sizeof *fx);
	strcpy(fx->dir, "/tmp/zl_test_target_XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof fx->path, "%s/warehouse.db", fx->dir);
	assert_int_equal(sqlite3_open(fx->path, &fx->db), SQLITE_OK);
	sqlite3_busy_timeout(fx->db, 5000);
	sql(fx, "CREATE TABLE events(id INTEGER NOT NULL, name TEXT, score REAL, note TEXT);"
	        "CREATE TABLE audit(what TEXT)");
	fx->t = connect_to(fx, "events", NULL);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fixture *fx = *state;
	if (fx->t)
		fx->t->ops->close(fx->t);
	sqlite3_close(fx->db);
	char f[192];
	const char *suffixes[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(f, sizeof f, "%s%s", fx->path, suffixes[i]);
		unlink(f);
	}
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* Runs copy of data in its own transaction; commits on success, rolls back on failure. */
static int load(zl_target *t, const char *name, const char *data, const zl_format *fmt, int64_t *rows,
                zl_err *err)
{
	int rc = t->ops->begin(t, err);
	assert_int_equal(rc, 0);
	zl_reader *r = mem_new(data, strlen(data), 3);
	rc = t->ops->copy(t, name, r, fmt, rows, err);
	zl_reader_close(r);
	if (rc == 0)
		rc = t->ops->commit(t, err);
	else
		t->ops->rollback(t);
	return rc;
}

static zl_format csv(int header)
{
	zl_format f;
	zl_format_defaults(&f);
	f.header = header;
	return f;
}

static void test_registry(void **state)
{
	assert_ptr_equal(zl_target_ops_find("sqlite"), &zl_target_sqlite_ops);
	assert_null(zl_target_ops_find("postgresql"));
	assert_null(zl_target_ops_find(NULL));
	assert_string_equal(zl_target_types(), "sqlite, postgres, vertica");

	zl_err err = {0};
	json_t *cfg = json_pack("{s:s, s:s}", "type", "sqlite", "targetTable", "t");
	assert_int_equal(zl_fields_check(zl_target_sqlite_ops.fields, cfg, "targets[0]", &err), ZL_EINVAL);
	assert_string_equal(err.msg, "targets[0].path: missing required field");
	json_object_set_new(cfg, "path", json_string("/x.db"));
	json_object_set_new(cfg, "ledgerTable", json_integer(1));
	assert_int_equal(zl_fields_check(zl_target_sqlite_ops.fields, cfg, "targets[0]", &err), ZL_EINVAL);
	assert_string_equal(err.msg, "targets[0].ledgerTable: expected a string");
	json_decref(cfg);
}

static void test_csv_no_header(void **state)
{
	fixture *fx = *state;
	zl_format f = csv(0);
	zl_err err = {0};
	int64_t rows = 5;
	assert_int_equal(load(fx->t, "b/day1.csv", "1,ann,3.5,\n2,\"bob, jr\",,\"\"\n3,\"q\"\"x\",7,\"a\nb\"\n",
	                      &f, &rows, &err), 0);
	assert_int_equal(rows, 8);
	expect_query(fx, "SELECT count(*) FROM events", "3");
	expect_query(fx, "SELECT group_concat(id||':'||name||':'||ifnull(score,'N')||':'||ifnull(note,'N'), ';') "
	                 "FROM (SELECT * FROM events ORDER BY id)",
	             "1:ann:3.5:N;2:bob, jr:N:;3:q\"x:7.0:a\nb");
	expect_query(fx, "SELECT typeof(id)||typeof(score) FROM events WHERE id = 1", "integerreal");
}

static void test_csv_header(void **state)
{
	fixture *fx = *state;
	zl_format f = csv(1);
	zl_err err = {0};
	int64_t rows = 0;
	assert_int_equal(load(fx->t, "h.csv", "NOTE,id\nhello,10\n,11\n", &f, &rows, &err), 0);
	assert_int_equal(rows, 2);
	expect_query(fx, "SELECT group_concat(id||'='||ifnull(note,'N')||ifnull(name,'-'), ',') FROM events",
	             "10=hello-,11=N-");

	rows = 0;
	assert_int_equal(load(fx->t, "h2.csv", "id,nope\n1,2\n", &f, &rows, &err), ZL_ELOAD);
	assert_string_equal(err.msg, "h2.csv: column \"nope\" is not in table \"events\"");
	assert_int_equal(load(fx->t, "h3.csv", "id,name\n1,a\n2\n", &f, &rows, &err), ZL_ELOAD);
	assert_string_equal(err.msg, "h3.csv line 3: expected 2 fields, got 1");
	assert_int_equal(load(fx->t, "empty.csv", "", &f, &rows, &err), 0);
	assert_int_equal(rows, 0);
	expect_query(fx, "SELECT count(*) FROM events", "2");
}

static void test_field_count_rolls_back(void **state)
{
	fixture *fx = *state;
	zl_format f = csv(0);
	zl_err err = {0};
	int64_t rows = 0;
	assert_int_equal(load(fx->t, "bucket/bad.csv", "1,a,1,x\n2,b,2,y\n\n3,c\n", &f, &rows, &err), ZL_ELOAD);
	assert_int_equal(err.code, ZL_ELOAD);
	assert_string_equal(err.msg, "bucket/bad.csv line 4: expected 4 fields, got 2");
	assert_int_equal(rows, 0);
	expect_query(fx, "SELECT count(*) FROM events", "0");
}

static void test_parse_error_is_load_error(void **state)
{
	fixture *fx = *state;
	zl_format f = csv(0);
	zl_err err = {0};
	int64_t rows = 0;
	assert_int_equal(load(fx->t, "q.csv", "1,a,1,x\n2,\"b,2,y\n", &f, &rows, &err), ZL_ELOAD);
	assert_string_equal(err.msg, "q.csv line 2: unterminated quoted field");
	expect_query(fx, "SELECT count(*) FROM events", "0");
}

static void test_constraint_error(void **state)
{
	fixture *fx = *state;
	zl_format f = csv(0);
	zl_err err = {0};
	int64_t rows = 0;
	assert_int_equal(load(fx->t, "n.csv", "1,a,1,x\n,b,2,y\n", &f, &rows, &err), ZL_ELOAD);
	assert_string_equal(err.msg, "n.csv line 2: NOT NULL constraint failed: events.id");

	sql(fx, "CREATE TABLE strict_t(id INTEGER, v INTEGER CHECK (v < 10)) STRICT");
	zl_target *t = connect_to(fx, "strict_t", NULL);
	assert_int_equal(load(t, "s.csv", "1,2\n2,abc\n", &f, &rows, &err), ZL_ELOAD);
	assert_string_equal(err.msg, "s.csv line 2: cannot store TEXT value in INTEGER column strict_t.v");
	assert_int_equal(load(t, "s.csv", "1,2\n\n2,12\n", &f, &rows, &err), ZL_ELOAD);
	assert_string_equal(err.msg, "s.csv line 3: CHECK constraint failed: v < 10");
	assert_int_equal(load(t, "s.csv", "1,2\n2,\"3\"\n", &f, &rows, &err), 0);
	assert_int_equal(rows, 2);
	expect_query(fx, "SELECT sum(v) FROM strict_t", "5");
	t->ops->close(t);
}

static void test_jsonl(void **state)
{
	fixture *fx = *state;
	zl_format f;
	zl_format_defaults(&f);
	f.type = ZL_FMT_JSONL;
	zl_err err = {0};
	int64_t rows = 0;
	const char *data = "{\"ID\":1,\"name\":\"a\",\"extra\":[1,2],\"score\":2.5}\n"
	                   "\n"
	                   "{\"note\":{\"k\":true},\"id\":2,\"Score\":null}\n"
	                   "{\"id\":3,\"name\":true,\"other\":1,\"note\":\"x\"}\n";
	assert_int_equal(load(fx->t, "j.jsonl", data, &f, &rows, &err), 0);
	assert_int_equal(rows, 3);
	expect_query(fx, "SELECT group_concat(id||':'||ifnull(name,'N')||':'||ifnull(score,'N')||':'||ifnull(note,'N'), ';') "
	                 "FROM (SELECT * FROM events ORDER BY id)",
	             "1:a:2.5:N;2:N:N:{\"k\":true};3:1:N:x");

	assert_int_equal(load(fx->t, "j2.jsonl", "{\"id\":4}\n{\"id\":5,\n", &f, &rows, &err), ZL_ELOAD);
	assert_string_equal(err.msg, "j2.jsonl line 2: invalid JSON: string or '}' expected near end of file");
	assert_int_equal(load(fx->t, "j3.jsonl", "{\"id\":4}\n[1]\n", &f, &rows, &err), ZL_ELOAD);
	assert_string_equal(err.msg, "j3.jsonl line 2: expected a JSON object");
	assert_int_equal(load(fx->t, "j4.jsonl", "{\"name\":\"no id\"}\n", &f, &rows, &err), ZL_ELOAD);
	assert_string_equal(err.msg, "j4.jsonl line 1: NOT NULL constraint failed: events.id");
	expect_query(fx, "SELECT count(*) FROM events", "3");
}

static void test_missing_table(void **state)
{
	fixture *fx = *state;
	zl_target *t = connect_to(fx, "nope", NULL);
	zl_format f = csv(0);
	zl_err err = {0};
	int64_t rows = 0;
	assert_int_equal(load(t, "m.csv", "1\n", &f, &rows, &err), ZL_ELOAD);
	assert_string_equal(err.msg, "no such table: nope");
	t->ops->close(t);

	t = connect_to(fx, "main.nope", NULL);
	assert_int_equal(load(t, "m.csv", "1\n", &f, &rows, &err), ZL_ELOAD);
	assert_string_equal(err.msg, "no such table: main.nope");
	t->ops->close(t);
}

static void test_quoted_names(void **state)
{
	fixture *fx = *state;
	sql(fx, "CREATE TABLE \"odd \"\"t\"\"\"(\"a b\" TEXT, \"c\"\"d\" TEXT)");
	zl_target *t = connect_to(fx, "main.odd \\\"t\\\"", ",\"ledgerTable\":\"main.my ledger\"");
	zl_format f = csv(1);
	zl_err err = {0};
	int64_t rows = 0;
	assert_int_equal(load(t, "o.csv", "\"c\"\"d\",a b\n1,2\n", &f, &rows, &err), 0);
	f.header = 0;
	assert_int_equal(load(t, "o.csv", "3,4\n", &f, &rows, &err), 0);
	assert_int_equal(rows, 2);
	expect_query(fx, "SELECT group_concat(\"a b\"||\"c\"\"d\", ',') FROM \"odd \"\"t\"\"\"", "21,34");

	int has = 1;
	assert_int_equal(t->ops->ledger_has(t, &(zl_ledger_key){ "b1", "wh", NULL, 0 }, &has, &err), 0);
	assert_int_equal(has, 0);
	expect_query(fx, "SELECT count(*) FROM \"my ledger\"", "0");
	t->ops->close(t);
}

static void test_ledger(void **state)
{
	fixture *fx = *state;
	zl_target *t = fx->t;
	zl_err err = {0};
	int has = 1;
	assert_int_equal(t->ops->ledger_has(t, &(zl_ledger_key){ "batch-1", "wh", NULL, 0 }, &has, &err), 0);
	assert_int_equal(has, 0);
	assert_int_equal(t->ops->begin(t, &err), 0);
	assert_int_equal(t->ops->ledger_insert(t, &(zl_ledger_key){ "batch-1", "wh", "bucket/events", 0 }, &err), 0);
	assert_int_equal(t->ops->commit(t, &err), 0);
	assert_int_equal(t->ops->ledger_has(t, &(zl_ledger_key){ "batch-1", "wh", NULL, 0 }, &has, &err), 0);
	assert_int_equal(has, 1);
	assert_int_equal(t->ops->ledger_has(t, &(zl_ledger_key){ "batch-2", "wh", NULL, 0 }, &has, &err), 0);
	assert_int_equal(has, 0);
	expect_query(fx, "SELECT prefix||':'||(loaded_at IS NOT NULL) FROM zload_ledger WHERE batch_id = 'batch-1'",
	             "bucket/events:1");

	assert_int_equal(t->ops->begin(t, &err), 0);
	assert_int_equal(t->ops->ledger_insert(t, &(zl_ledger_key){ "batch-1", "wh", "bucket/events", 0 }, &err), ZL_EEXIST);
	assert_string_equal(err.msg, "batch batch-1 is already in the ledger for target wh");
	t->ops->rollback(t);
	expect_query(fx, "SELECT count(*) FROM zload_ledger", "1");
}

/* The ledger exists once the target connected, whatever happens to a load transaction after. */
static void test_ledger_created_at_connect(void **state)
{
	fixture *fx = *state;
	zl_err err = {0};
	zl_target *t = connect_to(fx, "events", ",\"ledgerTable\":\"fresh_ledger\"");
	expect_query(fx, "SELECT group_concat(name || ':' || pk, ',') FROM pragma_table_info('fresh_ledger')",
	             "batch_id:1,target:2,prefix:0,loaded_at:0");
	assert_int_equal(t->ops->begin(t, &err), 0);
	assert_int_equal(t->ops->ledger_insert(t, &(zl_ledger_key){ "b1", "wh", "b/p", 0 }, &err), 0);
	t->ops->rollback(t);
	expect_query(fx, "SELECT count(*) FROM fresh_ledger", "0");
	t->ops->close(t);
}

/* Two targets of one configuration in one database file: each has its own ledger row, so the
 * second is not taken for loaded when the first committed. */
static void test_ledger_two_targets(void **state)
{
	fixture *fx = *state;
	zl_err err = {0};
	zl_target *a = fx->t, *b = connect_to(fx, "audit", NULL);
	zl_ledger_key ka = { "batch-1", "first", "b/p", 0 }, kb = { "batch-1", "second", "b/p", 0 };
	int has = 1;
	assert_int_equal(a->ops->begin(a, &err), 0);
	assert_int_equal(a->ops->ledger_has(a, &ka, &has, &err), 0);
	assert_int_equal(has, 0);
	assert_int_equal(a->ops->ledger_insert(a, &ka, &err), 0);
	assert_int_equal(a->ops->commit(a, &err), 0);

	assert_int_equal(b->ops->begin(b, &err), 0);
	assert_int_equal(b->ops->ledger_has(b, &kb, &has, &err), 0);
	assert_int_equal(has, 0);
	assert_int_equal(b->ops->ledger_insert(b, &kb, &err), 0);
	assert_int_equal(b->ops->commit(b, &err), 0);
	expect_query(fx, "SELECT group_concat(batch_id || ':' || target || ':' || prefix, ',') FROM "
	                 "(SELECT * FROM zload_ledger ORDER BY target)",
	             "batch-1:first:b/p,batch-1:second:b/p");
	assert_int_equal(b->ops->ledger_has(b, &ka, &has, &err), 0);
	assert_int_equal(has, 1);
	b->ops->close(b);
}

/* A ledger of the older layout (keyed by batch_id alone) is rebuilt at connect: its rows are kept
 * with target '*', which counts for every target. */
static void test_ledger_migrate(void **state)
{
	fixture *fx = *state;
	zl_err err = {0};
	sql(fx, "CREATE TABLE old_ledger(batch_id TEXT PRIMARY KEY, prefix TEXT NOT NULL, "
	        "loaded_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);"
	        "INSERT INTO old_ledger VALUES('b-old', 'b/p', '2025-01-02 03:04:05'), ('b-old2', 'b/q', '2025-02-03 04:05:06')");
	zl_target *t = connect_to(fx, "events", ",\"ledgerTable\":\"main.old_ledger\"");
	expect_query(fx, "SELECT group_concat(name || ':' || pk, ',') FROM pragma_table_info('old_ledger')",
	             "batch_id:1,target:2,prefix:0,loaded_at:0");
	expect_query(fx, "SELECT group_concat(batch_id || '|' || target || '|' || prefix || '|' || loaded_at, ',') FROM "
	                 "(SELECT * FROM old_ledger ORDER BY batch_id)",
	             "b-old|*|b/p|2025-01-02 03:04:05,b-old2|*|b/q|2025-02-03 04:05:06");
	expect_query(fx, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%old_layout%'", "0");
	int has = 0;
	assert_int_equal(t->ops->ledger_has(t, &(zl_ledger_key){ "b-old", "wh", NULL, 0 }, &has, &err), 0);
	assert_int_equal(has, 1);
	assert_int_equal(t->ops->ledger_has(t, &(zl_ledger_key){ "b-old", "any other target", NULL, 0 }, &has, &err), 0);
	assert_int_equal(has, 1);
	assert_int_equal(t->ops->ledger_has(t, &(zl_ledger_key){ "b-new", "wh", NULL, 0 }, &has, &err), 0);
	assert_int_equal(has, 0);
	assert_int_equal(t->ops->begin(t, &err), 0);
	assert_int_equal(t->ops->ledger_insert(t, &(zl_ledger_key){ "b-new", "wh", "b/p", 0 }, &err), 0);
	assert_int_equal(t->ops->commit(t, &err), 0);
	t->ops->close(t);

	/* connecting again finds the current layout and changes nothing */
	t = connect_to(fx, "events", ",\"ledgerTable\":\"old_ledger\"");
	expect_query(fx, "SELECT count(*) || ' ' || sum(target = '*') FROM old_ledger", "3 2");
	t->ops->close(t);
}

/* The load protocol of one target: pre, copy, ledger, post, then commit or rollback. */
static int run_batch(fixture *fx, const char *batch, const char *data, int commit, zl_err *err)
{
	zl_target *t = fx->t;
	zl_format f = csv(0);
	int64_t rows = 0;
	int rc;
	assert_int_equal(t->ops->begin(t, err), 0);
	assert_int_equal(t->ops->exec(t, "INSERT INTO audit VALUES('pre'); DELETE FROM events WHERE id < 0", err), 0);
	zl_reader *r = mem_new(data, strlen(data), 3);
	rc = t->ops->copy(t, "p.csv", r, &f, &rows, err);
	zl_reader_close(r);
	if (rc == 0)
		rc = t->ops->ledger_insert(t, &(zl_ledger_key){ batch, "wh", "b/p", 0 }, err);
	if (rc == 0)
		rc = t->ops->exec(t, "INSERT INTO audit SELECT 'post:' || count(*) FROM events", err);
	if (rc == 0 && commit)
		rc = t->ops->commit(t, err);
	else
		t->ops->rollback(t);
	return rc;
}

static void test_pre_post_in_transaction(void **state)
{
	fixture *fx = *state;
	zl_err err = {0};
	int has = 1;
	assert_int_equal(run_batch(fx, "b1", "1,a,,\n2,b,,\n", 0, &err), 0);
	expect_query(fx, "SELECT count(*) FROM audit", "0");
	expect_query(fx, "SELECT count(*) FROM events", "0");
	assert_int_equal(fx->t->ops->ledger_has(fx->t, &(zl_ledger_key){ "b1", "wh", NULL, 0 }, &has, &err), 0);
	assert_int_equal(has, 0);

	assert_int_equal(run_batch(fx, "b1", "1,a,,\n2,b,,\n", 1, &err), 0);
	expect_query(fx, "SELECT group_concat(what, ',') FROM audit", "pre,post:2");
	assert_int_equal(fx->t->ops->ledger_has(fx->t, &(zl_ledger_key){ "b1", "wh", NULL, 0 }, &has, &err), 0);
	assert_int_equal(has, 1);

	assert_int_equal(fx->t->ops->begin(fx->t, &err), 0);
	assert_int_equal(fx->t->ops->exec(fx->t, "INSERT INTO nowhere VALUES(1)", &err), ZL_ELOAD);
	assert_string_equal(err.msg, "no such table: nowhere");
	fx->t->ops->rollback(fx->t);
}

static void test_connect_errors(void **state)
{
	zl_err err = {0};
	zl_target *t = (zl_target *)1;
	json_t *cfg = json_pack("{s:s, s:s, s:s}", "type", "sqlite", "path", "/nonexistent-dir/x/w.db",
	                        "targetTable", "t");
	assert_int_equal(zl_target_sqlite_ops.connect(cfg, &t, &err), ZL_ELOAD);
	assert_null(t);
	assert_string_equal(err.msg, "sqlite target: database file \"/nonexistent-dir/x/w.db\" does not exist");
	json_decref(cfg);

	/* a missing file in a directory that exists is not created either */
	char dir[] = "/tmp/zl_test_target_XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/typo.db", dir);
	cfg = json_pack("{s:s, s:s, s:s}", "type", "sqlite", "path", path, "targetTable", "t");
	t = (zl_target *)1;
	assert_int_equal(zl_target_sqlite_ops.connect(cfg, &t, &err), ZL_ELOAD);
	assert_null(t);
	char want[128];
	snprintf(want, sizeof want, "sqlite target: database file \"%s\" does not exist", path);
	assert_string_equal(err.msg, want);
	assert_int_equal(access(path, F_OK), -1);
	json_decref(cfg);
	rmdir(dir);
}

/* A relative path is refused when the configuration is read: the loader may run elsewhere. */
static void test_relative_path(void **state)
{
	zl_err err = {0};
	zl_config *c = NULL;
	assert_int_equal(zl_config_parse("{\"s3Prefix\": \"b/x\", \"targets\": ["
	                                 "{\"type\": \"sqlite\", \"path\": \"/abs/wh.db\", \"targetTable\": \"t\"},"
	                                 "{\"type\": \"sqlite\", \"path\": \"data/wh.db\", \"targetTable\": \"t\"}]}",
	                                 &c, &err), ZL_EINVAL);
	assert_null(c);
	assert_string_equal(err.msg, "targets[1].path: must be an absolute path (the loader may run in another directory)");
	json_t *cfg = json_pack("{s:s, s:s, s:s}", "type", "sqlite", "path", "./wh.db", "targetTable", "t");
	assert_int_equal(zl_target_sqlite_ops.validate(cfg, "targets[0]", &err), ZL_EINVAL);
	assert_string_equal(err.msg, "targets[0].path: must be an absolute path (the loader may run in another directory)");
	json_object_set_new(cfg, "path", json_string("/srv/wh.db"));
	assert_int_equal(zl_target_sqlite_ops.validate(cfg, "targets[0]", &err), 0);
	json_decref(cfg);
	assert_int_equal(zl_config_parse("{\"s3Prefix\": \"b/x\", \"targets\": ["
	                                 "{\"type\": \"sqlite\", \"path\": \"/abs/wh.db\", \"targetTable\": \"t\"}]}",
	                                 &c, &err), 0);
	zl_config_free(c);
}

static void test_gzip_object(void **state)
{
	fixture *fx = *state;
	const char *text = "id,name\n7,seven\n8,eight\n";
	unsigned char z[256];
	uLongf zlen = sizeof z;
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (unsigned char *)text;
	zs.avail_in = (uInt)strlen(text);
	zs.next_out = z;
	zs.avail_out = (uInt)zlen;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	zlen = zs.total_out;
	deflateEnd(&zs);

	zl_format f = csv(1);
	zl_reader *r = NULL;
	zl_err err = {0};
	int64_t rows = 0;
	assert_int_equal(zl_decompress_open(mem_new(z, zlen, 3), ZL_COMP_AUTO, "b/e.csv.gz", &r, &err), 0);
	assert_int_equal(fx->t->ops->begin(fx->t, &err), 0);
	assert_int_equal(fx->t->ops->copy(fx->t, "b/e.csv.gz", r, &f, &rows, &err), 0);
	assert_int_equal(fx->t->ops->commit(fx->t, &err), 0);
	zl_reader_close(r);
	assert_int_equal(rows, 2);
	expect_query(fx, "SELECT group_concat(id||name, ',') FROM events", "7seven,8eight");
}

static void test_text_format(void **state)
{
	fixture *fx = *state;
	zl_format f;
	zl_format_defaults(&f);
	f.type = ZL_FMT_TEXT;
	f.delimiter = '\t';
	zl_err err = {0};
	int64_t rows = 0;
	assert_int_equal(load(fx->t, "b/t.txt", "1\tann\t3.5\t\\N\n2\tb\\tc\t\\N\tline\\nbreak \\\\N\n\\.\nignored\n",
	                      &f, &rows, &err), 0);
	assert_int_equal(rows, 2);
	expect_query(fx, "SELECT group_concat(id||':'||name||':'||ifnull(score,'N')||':'||ifnull(note,'N'), ';') "
	                 "FROM (SELECT * FROM events ORDER BY id)",
	             "1:ann:3.5:N;2:b\tc:N:line\nbreak \\N");

	assert_int_equal(load(fx->t, "b/u.txt", "3\tx\t\t\n4\tx\\\n", &f, &rows, &err), ZL_ELOAD);
	assert_string_equal(err.msg, "b/u.txt line 2: backslash at end of line");
	assert_int_equal(load(fx->t, "b/v.txt", "5\tx\n", &f, &rows, &err), ZL_ELOAD);
	assert_string_equal(err.msg, "b/v.txt line 1: expected 4 fields, got 2");
	expect_query(fx, "SELECT count(*) FROM events", "2");
}

static void test_csv_escape_and_null(void **state)
{
	fixture *fx = *state;
	zl_format f = csv(1);
	f.escape = '\\';
	f.null_string = "NA";
	zl_err err = {0};
	int64_t rows = 0;
	assert_int_equal(load(fx->t, "b/e.csv",
	                      "id,name,score,note\n1,\"say \\\"hi\\\"\",NA,\"\"\n2,NA,2.5,\"NA\"\n3,\"c:\\\\x\",,\n",
	                      &f, &rows, &err), 0);
	assert_int_equal(rows, 3);
	expect_query(fx, "SELECT group_concat(id||':'||ifnull(name,'N')||':'||ifnull(score,'N')||':'||ifnull(note,'N'), ';') "
	                 "FROM (SELECT * FROM events ORDER BY id)",
	             "1:say \"hi\":N:;2:N:2.5:NA;3:c:\\x::");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_connect_errors),
		cmocka_unit_test(test_relative_path),
		cmocka_unit_test_setup_teardown(test_csv_no_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_field_count_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_error_is_load_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_constraint_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quoted_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ledger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ledger_created_at_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ledger_two_targets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ledger_migrate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pre_post_in_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gzip_object, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_escape_and_null, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
