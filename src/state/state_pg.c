/* The PostgreSQL state backend (postgresql://... or postgres://...): the state shared by loaders
 * on several machines. Every protocol step is one statement or one READ COMMITTED transaction
 * whose conditional updates and row locks decide races: appends to a prefix are serialised by an
 * advisory lock and the open batch's row lock, so a batch locked by one loader never takes
 * another file; a lock, renew or finish changes a row only in the state it expects. */
#include "state/state_pg_int.h"
#include "state/state_sql.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_MS "(extract(epoch from clock_timestamp()) * 1000)::bigint"
#define BATCH_COLS \
	"id, prefix, status, created_at, first_at, updated_at, locked_at, finished_at, lease_until," \
	" file_count, bytes, attempts, owner, result, error"
#define NOTICE_COLS \
	"id, batch_id, prefix, dest, event, subject, body, status, attempts, max_attempts, created_at," \
	" next_at, sent_at, lease_until, owner, last_error"
#define FILE_COLS "f.file_id, f.bucket, f.key, f.etag, f.prefix, f.size, f.received_at, f.batch_id"
#define BUMP_CONFIG_VERSION(cte) \
	" UPDATE meta SET value = value + 1 WHERE key = 'config_version' AND EXISTS (SELECT 1 FROM " cte ")"

enum {
	S_CONFIG_PUT,
	S_CONFIG_GET,
	S_CONFIG_LIST,
	S_CONFIG_REPLACE,
	S_CONFIG_DELETE,
	S_CONFIG_VERSION,
	S_CLAIM_LOCK,
	S_FILE_CLAIMED,
	S_OPEN_BATCH,
	S_BATCH_INSERT,
	S_FILE_INSERT,
	S_BATCH_APPEND,
	S_BATCH_APPEND_N,
	S_FILE_GET,
	S_FILE_UNCOUNT,
	S_FILE_DELETE,
	S_FILE_RETIRE,
	S_BATCH_LOCK,
	S_BATCH_RENEW,
	S_BATCH_FINISH,
	S_BATCH_STATE,
	S_BATCH_RESOLVE,
	S_BATCH_GET,
	S_BATCH_FILES,
	S_BATCH_UNLOCK,
	S_BATCH_DELETE,
	S_NOTICE_INSERT,
	S_NOTICE_CLAIM,
	S_NOTICE_SETTLE,
	S_NOTICE_FORGET,
	S_NOTICE_STATE,
	S_NOTICE_REQUEUE_ONE,
	S_NOTICE_REQUEUE_FAILED,
	S_FILE_SCAN,
	S_FILE_IMPORT,
	S_FILE_ROW,
	S_BATCH_IMPORT,
	S_NOTICE_IMPORT,
	S_COUNT
};

_Static_assert(S_COUNT <= 64, "prepared-statement bitmask is 64 bits");

static const char *const stmt_sql[S_COUNT] = {
	[S_CONFIG_PUT] = "WITH up AS (INSERT INTO configs (prefix, json, updated_at) VALUES ($1::text, $2::text, " NOW_MS ")"
	                 " ON CONFLICT (prefix) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at"
	                 " RETURNING 1)" BUMP_CONFIG_VERSION("up"),
	[S_CONFIG_GET] = "SELECT json FROM configs WHERE prefix = $1::text",
	[S_CONFIG_LIST] = "SELECT prefix, json FROM configs ORDER BY prefix",
	[S_CONFIG_REPLACE] = "WITH up AS (UPDATE configs SET json = $3::text, updated_at = " NOW_MS
	                     " WHERE prefix = $1::text AND json = $2::text RETURNING 1),"
	                     " v AS (" BUMP_CONFIG_VERSION("up") " RETURNING 1) SELECT count(*) FROM up",
	[S_CONFIG_DELETE] = "WITH d AS (DELETE FROM configs WHERE prefix = $1::text RETURNING 1),"
	                    " v AS (" BUMP_CONFIG_VERSION("d") " RETURNING 1) SELECT count(*) FROM d",
	[S_CONFIG_VERSION] = "SELECT value FROM meta WHERE key = 'config_version'",
	/* appends to one prefix take turns, so two loaders never open two batches side by side */
	[S_CLAIM_LOCK] = "SELECT pg_advisory_xact_lock(hashtext('zload claim ' || current_schema()), hashtext($1::text))",
	[S_FILE_CLAIMED] = "SELECT f.batch_id, b.file_count, b.bytes, b.first_at, b.status, b.owner FROM files f"
	                   " LEFT JOIN batches b ON b.id = f.batch_id WHERE f.file_id = $1::text",
	/* the newest batch that was never locked and is not full ($2 files, $3 bytes; 0: no limit),
	 * row-locked: a loader locking it waits for the append, or the append finds another */
	[S_OPEN_BATCH] = "SELECT id, file_count, bytes, first_at FROM batches"
	                 " WHERE prefix = $1::text AND status = 'open' AND locked_at IS NULL"
	                 " AND ($2::bigint <= 0 OR file_count < $2::bigint) AND ($3::bigint <= 0 OR bytes < $3::bigint)"
	                 " ORDER BY created_at DESC, id DESC LIMIT 1 FOR UPDATE",
	[S_BATCH_INSERT] = "INSERT INTO batches (id, prefix, status, created_at, first_at, updated_at)"
	                   " VALUES ($1::text, $2::text, 'open', $3::bigint, $3::bigint, $3::bigint)",
	[S_FILE_INSERT] = "INSERT INTO files (file_id, bucket, key, etag, prefix, size, received_at, batch_id)"
	                  " VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint, $7::bigint, $8::text)"
	                  " ON CONFLICT (file_id) DO NOTHING",
	[S_BATCH_APPEND] = "UPDATE batches SET file_count = file_count + 1, bytes = bytes + $2::bigint,"
	                   " updated_at = $3::bigint WHERE id = $1::text AND status = 'open' AND locked_at IS NULL",
	[S_BATCH_APPEND_N] = "UPDATE batches SET file_count = file_count + $2::bigint, bytes = bytes + $3::bigint,"
	                     " updated_at = $4::bigint WHERE id = $1::text AND status = 'open' AND locked_at IS NULL",
	[S_FILE_GET] = "SELECT " FILE_COLS ", b.status FROM files f LEFT JOIN batches b ON b.id = f.batch_id"
	               " WHERE f.file_id = $1::text",
	/* a forgotten file leaves an open batch (it would come back twice); a finished batch keeps
	 * it under a retired id, so its history and a reprocess still see it */
	[S_FILE_UNCOUNT] = "UPDATE batches SET file_count = file_count - 1,"
	                   " bytes = bytes - (SELECT size FROM files WHERE file_id = $1::text)"
	                   " WHERE id = (SELECT batch_id FROM files WHERE file_id = $1::text) AND status = 'open'",
	[S_FILE_DELETE] = "DELETE FROM files WHERE file_id = $1::text",
	[S_FILE_RETIRE] = "UPDATE files SET file_id = file_id || '#forgotten-'"
	                  " || substr(md5(random()::text || clock_timestamp()::text), 1, 12) WHERE file_id = $1::text",
	/* $3 now, $4 lease_until, $5 the ZL_LOCK_* mask; SET sees the row as it was */
	[S_BATCH_LOCK] = "UPDATE batches SET status = 'locked', owner = $2::text, locked_at = $3::bigint,"
	                 " lease_until = $4::bigint, updated_at = $3::bigint,"
	                 " attempts = CASE WHEN status IN ('complete', 'error') THEN 1 ELSE attempts + 1 END,"
	                 " finished_at = CASE WHEN status IN ('complete', 'error') THEN NULL ELSE finished_at END"
	                 " WHERE id = $1::text AND ("
	                 " (($5::int & 1) != 0 AND status = 'open')"
	                 " OR (($5::int & 2) != 0 AND status = 'locked' AND COALESCE(lease_until, 0) <= $3::bigint)"
	                 " OR (($5::int & 4) != 0 AND status IN ('complete', 'error')))",
	[S_BATCH_RENEW] = "UPDATE batches SET lease_until = $3::bigint"
	                  " WHERE id = $1::text AND status = 'locked' AND owner = $2::text",
	/* $3 new status, $4 now, $5 retry_at, $6 result, $7 error */
	[S_BATCH_FINISH] = "UPDATE batches SET status = $3::text, owner = NULL,"
	                   " finished_at = CASE WHEN $3::text = 'locked' THEN finished_at ELSE $4::bigint END,"
	                   " lease_until = CASE WHEN $3::text = 'locked' THEN $5::bigint ELSE NULL END,"
	                   " result = $6::text, error = $7::text, updated_at = $4::bigint"
	                   " WHERE id = $1::text AND status = 'locked' AND owner = $2::text",
	[S_BATCH_STATE] = "SELECT status, owner, lease_until, locked_at, updated_at, result FROM batches WHERE id = $1::text",
	[S_BATCH_RESOLVE] = "SELECT id FROM batches WHERE id >= $1::text AND id < $2::text ORDER BY id LIMIT 4",
	[S_BATCH_GET] = "SELECT " BATCH_COLS " FROM batches WHERE id = $1::text",
	[S_BATCH_FILES] = "SELECT " FILE_COLS " FROM files f WHERE f.batch_id = $1::text ORDER BY f.seq",
	/* $4: only from this owner; else $3: force; else only a batch whose lease is not live */
	[S_BATCH_UNLOCK] = "UPDATE batches SET status = 'open', owner = NULL, lease_until = NULL,"
	                   " updated_at = $2::bigint WHERE id = $1::text AND status = 'locked' AND (CASE"
	                   " WHEN $4::text IS NOT NULL THEN owner IS NOT DISTINCT FROM $4::text WHEN $3::int != 0 THEN true"
	                   " ELSE owner IS NULL OR COALESCE(lease_until, 0) <= $2::bigint END)",
	[S_BATCH_DELETE] = "DELETE FROM batches WHERE id = $1::text AND status IN ('complete', 'error')",
	[S_NOTICE_INSERT] = "INSERT INTO outbox (batch_id, prefix, dest, event, subject, body, max_attempts,"
	                    " created_at, next_at) SELECT id, prefix, $2::text, $3::text, $4::text, $5::text, $6::int,"
	                    " $7::bigint, $7::bigint FROM batches WHERE id = $1::text",
	/* $1 owner, $2 now, $3 lease_until, $4 batch id or NULL; senders skip each other's rows */
	[S_NOTICE_CLAIM] = "UPDATE outbox SET owner = $1::text, lease_until = $3::bigint, attempts = attempts + 1"
	                   " WHERE id = (SELECT id FROM outbox WHERE status = 'pending' AND next_at <= $2::bigint"
	                   " AND (owner IS NULL OR COALESCE(lease_until, 0) <= $2::bigint)"
	                   " AND ($4::text IS NULL OR batch_id = $4::text)"
	                   " ORDER BY next_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING " NOTICE_COLS,
	/* $3 new status, $4 now, $5 next_at, $6 error */
	[S_NOTICE_SETTLE] = "UPDATE outbox SET status = $3::text, owner = NULL, lease_until = NULL,"
	                    " next_at = CASE WHEN $3::text = 'pending' THEN $5::bigint ELSE next_at END,"
	                    " sent_at = CASE WHEN $3::text = 'sent' THEN $4::bigint ELSE sent_at END,"
	                    " last_error = CASE WHEN $3::text = 'sent' THEN last_error ELSE $6::text END"
	                    " WHERE id = $1::bigint AND status = 'pending' AND owner = $2::text",
	/* a deleted batch takes its delivered and failed notifications along; pending ones still go */
	[S_NOTICE_FORGET] = "DELETE FROM outbox WHERE batch_id = $1::text AND status != 'pending'",
	[S_NOTICE_STATE] = "SELECT status, owner, lease_until, sent_at FROM outbox WHERE id = $1::bigint",
	[S_NOTICE_REQUEUE_ONE] = "UPDATE outbox SET status = 'pending', attempts = 0, next_at = $2::bigint, owner = NULL,"
	                         " lease_until = NULL WHERE id = $1::bigint AND (status = 'failed' OR (status = 'pending'"
	                         " AND (owner IS NULL OR COALESCE(lease_until, 0) <= $2::bigint)))",
	[S_NOTICE_REQUEUE_FAILED] = "UPDATE outbox SET status = 'pending', attempts = 0, next_at = $1::bigint,"
	                            " owner = NULL, lease_until = NULL WHERE status = 'failed'",
	[S_FILE_SCAN] = "SELECT " FILE_COLS " FROM files f WHERE f.file_id > $1::text ORDER BY f.file_id LIMIT $2::bigint",
	[S_FILE_IMPORT] = "INSERT INTO files (file_id, bucket, key, etag, prefix, size, received_at, batch_id)"
	                  " VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint, $7::bigint,"
	                  " NULLIF($8::text, '')) ON CONFLICT (file_id) DO NOTHING",
	[S_FILE_ROW] = "SELECT " FILE_COLS " FROM files f WHERE f.file_id = $1::text",
	/* times of 0 are "not set" (NULL): a batch with no locked_at was never locked */
	[S_BATCH_IMPORT] = "INSERT INTO batches (" BATCH_COLS ") VALUES ($1::text, $2::text, $3::text,"
	                   " NULLIF($4::bigint, 0), NULLIF($5::bigint, 0), NULLIF($6::bigint, 0), NULLIF($7::bigint, 0),"
	                   " NULLIF($8::bigint, 0), NULLIF($9::bigint, 0), $10::bigint, $11::bigint, $12::int, $13::text,"
	                   " $14::text, $15::text) ON CONFLICT (id) DO NOTHING",
	[S_NOTICE_IMPORT] = "INSERT INTO outbox (batch_id, prefix, dest, event, subject, body, status, attempts,"
	                    " max_attempts, created_at, next_at, sent_at, lease_until, owner, last_error) VALUES ($1::text,"
	                    " $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::int, $9::int, $10::bigint,"
	                    " $11::bigint, NULLIF($12::bigint, 0), NULLIF($13::bigint, 0), $14::text, $15::text)",
};

