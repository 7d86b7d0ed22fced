/* The SQLite target: rows are parsed here and inserted with one prepared statement per object. */
#include "target/target.h"
#include "util/timeutil.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "target/dialect.h"
#include "target/sqlite_db.h"
#include "target/sqlite_ledger.h"
#include "util/buf.h"

extern const zl_target_ops zl_target_sqlite_ops;

typedef struct sqlite_target {
	zl_target base;
	sqlite3 *db;
	char *table;   /* as configured: "table" or "schema.table" */
	char *schema;  /* the part before the dot of "schema.table", or NULL */
	char *tname;   /* the table name without its schema */
	char *ledger;  /* as configured, default zload_ledger */
} sqlite_target;

static const zl_field sqlite_fields[] = {
	{"name", ZL_FT_STRING, 0, NULL, NULL, "name of this target in messages and results"},
	{"type", ZL_FT_ENUM, 1, "sqlite", NULL, "target type"},
	{"path", ZL_FT_STRING, 1, NULL, NULL, "SQLite database file, an absolute path; it must exist"},
	{"targetTable", ZL_FT_STRING, 1, NULL, NULL, "table to load, optionally schema.table"},
	{"preLoadStatement", ZL_FT_STRING, 0, NULL, NULL, "SQL run in the load transaction before the rows"},
	{"postLoadStatement", ZL_FT_STRING, 0, NULL, NULL, "SQL run in the load transaction after the rows"},
	{"ledgerTable", ZL_FT_STRING, 0, NULL, NULL, "table recording loaded batches (default zload_ledger)"},
	{0},
};

static const char *cfg_str(const json_t *cfg, const char *field, const char *dflt)
{
	const char *s = json_string_value(zl_fields_get(sqlite_fields, cfg, field));
	return s ? s : dflt;
}

static int sq_validate(const json_t *cfg, const char *where, zl_err *err)
{
	const char *path = cfg_str(cfg, "path", NULL);
	if (path && path[0] != '/')
		return zl_err_set(err, ZL_EINVAL, "%s.path: must be an absolute path (the loader may run in another directory)",
		                  where);
	return 0;
}

static void sq_close(zl_target *tt)
{
	sqlite_target *t = (sqlite_target *)tt;
	if (!t)
		return;
	sqlite3_close(t->db);
	free(t->table);
	free(t->schema);
	free(t->tname);
	free(t->ledger);
	free(t);
}

/* Opens an existing database only: a file SQLite would create is a typo that would otherwise
 * surface later as "no such table". */
#define BUSY_TIMEOUT_MS 10000

