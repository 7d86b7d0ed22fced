/* The SQLite state backend: one database file in WAL mode. Every change of more than one row,
 * and every read-then-write, is one BEGIN IMMEDIATE transaction, so processes can share the file. */
#include "state/group.h"
#include "state/state.h"
#include "state/state_sql.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SCHEMA_VERSION 3
#define SCHEMA_VERSION_SQL "PRAGMA user_version = 3"
#define BUSY_TIMEOUT_MS 10000

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS configs ("
	" prefix TEXT PRIMARY KEY, json TEXT NOT NULL, updated_at INTEGER);"
	"CREATE TABLE IF NOT EXISTS batches ("
	" id TEXT PRIMARY KEY, prefix TEXT NOT NULL, status TEXT NOT NULL,"
	" created_at INTEGER, first_at INTEGER, updated_at INTEGER, locked_at INTEGER,"
	" finished_at INTEGER, lease_until INTEGER,"
	" file_count INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,"
	" attempts INTEGER NOT NULL DEFAULT 0, owner TEXT, result TEXT, error TEXT);"
	"CREATE INDEX IF NOT EXISTS batches_prefix_status ON batches (prefix, status, created_at);"
	"CREATE INDEX IF NOT EXISTS batches_status_created ON batches (status, created_at);"
	"CREATE TABLE IF NOT EXISTS files ("
	" file_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, etag TEXT,"
	" prefix TEXT NOT NULL, size INTEGER NOT NULL DEFAULT 0, received_at INTEGER,"
	" batch_id TEXT);"
	"CREATE INDEX IF NOT EXISTS files_batch ON files (batch_id);"
	/* version 2: every change of a configuration bumps config_version (loaders reload on it) */
	"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"INSERT OR IGNORE INTO meta VALUES ('config_version', 0);"
	"CREATE TRIGGER IF NOT EXISTS configs_inserted AFTER INSERT ON configs BEGIN"
	" UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;"
	"CREATE TRIGGER IF NOT EXISTS configs_updated AFTER UPDATE ON configs BEGIN"
	" UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;"
	"CREATE TRIGGER IF NOT EXISTS configs_deleted AFTER DELETE ON configs BEGIN"
	" UPDATE meta SET value = value + 1 WHERE key = 'config_version'; END;"
	/* version 3: the notification outbox, written by batch_finish with the batch's outcome */
	"CREATE TABLE IF NOT EXISTS outbox ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, batch_id TEXT NOT NULL, prefix TEXT NOT NULL,"
	" dest TEXT NOT NULL, event TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL,"
	" status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,"
	" max_attempts INTEGER NOT NULL, created_at INTEGER NOT NULL, next_at INTEGER NOT NULL,"
	" sent_at INTEGER, lease_until INTEGER, owner TEXT, last_error TEXT);"
	"CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_at);"
	"CREATE INDEX IF NOT EXISTS outbox_batch ON outbox (batch_id);";

#define BATCH_COLS \
	"id, prefix, status, created_at, first_at, updated_at, locked_at, finished_at, lease_until," \
	" file_count, bytes, attempts, owner, result, error"
#define NOTICE_COLS \
	"id, batch_id, prefix, dest, event, subject, body, status, attempts, max_attempts, created_at," \
	" next_at, sent_at, lease_until, owner, last_error"
#define FILE_COLS "f.file_id, f.bucket, f.key, f.etag, f.prefix, f.size, f.received_at, f.batch_id"

enum {
	S_BEGIN,
	S_BEGIN_IMMEDIATE,
	S_COMMIT,
	S_ROLLBACK,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_CONFIG_PUT,
	S_CONFIG_REPLACE,
	S_CONFIG_GET,
	S_CONFIG_LIST,
	S_CONFIG_DELETE,
	S_CONFIG_VERSION,
	S_FILE_BATCH,
	S_FILE_GET,
	S_FILE_INSERT,
	S_FILE_DELETE,
	S_FILE_UNCOUNT,
	S_FILE_RETIRE,
	S_OPEN_BATCH,
	S_BATCH_INSERT,
	S_BATCH_APPEND,
	S_BATCH_APPEND_N,
	S_FILE_INSERT_NEW,
	S_BATCH_TOTALS,
	S_BATCH_STATE,
	S_BATCH_RESOLVE,
	S_BATCH_GET,
	S_BATCH_FILES,
	S_BATCH_LOCK,
	S_BATCH_RENEW,
	S_BATCH_FINISH,
	S_BATCH_UNLOCK,
	S_BATCH_DELETE,
	S_NOTICE_INSERT,
	S_NOTICE_DUE,
	S_NOTICE_CLAIM,
	S_NOTICE_FORGET,
	S_NOTICE_SETTLE,
	S_NOTICE_STATE,
	S_NOTICE_REQUEUE_ONE,
	S_NOTICE_REQUEUE_FAILED,
	S_FILE_SCAN,
	S_FILE_ROW,
	S_BATCH_IMPORT,
	S_BATCH_STAMP,
	S_NOTICE_IMPORT,
	S_COUNT
};

_Static_assert(S_COUNT <= 64, "statement bitmask is 64 bits");

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN",
	[S_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT claim",
	[S_RELEASE] = "RELEASE claim",
	[S_ROLLBACK_TO] = "ROLLBACK TO claim",
	/* configs.updated_at is informational only, so it takes SQLite's clock */
	[S_CONFIG_PUT] = "INSERT INTO configs (prefix, json, updated_at)"
	                 " VALUES (?1, ?2, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))"
	                 " ON CONFLICT (prefix) DO UPDATE SET json = excluded.json,"
	                 " updated_at = excluded.updated_at",
	[S_CONFIG_GET] = "SELECT json FROM configs WHERE prefix = ?1",
	[S_CONFIG_LIST] = "SELECT prefix, json FROM configs ORDER BY prefix",
	[S_CONFIG_REPLACE] = "UPDATE configs SET json = ?3,"
	                     " updated_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
	                     " WHERE prefix = ?1 AND json = ?2",
	[S_CONFIG_DELETE] = "DELETE FROM configs WHERE prefix = ?1",
	[S_CONFIG_VERSION] = "SELECT value FROM meta WHERE key = 'config_version'",
	[S_FILE_BATCH] = "SELECT batch_id FROM files WHERE file_id = ?1",
	[S_FILE_GET] = "SELECT " FILE_COLS ", b.status FROM files f"
	               " LEFT JOIN batches b ON b.id = f.batch_id WHERE f.file_id = ?1",
	[S_FILE_INSERT] = "INSERT INTO files (file_id, bucket, key, etag, prefix, size, received_at, batch_id)"
	                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_FILE_DELETE] = "DELETE FROM files WHERE file_id = ?1",
	/* A forgotten file leaves an open batch (it would come back twice); a finished batch keeps
	 * it under a retired id, so its history and a reprocess still see it. */
	[S_FILE_UNCOUNT] = "UPDATE batches SET file_count = file_count - 1,"
	                   " bytes = bytes - (SELECT size FROM files WHERE file_id = ?1)"
	                   " WHERE id = (SELECT batch_id FROM files WHERE file_id = ?1) AND status = 'open'",
	[S_FILE_RETIRE] = "UPDATE files SET file_id = file_id || '#forgotten-' || lower(hex(randomblob(6)))"
	                  " WHERE file_id = ?1",
	/* the newest batch that was never locked and is not full (?2 files, ?3 bytes; 0: no limit) */
	[S_OPEN_BATCH] = "SELECT id, file_count, bytes, first_at FROM batches"
	                 " WHERE prefix = ?1 AND status = 'open' AND locked_at IS NULL"
	                 " AND (?2 <= 0 OR file_count < ?2) AND (?3 <= 0 OR bytes < ?3)"
	                 " ORDER BY created_at DESC, id DESC LIMIT 1",
	[S_BATCH_INSERT] = "INSERT INTO batches (id, prefix, status, created_at, first_at, updated_at)"
	                   " VALUES (?1, ?2, 'open', ?3, ?3, ?3)",
	[S_BATCH_APPEND] = "UPDATE batches SET file_count = file_count + 1, bytes = bytes + ?2,"
	                   " updated_at = ?3 WHERE id = ?1",
	[S_BATCH_APPEND_N] = "UPDATE batches SET file_count = file_count + ?2, bytes = bytes + ?3,"
	                     " updated_at = ?4 WHERE id = ?1 AND status = 'open' AND locked_at IS NULL",
	[S_FILE_INSERT_NEW] = "INSERT INTO files (file_id, bucket, key, etag, prefix, size, received_at, batch_id)"
	                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (file_id) DO NOTHING",
	[S_BATCH_TOTALS] = "SELECT file_count, bytes, first_at FROM batches WHERE id = ?1",
	[S_BATCH_STATE] = "SELECT status, owner, lease_until FROM batches WHERE id = ?1",
	[S_BATCH_RESOLVE] = "SELECT id FROM batches WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 4",
	[S_BATCH_GET] = "SELECT " BATCH_COLS " FROM batches WHERE id = ?1",
	[S_BATCH_FILES] = "SELECT " FILE_COLS " FROM files f WHERE f.batch_id = ?1 ORDER BY f.rowid",
	/* ?3 now, ?4 lease_until, ?5 the ZL_LOCK_* mask; SET sees the row as it was */
	[S_BATCH_LOCK] = "UPDATE batches SET status = 'locked', owner = ?2, locked_at = ?3,"
	                 " lease_until = ?4, updated_at = ?3,"
	                 " attempts = CASE WHEN status IN ('complete', 'error') THEN 1 ELSE attempts + 1 END,"
	                 " finished_at = CASE WHEN status IN ('complete', 'error') THEN NULL ELSE finished_at END"
	                 " WHERE id = ?1 AND ("
	                 " ((?5 & 1) != 0 AND status = 'open')"
	                 " OR ((?5 & 2) != 0 AND status = 'locked' AND IFNULL(lease_until, 0) <= ?3)"
	                 " OR ((?5 & 4) != 0 AND status IN ('complete', 'error')))",
	[S_BATCH_RENEW] = "UPDATE batches SET lease_until = ?3"
	                  " WHERE id = ?1 AND status = 'locked' AND owner = ?2",
	/* ?3 new status, ?4 now, ?5 retry_at, ?6 result, ?7 error */
	[S_BATCH_FINISH] = "UPDATE batches SET status = ?3, owner = NULL,"
	                   " finished_at = CASE WHEN ?3 = 'locked' THEN finished_at ELSE ?4 END,"
	                   " lease_until = CASE WHEN ?3 = 'locked' THEN ?5 ELSE NULL END,"
	                   " result = ?6, error = ?7, updated_at = ?4"
	                   " WHERE id = ?1 AND status = 'locked' AND owner = ?2",
	/* ?4: only from this owner; else ?3: force; else only a batch whose lease is not live */
	[S_BATCH_UNLOCK] = "UPDATE batches SET status = 'open', owner = NULL, lease_until = NULL,"
	                   " updated_at = ?2 WHERE id = ?1 AND status = 'locked' AND (CASE"
	                   " WHEN ?4 IS NOT NULL THEN owner IS ?4 WHEN ?3 != 0 THEN 1"
	                   " ELSE owner IS NULL OR IFNULL(lease_until, 0) <= ?2 END)",
	[S_BATCH_DELETE] = "DELETE FROM batches WHERE id = ?1 AND status IN ('complete', 'error')",
	/* ?2 dest, ?3 event, ?4 subject, ?5 body, ?6 max_attempts, ?7 now; the prefix is the batch's */
	[S_NOTICE_INSERT] = "INSERT INTO outbox (batch_id, prefix, dest, event, subject, body, max_attempts,"
	                    " created_at, next_at) SELECT id, prefix, ?2, ?3, ?4, ?5, ?6, ?7, ?7"
	                    " FROM batches WHERE id = ?1",
	/* S_NOTICE_CLAIM's condition, read without the write lock: ?1 now, ?2 batch id or NULL */
	[S_NOTICE_DUE] = "SELECT 1 FROM outbox WHERE status = 'pending' AND next_at <= ?1"
	                 " AND (owner IS NULL OR IFNULL(lease_until, 0) <= ?1) AND (?2 IS NULL OR batch_id = ?2) LIMIT 1",
	/* ?1 owner, ?2 now, ?3 lease_until, ?4 batch id or NULL */
	[S_NOTICE_CLAIM] = "UPDATE outbox SET owner = ?1, lease_until = ?3, attempts = attempts + 1"
	                   " WHERE id = (SELECT id FROM outbox WHERE status = 'pending' AND next_at <= ?2"
	                   " AND (owner IS NULL OR IFNULL(lease_until, 0) <= ?2) AND (?4 IS NULL OR batch_id = ?4)"
	                   " ORDER BY next_at, id LIMIT 1) RETURNING " NOTICE_COLS,
	/* ?3 new status, ?4 now, ?5 next_at, ?6 error */
	[S_NOTICE_SETTLE] = "UPDATE outbox SET status = ?3, owner = NULL, lease_until = NULL,"
	                    " next_at = CASE WHEN ?3 = 'pending' THEN ?5 ELSE next_at END,"
	                    " sent_at = CASE WHEN ?3 = 'sent' THEN ?4 ELSE sent_at END,"
	                    " last_error = CASE WHEN ?3 = 'sent' THEN last_error ELSE ?6 END"
	                    " WHERE id = ?1 AND status = 'pending' AND owner = ?2",
	/* a deleted batch takes its delivered and failed notifications along; pending ones still go */
	[S_NOTICE_FORGET] = "DELETE FROM outbox WHERE batch_id = ?1 AND status != 'pending'",
	[S_NOTICE_STATE] = "SELECT status, owner, lease_until, sent_at FROM outbox WHERE id = ?1",
	/* ?2 now: a failed notice, or a pending one no live lease holds */
	[S_NOTICE_REQUEUE_ONE] = "UPDATE outbox SET status = 'pending', attempts = 0, next_at = ?2, owner = NULL,"
	                         " lease_until = NULL WHERE id = ?1 AND (status = 'failed' OR (status = 'pending'"
	                         " AND (owner IS NULL OR IFNULL(lease_until, 0) <= ?2)))",
	[S_NOTICE_REQUEUE_FAILED] = "UPDATE outbox SET status = 'pending', attempts = 0, next_at = ?1,"
	                            " owner = NULL, lease_until = NULL WHERE status = 'failed'",
	/* copying a store: records as they are; times of 0 are NULL, as the operations above leave them */
	[S_FILE_SCAN] = "SELECT " FILE_COLS " FROM files f WHERE f.file_id > ?1 ORDER BY f.file_id LIMIT ?2",
	[S_FILE_ROW] = "SELECT " FILE_COLS " FROM files f WHERE f.file_id = ?1",
	[S_BATCH_IMPORT] = "INSERT INTO batches (" BATCH_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
	                   " ?11, ?12, ?13, ?14, ?15) ON CONFLICT (id) DO NOTHING",
	[S_BATCH_STAMP] = "SELECT status, updated_at FROM batches WHERE id = ?1",
	[S_NOTICE_IMPORT] = "INSERT INTO outbox (batch_id, prefix, dest, event, subject, body, status, attempts,"
	                    " max_attempts, created_at, next_at, sent_at, lease_until, owner, last_error)"
	                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
};

