/* The PostgreSQL state backend's connection: the URL's zload options, connecting with
 * time-outs, the schema (created on first use, migrated under an advisory lock by the first
 * loader that finds it older), and retrying operations across a lost connection. */
#include "state/state_pg_int.h"
#include "target/pg_db.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_RETRY_MS 30000

/* Each migration takes the schema from the version before it to its own (index + 1). */
static const char *const migrations[PG_SCHEMA_VERSION] = {
	/* 1: configurations, batches, file records, and the version counters */
	"CREATE TABLE configs (prefix text COLLATE \"C\" PRIMARY KEY, json text NOT NULL, updated_at bigint);"
	"CREATE TABLE batches (id text COLLATE \"C\" PRIMARY KEY, prefix text COLLATE \"C\" NOT NULL,"
	" status text NOT NULL, created_at bigint, first_at bigint, updated_at bigint, locked_at bigint,"
	" finished_at bigint, lease_until bigint, file_count bigint NOT NULL DEFAULT 0,"
	" bytes bigint NOT NULL DEFAULT 0, attempts integer NOT NULL DEFAULT 0, owner text, result text, error text);"
	"CREATE INDEX batches_prefix_status ON batches (prefix, status, created_at);"
	"CREATE INDEX batches_status_created ON batches (status, created_at);"
	"CREATE TABLE files (seq bigserial NOT NULL, file_id text COLLATE \"C\" PRIMARY KEY, bucket text NOT NULL,"
	" key text NOT NULL, etag text, prefix text NOT NULL, size bigint NOT NULL DEFAULT 0, received_at bigint,"
	" batch_id text COLLATE \"C\");"
	"CREATE INDEX files_batch ON files (batch_id, seq);"
	"CREATE TABLE meta (key text PRIMARY KEY, value bigint NOT NULL);"
	"INSERT INTO meta VALUES ('schema_version', 1), ('config_version', 0);",
	/* 2: the notification outbox, written by batch_finish with the batch's outcome */
	"CREATE TABLE outbox (id bigserial PRIMARY KEY, batch_id text COLLATE \"C\" NOT NULL, prefix text NOT NULL,"
	" dest text NOT NULL, event text NOT NULL, subject text NOT NULL, body text NOT NULL,"
	" status text NOT NULL DEFAULT 'pending', attempts integer NOT NULL DEFAULT 0, max_attempts integer NOT NULL,"
	" created_at bigint NOT NULL, next_at bigint NOT NULL, sent_at bigint, lease_until bigint, owner text,"
	" last_error text);"
	"CREATE INDEX outbox_due ON outbox (status, next_at);"
	"CREATE INDEX outbox_batch ON outbox (batch_id);",
};

void pg_str(pg_params *p, const char *s)
{
	p->v[p->n++] = s;
}

void pg_int(pg_params *p, int64_t x)
{
	snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", (long long)x);
	p->v[p->n] = p->num[p->n];
	p->n++;
}

int pg_fail(pg_state *h, PGresult *res, zl_err *err)
{
	int rc = zl_pg_fail(h->conn, res, "state database", err);
	if (rc != ZL_ETRANSIENT)
		err->code = rc = ZL_ESTATE;
	return rc;
}