static int open_db(sqlite_target *t, const char *path, zl_err *err)
{
	struct stat sb;
	if (stat(path, &sb) != 0 && (errno == ENOENT || errno == ENOTDIR))
		return zl_err_set(err, ZL_ELOAD, "sqlite target: database file \"%s\" does not exist", path);
	int src = sqlite3_open_v2(path, &t->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (src != SQLITE_OK) {
		int code = (src & 0xff) == SQLITE_BUSY || (src & 0xff) == SQLITE_CANTOPEN ? ZL_ETRANSIENT : ZL_ELOAD;
		return zl_err_set(err, code, "sqlite %s: %s", path, t->db ? sqlite3_errmsg(t->db) : sqlite3_errstr(src));
	}
	sqlite3_busy_timeout(t->db, BUSY_TIMEOUT_MS);
	/* Switching to WAL takes an exclusive lock, and two connections switching at once get
	 * SQLITE_BUSY without the busy handler (each holds the shared lock the other waits for). */
	int64_t t0 = zl_mono_ms();
	while ((src = sqlite3_exec(t->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL)) != SQLITE_OK &&
	       zl_sqlite_transient(src) && zl_mono_ms() - t0 < BUSY_TIMEOUT_MS)
		zl_sleep_ms(5 + (zl_mono_ms() & 7));
	if (src != SQLITE_OK)
		return zl_err_set(err, zl_sqlite_transient(src) ? ZL_ETRANSIENT : ZL_ELOAD, "sqlite %s: %s", path,
		                  sqlite3_errmsg(t->db));
	return 0;
}

static int sq_connect(const json_t *cfg, zl_target **out, zl_err *err)
{
	const char *path = cfg_str(cfg, "path", NULL);
	const char *table = cfg_str(cfg, "targetTable", NULL);
	const char *ledger = cfg_str(cfg, "ledgerTable", "zload_ledger");
	sqlite_target *t = NULL;
	int rc = 0;
	*out = NULL;
	if (!path || !table) {
		rc = zl_err_set(err, ZL_EINVAL, "sqlite target: path and targetTable are required");
		goto out;
	}
	t = calloc(1, sizeof *t);
	const char *dot = strchr(table, '.');
	if (!t || !(t->table = strdup(table)) || !(t->ledger = strdup(ledger)) ||
	    !(t->tname = strdup(dot ? dot + 1 : table)) || (dot && !(t->schema = strndup(table, (size_t)(dot - table))))) {
		rc = zl_err_set(err, ZL_ENOMEM, "sqlite target: out of memory");
		goto out;
	}
	t->base.ops = &zl_target_sqlite_ops;
	if ((rc = open_db(t, path, err)))
		goto out;
	/* Outside any load transaction: a batch rolled back must not take the ledger with it. */
	rc = zl_sqlite_ledger_ensure(t->db, t->ledger, err);
out:
	if (rc < 0) {
		sq_close((zl_target *)t);
		return rc;
	}
	*out = &t->base;
	return 0;
}

static int exec_sql(sqlite_target *t, const char *sql, zl_err *err)
{
	return zl_sqlite_exec(t->db, sql, NULL, err);
}

static int sq_ledger_has(zl_target *tt, const zl_ledger_key *k, int *has, zl_err *err)
{
	sqlite_target *t = (sqlite_target *)tt;
	return zl_sqlite_ledger_has(t->db, t->ledger, k, has, err);
}

static int sq_ledger_insert(zl_target *tt, const zl_ledger_key *k, zl_err *err)
{
	sqlite_target *t = (sqlite_target *)tt;
	return zl_sqlite_ledger_insert(t->db, t->ledger, k, err);
}

static int sq_begin(zl_target *tt, zl_err *err)
{
	return exec_sql((sqlite_target *)tt, "BEGIN IMMEDIATE", err);
}

static int sq_exec(zl_target *tt, const char *sql, zl_err *err)
{
	if (!sql || !*sql)
		return 0;
	return exec_sql((sqlite_target *)tt, sql, err);
}

static int sq_commit(zl_target *tt, zl_err *err)
{
	return exec_sql((sqlite_target *)tt, "COMMIT", err);
}

static void sq_rollback(zl_target *tt)
{
	sqlite_target *t = (sqlite_target *)tt;
	if (!sqlite3_get_autocommit(t->db))
		sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
}

typedef struct columns {
	char **names;
	size_t n;
} columns;

static void columns_release(columns *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->names[i]);
	free(c->names);
	c->names = NULL;
	c->n = 0;
}

/* The target table's insertable columns in order; ZL_ELOAD when the table does not exist. */
static int table_columns(sqlite_target *t, columns *c, zl_err *err)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc = 0, src;
	c->names = NULL;
	c->n = 0;
	src = sqlite3_prepare_v2(t->db, "SELECT name FROM pragma_table_info(?1, ?2)", -1, &st, NULL);
	if (src != SQLITE_OK) {
		rc = zl_sqlite_fail(t->db, src, t->table, err);
		goto out;
	}
	sqlite3_bind_text(st, 1, t->tname, -1, SQLITE_STATIC);
	if (t->schema)
		sqlite3_bind_text(st, 2, t->schema, -1, SQLITE_STATIC);
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		if (c->n == cap) {
			cap = cap ? cap * 2 : 16;
			char **names = realloc(c->names, cap * sizeof *names);
			if (!names) {
				rc = zl_err_set(err, ZL_ENOMEM, "sqlite target: out of memory");
				goto out;
			}
			c->names = names;
		}
		if (!(c->names[c->n] = strdup((const char *)sqlite3_column_text(st, 0)))) {
			rc = zl_err_set(err, ZL_ENOMEM, "sqlite target: out of memory");
			goto out;
		}
		c->n++;
	}
	if (src != SQLITE_DONE)
		rc = zl_sqlite_fail(t->db, src, t->table, err);
	else if (c->n == 0)
		rc = zl_err_set(err, ZL_ELOAD, "no such table: %s", t->table);
out:
	sqlite3_finalize(st);
	if (rc < 0)
		columns_release(c);
	return rc;
}

static int find_column(const columns *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (sqlite3_stricmp(c->names[i], name) == 0)
			return (int)i;
	return -1;
}