typedef struct sq_state {
	zl_state base;
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	uint64_t used; /* statements touched by the current operation */
	int64_t busy_since_ms; /* when the current wait for a lock began */
	int group;             /* in a group (group_begin): operations are savepoints inside it */
	int savepoint;         /* an operation's savepoint is open in the group */
	int group_lost;        /* a claim of the group failed in the database: nothing of it commits */
	zl_group gp;           /* the prefixes the group claimed into */
} sq_state;

extern const zl_state_ops zl_state_sqlite_ops;

/* Maps a failed SQLite call to a zload error; call before resetting the statement. */
static int fail(sq_state *h, int rc, zl_err *err)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return zl_err_set(err, ZL_ETRANSIENT, "state database is busy: %s", sqlite3_errmsg(h->db));
	case SQLITE_NOMEM:
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	default:
		return zl_err_set(err, ZL_ESTATE, "state database: %s", sqlite3_errmsg(h->db));
	}
}

/* Checks the result of one or more sqlite3_bind_*() calls joined by ||. */
static int bound(sq_state *h, int failed, zl_err *err)
{
	if (!failed)
		return 0;
	int rc = sqlite3_errcode(h->db);
	return fail(h, rc != SQLITE_OK ? rc : SQLITE_ERROR, err);
}

static sqlite3_stmt *use(sq_state *h, int i)
{
	h->used |= (uint64_t)1 << i;
	sqlite3_reset(h->stmt[i]);
	sqlite3_clear_bindings(h->stmt[i]);
	return h->stmt[i];
}

/* Returns 1 for a row, 0 when done, or a negative code. */
static int step_row(sq_state *h, sqlite3_stmt *s, zl_err *err)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return fail(h, rc, err);
}

static int run(sq_state *h, sqlite3_stmt *s, zl_err *err)
{
	int rc = step_row(h, s, err);
	return rc < 0 ? rc : 0;
}

/* In a group, an operation's transaction is a savepoint of the group's; an error SQLite ended the
 * group's transaction with fails every operation after it, until group_end. */
static int begin(sq_state *h, int immediate, zl_err *err)
{
	if (!h->group)
		return run(h, use(h, immediate ? S_BEGIN_IMMEDIATE : S_BEGIN), err);
	if (sqlite3_get_autocommit(h->db))
		return zl_err_set(err, ZL_ESTATE, "state database: the group's transaction was rolled back");
	int rc = run(h, use(h, S_SAVEPOINT), err);
	h->savepoint = rc == 0;
	return rc;
}

static int commit(sq_state *h, zl_err *err)
{
	if (!h->group)
		return run(h, use(h, S_COMMIT), err);
	int rc = run(h, use(h, S_RELEASE), err);
	h->savepoint = rc != 0;
	return rc;
}

static void step_once(sq_state *h, int i)
{
	sqlite3_step(h->stmt[i]);
	sqlite3_reset(h->stmt[i]);
}

/* Ends an operation: resets its statements and rolls back a transaction (in a group, the
 * operation's savepoint) left open. */