int pg_exec(pg_state *h, const char *sql, zl_err *err)
{
	PGresult *res = PQexec(h->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : pg_fail(h, res, err);
	PQclear(res);
	return rc;
}

/* ---- the URL ---- */

static int set_schema(pg_state *h, const char *v, size_t n, zl_err *err)
{
	int ok = n > 0 && n < sizeof h->schema && (islower((unsigned char)v[0]) || v[0] == '_');
	for (size_t i = 0; ok && i < n; i++)
		ok = islower((unsigned char)v[i]) || isdigit((unsigned char)v[i]) || v[i] == '_';
	if (!ok)
		return zl_err_set(err, ZL_EINVAL, "state URL: schema \"%.*s\" must be 1 to 63 lowercase letters, digits "
		                  "or _, not starting with a digit", (int)(n > 64 ? 64 : n), v);
	memcpy(h->schema, v, n);
	h->schema[n] = '\0';
	return 0;
}

static int set_retry(pg_state *h, const char *v, size_t n, zl_err *err)
{
	char tmp[24], *end;
	snprintf(tmp, sizeof tmp, "%.*s", (int)(n < sizeof tmp ? n : sizeof tmp - 1), v);
	long secs = strtol(tmp, &end, 10);
	if (n == 0 || n >= sizeof tmp || *end || secs < 0 || secs > 86400)
		return zl_err_set(err, ZL_EINVAL, "state URL: retry \"%.*s\" must be seconds from 0 to 86400", (int)n, v);
	h->retry_ms = secs * 1000;
	return 0;
}

/* zload's own options (schema, retry) are taken out; libpq refuses options it does not know. */
static int take_option(pg_state *h, const char *key, size_t klen, const char *v, size_t vlen, int *taken,
                       zl_err *err)
{
	*taken = 1;
	if (klen == 6 && strncmp(key, "schema", 6) == 0)
		return set_schema(h, v, vlen, err);
	if (klen == 5 && strncmp(key, "retry", 5) == 0)
		return set_retry(h, v, vlen, err);
	*taken = 0;
	return 0;
}

/* "//user:pw@host:port/db?schema=s&sslmode=require": the query without schema and retry. */
static int parse_uri(pg_state *h, const char *target, zl_buf *out, zl_err *err)
{
	const char *q = strchr(target, '?');
	if (zl_buf_printf(out, "postgresql:%.*s", (int)(q ? q - target : (long)strlen(target)), target))
		return zl_err_set(err, ZL_EINVAL, "state URL is too long");
	if (!q)
		return 0;
	char sep = '?';
	for (const char *p = q + 1; *p;) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;
		int taken, rc = take_option(h, p, klen, eq ? eq + 1 : p + len, eq ? len - klen - 1 : 0, &taken, err);
		if (rc)
			return rc;
		if (!taken && len) {
			if (zl_buf_printf(out, "%c%.*s", sep, (int)len, p))
				return zl_err_set(err, ZL_EINVAL, "state URL is too long");
			sep = '&';
		}
		p += len + (p[len] == '&');
	}
	return 0;
}

/* "host=h dbname=d schema=s": words without schema= and retry= (values with spaces must be
 * quoted for libpq, and zload's options take no spaces). */
static int parse_conninfo(pg_state *h, const char *target, zl_buf *out, zl_err *err)
{
	for (const char *p = target; *p;) {
		p += strspn(p, " \t\n");
		if (!*p)
			break;
		size_t len = 0;
		for (int quoted = 0; p[len] && (quoted || !strchr(" \t\n", p[len])); len++) {
			if (p[len] == '\\' && p[len + 1])
				len++;
			else if (p[len] == '\'')
				quoted = !quoted;
		}
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;
		while (klen && p[klen - 1] == ' ')
			klen--;
		int taken, rc = take_option(h, p, klen, eq ? eq + 1 : p + len, eq ? len - (size_t)(eq - p) - 1 : 0,
		                            &taken, err);
		if (rc)
			return rc;
		if (!taken && zl_buf_printf(out, "%s%.*s", zl_buf_str(out)[0] ? " " : "", (int)len, p))
			return zl_err_set(err, ZL_EINVAL, "state URL is too long");
		p += len;
	}
	return 0;
}

int pg_parse_target(pg_state *h, const char *target, zl_err *err)
{
	zl_buf out;
	zl_buf_init(&out, 8192);
	strcpy(h->schema, "zload");
	h->retry_ms = DEFAULT_RETRY_MS;
	int rc = strncmp(target, "//", 2) == 0 ? parse_uri(h, target, &out, err) : parse_conninfo(h, target, &out, err);
	if (!rc && !(h->conninfo = strdup(zl_buf_str(&out))))
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	zl_buf_release(&out);
	return rc;
}