static int prepare_insert(sqlite_target *t, const char *const *cols, size_t n, sqlite3_stmt **st,
                          zl_err *err)
{
	zl_buf sql;
	zl_buf_init(&sql, 0);
	int rc = zl_dialect_sqlite_insert(&sql, t->table, cols, n);
	if (rc < 0) {
		rc = zl_err_set(err, ZL_ENOMEM, "sqlite target: out of memory");
		goto out;
	}
	int src = sqlite3_prepare_v2(t->db, zl_buf_str(&sql), -1, st, NULL);
	if (src != SQLITE_OK)
		rc = zl_sqlite_fail(t->db, src, t->table, err);
out:
	zl_buf_release(&sql);
	return rc;
}

static void bind_value(sqlite3_stmt *st, int i, const char *v, size_t len)
{
	if (v)
		sqlite3_bind_text(st, i, v, (int)len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static int sq_copy(zl_target *tt, const char *object_name, zl_reader *r, const zl_format *fmt,
                   int64_t *rows, zl_err *err)
{
	sqlite_target *t = (sqlite_target *)tt;
	const char *name = object_name ? object_name : r->name ? r->name : "object";
	columns cols = {NULL, 0};
	zl_rows *rs = NULL;
	sqlite3_stmt *st = NULL;
	int *slot = NULL;       /* JSON lines: the column the key at each position mapped to last row */
	size_t nslot = 0, nbind = 0;
	int64_t loaded = 0;
	int rc = table_columns(t, &cols, err);
	if (rc < 0)
		goto out;
	if ((rc = zl_rows_open(r, fmt, name, &rs, err)) < 0)
		goto out;
	if (fmt->type == ZL_FMT_CSV && fmt->header) {
		const char *const *hdr;
		zl_rows_header(rs, &hdr, &nbind);
		for (size_t i = 0; i < nbind; i++)
			if (find_column(&cols, hdr[i]) < 0) {
				rc = zl_err_set(err, ZL_ELOAD, "%s: column \"%s\" is not in table \"%s\"", name, hdr[i],
				                t->table);
				goto out;
			}
		if (nbind == 0)
			goto out;
		rc = prepare_insert(t, hdr, nbind, &st, err);
	} else {
		nbind = cols.n;
		rc = prepare_insert(t, (const char *const *)cols.names, nbind, &st, err);
	}
	if (rc < 0)
		goto out;
	zl_row row;
	while ((rc = zl_rows_next(rs, &row, err)) == 1) {
		if (fmt->type == ZL_FMT_JSONL) {
			sqlite3_clear_bindings(st);
			if (row.n > nslot) {
				int *s = realloc(slot, row.n * sizeof *s);
				if (!s) {
					rc = zl_err_set(err, ZL_ENOMEM, "%s: out of memory", name);
					goto out;
				}
				for (size_t i = nslot; i < row.n; i++)
					s[i] = -1;
				slot = s;
				nslot = row.n;
			}
			for (size_t i = 0; i < row.n; i++) {
				int c = slot[i];
				if (c < 0 || sqlite3_stricmp(cols.names[c], row.names[i]) != 0)
					c = slot[i] = find_column(&cols, row.names[i]);
				if (c >= 0)
					bind_value(st, c + 1, row.values[i], row.lens[i]);
			}
		} else {
			if (row.n != nbind) {
				rc = zl_err_set(err, ZL_ELOAD, "%s line %lld: expected %zu field%s, got %zu", name,
				                (long long)row.line, nbind, nbind == 1 ? "" : "s", row.n);
				goto out;
			}
			for (size_t i = 0; i < row.n; i++)
				bind_value(st, (int)i + 1, row.values[i], row.lens[i]);
		}
		int src = sqlite3_step(st);
		if (src != SQLITE_DONE) {
			rc = zl_err_set(err, zl_sqlite_transient(src) ? ZL_ETRANSIENT : ZL_ELOAD, "%s line %lld: %s", name,
			                (long long)row.line, sqlite3_errmsg(t->db));
			goto out;
		}
		sqlite3_reset(st);
		loaded++;
	}
out:
	if (rc == ZL_EINVAL) {
		rc = ZL_ELOAD;
		if (err)
			err->code = rc;
	}
	if (rc >= 0) {
		*rows += loaded;
		rc = 0;
	}
	free(slot);
	sqlite3_finalize(st);
	zl_rows_free(rs);
	columns_release(&cols);
	return rc;
}

const zl_target_ops zl_target_sqlite_ops = {
	.type = "sqlite",
	.fields = sqlite_fields,
	.connect = sq_connect,
	.validate = sq_validate,
	.close = sq_close,
	.ledger_has = sq_ledger_has,
	.begin = sq_begin,
	.exec = sq_exec,
	.copy = sq_copy,
	.ledger_insert = sq_ledger_insert,
	.commit = sq_commit,
	.rollback = sq_rollback,
};