static void op_end(sq_state *h)
{
	for (int i = 0; h->used; i++)
		if (h->used & ((uint64_t)1 << i)) {
			sqlite3_reset(h->stmt[i]);
			h->used &= ~((uint64_t)1 << i);
		}
	if (h->group) {
		if (h->savepoint && !sqlite3_get_autocommit(h->db)) {
			step_once(h, S_ROLLBACK_TO);
			step_once(h, S_RELEASE);
		}
		h->savepoint = 0;
	} else if (!sqlite3_get_autocommit(h->db)) {
		step_once(h, S_ROLLBACK);
	}
}

static int sq_group_begin(zl_state *st, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	if (h->group)
		return zl_err_set(err, ZL_EINVAL, "state: a group is already open");
	int rc = run(h, use(h, S_BEGIN_IMMEDIATE), err);
	h->group = rc == 0;
	h->group_lost = 0;
	op_end(h); /* with the group set: resets the statement, keeps the transaction */
	return rc;
}

static const zl_group_backend sq_group;

static int sq_group_end(zl_state *st, int commit_it, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	if (!h->group)
		return zl_err_set(err, ZL_EINVAL, "state: no group is open");
	int rc = 0;
	if (commit_it && !h->group_lost && zl_group_write_all(&h->gp, &sq_group, h, err))
		h->group_lost = 1;
	int lost = h->group_lost;
	h->group = h->savepoint = h->group_lost = 0;
	zl_group_clear(&h->gp);
	if (lost || sqlite3_get_autocommit(h->db)) /* a claim failed, or SQLite rolled it back after an error */
		rc = commit_it ? zl_err_set(err, ZL_ETRANSIENT, "state database: the group's transaction was lost: "
		                            "its claims were not recorded") : 0;
	else if (commit_it)
		rc = run(h, use(h, S_COMMIT), err);
	op_end(h); /* rolls back what is left open */
	return rc;
}