/* ---- connecting ---- */

void pg_disconnect(pg_state *h)
{
	PQfinish(h->conn);
	h->conn = NULL;
	h->prepared = 0;
}

/* A refused login or a missing database does not get better by waiting. */
static int connect_failure_permanent(const char *msg)
{
	static const char *const words[] = { "authentication failed", "no pg_hba.conf entry", "does not exist",
		                                 "permission denied", "invalid ", "not permitted", NULL };
	for (int i = 0; words[i]; i++)
		if (strstr(msg, words[i]))
			return 1;
	return 0;
}

/* The schema's version: 0 when there is none yet. */
static int schema_version(pg_state *h, int64_t *version, zl_err *err)
{
	const char *sql = "SELECT to_regclass(pg_catalog.quote_ident($1) || '.meta') IS NOT NULL";
	const char *v[1] = { h->schema };
	PGresult *res = PQexecParams(h->conn, sql, 1, NULL, v, NULL, NULL, 0);
	int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : pg_fail(h, res, err);
	int exists = !rc && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	*version = 0;
	if (rc || !exists)
		return rc;
	res = PQexec(h->conn, "SELECT value FROM meta WHERE key = 'schema_version'");
	rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : pg_fail(h, res, err);
	if (!rc && PQntuples(res) == 1)
		*version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return rc;
}

/* Creates or migrates the schema in one transaction; loaders that find it older at the same
 * time wait on the advisory lock, then find it current. */
static int migrate(pg_state *h, zl_err *err)
{
	int64_t version;
	char sql[256];
	int rc = schema_version(h, &version, err);
	if (rc || version == PG_SCHEMA_VERSION)
		return rc;
	if ((rc = pg_exec(h, "BEGIN", err)))
		return rc;
	const char *v[1] = { h->schema };
	PGresult *res = PQexecParams(h->conn, "SELECT pg_advisory_xact_lock(hashtext('zload schema ' || $1))", 1, NULL,
	                             v, NULL, NULL, 0);
	rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : pg_fail(h, res, err);
	PQclear(res);
	if (rc)
		goto out;
	/* a statement of its own: its snapshot sees what the loader we waited for committed */
	res = PQexecParams(h->conn, "SELECT to_regnamespace(pg_catalog.quote_ident($1)) IS NULL", 1, NULL, v, NULL,
	                   NULL, 0);
	rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : pg_fail(h, res, err);
	int absent = !rc && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (rc)
		goto out;
	snprintf(sql, sizeof sql, "CREATE SCHEMA \"%s\"", h->schema);
	if ((absent && (rc = pg_exec(h, sql, err))) || (rc = schema_version(h, &version, err)))
		goto out;
	if (version > PG_SCHEMA_VERSION) {
		rc = zl_err_set(err, ZL_ESTATE, "state schema \"%s\" has version %lld; this zload knows %d", h->schema,
		                (long long)version, PG_SCHEMA_VERSION);
		goto out;
	}
	for (int64_t i = version; i < PG_SCHEMA_VERSION; i++)
		if ((rc = pg_exec(h, migrations[i], err)))
			goto out;
	snprintf(sql, sizeof sql, "UPDATE meta SET value = %d WHERE key = 'schema_version'", PG_SCHEMA_VERSION);
	if ((rc = pg_exec(h, sql, err)) || (rc = pg_exec(h, "COMMIT", err)))
		goto out;
	if (version)
		ZL_LOG(ZL_INFO, "migrated the state schema", ZL_S("schema", h->schema), ZL_I("from", version),
		       ZL_I("to", PG_SCHEMA_VERSION));
out:
	if (rc && h->conn && PQtransactionStatus(h->conn) != PQTRANS_IDLE)
		PQclear(PQexec(h->conn, "ROLLBACK"));
	return rc;
}