extern const zl_state_ops zl_state_pg_ops, zl_state_postgres_ops;

/* Runs statement i (prepared on first use on this connection). *res gets rows when asked for. */
static int run(pg_state *h, int i, const pg_params *p, PGresult **res, zl_err *err)
{
	char name[16];
	snprintf(name, sizeof name, "zl%d", i);
	if (!(h->prepared & ((uint64_t)1 << i))) {
		PGresult *r = PQprepare(h->conn, name, stmt_sql[i], 0, NULL);
		int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pg_fail(h, r, err);
		PQclear(r);
		if (rc)
			return rc;
		h->prepared |= (uint64_t)1 << i;
	}
	PGresult *r = PQexecPrepared(h->conn, name, p ? p->n : 0, p ? p->v : NULL, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	int rc = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK ? 0 : pg_fail(h, r, err);
	if (rc || !res)
		PQclear(r);
	else
		*res = r;
	return rc;
}

/* Rows the statement changed (UPDATE, INSERT, DELETE). */
static int changes(pg_state *h, int i, const pg_params *p, int64_t *n, zl_err *err)
{
	PGresult *r = NULL;
	int rc = run(h, i, p, &r, err);
	*n = rc ? 0 : strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return rc;
}

static const char *val(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static int64_t num(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int dup_col(const PGresult *r, int row, int col, char **out, zl_err *err)
{
	const char *v = val(r, row, col);
	*out = v ? strdup(v) : NULL;
	return v && !*out ? zl_err_set(err, ZL_ENOMEM, "out of memory") : 0;
}

static void copy_id(char dst[ZL_UUID_LEN], const char *src)
{
	snprintf(dst, ZL_UUID_LEN, "%s", src ? src : "");
}

static int begin(pg_state *h, zl_err *err) { return pg_exec(h, "BEGIN", err); }
static int commit(pg_state *h, zl_err *err) { return pg_exec(h, "COMMIT", err); }

/* Reads a row of BATCH_COLS; on failure b is released. */
static int read_batch(const PGresult *r, int row, zl_batch *b, zl_err *err)
{
	const char *status = val(r, row, 2);
	int ret = 0;

	memset(b, 0, sizeof *b);
	copy_id(b->id, val(r, row, 0));
	if (zl_batch_status_parse(status, &b->status)) {
		ret = zl_err_set(err, ZL_ESTATE, "batch %s has unknown status \"%s\"", b->id, status ? status : "");
		goto out;
	}
	b->created_at = num(r, row, 3);
	b->first_at = num(r, row, 4);
	b->updated_at = num(r, row, 5);
	b->locked_at = num(r, row, 6);
	b->finished_at = num(r, row, 7);
	b->lease_until = num(r, row, 8);
	b->file_count = num(r, row, 9);
	b->bytes = num(r, row, 10);
	b->attempts = (int)num(r, row, 11);
	if ((ret = dup_col(r, row, 1, &b->prefix, err)) || (ret = dup_col(r, row, 12, &b->owner, err)) ||
	    (ret = dup_col(r, row, 13, &b->result, err)) || (ret = dup_col(r, row, 14, &b->error, err)))
		goto out;
out:
	if (ret)
		zl_batch_release(b);
	return ret;
}

/* Reads a row of FILE_COLS; on failure f is released. */
static int read_file(const PGresult *r, int row, zl_file_rec *f, zl_err *err)
{
	int ret;

	memset(f, 0, sizeof *f);
	if ((ret = dup_col(r, row, 0, &f->file_id, err)) || (ret = dup_col(r, row, 1, &f->bucket, err)) ||
	    (ret = dup_col(r, row, 2, &f->key, err)) || (ret = dup_col(r, row, 3, &f->etag, err)) ||
	    (ret = dup_col(r, row, 4, &f->prefix, err))) {
		zl_file_rec_release(f);
		return ret;
	}
	f->size = num(r, row, 5);
	f->received_at = num(r, row, 6);
	copy_id(f->batch_id, val(r, row, 7));
	return 0;
}

/* Reads a row of NOTICE_COLS; on failure n is released. */
static int read_notice(const PGresult *r, int row, zl_notice_rec *n, zl_err *err)
{
	const char *status = val(r, row, 7);
	int ret = 0;

	memset(n, 0, sizeof *n);
	n->id = num(r, row, 0);
	copy_id(n->batch_id, val(r, row, 1));
	if (zl_notice_status_parse(status, &n->status)) {
		ret = zl_err_set(err, ZL_ESTATE, "notification %lld has unknown status \"%s\"", (long long)n->id,
		                 status ? status : "");
		goto out;
	}
	n->attempts = (int)num(r, row, 8);
	n->max_attempts = (int)num(r, row, 9);
	n->created_at = num(r, row, 10);
	n->next_at = num(r, row, 11);
	n->sent_at = num(r, row, 12);
	n->lease_until = num(r, row, 13);
	if ((ret = dup_col(r, row, 2, &n->prefix, err)) || (ret = dup_col(r, row, 3, &n->dest, err)) ||
	    (ret = dup_col(r, row, 4, &n->event, err)) || (ret = dup_col(r, row, 5, &n->subject, err)) ||
	    (ret = dup_col(r, row, 6, &n->body, err)) || (ret = dup_col(r, row, 14, &n->owner, err)) ||
	    (ret = dup_col(r, row, 15, &n->last_error, err)))
		goto out;
out:
	if (ret)
		zl_notice_rec_release(n);
	return ret;
}

/* The batch's row as S_BATCH_STATE reads it; *found = 0 when absent. Caller clears *res. */
static int batch_state(pg_state *h, const char *batch_id, PGresult **res, int *found, zl_err *err)
{
	pg_params p = { 0 };
	pg_str(&p, batch_id);
	int rc = run(h, S_BATCH_STATE, &p, res, err);
	*found = !rc && PQntuples(*res) == 1;
	return rc;
}

/* The error for a conditional batch update that changed nothing: ZL_ENOTFOUND or ZL_EBUSY. */
static int not_changed(pg_state *h, const char *batch_id, const char *why, zl_err *err)
{
	PGresult *r = NULL;
	int found, rc = batch_state(h, batch_id, &r, &found, err);
	if (rc)
		goto out;
	if (!found) {
		rc = zl_err_set(err, ZL_ENOTFOUND, "no batch \"%s\"", batch_id);
		goto out;
	}
	const char *status = val(r, 0, 0), *owner = val(r, 0, 1);
	char t[40];
	if (owner && status && strcmp(status, "locked") == 0)
		rc = zl_err_set(err, ZL_EBUSY, "batch %s is locked by %s until %s", batch_id, owner,
		                zl_time_format(num(r, 0, 2), t, sizeof t));
	else
		rc = zl_err_set(err, ZL_EBUSY, "batch %s is %s, %s", batch_id, status ? status : "?", why);
out:
	PQclear(r);
	return rc;
}

/* The ZL_ELOST error for an owner-conditional update that changed nothing. */
static int lost(pg_state *h, const char *batch_id, const char *owner, zl_err *err)
{
	PGresult *r = NULL;
	int found, rc = batch_state(h, batch_id, &r, &found, err);
	if (rc)
		goto out;
	if (!found) {
		rc = zl_err_set(err, ZL_ELOST, "%s lost the lease on batch %s: the batch was deleted", owner, batch_id);
		goto out;
	}
	const char *status = val(r, 0, 0), *holder = val(r, 0, 1);
	rc = zl_err_set(err, ZL_ELOST, "%s lost the lease on batch %s: it is %s%s%s", owner, batch_id,
	                status ? status : "?", holder ? " by " : "", holder ? holder : "");
out:
	PQclear(r);
	return rc;
}

/* ---- configurations ---- */

static int do_config_put(pg_state *h, const char *prefix, const char *json, zl_err *err)
{
	pg_params p = { 0 };
	pg_str(&p, prefix);
	pg_str(&p, json);
	return run(h, S_CONFIG_PUT, &p, NULL, err);
}

static int pgs_config_put(zl_state *st, const char *prefix, const char *json, zl_err *err)
{
	if (!prefix || !json)
		return zl_err_set(err, ZL_EINVAL, "configuration needs a prefix and JSON text");
	PG_RETRYING((pg_state *)st, err, do_config_put((pg_state *)st, prefix, json, err));
}

static int do_config_get(pg_state *h, const char *prefix, char **json, zl_err *err)
{
	pg_params p = { 0 };
	PGresult *r = NULL;
	pg_str(&p, prefix);
	*json = NULL;
	int rc = run(h, S_CONFIG_GET, &p, &r, err);
	if (!rc && PQntuples(r) == 0)
		rc = zl_err_set(err, ZL_ENOTFOUND, "no configuration for prefix \"%s\"", prefix);
	else if (!rc)
		rc = dup_col(r, 0, 0, json, err);
	PQclear(r);
	return rc;
}

static int pgs_config_get(zl_state *st, const char *prefix, char **json, zl_err *err)
{
	PG_RETRYING((pg_state *)st, err, do_config_get((pg_state *)st, prefix, json, err));
}

static int do_config_list(pg_state *h, zl_strvec *prefixes, zl_strvec *jsons, zl_err *err)
{
	PGresult *r = NULL;
	size_t np = prefixes->n, nj = jsons->n;
	int rc = run(h, S_CONFIG_LIST, NULL, &r, err);
	for (int i = 0; !rc && i < PQntuples(r); i++)
		if (zl_strvec_push(prefixes, PQgetvalue(r, i, 0)) || zl_strvec_push(jsons, PQgetvalue(r, i, 1)))
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	PQclear(r);
	if (rc) {
		zl_strvec_truncate(prefixes, np);
		zl_strvec_truncate(jsons, nj);
	}
	return rc;
}

static int pgs_config_list(zl_state *st, zl_strvec *prefixes, zl_strvec *jsons, zl_err *err)
{
	PG_RETRYING((pg_state *)st, err, do_config_list((pg_state *)st, prefixes, jsons, err));
}

/* A statement that answers with the count of rows it changed. */
static int counted(pg_state *h, int i, const pg_params *p, int64_t *n, zl_err *err)
{
	PGresult *r = NULL;
	int rc = run(h, i, p, &r, err);
	*n = rc ? 0 : num(r, 0, 0);
	PQclear(r);
	return rc;
}

static int do_config_replace(pg_state *h, const char *prefix, const char *old_json, const char *json, zl_err *err)
{
	pg_params p = { 0 };
	int64_t n;
	pg_str(&p, prefix);
	pg_str(&p, old_json);
	pg_str(&p, json);
	int rc = counted(h, S_CONFIG_REPLACE, &p, &n, err);
	if (rc || n)
		return rc;
	/* a retry after a commit the connection did not confirm finds its own text stored */
	char *now = NULL;
	if (h->commit_unknown && do_config_get(h, prefix, &now, err) == 0 && strcmp(now, json) == 0) {
		free(now);
		return 0;
	}
	free(now);
	return zl_err_set(err, ZL_EBUSY, "the configuration for prefix \"%s\" changed meanwhile", prefix);
}

static int pgs_config_replace(zl_state *st, const char *prefix, const char *old_json, const char *json, zl_err *err)
{
	PG_RETRYING((pg_state *)st, err, do_config_replace((pg_state *)st, prefix, old_json, json, err));
}

static int do_config_delete(pg_state *h, const char *prefix, zl_err *err)
{
	pg_params p = { 0 };
	int64_t n;
	pg_str(&p, prefix);
	int rc = counted(h, S_CONFIG_DELETE, &p, &n, err);
	if (!rc && n == 0 && !h->commit_unknown)
		rc = zl_err_set(err, ZL_ENOTFOUND, "no configuration for prefix \"%s\"", prefix);
	return rc;
}

static int pgs_config_delete(zl_state *st, const char *prefix, zl_err *err)
{
	PG_RETRYING((pg_state *)st, err, do_config_delete((pg_state *)st, prefix, err));
}

static int do_config_version(pg_state *h, int64_t *version, zl_err *err)
{
	PGresult *r = NULL;
	int rc = run(h, S_CONFIG_VERSION, NULL, &r, err);
	*version = !rc && PQntuples(r) ? num(r, 0, 0) : 0;
	PQclear(r);
	return rc;
}

static int pgs_config_version(zl_state *st, int64_t *version, zl_err *err)
{
	PG_RETRYING((pg_state *)st, err, do_config_version((pg_state *)st, version, err));
}

/* ---- claims ---- */

/* A claimed file: res gets its batch and the batch's totals. 1 when claimed, 0 when not, or an error. */
static int find_claim(pg_state *h, const char *file_id, const char *lock_owner, zl_append_result *res, zl_err *err)
{
	pg_params p = { 0 };
	PGresult *r = NULL;
	pg_str(&p, file_id);
	int rc = run(h, S_FILE_CLAIMED, &p, &r, err);
	if (!rc && PQntuples(r) == 1) {
		res->duplicate = 1;
		copy_id(res->batch_id, val(r, 0, 0));
		res->file_count = num(r, 0, 1);
		res->bytes = num(r, 0, 2);
		res->first_at = num(r, 0, 3);
		rc = 1;
		/* a retry after a commit the connection did not confirm: the claim, and the lock, were ours */
		const char *status = val(r, 0, 4), *owner = val(r, 0, 5);
		if (h->commit_unknown && lock_owner && status && owner && strcmp(status, "locked") == 0 &&
		    strcmp(owner, lock_owner) == 0) {
			res->duplicate = 0;
			res->locked = 1;
		}
	}
	PQclear(r);
	return rc;
}

/* Inserts the file record into batch_id; *n is 0 when the file was claimed before. */
static int insert_file(pg_state *h, const char *file_id, const char *prefix, const zl_object *obj, int64_t size,
                       int64_t now, const char *batch_id, int64_t *n, zl_err *err)
{
	pg_params fi = { 0 };
	pg_str(&fi, file_id);
	pg_str(&fi, obj->bucket);
	pg_str(&fi, obj->key);
	pg_str(&fi, obj->etag);
	pg_str(&fi, prefix);
	pg_int(&fi, size);
	pg_int(&fi, now);
	pg_str(&fi, batch_id);
	return changes(h, S_FILE_INSERT, &fi, n, err);
}

/* Locks the batch a claim filled for opts->lock_owner; *locked when it was still open. */
static int lock_full(pg_state *h, const char *batch_id, const zl_claim_opts *opts, int64_t now, int *locked,
                     zl_err *err)
{
	pg_params bl = { 0 };
	int64_t n;
	pg_str(&bl, batch_id);
	pg_str(&bl, opts->lock_owner);
	pg_int(&bl, now);
	pg_int(&bl, opts->lease_until);
	pg_int(&bl, ZL_LOCK_OPEN);
	int rc = changes(h, S_BATCH_LOCK, &bl, &n, err);
	*locked = rc == 0 && n == 1;
	return rc;
}

static int do_claim_append(pg_state *h, const char *file_id, const char *prefix, const zl_object *obj, int64_t now,
                           const zl_claim_opts *opts, zl_append_result *res, zl_err *err)
{
	int64_t size = obj->size > 0 ? obj->size : 0, n;
	PGresult *r = NULL;
	int rc;

	memset(res, 0, sizeof *res);
	/* most repeated events are answered by a read */
	if ((rc = find_claim(h, file_id, opts->lock_owner, res, err)) != 0)
		return rc > 0 ? 0 : rc;
	pg_params lk = { 0 };
	pg_str(&lk, prefix);
	if ((rc = begin(h, err)) || (rc = run(h, S_CLAIM_LOCK, &lk, NULL, err)))
		return rc;
	if ((rc = find_claim(h, file_id, opts->lock_owner, res, err)) != 0)
		return rc > 0 ? commit(h, err) : rc;

	pg_params ob = { 0 };
	pg_str(&ob, prefix);
	pg_int(&ob, opts->max_files);
	pg_int(&ob, opts->max_bytes);
	if ((rc = run(h, S_OPEN_BATCH, &ob, &r, err)))
		return rc;
	if (PQntuples(r) == 1) {
		copy_id(res->batch_id, val(r, 0, 0));
		res->file_count = num(r, 0, 1);
		res->bytes = num(r, 0, 2);
		res->first_at = num(r, 0, 3);
	} else {
		zl_uuid_v7(now, res->batch_id);
		res->first_at = now;
		pg_params bi = { 0 };
		pg_str(&bi, res->batch_id);
		pg_str(&bi, prefix);
		pg_int(&bi, now);
		rc = run(h, S_BATCH_INSERT, &bi, NULL, err);
	}
	PQclear(r);
	if (rc)
		return rc;

	if ((rc = insert_file(h, file_id, prefix, obj, size, now, res->batch_id, &n, err)))
		return rc;
	if (n == 0) { /* claimed meanwhile under another prefix's turn: a duplicate */
		PQclear(PQexec(h->conn, "ROLLBACK"));
		memset(res, 0, sizeof *res);
		rc = find_claim(h, file_id, opts->lock_owner, res, err);
		return rc > 0 ? 0 : rc ? rc : zl_err_set(err, ZL_ETRANSIENT, "file %s was claimed and forgotten meanwhile", file_id);
	}
	pg_params ba = { 0 };
	pg_str(&ba, res->batch_id);
	pg_int(&ba, size);
	pg_int(&ba, now);
	if ((rc = changes(h, S_BATCH_APPEND, &ba, &n, err)))
		return rc;
	if (n != 1) /* cannot happen while the row lock is held; never append to a locked batch */
		return zl_err_set(err, ZL_ETRANSIENT, "batch %s closed during the append of %s", res->batch_id, file_id);
	res->file_count++;
	res->bytes += size;
	if (opts->lock_owner && ((opts->max_files > 0 && res->file_count >= opts->max_files) ||
	                         (opts->max_bytes > 0 && res->bytes >= opts->max_bytes))) {
		if ((rc = lock_full(h, res->batch_id, opts, now, &res->locked, err)))
			return rc;
	}
	return commit(h, err);
}

/* ---- group commit: the claims of a group in one transaction ----
 * The group takes each prefix's claim lock once and row-locks the open batch it appends to, so
 * nobody else changes either until it ends: it keeps the batch's totals itself and writes the
 * appends to the batch row once (before the batch is locked, read again, or the group commits).
 * A new claim is then one INSERT. A statement that fails aborts the whole transaction: the group
 * is lost, and the caller claims its records again one by one (claims are idempotent). */

static int pg_hold_prefix(void *hp, const char *prefix, zl_err *err)
{
	pg_params lk = { 0 };
	pg_str(&lk, prefix);
	return run(hp, S_CLAIM_LOCK, &lk, NULL, err);
}

static int pg_find_claim(void *hp, const char *file_id, zl_append_result *res, zl_err *err)
{
	return find_claim(hp, file_id, NULL, res, err);
}

static int pg_write_appends(void *hp, zl_group_prefix *g, zl_err *err)
{
	pg_params ba = { 0 };
	int64_t n;
	pg_str(&ba, g->batch_id);
	pg_int(&ba, g->add_files);
	pg_int(&ba, g->add_bytes);
	pg_int(&ba, g->add_at);
	int rc = changes(hp, S_BATCH_APPEND_N, &ba, &n, err);
	if (rc == 0 && n != 1) /* cannot happen while the group holds the row lock */
		rc = zl_err_set(err, ZL_ETRANSIENT, "batch %s closed during a group's appends", g->batch_id);
	return rc;
}

static int pg_pick_batch(void *hp, zl_group_prefix *g, const zl_claim_opts *opts, int64_t now, zl_err *err)
{
	pg_state *h = hp;
	PGresult *r = NULL;
	pg_params ob = { 0 };
	pg_str(&ob, g->prefix);
	pg_int(&ob, opts->max_files);
	pg_int(&ob, opts->max_bytes);
	int rc = run(h, S_OPEN_BATCH, &ob, &r, err);
	if (rc)
		return rc;
	if (PQntuples(r) == 1) {
		copy_id(g->batch_id, val(r, 0, 0));
		g->file_count = num(r, 0, 1);
		g->bytes = num(r, 0, 2);
		g->first_at = num(r, 0, 3);
	} else {
		zl_uuid_v7(now, g->batch_id);
		g->file_count = g->bytes = 0;
		g->first_at = now;
		pg_params bi = { 0 };
		pg_str(&bi, g->batch_id);
		pg_str(&bi, g->prefix);
		pg_int(&bi, now);
		rc = run(h, S_BATCH_INSERT, &bi, NULL, err);
	}
	PQclear(r);
	return rc;
}

static int pg_insert_file(void *hp, const char *file_id, const char *prefix, const zl_object *obj, int64_t size,
                          int64_t now, const char *batch_id, int *inserted, zl_err *err)
{
	int64_t n = 0;
	int rc = insert_file(hp, file_id, prefix, obj, size, now, batch_id, &n, err);
	*inserted = n == 1;
	return rc;
}

static int pg_lock_full(void *hp, const char *batch_id, const zl_claim_opts *opts, int64_t now, int *locked,
                        zl_err *err)
{
	return lock_full(hp, batch_id, opts, now, locked, err);
}

/* The group's statements, for state/group.c's claim. */
static const zl_group_backend pg_group = { pg_hold_prefix, pg_find_claim, pg_pick_batch, pg_insert_file,
	                                       pg_write_appends, pg_lock_full };

/* One claim of a group: no retry of its own (a new connection would not hold the group's
 * transaction). */
static int group_claim(pg_state *h, const char *file_id, const char *prefix, const zl_object *obj, int64_t now,
                       const zl_claim_opts *opts, zl_append_result *res, zl_err *err)
{
	if (h->group_lost)
		return zl_err_set(err, ZL_ETRANSIENT, "state database: the group's transaction was lost");
	int rc = zl_group_claim(&h->gp, &pg_group, h, file_id, prefix, obj, now, opts, res, err);
	if (rc) {
		memset(res, 0, sizeof *res);
		h->group_lost = 1;
	}
	return rc;
}

static int pgs_claim_append(zl_state *st, const char *file_id, const char *prefix, const zl_object *obj,
                            int64_t now, const zl_claim_opts *opts, zl_append_result *res, zl_err *err)
{
	static const zl_claim_opts no_opts;
	pg_state *h = (pg_state *)st;
	memset(res, 0, sizeof *res);
	if (!file_id || !prefix || !obj || !obj->bucket || !obj->key)
		return zl_err_set(err, ZL_EINVAL, "claim needs a file id, prefix, bucket and key");
	if (!opts)
		opts = &no_opts;
	if (h->group)
		return group_claim(h, file_id, prefix, obj, now, opts, res, err);
	PG_RETRYING(h, err, do_claim_append(h, file_id, prefix, obj, now, opts, res, err));
}

/* Opens the group's transaction, retrying a lost connection as any operation does. */
static int pgs_group_begin(zl_state *st, zl_err *err)
{
	pg_state *h = (pg_state *)st;
	if (h->group)
		return zl_err_set(err, ZL_EINVAL, "state: a group is already open");
	pg_retry r = { 0 };
	int rc;
	h->commit_unknown = 0;
	for (;;) {
		if ((rc = pg_connected(h, err)) == 0 && (rc = begin(h, err)) == 0)
			break;
		if (!pg_again(h, &r, rc, err))
			return rc;
	}
	h->group = 1;
	h->group_lost = 0;
	return 0;
}

static int pgs_group_end(zl_state *st, int commit_it, zl_err *err)
{
	pg_state *h = (pg_state *)st;
	if (!h->group)
		return zl_err_set(err, ZL_EINVAL, "state: no group is open");
	int rc = 0;
	if (commit_it && !h->group_lost && zl_group_write_all(&h->gp, &pg_group, h, err))
		h->group_lost = 1;
	int lost = h->group_lost || PQstatus(h->conn) != CONNECTION_OK;
	h->group = h->group_lost = 0;
	zl_group_clear(&h->gp);
	if (lost) {
		if (PQstatus(h->conn) == CONNECTION_OK)
			PQclear(PQexec(h->conn, "ROLLBACK"));
		rc = commit_it ? zl_err_set(err, ZL_ETRANSIENT, "state database: the group's transaction was lost: "
		                            "its claims were not recorded") : 0;
	} else if (commit_it) {
		rc = commit(h, err);
	} else {
		PQclear(PQexec(h->conn, "ROLLBACK"));
	}
	return rc;
}

static int do_file_get(pg_state *h, const char *file_id, zl_file_rec *out, zl_err *err)
{
	pg_params p = { 0 };
	PGresult *r = NULL;
	pg_str(&p, file_id);
	memset(out, 0, sizeof *out);
	int rc = run(h, S_FILE_GET, &p, &r, err);
	if (!rc && PQntuples(r) == 0)
		rc = zl_err_set(err, ZL_ENOTFOUND, "no file record \"%s\"", file_id);
	else if (!rc && !(rc = read_file(r, 0, out, err)))
		snprintf(out->batch_status, sizeof out->batch_status, "%s", val(r, 0, 8) ? val(r, 0, 8) : "");
	PQclear(r);
	return rc;
}

static int pgs_file_get(zl_state *st, const char *file_id, zl_file_rec *out, zl_err *err)
{
	PG_RETRYING((pg_state *)st, err, do_file_get((pg_state *)st, file_id, out, err));
}

static int do_file_delete(pg_state *h, const char *file_id, zl_err *err)
{
	pg_params p = { 0 };
	int64_t n;
	int rc;
	pg_str(&p, file_id);
	if ((rc = begin(h, err)) || (rc = changes(h, S_FILE_UNCOUNT, &p, &n, err)) ||
	    (rc = changes(h, n ? S_FILE_DELETE : S_FILE_RETIRE, &p, &n, err)))
		return rc;
	if (n == 0)
		return zl_err_set(err, ZL_ENOTFOUND, "no file record \"%s\"", file_id);
	return commit(h, err);
}

static int pgs_file_delete(zl_state *st, const char *file_id, zl_err *err)
{
	PG_RETRYING((pg_state *)st, err, do_file_delete((pg_state *)st, file_id, err));
}

/* ---- batches ---- */

/* After a lost connection, whether the batch already is as this very call would leave it
 * (its commit went through): locked by owner at now. */
static int already_locked(pg_state *h, const char *batch_id, const char *owner, int64_t now, zl_err *err)
{
	PGresult *r = NULL;
	int found, rc = batch_state(h, batch_id, &r, &found, err);
	int same = !rc && found && val(r, 0, 1) && strcmp(val(r, 0, 0), "locked") == 0 &&
	           strcmp(val(r, 0, 1), owner) == 0 && num(r, 0, 3) == now;
	PQclear(r);
	return same;
}

static int do_batch_lock(pg_state *h, const char *batch_id, unsigned mask, const char *owner, int64_t now,
                         int64_t lease_until, zl_err *err)
{
	pg_params p = { 0 };
	int64_t n;
	pg_str(&p, batch_id);
	pg_str(&p, owner);
	pg_int(&p, now);
	pg_int(&p, lease_until);
	pg_int(&p, mask);
	int rc = changes(h, S_BATCH_LOCK, &p, &n, err);
	if (rc || n)
		return rc;
	if (h->commit_unknown && already_locked(h, batch_id, owner, now, err))
		return 0;
	return not_changed(h, batch_id, "not lockable", err);
}

static int pgs_batch_lock(zl_state *st, const char *batch_id, unsigned mask, const char *owner, int64_t now,
                          int64_t lease_until, zl_err *err)
{
	if (!batch_id || !owner)
		return zl_err_set(err, ZL_EINVAL, "locking a batch needs a batch id and an owner");
	PG_RETRYING((pg_state *)st, err, do_batch_lock((pg_state *)st, batch_id, mask, owner, now, lease_until, err));
}

static int do_batch_renew(pg_state *h, const char *batch_id, const char *owner, int64_t lease_until, zl_err *err)
{
	pg_params p = { 0 };
	int64_t n;
	pg_str(&p, batch_id);
	pg_str(&p, owner);
	pg_int(&p, lease_until);
	int rc = changes(h, S_BATCH_RENEW, &p, &n, err);
	return rc ? rc : n ? 0 : lost(h, batch_id, owner, err);
}

static int pgs_batch_renew(zl_state *st, const char *batch_id, const char *owner, int64_t lease_until, zl_err *err)
{
	if (!batch_id || !owner)
		return zl_err_set(err, ZL_EINVAL, "renewing a lease needs a batch id and an owner");
	PG_RETRYING((pg_state *)st, err, do_batch_renew((pg_state *)st, batch_id, owner, lease_until, err));
}

/* After a lost connection, whether the batch already is as this finish would leave it. */
static int already_finished(pg_state *h, const char *batch_id, const char *status, int64_t now, const char *result,
                            zl_err *err)
{
	PGresult *r = NULL;
	int found, rc = batch_state(h, batch_id, &r, &found, err);
	const char *stored = found ? val(r, 0, 5) : NULL;
	int same = !rc && found && !val(r, 0, 1) && strcmp(val(r, 0, 0), status) == 0 && num(r, 0, 4) == now &&
	           (stored && result ? strcmp(stored, result) == 0 : stored == result);
	PQclear(r);
	return same;
}

static int do_batch_finish(pg_state *h, const char *batch_id, const char *owner, zl_batch_status status,
                           int64_t now, int64_t retry_at, const char *result, const char *error,
                           const zl_notice *notices, size_t nnotices, zl_err *err)
{
	const char *sname = zl_batch_status_name(status);
	pg_params p = { 0 };
	int64_t n;
	int rc;
	pg_str(&p, batch_id);
	pg_str(&p, owner);
	pg_str(&p, sname);
	pg_int(&p, now);
	pg_int(&p, retry_at);
	pg_str(&p, result);
	pg_str(&p, error);
	if ((rc = begin(h, err)) || (rc = changes(h, S_BATCH_FINISH, &p, &n, err)))
		return rc;
	if (n == 0) {
		if (h->commit_unknown && already_finished(h, batch_id, sname, now, result, err))
			return 0;
		return lost(h, batch_id, owner, err);
	}
	for (size_t i = 0; i < nnotices; i++) {
		const zl_notice *nt = &notices[i];
		pg_params q = { 0 };
		pg_str(&q, batch_id);
		pg_str(&q, nt->dest);
		pg_str(&q, nt->event);
		pg_str(&q, nt->subject);
		pg_str(&q, nt->body);
		pg_int(&q, nt->max_attempts > 0 ? nt->max_attempts : 1);
		pg_int(&q, now);
		if ((rc = run(h, S_NOTICE_INSERT, &q, NULL, err)))
			return rc;
	}
	return commit(h, err);
}

static int pgs_batch_finish(zl_state *st, const char *batch_id, const char *owner, zl_batch_status status,
                            int64_t now, int64_t retry_at, const char *result, const char *error,
                            const zl_notice *notices, size_t nnotices, zl_err *err)
{
	int ret = zl_state_check_finish(batch_id, owner, status, nnotices, err);
	if (ret)
		return ret;
	PG_RETRYING((pg_state *)st, err,
	            do_batch_finish((pg_state *)st, batch_id, owner, status, now, retry_at, result, error, notices,
	                            nnotices, err));
}

static int do_batch_resolve(pg_state *h, const char *lo, const char *hi, const char *id_prefix, char out[ZL_UUID_LEN],
                            zl_err *err)
{
	pg_params p = { 0 };
	PGresult *r = NULL;
	pg_str(&p, lo);
	pg_str(&p, hi);
	out[0] = '\0';
	int rc = run(h, S_BATCH_RESOLVE, &p, &r, err);
	int found = rc ? 0 : PQntuples(r);
	if (rc)
		;
	else if (found == 1)
		copy_id(out, PQgetvalue(r, 0, 0));
	else if (found == 0)
		rc = zl_err_set(err, ZL_ENOTFOUND, "no batch \"%s\"", id_prefix);
	else
		rc = zl_err_set(err, ZL_EINVAL, "batch id \"%s\" is ambiguous: %s, %s%s", id_prefix, PQgetvalue(r, 0, 0),
		                PQgetvalue(r, 1, 0), found > 2 ? ", ..." : "");
	PQclear(r);
	return rc;
}

static int pgs_batch_resolve(zl_state *st, const char *id_prefix, char out[ZL_UUID_LEN], zl_err *err)
{
	char lo[ZL_UUID_LEN], hi[ZL_UUID_LEN];
	size_t n = strlen(id_prefix);

	out[0] = '\0';
	int ret = zl_state_check_id_prefix(id_prefix, lo, err);
	if (ret)
		return ret;
	memcpy(hi, lo, sizeof hi);
	hi[n - 1]++; /* ids from lo (inclusive) to hi (exclusive) start with the prefix */
	PG_RETRYING((pg_state *)st, err, do_batch_resolve((pg_state *)st, lo, hi, id_prefix, out, err));
}

static int do_batch_get(pg_state *h, const char *batch_id, zl_batch *out, zl_err *err)
{
	pg_params p = { 0 };
	PGresult *r = NULL;
	int rc;
	pg_str(&p, batch_id);
	memset(out, 0, sizeof *out);
	if ((rc = pg_exec(h, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err)) ||
	    (rc = run(h, S_BATCH_GET, &p, &r, err)))
		goto out;
	if (PQntuples(r) == 0) {
		rc = zl_err_set(err, ZL_ENOTFOUND, "no batch \"%s\"", batch_id);
		goto out;
	}
	if ((rc = read_batch(r, 0, out, err)))
		goto out;
	PQclear(r);
	r = NULL;
	if ((rc = run(h, S_BATCH_FILES, &p, &r, err)))
		goto out;
	int nf = PQntuples(r);
	if (nf && !(out->files = calloc((size_t)nf, sizeof *out->files))) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < nf; i++) {
		zl_file_rec *f = &out->files[i];
		if ((rc = read_file(r, i, f, err)))
			goto out;
		snprintf(f->batch_status, sizeof f->batch_status, "%s", zl_batch_status_name(out->status));
		out->nfiles++;
	}
	rc = commit(h, err);
out:
	PQclear(r);
	if (rc)
		zl_batch_release(out);
	return rc;
}

static int pgs_batch_get(zl_state *st, const char *batch_id, zl_batch *out, zl_err *err)
{
	PG_RETRYING((pg_state *)st, err, do_batch_get((pg_state *)st, batch_id, out, err));
}

/* Runs a query built for one call and reads every row into a calloc'd array of size-byte
 * elements. *v and *nv hold what was read even on failure, for the caller to free. */
static int read_all(pg_state *h, const char *sql, const pg_params *p, size_t size,
                    int (*read)(const PGresult *, int, void *, zl_err *), void **v, size_t *nv, zl_err *err)
{
	PGresult *r = PQexecParams(h->conn, sql, p->n, NULL, p->v, NULL, NULL, 0);
	int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : pg_fail(h, r, err);
	int n = rc ? 0 : PQntuples(r);
	*nv = 0;
	*v = NULL;
	if (!rc && !(*v = calloc(n ? (size_t)n : 1, size)))
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	for (int i = 0; !rc && i < n; i++)
		if (!(rc = read(r, i, (char *)*v + (size_t)i * size, err)))
			(*nv)++;
	PQclear(r);
	return rc;
}

static int read_batch_row(const PGresult *r, int row, void *b, zl_err *err) { return read_batch(r, row, b, err); }
static int read_notice_row(const PGresult *r, int row, void *n, zl_err *err) { return read_notice(r, row, n, err); }
static int read_file_row(const PGresult *r, int row, void *f, zl_err *err) { return read_file(r, row, f, err); }

static int do_batch_list(pg_state *h, const zl_batch_filter *f, zl_batch **out, size_t *n, zl_err *err)
{
	zl_buf sql;
	pg_params p = { 0 };
	void *v = NULL;
	size_t nv = 0;

	*out = NULL;
	*n = 0;
	zl_buf_init(&sql, 2048);
	zl_buf_adds(&sql, "SELECT " BATCH_COLS " FROM batches WHERE true");
	zl_state_sql_status_in(&sql, f->status_mask, ZL_SQL_BATCH_STATUS);
	if (f->prefix) {
		pg_str(&p, f->prefix);
		zl_buf_printf(&sql, " AND prefix = $%d::text", p.n);
	}
	if (f->since) {
		pg_int(&p, f->since);
		zl_buf_printf(&sql, " AND created_at >= $%d::bigint", p.n);
	}
	if (f->until) {
		pg_int(&p, f->until);
		zl_buf_printf(&sql, " AND created_at <= $%d::bigint", p.n);
	}
	zl_buf_adds(&sql, " ORDER BY created_at DESC, id DESC");
	if (f->limit) {
		pg_int(&p, f->limit > INT64_MAX ? INT64_MAX : (int64_t)f->limit);
		zl_buf_printf(&sql, " LIMIT $%d::bigint", p.n);
	}
	int rc = read_all(h, zl_buf_str(&sql), &p, sizeof(zl_batch), read_batch_row, &v, &nv, err);
	zl_buf_release(&sql);
	if (rc) {
		zl_batch_list_free(v, nv);
		return rc;
	}
	*out = v;
	*n = nv;
	return 0;
}

static int pgs_batch_list(zl_state *st, const zl_batch_filter *f, zl_batch **out, size_t *n, zl_err *err)
{
	static const zl_batch_filter all;
	PG_RETRYING((pg_state *)st, err, do_batch_list((pg_state *)st, f ? f : &all, out, n, err));
}

static int do_batch_unlock(pg_state *h, const char *batch_id, int64_t now, const char *owner, int force, zl_err *err)
{
	pg_params p = { 0 };
	int64_t n;
	pg_str(&p, batch_id);
	pg_int(&p, now);
	pg_int(&p, force != 0);
	pg_str(&p, owner);
	int rc = changes(h, S_BATCH_UNLOCK, &p, &n, err);
	return rc ? rc : n ? 0 : not_changed(h, batch_id, "not locked", err);
}

static int pgs_batch_unlock(zl_state *st, const char *batch_id, int64_t now, const char *owner, int force,
                            zl_err *err)
{
	PG_RETRYING((pg_state *)st, err, do_batch_unlock((pg_state *)st, batch_id, now, owner, force, err));
}

static int do_batch_delete(pg_state *h, const char *batch_id, zl_err *err)
{
	pg_params p = { 0 };
	int64_t n;
	int rc;
	pg_str(&p, batch_id);
	if ((rc = begin(h, err)) || (rc = changes(h, S_BATCH_DELETE, &p, &n, err)))
		return rc;
	if (n == 0)
		return not_changed(h, batch_id, "not finished", err);
	if ((rc = run(h, S_NOTICE_FORGET, &p, NULL, err)))
		return rc;
	return commit(h, err);
}

static int pgs_batch_delete(zl_state *st, const char *batch_id, zl_err *err)
{
	PG_RETRYING((pg_state *)st, err, do_batch_delete((pg_state *)st, batch_id, err));
}

/* ---- the outbox ---- */

static int do_notice_claim(pg_state *h, const char *owner, int64_t now, int64_t lease_until, const char *batch_id,
                           zl_notice_rec *out, int *claimed, zl_err *err)
{
	pg_params p = { 0 };
	PGresult *r = NULL;
	memset(out, 0, sizeof *out);
	*claimed = 0;
	pg_str(&p, owner);
	pg_int(&p, now);
	pg_int(&p, lease_until);
	pg_str(&p, batch_id);
	int rc = run(h, S_NOTICE_CLAIM, &p, &r, err);
	if (!rc && PQntuples(r) == 1 && !(rc = read_notice(r, 0, out, err)))
		*claimed = 1;
	PQclear(r);
	return rc;
}

static int pgs_notice_claim(zl_state *st, const char *owner, int64_t now, int64_t lease_until, const char *batch_id,
                            zl_notice_rec *out, int *claimed, zl_err *err)
{
	memset(out, 0, sizeof *out);
	*claimed = 0;
	if (!owner)
		return zl_err_set(err, ZL_EINVAL, "claiming a notification needs an owner");
	PG_RETRYING((pg_state *)st, err,
	            do_notice_claim((pg_state *)st, owner, now, lease_until, batch_id, out, claimed, err));
}

/* The notice's row as S_NOTICE_STATE reads it; *found = 0 when absent. Caller clears *res. */
static int notice_state(pg_state *h, int64_t id, PGresult **res, int *found, zl_err *err)
{
	pg_params p = { 0 };
	pg_int(&p, id);
	int rc = run(h, S_NOTICE_STATE, &p, res, err);
	*found = !rc && PQntuples(*res) == 1;
	return rc;
}

static int do_notice_settle(pg_state *h, int64_t id, const char *owner, zl_notice_status status, int64_t now,
                            int64_t next_at, const char *error, zl_err *err)
{
	pg_params p = { 0 };
	PGresult *r = NULL;
	int64_t n;
	int found;
	pg_int(&p, id);
	pg_str(&p, owner);
	pg_str(&p, zl_notice_status_name(status));
	pg_int(&p, now);
	pg_int(&p, next_at);
	pg_str(&p, error);
	int rc = changes(h, S_NOTICE_SETTLE, &p, &n, err);
	if (rc || n)
		return rc;
	if ((rc = notice_state(h, id, &r, &found, err)))
		goto out;
	const char *st = found ? val(r, 0, 0) : NULL, *holder = found ? val(r, 0, 1) : NULL;
	if (h->commit_unknown && st && strcmp(st, zl_notice_status_name(status)) == 0 && !holder)
		rc = 0; /* this very settle went through before the connection broke */
	else if (!found)
		rc = zl_err_set(err, ZL_ELOST, "%s lost notification %lld: it was deleted", owner, (long long)id);
	else
		rc = zl_err_set(err, ZL_ELOST, "%s lost notification %lld: it is %s%s%s", owner, (long long)id,
		                st ? st : "?", holder ? " by " : "", holder ? holder : "");
out:
	PQclear(r);
	return rc;
}

static int pgs_notice_settle(zl_state *st, int64_t id, const char *owner, zl_notice_status status, int64_t now,
                             int64_t next_at, const char *error, zl_err *err)
{
	if (!owner || (unsigned)status >= ZL_NOTICE_NSTATUS)
		return zl_err_set(err, ZL_EINVAL, "settling notification %lld needs an owner and a status", (long long)id);
	PG_RETRYING((pg_state *)st, err, do_notice_settle((pg_state *)st, id, owner, status, now, next_at, error, err));
}

static int do_notice_list(pg_state *h, const zl_notice_filter *f, zl_notice_rec **out, size_t *n, zl_err *err)
{
	zl_buf sql;
	pg_params p = { 0 };
	void *v = NULL;
	size_t nv = 0;

	*out = NULL;
	*n = 0;
	zl_buf_init(&sql, 2048);
	zl_buf_adds(&sql, "SELECT " NOTICE_COLS " FROM outbox WHERE true");
	zl_state_sql_status_in(&sql, f->status_mask, ZL_SQL_NOTICE_STATUS);
	if (f->batch_id) {
		pg_str(&p, f->batch_id);
		zl_buf_printf(&sql, " AND batch_id = $%d::text", p.n);
	}
	zl_buf_adds(&sql, " ORDER BY id DESC");
	if (f->limit) {
		pg_int(&p, f->limit > INT64_MAX ? INT64_MAX : (int64_t)f->limit);
		zl_buf_printf(&sql, " LIMIT $%d::bigint", p.n);
	}
	int rc = read_all(h, zl_buf_str(&sql), &p, sizeof(zl_notice_rec), read_notice_row, &v, &nv, err);
	zl_buf_release(&sql);
	if (rc) {
		zl_notice_list_free(v, nv);
		return rc;
	}
	*out = v;
	*n = nv;
	return 0;
}

static int pgs_notice_list(zl_state *st, const zl_notice_filter *f, zl_notice_rec **out, size_t *n, zl_err *err)
{
	static const zl_notice_filter all;
	PG_RETRYING((pg_state *)st, err, do_notice_list((pg_state *)st, f ? f : &all, out, n, err));
}

static int do_notice_requeue(pg_state *h, int64_t id, int64_t now, size_t *n, zl_err *err)
{
	pg_params p = { 0 };
	PGresult *r = NULL;
	int64_t changed;
	int found;
	*n = 0;
	if (id)
		pg_int(&p, id);
	pg_int(&p, now);
	int rc = changes(h, id ? S_NOTICE_REQUEUE_ONE : S_NOTICE_REQUEUE_FAILED, &p, &changed, err);
	*n = (size_t)changed;
	if (rc || !id || changed)
		return rc;
	if ((rc = notice_state(h, id, &r, &found, err)))
		goto out;
	char t[40];
	const char *st = found ? val(r, 0, 0) : NULL;
	if (!found)
		rc = zl_err_set(err, ZL_ENOTFOUND, "no notification %lld", (long long)id);
	else if (st && strcmp(st, "sent") == 0)
		rc = zl_err_set(err, ZL_EBUSY, "notification %lld was sent at %s", (long long)id,
		                zl_time_format(num(r, 0, 3), t, sizeof t));
	else
		rc = zl_err_set(err, ZL_EBUSY, "notification %lld is being sent by %s (lease until %s)", (long long)id,
		                val(r, 0, 1) ? val(r, 0, 1) : "?", zl_time_format(num(r, 0, 2), t, sizeof t));
out:
	PQclear(r);
	return rc;
}

static int pgs_notice_requeue(zl_state *st, int64_t id, int64_t now, size_t *n, zl_err *err)
{
	PG_RETRYING((pg_state *)st, err, do_notice_requeue((pg_state *)st, id, now, n, err));
}

/* ---- copying a store ---- */

static int do_file_scan(pg_state *h, const char *after, size_t limit, zl_file_rec **out, size_t *n, zl_err *err)
{
	pg_params p = { 0 };
	void *v = NULL;
	size_t nv = 0;
	pg_str(&p, after ? after : "");
	pg_int(&p, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	*out = NULL;
	*n = 0;
	int rc = read_all(h, stmt_sql[S_FILE_SCAN], &p, sizeof(zl_file_rec), read_file_row, &v, &nv, err);
	if (rc) {
		for (size_t i = 0; i < nv; i++)
			zl_file_rec_release((zl_file_rec *)v + i);
		free(v);
		return rc;
	}
	*out = v;
	*n = nv;
	return 0;
}

static int pgs_file_scan(zl_state *st, const char *after, size_t limit, zl_file_rec **out, size_t *n, zl_err *err)
{
	if (limit == 0)
		return zl_err_set(err, ZL_EINVAL, "a file scan needs a limit");
	PG_RETRYING((pg_state *)st, err, do_file_scan((pg_state *)st, after, limit, out, n, err));
}

static int do_file_import(pg_state *h, const zl_file_rec *f, zl_err *err)
{
	pg_params p = { 0 };
	int64_t n;
	pg_str(&p, f->file_id);
	pg_str(&p, f->bucket);
	pg_str(&p, f->key);
	pg_str(&p, f->etag);
	pg_str(&p, f->prefix);
	pg_int(&p, f->size);
	pg_int(&p, f->received_at);
	pg_str(&p, f->batch_id);
	int rc = changes(h, S_FILE_IMPORT, &p, &n, err);
	if (rc || n)
		return rc;
	pg_params q = { 0 };
	PGresult *r = NULL;
	zl_file_rec old;
	pg_str(&q, f->file_id);
	if ((rc = run(h, S_FILE_ROW, &q, &r, err)))
		return rc;
	if (PQntuples(r) == 0)
		rc = zl_err_set(err, ZL_ETRANSIENT, "file record \"%s\" was deleted during its import", f->file_id);
	else if (!(rc = read_file(r, 0, &old, err))) {
		if (!zl_file_rec_same(&old, f))
			rc = zl_state_file_conflict(&old, f, err);
		zl_file_rec_release(&old);
	}
	PQclear(r);
	return rc;
}

static int pgs_file_import(zl_state *st, const zl_file_rec *f, zl_err *err)
{
	if (!f || !f->file_id || !f->bucket || !f->key || !f->prefix)
		return zl_err_set(err, ZL_EINVAL, "a file record needs an id, bucket, key and prefix");
	PG_RETRYING((pg_state *)st, err, do_file_import((pg_state *)st, f, err));
}

static int do_batch_import(pg_state *h, const zl_batch *b, zl_err *err)
{
	pg_params p = { 0 };
	int64_t n;
	pg_str(&p, b->id);
	pg_str(&p, b->prefix);
	pg_str(&p, zl_batch_status_name(b->status));
	pg_int(&p, b->created_at);
	pg_int(&p, b->first_at);
	pg_int(&p, b->updated_at);
	pg_int(&p, b->locked_at);
	pg_int(&p, b->finished_at);
	pg_int(&p, b->lease_until);
	pg_int(&p, b->file_count);
	pg_int(&p, b->bytes);
	pg_int(&p, b->attempts);
	pg_str(&p, b->owner);
	pg_str(&p, b->result);
	pg_str(&p, b->error);
	int rc = changes(h, S_BATCH_IMPORT, &p, &n, err);
	if (rc || n)
		return rc;
	PGresult *r = NULL;
	int found;
	zl_batch_status status;
	if ((rc = batch_state(h, b->id, &r, &found, err)))
		goto out;
	if (!found) {
		rc = zl_err_set(err, ZL_ETRANSIENT, "batch %s was deleted during its import", b->id);
		goto out;
	}
	if (zl_batch_status_parse(val(r, 0, 0), &status))
		status = ZL_BATCH_NSTATUS;
	if (status != b->status || num(r, 0, 4) != b->updated_at)
		rc = zl_state_batch_conflict(b->id, status, num(r, 0, 4), b, err);
out:
	PQclear(r);
	return rc;
}

static int pgs_batch_import(zl_state *st, const zl_batch *b, zl_err *err)
{
	if (!b || !b->id[0] || !b->prefix)
		return zl_err_set(err, ZL_EINVAL, "a batch needs an id and a prefix");
	PG_RETRYING((pg_state *)st, err, do_batch_import((pg_state *)st, b, err));
}

static int do_notice_import(pg_state *h, const zl_notice_rec *nt, zl_err *err)
{
	pg_params p = { 0 };
	pg_str(&p, nt->batch_id);
	pg_str(&p, nt->prefix);
	pg_str(&p, nt->dest);
	pg_str(&p, nt->event);
	pg_str(&p, nt->subject);
	pg_str(&p, nt->body);
	pg_str(&p, zl_notice_status_name(nt->status));
	pg_int(&p, nt->attempts);
	pg_int(&p, nt->max_attempts);
	pg_int(&p, nt->created_at);
	pg_int(&p, nt->next_at);
	pg_int(&p, nt->sent_at);
	pg_int(&p, nt->lease_until);
	pg_str(&p, nt->owner);
	pg_str(&p, nt->last_error);
	return run(h, S_NOTICE_IMPORT, &p, NULL, err);
}

static int pgs_notice_import(zl_state *st, const zl_notice_rec *n, zl_err *err)
{
	if (!n || !n->prefix || !n->dest || !n->event || !n->subject || !n->body)
		return zl_err_set(err, ZL_EINVAL, "a notification needs a prefix, destination, event, subject and body");
	PG_RETRYING((pg_state *)st, err, do_notice_import((pg_state *)st, n, err));
}

/* ---- opening ---- */

static void pgs_close(zl_state *st)
{
	pg_state *h = (pg_state *)st;
	if (!h)
		return;
	zl_group_clear(&h->gp);
	pg_disconnect(h);
	free(h->conninfo);
	free(h);
}

static int open_with(const zl_state_ops *ops, const char *target, zl_state **out, zl_err *err)
{
	pg_state *h = calloc(1, sizeof *h);
	int rc;

	*out = NULL;
	if (!h)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	h->base.ops = ops;
	if ((rc = pg_parse_target(h, target, err)))
		goto out;
	/* the first connection creates or migrates the schema; a server that is down is retried */
	pg_retry r = { 0 };
	do
		rc = pg_connected(h, err);
	while (pg_again(h, &r, rc, err));
	if (rc)
		goto out;
	*out = &h->base;
out:
	if (rc)
		pgs_close(&h->base);
	return rc;
}

static int pgs_open(const char *target, zl_state **out, zl_err *err)
{
	return open_with(&zl_state_pg_ops, target, out, err);
}

static int pgs_open_postgres(const char *target, zl_state **out, zl_err *err)
{
	return open_with(&zl_state_postgres_ops, target, out, err);
}

#define PG_OPS                                                                                  \
	.close = pgs_close, .config_put = pgs_config_put, .config_get = pgs_config_get,             \
	.config_list = pgs_config_list, .config_replace = pgs_config_replace,                       \
	.config_delete = pgs_config_delete, .config_version = pgs_config_version,                   \
	.claim_append = pgs_claim_append, .group_begin = pgs_group_begin, .group_end = pgs_group_end, \
	.file_get = pgs_file_get, .file_delete = pgs_file_delete, \
	.batch_lock = pgs_batch_lock, .batch_renew = pgs_batch_renew, .batch_finish = pgs_batch_finish, \
	.batch_resolve = pgs_batch_resolve, .batch_get = pgs_batch_get, .batch_list = pgs_batch_list, \
	.batch_unlock = pgs_batch_unlock, .batch_delete = pgs_batch_delete,                         \
	.notice_claim = pgs_notice_claim, .notice_settle = pgs_notice_settle,                       \
	.notice_list = pgs_notice_list, .notice_requeue = pgs_notice_requeue,                       \
	.file_scan = pgs_file_scan, .file_import = pgs_file_import, .batch_import = pgs_batch_import, \
	.notice_import = pgs_notice_import

const zl_state_ops zl_state_pg_ops = { .scheme = "postgresql", .open = pgs_open, PG_OPS };
const zl_state_ops zl_state_postgres_ops = { .scheme = "postgres", .open = pgs_open_postgres, PG_OPS };