static int bind_str(sqlite3_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static int col_dup(sqlite3_stmt *s, int i, char **out, zl_err *err)
{
	*out = NULL;
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return 0;
	const char *t = (const char *)sqlite3_column_text(s, i);
	if (t)
		*out = strdup(t);
	return *out ? 0 : zl_err_set(err, ZL_ENOMEM, "out of memory");
}

static void copy_id(char dst[ZL_UUID_LEN], const unsigned char *src)
{
	snprintf(dst, ZL_UUID_LEN, "%s", src ? (const char *)src : "");
}

/* Reads a row of BATCH_COLS; on failure b is released. */
static int read_batch(sqlite3_stmt *s, zl_batch *b, zl_err *err)
{
	const char *status = (const char *)sqlite3_column_text(s, 2);
	int ret = 0;

	memset(b, 0, sizeof *b);
	copy_id(b->id, sqlite3_column_text(s, 0));
	if (zl_batch_status_parse(status, &b->status)) {
		ret = zl_err_set(err, ZL_ESTATE, "batch %s has unknown status \"%s\"", b->id,
		                 status ? status : "");
		goto out;
	}
	b->created_at = sqlite3_column_int64(s, 3);
	b->first_at = sqlite3_column_int64(s, 4);
	b->updated_at = sqlite3_column_int64(s, 5);
	b->locked_at = sqlite3_column_int64(s, 6);
	b->finished_at = sqlite3_column_int64(s, 7);
	b->lease_until = sqlite3_column_int64(s, 8);
	b->file_count = sqlite3_column_int64(s, 9);
	b->bytes = sqlite3_column_int64(s, 10);
	b->attempts = sqlite3_column_int(s, 11);
	if ((ret = col_dup(s, 1, &b->prefix, err)) || (ret = col_dup(s, 12, &b->owner, err)) ||
	    (ret = col_dup(s, 13, &b->result, err)) || (ret = col_dup(s, 14, &b->error, err)))
		goto out;
out:
	if (ret)
		zl_batch_release(b);
	return ret;
}

/* Reads a row of FILE_COLS; on failure f is released. */
static int read_file(sqlite3_stmt *s, zl_file_rec *f, zl_err *err)
{
	int ret = 0;

	memset(f, 0, sizeof *f);
	if ((ret = col_dup(s, 0, &f->file_id, err)) || (ret = col_dup(s, 1, &f->bucket, err)) ||
	    (ret = col_dup(s, 2, &f->key, err)) || (ret = col_dup(s, 3, &f->etag, err)) ||
	    (ret = col_dup(s, 4, &f->prefix, err)))
		goto out;
	f->size = sqlite3_column_int64(s, 5);
	f->received_at = sqlite3_column_int64(s, 6);
	copy_id(f->batch_id, sqlite3_column_text(s, 7));
out:
	if (ret)
		zl_file_rec_release(f);
	return ret;
}

/* The error for a conditional batch update that changed nothing: ZL_ENOTFOUND or ZL_EBUSY. */
static int not_changed(sq_state *h, const char *batch_id, const char *why, zl_err *err)
{
	sqlite3_stmt *s = use(h, S_BATCH_STATE);
	int ret, row;

	if ((ret = bound(h, bind_str(s, 1, batch_id), err)))
		return ret;
	if ((row = step_row(h, s, err)) < 0)
		return row;
	if (!row)
		return zl_err_set(err, ZL_ENOTFOUND, "no batch \"%s\"", batch_id);
	const char *status = (const char *)sqlite3_column_text(s, 0);
	const char *owner = (const char *)sqlite3_column_text(s, 1);
	if (owner && status && strcmp(status, "locked") == 0) {
		char t[40];
		return zl_err_set(err, ZL_EBUSY, "batch %s is locked by %s until %s", batch_id,
		                  owner, zl_time_format(sqlite3_column_int64(s, 2), t, sizeof t));
	}
	return zl_err_set(err, ZL_EBUSY, "batch %s is %s, %s", batch_id, status ? status : "?", why);
}

/* The ZL_ELOST error for an owner-conditional update that changed nothing. */
static int lost(sq_state *h, const char *batch_id, const char *owner, zl_err *err)
{
	sqlite3_stmt *s = use(h, S_BATCH_STATE);
	int ret, row;

	if ((ret = bound(h, bind_str(s, 1, batch_id), err)))
		return ret;
	if ((row = step_row(h, s, err)) < 0)
		return row;
	if (!row)
		return zl_err_set(err, ZL_ELOST, "%s lost the lease on batch %s: the batch was deleted",
		                  owner, batch_id);
	const char *status = (const char *)sqlite3_column_text(s, 0);
	const char *holder = (const char *)sqlite3_column_text(s, 1);
	return zl_err_set(err, ZL_ELOST, "%s lost the lease on batch %s: it is %s%s%s", owner, batch_id,
	                  status ? status : "?", holder ? " by " : "", holder ? holder : "");
}

static int exec_sql(sq_state *h, const char *sql, zl_err *err)
{
	int rc = sqlite3_exec(h->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : fail(h, rc, err);
}

static int pragma_value(sq_state *h, const char *sql, char *val, size_t len, zl_err *err)
{
	sqlite3_stmt *s = NULL;
	int ret = 0, rc;

	val[0] = '\0';
	if ((rc = sqlite3_prepare_v2(h->db, sql, -1, &s, NULL)) != SQLITE_OK) {
		ret = fail(h, rc, err);
		goto out;
	}
	if ((rc = step_row(h, s, err)) < 0) {
		ret = rc;
		goto out;
	}
	if (rc)
		snprintf(val, len, "%s", (const char *)sqlite3_column_text(s, 0));
out:
	sqlite3_finalize(s);
	return ret;
}

static int setup_schema(sq_state *h, const char *path, zl_err *err)
{
	char val[32];
	int ret;

	if ((ret = pragma_value(h, "PRAGMA journal_mode = WAL", val, sizeof val, err)))
		goto out;
	if (strcmp(val, "wal") != 0) {
		ret = zl_err_set(err, ZL_ESTATE, "state database \"%s\": cannot use WAL mode (journal mode is %s)",
		                 path, val);
		goto out;
	}
	/* Rows rewritten or deleted leave no old bytes behind (an older zload's plain passwords). */
	if ((ret = exec_sql(h, "PRAGMA synchronous = NORMAL", err)) ||
	    (ret = exec_sql(h, "PRAGMA secure_delete = ON", err)) ||
	    (ret = pragma_value(h, "PRAGMA user_version", val, sizeof val, err)))
		goto out;
	if (atoi(val) == SCHEMA_VERSION)
		goto out; /* the common case: no write transaction for opening a current database */
	if ((ret = exec_sql(h, "BEGIN IMMEDIATE", err)) ||
	    (ret = pragma_value(h, "PRAGMA user_version", val, sizeof val, err)))
		goto out;
	if (atoi(val) > SCHEMA_VERSION) {
		ret = zl_err_set(err, ZL_ESTATE, "state database \"%s\" has schema version %s; this zload knows %d",
		                 path, val, SCHEMA_VERSION);
		goto out;
	}
	if ((ret = exec_sql(h, schema_sql, err)) ||
	    (ret = exec_sql(h, SCHEMA_VERSION_SQL, err)) ||
	    (ret = exec_sql(h, "COMMIT", err)))
		goto out;
out:
	if (!sqlite3_get_autocommit(h->db))
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

/* SQLite's own handler backs off to 100 ms naps, which starves a writer (the sweeper locking a
 * batch) competing with a stream of short appends; this one polls every 250 us at most. */
static int busy_wait(void *arg, int count)
{
	sq_state *h = arg;
	long us = count < 3 ? 50L << count : 250;

	if (count == 0)
		h->busy_since_ms = zl_mono_ms();
	else if (zl_mono_ms() - h->busy_since_ms >= BUSY_TIMEOUT_MS)
		return 0; /* time passed, not sleep asked for: a loaded machine oversleeps */
	struct timespec ts = { .tv_sec = 0, .tv_nsec = us * 1000 };
	nanosleep(&ts, NULL);
	return 1;
}

/* A new state database and its directories are private to the loader's user: SQLite gives its
 * WAL and shared-memory files the database file's mode. */
static int create_private(const char *path, zl_err *err)
{
	if (path[0] == ':' || strncmp(path, "file:", 5) == 0 || access(path, F_OK) == 0)
		return 0;
	char *copy = strdup(path);
	int rc = copy ? zl_mkdirs_for(copy, 0700) : -1;
	free(copy);
	if (rc != 0)
		return zl_err_set(err, ZL_ESTATE, "cannot create the directory of state database \"%s\": %s", path,
		                  strerror(errno));
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST)
		return zl_err_set(err, ZL_ESTATE, "cannot create state database \"%s\": %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return 0;
}

static void sq_close(zl_state *st)
{
	sq_state *h = (sq_state *)st;
	if (!h)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(h->stmt[i]);
	/* The last connection's close checkpoints the WAL; with the persistent WAL of sq_open this
	 * empties it (no old frames linger) rather than leaving it as long as it grew. */
	if (h->db)
		sqlite3_exec(h->db, "PRAGMA journal_size_limit = 0", NULL, NULL, NULL);
	sqlite3_close(h->db);
	zl_group_clear(&h->gp);
	free(h);
}

static int sq_open(const char *target, zl_state **out, zl_err *err)
{
	sq_state *h = NULL;
	int ret = 0, rc;

	*out = NULL;
	if (!target || !*target)
		return zl_err_set(err, ZL_EINVAL, "state database path is empty");
	if (!(h = calloc(1, sizeof *h))) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	h->base.ops = &zl_state_sqlite_ops;
	if ((ret = create_private(target, err)))
		goto out;
	rc = sqlite3_open_v2(target, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		ret = zl_err_set(err, ZL_ESTATE, "cannot open state database \"%s\": %s", target,
		                 h->db ? sqlite3_errmsg(h->db) : sqlite3_errstr(rc));
		goto out;
	}
	sqlite3_extended_result_codes(h->db, 1);
	sqlite3_busy_handler(h->db, busy_wait, h);
	/* The WAL and its index stay when the last connection closes (emptied, see sq_close): a
	 * process per event (zload event, hooks) then reopens them instead of creating and unlinking
	 * two files each time, which was most of its cost in the file system. */
	int persist = 1;
	sqlite3_file_control(h->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	if ((ret = setup_schema(h, target, err)))
		goto out;
	for (int i = 0; i < S_COUNT; i++)
		if ((rc = sqlite3_prepare_v3(h->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &h->stmt[i],
		                             NULL)) != SQLITE_OK) {
			ret = fail(h, rc, err);
			goto out;
		}
	*out = &h->base;
out:
	if (ret)
		sq_close(h ? &h->base : NULL);
	return ret;
}

static int sq_config_put(zl_state *st, const char *prefix, const char *json, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s;
	int ret;

	if (!prefix || !json)
		return zl_err_set(err, ZL_EINVAL, "configuration needs a prefix and JSON text");
	s = use(h, S_CONFIG_PUT);
	if ((ret = bound(h, bind_str(s, 1, prefix) || bind_str(s, 2, json), err)))
		goto out;
	ret = run(h, s, err);
out:
	op_end(h);
	return ret;
}

static int sq_config_get(zl_state *st, const char *prefix, char **json, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = use(h, S_CONFIG_GET);
	int ret, row;

	*json = NULL;
	if ((ret = bound(h, bind_str(s, 1, prefix), err)))
		goto out;
	if ((row = step_row(h, s, err)) < 0) {
		ret = row;
		goto out;
	}
	if (!row) {
		ret = zl_err_set(err, ZL_ENOTFOUND, "no configuration for prefix \"%s\"", prefix);
		goto out;
	}
	ret = col_dup(s, 0, json, err);
out:
	op_end(h);
	return ret;
}

static int sq_config_list(zl_state *st, zl_strvec *prefixes, zl_strvec *jsons, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = use(h, S_CONFIG_LIST);
	size_t np = prefixes->n, nj = jsons->n;
	int ret = 0, row;

	while ((row = step_row(h, s, err)) == 1) {
		const char *p = (const char *)sqlite3_column_text(s, 0);
		const char *j = (const char *)sqlite3_column_text(s, 1);
		if (zl_strvec_push(prefixes, p ? p : "") || zl_strvec_push(jsons, j ? j : "")) {
			ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (row < 0)
		ret = row;
out:
	op_end(h);
	if (ret) {
		zl_strvec_truncate(prefixes, np);
		zl_strvec_truncate(jsons, nj);
	}
	return ret;
}

static int sq_config_replace(zl_state *st, const char *prefix, const char *old_json, const char *json, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = use(h, S_CONFIG_REPLACE);
	int ret;

	if ((ret = bound(h, bind_str(s, 1, prefix) || bind_str(s, 2, old_json) || bind_str(s, 3, json), err)) ||
	    (ret = run(h, s, err)))
		goto out;
	if (sqlite3_changes(h->db) == 0)
		ret = zl_err_set(err, ZL_EBUSY, "the configuration for prefix \"%s\" changed meanwhile", prefix);
	else /* the old text may linger in the WAL's frames: put the pages in place and empty it */
		sqlite3_wal_checkpoint_v2(h->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
out:
	op_end(h);
	return ret;
}

static int sq_config_delete(zl_state *st, const char *prefix, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = use(h, S_CONFIG_DELETE);
	int ret;

	if ((ret = bound(h, bind_str(s, 1, prefix), err)) || (ret = run(h, s, err)))
		goto out;
	if (sqlite3_changes(h->db) == 0)
		ret = zl_err_set(err, ZL_ENOTFOUND, "no configuration for prefix \"%s\"", prefix);
out:
	op_end(h);
	return ret;
}

static int sq_config_version(zl_state *st, int64_t *version, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = use(h, S_CONFIG_VERSION);
	int ret = 0, row = step_row(h, s, err);

	*version = 0;
	if (row < 0)
		ret = row;
	else if (row)
		*version = sqlite3_column_int64(s, 0);
	op_end(h);
	return ret;
}

/* A claimed file: res gets its batch and the batch's totals. Returns 1 when file_id is claimed,
 * 0 when not, or an error. */
static int find_claim(sq_state *h, const char *file_id, zl_append_result *res, zl_err *err)
{
	sqlite3_stmt *s = use(h, S_FILE_BATCH);
	int ret, row;

	if ((ret = bound(h, bind_str(s, 1, file_id), err)))
		return ret;
	if ((row = step_row(h, s, err)) <= 0)
		return row;
	res->duplicate = 1;
	copy_id(res->batch_id, sqlite3_column_text(s, 0));
	s = use(h, S_BATCH_TOTALS);
	if ((ret = bound(h, bind_str(s, 1, res->batch_id), err)))
		return ret;
	if ((row = step_row(h, s, err)) < 0)
		return row;
	if (row) {
		res->file_count = sqlite3_column_int64(s, 0);
		res->bytes = sqlite3_column_int64(s, 1);
		res->first_at = sqlite3_column_int64(s, 2);
	}
	return 1;
}

/* Inserts the file record (statement i: S_FILE_INSERT, or S_FILE_INSERT_NEW that skips a file
 * claimed before; sqlite3_changes tells). */
static int insert_file(sq_state *h, int i, const char *file_id, const char *prefix, const zl_object *obj,
                       int64_t size, int64_t now, const char *batch_id, zl_err *err)
{
	sqlite3_stmt *s = use(h, i);
	int rc = bound(h, bind_str(s, 1, file_id) || bind_str(s, 2, obj->bucket) || bind_str(s, 3, obj->key) ||
	                      bind_str(s, 4, obj->etag) || bind_str(s, 5, prefix) || sqlite3_bind_int64(s, 6, size) ||
	                      sqlite3_bind_int64(s, 7, now) || bind_str(s, 8, batch_id), err);
	return rc ? rc : run(h, s, err);
}

/* Locks the batch a claim filled for opts->lock_owner; *locked when it was still open. */
static int lock_full(sq_state *h, const char *batch_id, const zl_claim_opts *opts, int64_t now, int *locked,
                     zl_err *err)
{
	sqlite3_stmt *s = use(h, S_BATCH_LOCK);
	int rc = bound(h, bind_str(s, 1, batch_id) || bind_str(s, 2, opts->lock_owner) || sqlite3_bind_int64(s, 3, now) ||
	                      sqlite3_bind_int64(s, 4, opts->lease_until) || sqlite3_bind_int64(s, 5, ZL_LOCK_OPEN), err);
	if (rc == 0)
		rc = run(h, s, err);
	*locked = rc == 0 && sqlite3_changes(h->db) == 1;
	return rc;
}

/* ---- a claim in a group: the group holds the write lock, so it keeps each prefix's open batch
 * and that batch's totals itself and writes the appends to the batch row once (before the batch is
 * locked, read again, or the group commits). A new claim is then one INSERT. A claim that fails in
 * the database loses the group (nothing of it commits: the caller claims its records again one by
 * one), as on PostgreSQL. */

static int sq_find_claim(void *hp, const char *file_id, zl_append_result *res, zl_err *err)
{
	return find_claim(hp, file_id, res, err);
}

static int sq_write_appends(void *hp, zl_group_prefix *g, zl_err *err)
{
	sq_state *h = hp;
	sqlite3_stmt *s = use(h, S_BATCH_APPEND_N);
	int rc;
	if ((rc = bound(h, bind_str(s, 1, g->batch_id) || sqlite3_bind_int64(s, 2, g->add_files) ||
	                    sqlite3_bind_int64(s, 3, g->add_bytes) || sqlite3_bind_int64(s, 4, g->add_at), err)) ||
	    (rc = run(h, s, err)))
		return rc;
	if (sqlite3_changes(h->db) != 1) /* cannot happen while the group holds the write lock */
		return zl_err_set(err, ZL_ETRANSIENT, "batch %s closed during a group's appends", g->batch_id);
	return 0;
}

static int sq_pick_batch(void *hp, zl_group_prefix *g, const zl_claim_opts *opts, int64_t now, zl_err *err)
{
	sq_state *h = hp;
	sqlite3_stmt *s = use(h, S_OPEN_BATCH);
	int rc, row;
	if ((rc = bound(h, bind_str(s, 1, g->prefix) || sqlite3_bind_int64(s, 2, opts->max_files) ||
	                    sqlite3_bind_int64(s, 3, opts->max_bytes), err)))
		return rc;
	if ((row = step_row(h, s, err)) < 0)
		return row;
	if (row) {
		copy_id(g->batch_id, sqlite3_column_text(s, 0));
		g->file_count = sqlite3_column_int64(s, 1);
		g->bytes = sqlite3_column_int64(s, 2);
		g->first_at = sqlite3_column_int64(s, 3);
		return 0;
	}
	zl_uuid_v7(now, g->batch_id);
	g->file_count = g->bytes = 0;
	g->first_at = now;
	s = use(h, S_BATCH_INSERT);
	if ((rc = bound(h, bind_str(s, 1, g->batch_id) || bind_str(s, 2, g->prefix) || sqlite3_bind_int64(s, 3, now), err)))
		return rc;
	return run(h, s, err);
}

static int sq_insert_file(void *hp, const char *file_id, const char *prefix, const zl_object *obj, int64_t size,
                          int64_t now, const char *batch_id, int *inserted, zl_err *err)
{
	sq_state *h = hp;
	int rc = insert_file(h, S_FILE_INSERT_NEW, file_id, prefix, obj, size, now, batch_id, err);
	*inserted = rc == 0 && sqlite3_changes(h->db) == 1;
	return rc;
}

static int sq_lock_full(void *hp, const char *batch_id, const zl_claim_opts *opts, int64_t now, int *locked,
                        zl_err *err)
{
	return lock_full(hp, batch_id, opts, now, locked, err);
}

/* The group's statements, for state/group.c's claim (the write lock holds every prefix). */
static const zl_group_backend sq_group = { NULL, sq_find_claim, sq_pick_batch, sq_insert_file, sq_write_appends,
	                                       sq_lock_full };

static int group_claim(sq_state *h, const char *file_id, const char *prefix, const zl_object *obj, int64_t now,
                       const zl_claim_opts *opts, zl_append_result *res, zl_err *err)
{
	if (h->group_lost || sqlite3_get_autocommit(h->db))
		return zl_err_set(err, ZL_ETRANSIENT, "state database: the group's transaction was lost");
	int rc = zl_group_claim(&h->gp, &sq_group, h, file_id, prefix, obj, now, opts, res, err);
	op_end(h);
	if (rc) {
		memset(res, 0, sizeof *res);
		h->group_lost = 1;
	}
	return rc;
}

static int sq_claim_append(zl_state *st, const char *file_id, const char *prefix, const zl_object *obj,
                           int64_t now, const zl_claim_opts *opts, zl_append_result *res, zl_err *err)
{
	static const zl_claim_opts no_opts;
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s;
	int64_t size = obj && obj->size > 0 ? obj->size : 0;
	int ret, row;

	memset(res, 0, sizeof *res);
	if (!opts)
		opts = &no_opts;
	if (!file_id || !prefix || !obj || !obj->bucket || !obj->key)
		return zl_err_set(err, ZL_EINVAL, "claim needs a file id, prefix, bucket and key");
	if (h->group)
		return group_claim(h, file_id, prefix, obj, now, opts, res, err);
	/* Most repeated events are answered by a read, without waiting for the write lock. */
	if ((ret = find_claim(h, file_id, res, err)) != 0) {
		ret = ret > 0 ? 0 : ret;
		goto out;
	}
	if ((ret = begin(h, 1, err)))
		goto out;
	if ((ret = find_claim(h, file_id, res, err)) != 0) {
		ret = ret > 0 ? commit(h, err) : ret;
		goto out;
	}

	s = use(h, S_OPEN_BATCH);
	if ((ret = bound(h, bind_str(s, 1, prefix) || sqlite3_bind_int64(s, 2, opts->max_files) ||
	                    sqlite3_bind_int64(s, 3, opts->max_bytes), err)))
		goto out;
	if ((row = step_row(h, s, err)) < 0) {
		ret = row;
		goto out;
	}
	if (row) {
		copy_id(res->batch_id, sqlite3_column_text(s, 0));
		res->file_count = sqlite3_column_int64(s, 1);
		res->bytes = sqlite3_column_int64(s, 2);
		res->first_at = sqlite3_column_int64(s, 3);
	} else {
		zl_uuid_v7(now, res->batch_id);
		res->first_at = now;
		s = use(h, S_BATCH_INSERT);
		if ((ret = bound(h, bind_str(s, 1, res->batch_id) || bind_str(s, 2, prefix) ||
		                    sqlite3_bind_int64(s, 3, now), err)) ||
		    (ret = run(h, s, err)))
			goto out;
	}

	if ((ret = insert_file(h, S_FILE_INSERT, file_id, prefix, obj, size, now, res->batch_id, err)))
		goto out;

	s = use(h, S_BATCH_APPEND);
	if ((ret = bound(h, bind_str(s, 1, res->batch_id) || sqlite3_bind_int64(s, 2, size) ||
	                    sqlite3_bind_int64(s, 3, now), err)) ||
	    (ret = run(h, s, err)))
		goto out;
	res->file_count++;
	res->bytes += size;
	if (opts->lock_owner && ((opts->max_files > 0 && res->file_count >= opts->max_files) ||
	                         (opts->max_bytes > 0 && res->bytes >= opts->max_bytes))) {
		if ((ret = lock_full(h, res->batch_id, opts, now, &res->locked, err)))
			goto out;
	}
	ret = commit(h, err);
out:
	op_end(h);
	if (ret)
		memset(res, 0, sizeof *res);
	return ret;
}

static int sq_file_get(zl_state *st, const char *file_id, zl_file_rec *out, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = use(h, S_FILE_GET);
	int ret, row;

	memset(out, 0, sizeof *out);
	if ((ret = bound(h, bind_str(s, 1, file_id), err)))
		goto out;
	if ((row = step_row(h, s, err)) < 0) {
		ret = row;
		goto out;
	}
	if (!row) {
		ret = zl_err_set(err, ZL_ENOTFOUND, "no file record \"%s\"", file_id);
		goto out;
	}
	if ((ret = read_file(s, out, err)))
		goto out;
	const char *status = (const char *)sqlite3_column_text(s, 8);
	snprintf(out->batch_status, sizeof out->batch_status, "%s", status ? status : "");
out:
	op_end(h);
	return ret;
}

static int sq_file_delete(zl_state *st, const char *file_id, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s;
	int ret;

	if ((ret = begin(h, 1, err)))
		goto out;
	s = use(h, S_FILE_UNCOUNT);
	if ((ret = bound(h, bind_str(s, 1, file_id), err)) || (ret = run(h, s, err)))
		goto out;
	s = use(h, sqlite3_changes(h->db) ? S_FILE_DELETE : S_FILE_RETIRE);
	if ((ret = bound(h, bind_str(s, 1, file_id), err)) || (ret = run(h, s, err)))
		goto out;
	if (sqlite3_changes(h->db) == 0) {
		ret = zl_err_set(err, ZL_ENOTFOUND, "no file record \"%s\"", file_id);
		goto out;
	}
	ret = commit(h, err);
out:
	op_end(h);
	return ret;
}

static int sq_batch_lock(zl_state *st, const char *batch_id, unsigned mask, const char *owner, int64_t now,
                         int64_t lease_until, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = use(h, S_BATCH_LOCK);
	int ret;

	if (!batch_id || !owner) {
		ret = zl_err_set(err, ZL_EINVAL, "locking a batch needs a batch id and an owner");
		goto out;
	}
	if ((ret = bound(h, bind_str(s, 1, batch_id) || bind_str(s, 2, owner) ||
	                    sqlite3_bind_int64(s, 3, now) || sqlite3_bind_int64(s, 4, lease_until) ||
	                    sqlite3_bind_int64(s, 5, (sqlite3_int64)mask), err)) ||
	    (ret = run(h, s, err)))
		goto out;
	if (sqlite3_changes(h->db) == 0)
		ret = not_changed(h, batch_id, "not lockable", err);
out:
	op_end(h);
	return ret;
}

static int sq_batch_renew(zl_state *st, const char *batch_id, const char *owner, int64_t lease_until,
                          zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = use(h, S_BATCH_RENEW);
	int ret;

	if (!batch_id || !owner) {
		ret = zl_err_set(err, ZL_EINVAL, "renewing a lease needs a batch id and an owner");
		goto out;
	}
	if ((ret = bound(h, bind_str(s, 1, batch_id) || bind_str(s, 2, owner) ||
	                    sqlite3_bind_int64(s, 3, lease_until), err)) ||
	    (ret = run(h, s, err)))
		goto out;
	if (sqlite3_changes(h->db) == 0)
		ret = lost(h, batch_id, owner, err);
out:
	op_end(h);
	return ret;
}

static int sq_batch_finish(zl_state *st, const char *batch_id, const char *owner, zl_batch_status status,
                           int64_t now, int64_t retry_at, const char *result, const char *error,
                           const zl_notice *notices, size_t nnotices, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s;
	int ret;

	if ((ret = zl_state_check_finish(batch_id, owner, status, nnotices, err)))
		goto out;
	if ((ret = begin(h, 1, err)))
		goto out;
	s = use(h, S_BATCH_FINISH);
	if ((ret = bound(h, bind_str(s, 1, batch_id) || bind_str(s, 2, owner) ||
	                    bind_str(s, 3, zl_batch_status_name(status)) || sqlite3_bind_int64(s, 4, now) ||
	                    sqlite3_bind_int64(s, 5, retry_at) || bind_str(s, 6, result) ||
	                    bind_str(s, 7, error), err)) ||
	    (ret = run(h, s, err)))
		goto out;
	if (sqlite3_changes(h->db) == 0) {
		ret = lost(h, batch_id, owner, err);
		goto out;
	}
	for (size_t i = 0; i < nnotices; i++) {
		const zl_notice *n = &notices[i];
		s = use(h, S_NOTICE_INSERT);
		if ((ret = bound(h, bind_str(s, 1, batch_id) || bind_str(s, 2, n->dest) || bind_str(s, 3, n->event) ||
		                    bind_str(s, 4, n->subject) || bind_str(s, 5, n->body) ||
		                    sqlite3_bind_int(s, 6, n->max_attempts > 0 ? n->max_attempts : 1) ||
		                    sqlite3_bind_int64(s, 7, now), err)) ||
		    (ret = run(h, s, err)))
			goto out;
	}
	ret = commit(h, err);
out:
	op_end(h);
	return ret;
}

static int sq_batch_resolve(zl_state *st, const char *id_prefix, char out[ZL_UUID_LEN], zl_err *err)
{
	sq_state *h = (sq_state *)st;
	char lo[ZL_UUID_LEN], hi[ZL_UUID_LEN];
	size_t n = strlen(id_prefix);
	int ret = 0, row, found = 0;
	char ids[4][ZL_UUID_LEN];

	out[0] = '\0';
	if ((ret = zl_state_check_id_prefix(id_prefix, lo, err)))
		return ret;
	memcpy(hi, lo, sizeof hi);
	hi[n - 1]++; /* ids from lo (inclusive) to hi (exclusive) start with the prefix */
	sqlite3_stmt *s = use(h, S_BATCH_RESOLVE);
	if ((ret = bound(h, bind_str(s, 1, lo) || bind_str(s, 2, hi), err)))
		goto out;
	while ((row = step_row(h, s, err)) == 1)
		copy_id(ids[found++], sqlite3_column_text(s, 0));
	if (row < 0) {
		ret = row;
		goto out;
	}
	if (found == 1) {
		memcpy(out, ids[0], ZL_UUID_LEN);
	} else if (found == 0) {
		ret = zl_err_set(err, ZL_ENOTFOUND, "no batch \"%s\"", id_prefix);
	} else {
		ret = zl_err_set(err, ZL_EINVAL, "batch id \"%s\" is ambiguous: %s, %s%s", id_prefix, ids[0], ids[1],
		                 found > 2 ? ", ..." : "");
	}
out:
	op_end(h);
	return ret;
}

static int sq_batch_get(zl_state *st, const char *batch_id, zl_batch *out, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s;
	size_t alloc = 0;
	int ret, row;

	memset(out, 0, sizeof *out);
	if ((ret = begin(h, 0, err)))
		goto out;
	s = use(h, S_BATCH_GET);
	if ((ret = bound(h, bind_str(s, 1, batch_id), err)))
		goto out;
	if ((row = step_row(h, s, err)) < 0) {
		ret = row;
		goto out;
	}
	if (!row) {
		ret = zl_err_set(err, ZL_ENOTFOUND, "no batch \"%s\"", batch_id);
		goto out;
	}
	if ((ret = read_batch(s, out, err)))
		goto out;

	s = use(h, S_BATCH_FILES);
	if ((ret = bound(h, bind_str(s, 1, batch_id), err)))
		goto out;
	while ((row = step_row(h, s, err)) == 1) {
		if (out->nfiles == alloc) {
			size_t n = alloc ? alloc * 2 : 16;
			zl_file_rec *p = realloc(out->files, n * sizeof *p);
			if (!p) {
				ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
				goto out;
			}
			out->files = p;
			alloc = n;
		}
		zl_file_rec *f = &out->files[out->nfiles];
		if ((ret = read_file(s, f, err)))
			goto out;
		snprintf(f->batch_status, sizeof f->batch_status, "%s", zl_batch_status_name(out->status));
		out->nfiles++;
	}
	if (row < 0) {
		ret = row;
		goto out;
	}
	ret = commit(h, err);
out:
	op_end(h);
	if (ret)
		zl_batch_release(out);
	return ret;
}

/* Reads every row of s into a new array of elements of size bytes (zeroed before read fills
 * them). *v and *nv hold what was read even on failure, for the caller to free. */
static int read_rows(sq_state *h, sqlite3_stmt *s, size_t size, int (*read)(sqlite3_stmt *, void *, zl_err *),
                     void **v, size_t *nv, zl_err *err)
{
	size_t alloc = 8;
	char *a = calloc(alloc, size);
	int row, rc;
	*v = a;
	*nv = 0;
	if (!a)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	while ((row = step_row(h, s, err)) == 1) {
		if (*nv == alloc) {
			char *q = realloc(a, 2 * alloc * size);
			if (!q)
				return zl_err_set(err, ZL_ENOMEM, "out of memory");
			memset(q + alloc * size, 0, alloc * size);
			*v = a = q;
			alloc *= 2;
		}
		if ((rc = read(s, a + *nv * size, err)))
			return rc;
		(*nv)++;
	}
	return row < 0 ? row : 0;
}

static int read_batch_row(sqlite3_stmt *s, void *b, zl_err *err) { return read_batch(s, b, err); }
static int read_file_row(sqlite3_stmt *s, void *f, zl_err *err) { return read_file(s, f, err); }

static int sq_batch_list(zl_state *st, const zl_batch_filter *f, zl_batch **out, size_t *n, zl_err *err)
{
	static const zl_batch_filter all;
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = NULL;
	void *v = NULL;
	size_t nv = 0;
	zl_buf sql;
	int ret = 0, rc, p = 0;

	*out = NULL;
	*n = 0;
	if (!f)
		f = &all;
	zl_buf_init(&sql, 2048);
	zl_buf_adds(&sql, "SELECT " BATCH_COLS " FROM batches WHERE 1");
	zl_state_sql_status_in(&sql, f->status_mask, ZL_SQL_BATCH_STATUS);
	if (f->prefix)
		zl_buf_adds(&sql, " AND prefix = ?");
	if (f->since)
		zl_buf_adds(&sql, " AND created_at >= ?");
	if (f->until)
		zl_buf_adds(&sql, " AND created_at <= ?");
	zl_buf_adds(&sql, " ORDER BY created_at DESC, id DESC");
	if (f->limit)
		zl_buf_adds(&sql, " LIMIT ?");

	rc = sqlite3_prepare_v2(h->db, zl_buf_str(&sql), -1, &s, NULL);
	zl_buf_release(&sql);
	if (rc != SQLITE_OK) {
		ret = fail(h, rc, err);
		goto out;
	}
	if ((f->prefix && bind_str(s, ++p, f->prefix)) || (f->since && sqlite3_bind_int64(s, ++p, f->since)) ||
	    (f->until && sqlite3_bind_int64(s, ++p, f->until)) ||
	    (f->limit && sqlite3_bind_int64(s, ++p, f->limit > INT64_MAX ? INT64_MAX : (int64_t)f->limit))) {
		ret = bound(h, 1, err);
		goto out;
	}
	if ((ret = read_rows(h, s, sizeof(zl_batch), read_batch_row, &v, &nv, err)))
		goto out;
	*out = v;
	*n = nv;
	v = NULL;
out:
	sqlite3_finalize(s);
	zl_batch_list_free(v, nv);
	return ret;
}

static int sq_batch_unlock(zl_state *st, const char *batch_id, int64_t now, const char *owner, int force,
                           zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = use(h, S_BATCH_UNLOCK);
	int ret;

	if ((ret = bound(h, bind_str(s, 1, batch_id) || sqlite3_bind_int64(s, 2, now) ||
	                    sqlite3_bind_int(s, 3, force != 0) || bind_str(s, 4, owner), err)) ||
	    (ret = run(h, s, err)))
		goto out;
	if (sqlite3_changes(h->db) == 0)
		ret = not_changed(h, batch_id, "not locked", err);
out:
	op_end(h);
	return ret;
}

static int sq_batch_delete(zl_state *st, const char *batch_id, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s;
	int ret;

	if ((ret = begin(h, 1, err)))
		goto out;
	s = use(h, S_BATCH_DELETE);
	if ((ret = bound(h, bind_str(s, 1, batch_id), err)) || (ret = run(h, s, err)))
		goto out;
	if (sqlite3_changes(h->db) == 0) {
		ret = not_changed(h, batch_id, "not finished", err);
		goto out;
	}
	s = use(h, S_NOTICE_FORGET);
	if ((ret = bound(h, bind_str(s, 1, batch_id), err)) || (ret = run(h, s, err)))
		goto out;
	ret = commit(h, err);
out:
	op_end(h);
	return ret;
}

/* ---- the outbox ---- */

/* Reads a row of NOTICE_COLS; on failure n is released. */
static int read_notice(sqlite3_stmt *s, zl_notice_rec *n, zl_err *err)
{
	const char *status = (const char *)sqlite3_column_text(s, 7);
	int ret = 0;

	memset(n, 0, sizeof *n);
	n->id = sqlite3_column_int64(s, 0);
	copy_id(n->batch_id, sqlite3_column_text(s, 1));
	if (zl_notice_status_parse(status, &n->status)) {
		ret = zl_err_set(err, ZL_ESTATE, "notification %lld has unknown status \"%s\"", (long long)n->id,
		                 status ? status : "");
		goto out;
	}
	n->attempts = sqlite3_column_int(s, 8);
	n->max_attempts = sqlite3_column_int(s, 9);
	n->created_at = sqlite3_column_int64(s, 10);
	n->next_at = sqlite3_column_int64(s, 11);
	n->sent_at = sqlite3_column_int64(s, 12);
	n->lease_until = sqlite3_column_int64(s, 13);
	if ((ret = col_dup(s, 2, &n->prefix, err)) || (ret = col_dup(s, 3, &n->dest, err)) ||
	    (ret = col_dup(s, 4, &n->event, err)) || (ret = col_dup(s, 5, &n->subject, err)) ||
	    (ret = col_dup(s, 6, &n->body, err)) || (ret = col_dup(s, 14, &n->owner, err)) ||
	    (ret = col_dup(s, 15, &n->last_error, err)))
		goto out;
out:
	if (ret)
		zl_notice_rec_release(n);
	return ret;
}

static int read_notice_row(sqlite3_stmt *s, void *n, zl_err *err) { return read_notice(s, n, err); }

static int sq_notice_claim(zl_state *st, const char *owner, int64_t now, int64_t lease_until, const char *batch_id,
                           zl_notice_rec *out, int *claimed, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = use(h, S_NOTICE_CLAIM);
	int ret, row;

	memset(out, 0, sizeof *out);
	*claimed = 0;
	if (!owner) {
		ret = zl_err_set(err, ZL_EINVAL, "claiming a notification needs an owner");
		goto out;
	}
	/* Most polls find nothing due: answered by a read, without taking the write lock. */
	sqlite3_stmt *due = use(h, S_NOTICE_DUE);
	if ((ret = bound(h, sqlite3_bind_int64(due, 1, now) || bind_str(due, 2, batch_id), err)))
		goto out;
	if ((row = step_row(h, due, err)) <= 0) {
		ret = row;
		goto out;
	}
	sqlite3_reset(due); /* ends the read: a write on top of a stale snapshot would be refused */
	if ((ret = bound(h, bind_str(s, 1, owner) || sqlite3_bind_int64(s, 2, now) ||
	                    sqlite3_bind_int64(s, 3, lease_until) || bind_str(s, 4, batch_id), err)))
		goto out;
	if ((row = step_row(h, s, err)) < 0) {
		ret = row;
		goto out;
	}
	if (!row)
		goto out;
	if ((ret = read_notice(s, out, err)))
		goto out;
	if ((row = step_row(h, s, err)) < 0) { /* DONE commits the update */
		ret = row;
		zl_notice_rec_release(out);
		goto out;
	}
	*claimed = 1;
out:
	op_end(h);
	return ret;
}

/* The ZL_ELOST error for a settle that changed nothing. */
static int notice_lost(sq_state *h, int64_t id, const char *owner, zl_err *err)
{
	sqlite3_stmt *s = use(h, S_NOTICE_STATE);
	int ret, row;

	if ((ret = bound(h, sqlite3_bind_int64(s, 1, id), err)))
		return ret;
	if ((row = step_row(h, s, err)) < 0)
		return row;
	if (!row)
		return zl_err_set(err, ZL_ELOST, "%s lost notification %lld: it was deleted", owner, (long long)id);
	const char *status = (const char *)sqlite3_column_text(s, 0);
	const char *holder = (const char *)sqlite3_column_text(s, 1);
	return zl_err_set(err, ZL_ELOST, "%s lost notification %lld: it is %s%s%s", owner, (long long)id,
	                  status ? status : "?", holder ? " by " : "", holder ? holder : "");
}

static int sq_notice_settle(zl_state *st, int64_t id, const char *owner, zl_notice_status status, int64_t now,
                            int64_t next_at, const char *error, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = use(h, S_NOTICE_SETTLE);
	int ret;

	if (!owner || (unsigned)status >= ZL_NOTICE_NSTATUS) {
		ret = zl_err_set(err, ZL_EINVAL, "settling notification %lld needs an owner and a status", (long long)id);
		goto out;
	}
	if ((ret = bound(h, sqlite3_bind_int64(s, 1, id) || bind_str(s, 2, owner) ||
	                    bind_str(s, 3, zl_notice_status_name(status)) || sqlite3_bind_int64(s, 4, now) ||
	                    sqlite3_bind_int64(s, 5, next_at) || bind_str(s, 6, error), err)) ||
	    (ret = run(h, s, err)))
		goto out;
	if (sqlite3_changes(h->db) == 0)
		ret = notice_lost(h, id, owner, err);
out:
	op_end(h);
	return ret;
}

static int sq_notice_list(zl_state *st, const zl_notice_filter *f, zl_notice_rec **out, size_t *n, zl_err *err)
{
	static const zl_notice_filter all;
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = NULL;
	void *v = NULL;
	size_t nv = 0;
	zl_buf sql;
	int ret = 0, rc, p = 0;

	*out = NULL;
	*n = 0;
	if (!f)
		f = &all;
	zl_buf_init(&sql, 2048);
	zl_buf_adds(&sql, "SELECT " NOTICE_COLS " FROM outbox WHERE 1");
	zl_state_sql_status_in(&sql, f->status_mask, ZL_SQL_NOTICE_STATUS);
	if (f->batch_id)
		zl_buf_adds(&sql, " AND batch_id = ?");
	zl_buf_adds(&sql, " ORDER BY id DESC");
	if (f->limit)
		zl_buf_adds(&sql, " LIMIT ?");

	rc = sqlite3_prepare_v2(h->db, zl_buf_str(&sql), -1, &s, NULL);
	zl_buf_release(&sql);
	if (rc != SQLITE_OK) {
		ret = fail(h, rc, err);
		goto out;
	}
	if ((f->batch_id && bind_str(s, ++p, f->batch_id)) ||
	    (f->limit && sqlite3_bind_int64(s, ++p, f->limit > INT64_MAX ? INT64_MAX : (int64_t)f->limit))) {
		ret = bound(h, 1, err);
		goto out;
	}
	if ((ret = read_rows(h, s, sizeof(zl_notice_rec), read_notice_row, &v, &nv, err)))
		goto out;
	*out = v;
	*n = nv;
	v = NULL;
out:
	sqlite3_finalize(s);
	zl_notice_list_free(v, nv);
	return ret;
}

/* Why a requeue of notice id changed nothing: ZL_ENOTFOUND or ZL_EBUSY. */
static int notice_not_requeued(sq_state *h, int64_t id, zl_err *err)
{
	sqlite3_stmt *s = use(h, S_NOTICE_STATE);
	int ret, row;

	if ((ret = bound(h, sqlite3_bind_int64(s, 1, id), err)))
		return ret;
	if ((row = step_row(h, s, err)) < 0)
		return row;
	if (!row)
		return zl_err_set(err, ZL_ENOTFOUND, "no notification %lld", (long long)id);
	const char *status = (const char *)sqlite3_column_text(s, 0);
	char t[40];
	if (status && strcmp(status, "sent") == 0)
		return zl_err_set(err, ZL_EBUSY, "notification %lld was sent at %s", (long long)id,
		                  zl_time_format(sqlite3_column_int64(s, 3), t, sizeof t));
	const char *owner = (const char *)sqlite3_column_text(s, 1);
	return zl_err_set(err, ZL_EBUSY, "notification %lld is being sent by %s (lease until %s)", (long long)id,
	                  owner ? owner : "?", zl_time_format(sqlite3_column_int64(s, 2), t, sizeof t));
}

static int sq_notice_requeue(zl_state *st, int64_t id, int64_t now, size_t *n, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = use(h, id ? S_NOTICE_REQUEUE_ONE : S_NOTICE_REQUEUE_FAILED);
	int ret;

	*n = 0;
	if (id) {
		if ((ret = bound(h, sqlite3_bind_int64(s, 1, id) || sqlite3_bind_int64(s, 2, now), err)))
			goto out;
	} else if ((ret = bound(h, sqlite3_bind_int64(s, 1, now), err))) {
		goto out;
	}
	if ((ret = run(h, s, err)))
		goto out;
	*n = (size_t)sqlite3_changes(h->db);
	if (id && *n == 0)
		ret = notice_not_requeued(h, id, err);
out:
	op_end(h);
	return ret;
}

/* ---- copying a store ---- */

/* Binds a time, 0 (not set) as NULL. */
static int bind_time(sqlite3_stmt *s, int i, int64_t v)
{
	return v ? sqlite3_bind_int64(s, i, v) : sqlite3_bind_null(s, i);
}

/* Binds a batch id, "" (none) as NULL. */
static int bind_id(sqlite3_stmt *s, int i, const char *id)
{
	return id[0] ? bind_str(s, i, id) : sqlite3_bind_null(s, i);
}

static int sq_file_scan(zl_state *st, const char *after, size_t limit, zl_file_rec **out, size_t *n, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = use(h, S_FILE_SCAN);
	void *v = NULL;
	size_t nv = 0;
	int ret;

	*out = NULL;
	*n = 0;
	if (limit == 0) {
		ret = zl_err_set(err, ZL_EINVAL, "a file scan needs a page size");
		goto out;
	}
	if ((ret = bound(h, bind_str(s, 1, after ? after : "") ||
	                    sqlite3_bind_int64(s, 2, limit > INT64_MAX ? INT64_MAX : (int64_t)limit), err)) ||
	    (ret = read_rows(h, s, sizeof(zl_file_rec), read_file_row, &v, &nv, err)))
		goto out;
	*out = v;
	*n = nv;
	v = NULL;
out:
	op_end(h);
	zl_file_list_free(v, nv);
	return ret;
}

/* The stored record of f->file_id: ZL_EBUSY unless it is the same as f. The caller holds the write lock. */
static int file_conflict(sq_state *h, const zl_file_rec *f, zl_err *err)
{
	sqlite3_stmt *s = use(h, S_FILE_ROW);
	zl_file_rec old;
	int ret, row;

	if ((ret = bound(h, bind_str(s, 1, f->file_id), err)))
		return ret;
	if ((row = step_row(h, s, err)) <= 0)
		return row < 0 ? row : zl_err_set(err, ZL_ESTATE, "file record \"%s\" vanished", f->file_id);
	if ((ret = read_file(s, &old, err)))
		return ret;
	if (!zl_file_rec_same(&old, f))
		ret = zl_state_file_conflict(&old, f, err);
	zl_file_rec_release(&old);
	return ret;
}

static int sq_file_import(zl_state *st, const zl_file_rec *f, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s;
	int ret;

	if (!f->file_id || !f->bucket || !f->key || !f->prefix)
		return zl_err_set(err, ZL_EINVAL, "a file record needs a file id, bucket, key and prefix");
	if ((ret = begin(h, 1, err)))
		goto out;
	s = use(h, S_FILE_BATCH);
	if ((ret = bound(h, bind_str(s, 1, f->file_id), err)) || (ret = step_row(h, s, err)) < 0)
		goto out;
	if (ret == 1) { /* stored already: the same record is no change */
		ret = file_conflict(h, f, err);
		goto out;
	}
	s = use(h, S_FILE_INSERT);
	if ((ret = bound(h, bind_str(s, 1, f->file_id) || bind_str(s, 2, f->bucket) || bind_str(s, 3, f->key) ||
	                    bind_str(s, 4, f->etag) || bind_str(s, 5, f->prefix) ||
	                    sqlite3_bind_int64(s, 6, f->size) || bind_time(s, 7, f->received_at) ||
	                    bind_id(s, 8, f->batch_id), err)) ||
	    (ret = run(h, s, err)))
		goto out;
	ret = commit(h, err);
out:
	op_end(h);
	return ret;
}

/* Why a batch import changed nothing: no change when the stored batch has b's status and
 * updated_at, else ZL_EBUSY. */
static int batch_stamp_differs(sq_state *h, const zl_batch *b, zl_err *err)
{
	sqlite3_stmt *s = use(h, S_BATCH_STAMP);
	zl_batch_status status;
	int ret, row;

	if ((ret = bound(h, bind_str(s, 1, b->id), err)))
		return ret;
	if ((row = step_row(h, s, err)) <= 0)
		return row < 0 ? row : zl_err_set(err, ZL_ESTATE, "batch %s vanished", b->id);
	if (zl_batch_status_parse((const char *)sqlite3_column_text(s, 0), &status))
		status = ZL_BATCH_NSTATUS;
	int64_t updated_at = sqlite3_column_int64(s, 1);
	if (status == b->status && updated_at == b->updated_at)
		return 0;
	return zl_state_batch_conflict(b->id, status, updated_at, b, err);
}

static int sq_batch_import(zl_state *st, const zl_batch *b, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = use(h, S_BATCH_IMPORT);
	int ret;

	if (!b->id[0] || !b->prefix || (unsigned)b->status >= ZL_BATCH_NSTATUS)
		return zl_err_set(err, ZL_EINVAL, "a batch needs an id, a prefix and a status");
	if ((ret = bound(h, bind_str(s, 1, b->id) || bind_str(s, 2, b->prefix) ||
	                    bind_str(s, 3, zl_batch_status_name(b->status)) || sqlite3_bind_int64(s, 4, b->created_at) ||
	                    sqlite3_bind_int64(s, 5, b->first_at) || sqlite3_bind_int64(s, 6, b->updated_at) ||
	                    bind_time(s, 7, b->locked_at) || bind_time(s, 8, b->finished_at) ||
	                    bind_time(s, 9, b->lease_until) || sqlite3_bind_int64(s, 10, b->file_count) ||
	                    sqlite3_bind_int64(s, 11, b->bytes) || sqlite3_bind_int(s, 12, b->attempts) ||
	                    bind_str(s, 13, b->owner) || bind_str(s, 14, b->result) || bind_str(s, 15, b->error), err)) ||
	    (ret = run(h, s, err)))
		goto out;
	if (sqlite3_changes(h->db) == 0)
		ret = batch_stamp_differs(h, b, err);
out:
	op_end(h);
	return ret;
}

static int sq_notice_import(zl_state *st, const zl_notice_rec *n, zl_err *err)
{
	sq_state *h = (sq_state *)st;
	sqlite3_stmt *s = use(h, S_NOTICE_IMPORT);
	int ret;

	if (!n->batch_id[0] || !n->prefix || !n->dest || !n->event || !n->subject || !n->body ||
	    (unsigned)n->status >= ZL_NOTICE_NSTATUS) {
		ret = zl_err_set(err, ZL_EINVAL, "a notification needs a batch, prefix, destination, event, subject,"
		                 " body and status");
		goto out;
	}
	if ((ret = bound(h, bind_str(s, 1, n->batch_id) || bind_str(s, 2, n->prefix) || bind_str(s, 3, n->dest) ||
	                    bind_str(s, 4, n->event) || bind_str(s, 5, n->subject) || bind_str(s, 6, n->body) ||
	                    bind_str(s, 7, zl_notice_status_name(n->status)) || sqlite3_bind_int(s, 8, n->attempts) ||
	                    sqlite3_bind_int(s, 9, n->max_attempts) || sqlite3_bind_int64(s, 10, n->created_at) ||
	                    sqlite3_bind_int64(s, 11, n->next_at) || bind_time(s, 12, n->sent_at) ||
	                    bind_time(s, 13, n->lease_until) || bind_str(s, 14, n->owner) ||
	                    bind_str(s, 15, n->last_error), err)))
		goto out;
	ret = run(h, s, err);
out:
	op_end(h);
	return ret;
}

const zl_state_ops zl_state_sqlite_ops = {
	.scheme = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.config_put = sq_config_put,
	.config_get = sq_config_get,
	.config_list = sq_config_list,
	.config_replace = sq_config_replace,
	.config_delete = sq_config_delete,
	.config_version = sq_config_version,
	.claim_append = sq_claim_append,
	.group_begin = sq_group_begin,
	.group_end = sq_group_end,
	.file_get = sq_file_get,
	.file_delete = sq_file_delete,
	.batch_lock = sq_batch_lock,
	.batch_renew = sq_batch_renew,
	.batch_finish = sq_batch_finish,
	.batch_resolve = sq_batch_resolve,
	.batch_get = sq_batch_get,
	.batch_list = sq_batch_list,
	.batch_unlock = sq_batch_unlock,
	.batch_delete = sq_batch_delete,
	.notice_claim = sq_notice_claim,
	.notice_settle = sq_notice_settle,
	.notice_list = sq_notice_list,
	.notice_requeue = sq_notice_requeue,
	.file_scan = sq_file_scan,
	.file_import = sq_file_import,
	.batch_import = sq_batch_import,
	.notice_import = sq_notice_import,
};