static void ignore_notice(void *arg, const char *msg) { (void)arg; (void)msg; }

static int connect_now(pg_state *h, zl_err *err)
{
	/* defaults first: what the URL sets overrides them (expand_dbname) */
	const char *keys[] = { "connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
		                   "tcp_user_timeout", "fallback_application_name", "dbname", NULL };
	const char *vals[] = { "10", "10", "5", "3", "30000", "zload-state", h->conninfo, NULL };
	h->conn = PQconnectdbParams(keys, vals, 1);
	if (!h->conn)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	if (PQstatus(h->conn) != CONNECTION_OK) {
		char msg[768];
		snprintf(msg, sizeof msg, "%s", PQerrorMessage(h->conn));
		zl_pg_oneline(msg);
		pg_disconnect(h);
		return zl_err_set(err, connect_failure_permanent(msg) ? ZL_ESTATE : ZL_ETRANSIENT,
		                  "cannot connect to the state database: %s", msg);
	}
	PQsetNoticeProcessor(h->conn, ignore_notice, NULL); /* the log is zload's, one line per event */
	const char *v[1] = { h->schema };
	PGresult *res = PQexecParams(h->conn, "SELECT pg_catalog.set_config('search_path', pg_catalog.quote_ident($1), false)",
	                             1, NULL, v, NULL, NULL, 0);
	int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : pg_fail(h, res, err);
	PQclear(res);
	if (!rc)
		rc = migrate(h, err);
	if (rc)
		pg_disconnect(h);
	return rc;
}

int pg_connected(pg_state *h, zl_err *err)
{
	if (h->conn && PQstatus(h->conn) != CONNECTION_OK)
		pg_disconnect(h);
	if (!h->conn)
		return connect_now(h, err);
	if (PQtransactionStatus(h->conn) != PQTRANS_IDLE)
		PQclear(PQexec(h->conn, "ROLLBACK"));
	return 0;
}

/* ---- retrying ---- */

static atomic_int unreachable;         /* process-wide: the last attempt found the server gone */
static _Atomic int64_t unreachable_since;

static void note_unreachable(const zl_err *err)
{
	if (atomic_exchange(&unreachable, 1) == 0) {
		atomic_store(&unreachable_since, zl_mono_ms());
		ZL_LOG(ZL_WARN, "state database unreachable; retrying", ZL_S("error", err->msg));
	}
}

static void note_reachable(void)
{
	if (atomic_load(&unreachable) && atomic_exchange(&unreachable, 0) == 1)
		ZL_LOG(ZL_INFO, "state database reachable again",
		       ZL_I("down_ms", zl_mono_ms() - atomic_load(&unreachable_since)));
}

int pg_again(pg_state *h, pg_retry *r, int rc, zl_err *err)
{
	int lost = !h->conn || PQstatus(h->conn) != CONNECTION_OK;
	if (!lost && PQtransactionStatus(h->conn) != PQTRANS_IDLE) /* a failed step: release its locks now */
		PQclear(PQexec(h->conn, "ROLLBACK"));
	if (rc != ZL_ETRANSIENT) {
		if (rc != ZL_ESTATE || !lost)
			note_reachable();
		return 0;
	}
	if (lost) {
		note_unreachable(err);
		pg_disconnect(h);
		h->commit_unknown = 1;
	}
	int64_t now = zl_mono_ms();
	if (!r->deadline)
		r->deadline = now + h->retry_ms;
	if (now >= r->deadline)
		return 0;
	int64_t wait = r->attempt < 6 ? 50LL << r->attempt : 2000;
	if (wait > r->deadline - now)
		wait = r->deadline - now;
	struct timespec ts = { .tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000L };
	nanosleep(&ts, NULL);
	r->attempt++;
	return 1;
}
