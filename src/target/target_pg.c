/* The PostgreSQL target (libpq): streams each object into COPY ... FROM STDIN. The COPY text
 * comes from dialect_pg.c. */
#include "target/dialect.h"
#include "target/target.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strvec.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COPY_CHUNK (256 * 1024)

const zl_target_ops zl_target_pg_ops;

static const zl_field pg_fields[] = {
	{ "name", ZL_FT_STRING, 0, NULL, NULL, "name of this target in messages and results" },
	{ "type", ZL_FT_ENUM, 1, "postgres", NULL, "target type" },
	{ "conninfo", ZL_FT_SECRET, 0, NULL, NULL, "libpq connection string or URI (fields below override it)" },
	{ "host", ZL_FT_STRING, 0, NULL, NULL, "server host (default: libpq's, e.g. PGHOST)" },
	{ "port", ZL_FT_INT, 0, NULL, NULL, "server port" },
	{ "database", ZL_FT_STRING, 0, NULL, NULL, "database name" },
	{ "user", ZL_FT_STRING, 0, NULL, NULL, "user name" },
	{ "password", ZL_FT_SECRET, 0, NULL, NULL, "password (else PGPASSWORD, ~/.pgpass, service file)" },
	{ "sslmode", ZL_FT_ENUM, 0, "disable|allow|prefer|require|verify-ca|verify-full", NULL, "libpq sslmode" },
	{ "targetTable", ZL_FT_STRING, 1, NULL, NULL, "table to load, optionally schema.table" },
	{ "columns", ZL_FT_ARRAY, 0, NULL, NULL, "columns the file's fields go to, in order (default: all)" },
	{ "copyOptions", ZL_FT_STRING, 0, NULL, NULL, "extra COPY options, appended inside WITH (...)" },
	{ "preLoadStatement", ZL_FT_STRING, 0, NULL, NULL, "SQL run in the load transaction before the COPYs" },
	{ "postLoadStatement", ZL_FT_STRING, 0, NULL, NULL, "SQL run in the load transaction after the COPYs" },
	{ "ledgerTable", ZL_FT_STRING, 0, NULL, NULL, "table recording loaded batches (default zload_ledger)" },
	{ "connectTimeoutSecs", ZL_FT_INT, 0, NULL, NULL, "connection timeout (default 10)" },
	{ 0 }
};

typedef struct pg_target {
	zl_target base;
	PGconn *conn;
	const char *table;
	const char *ledger;
	const char *options;
	zl_strvec columns;
	zl_strvec table_cols; /* the table's column names, read once for CSV headers */
	int stage_ready;
	zl_buf sql;        /* the last COPY statement(s) */
	char *buf;         /* COPY_CHUNK bytes */
} pg_target;

static const char *str_field(const json_t *cfg, const char *name)
{
	const char *s = json_string_value(json_object_get(cfg, name));
	return s && *s ? s : NULL;
}

/* SQLSTATE classes a retry can cure: connection trouble, resources, shutdown, conflicts. */
static int sqlstate_transient(const char *st)
{
	static const char *const prefixes[] = { "08", "53", "57P", "40001", "40P01", "55P03", NULL };
	for (int i = 0; st && prefixes[i]; i++)
		if (strncmp(st, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

static void chomp(char *s)
{
	for (size_t n = strlen(s); n && (s[n - 1] == '\n' || s[n - 1] == ' ');)
		s[--n] = '\0';
}

/* libpq's own messages span lines ("...failed: Connection refused\n\tIs the server running...?"):
 * one line, for logs and `batches show`. */
static void oneline(char *s)
{
	char *w = s;
	int in_break = 0; /* inside a run of line breaks, tabs and the spaces after them */
	for (const char *r = s; *r; r++) {
		if (*r == '\n' || *r == '\r' || *r == '\t') {
			if (!in_break && !(w > s && w[-1] == ' '))
				*w++ = ' ';
			in_break = 1;
		} else if (!(in_break && *r == ' ')) {
			in_break = 0;
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* Fills err from a failed result (or the connection's message when res is NULL). */
static int pg_fail(pg_target *t, PGresult *res, const char *what, zl_err *err)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *context = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	char msg[768];
	snprintf(msg, sizeof msg, "%s", primary ? primary : PQerrorMessage(t->conn));
	chomp(msg);
	oneline(msg);
	int lost = PQstatus(t->conn) == CONNECTION_BAD;
	int code = lost || sqlstate_transient(state) ? ZL_ETRANSIENT : ZL_ELOAD;
	zl_buf b;
	zl_buf_init(&b, sizeof err->msg - 1);
	zl_buf_printf(&b, "%s%s%s", what ? what : "", what ? ": " : "", msg);
	if (detail)
		zl_buf_printf(&b, " (%s)", detail);
	if (state)
		zl_buf_printf(&b, " [SQLSTATE %s]", state);
	if (context) {
		char ctx[512];
		snprintf(ctx, sizeof ctx, "%s", context);
		chomp(ctx);
		zl_buf_printf(&b, " [%s]", ctx);
	}
	zl_err_set(err, code, "%s", zl_buf_str(&b));
	zl_buf_release(&b);
	return code;
}

/* Runs one statement that returns no rows. */
static int run(pg_target *t, const char *sql, const char *what, zl_err *err)
{
	PGresult *res = PQexec(t->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : pg_fail(t, res, what, err);
	PQclear(res);
	return rc;
}

/* Connection failures: a retry will not fix authentication or a missing database. */
static int connect_error(PGconn *conn, zl_err *err)
{
	char msg[768];
	snprintf(msg, sizeof msg, "%s", conn ? PQerrorMessage(conn) : "out of memory");
	chomp(msg);
	oneline(msg);
	static const char *const permanent[] = { "authentication failed", "does not exist", "no pg_hba.conf entry",
	                                         "permission denied", "password is required", "no password supplied", "invalid ", NULL };
	int code = ZL_ETRANSIENT;
	for (int i = 0; permanent[i]; i++)
		if (strstr(msg, permanent[i]))
			code = ZL_ELOAD;
	return zl_err_set(err, code, "cannot connect: %s", msg);
}

/* Server notices (e.g. "relation ... already exists, skipping") go to the debug log, not raw
 * to stderr. */
static void pg_notice(void *arg, const char *message)
{
	(void)arg;
	char msg[512];
	snprintf(msg, sizeof msg, "%s", message);
	chomp(msg);
	ZL_LOG(ZL_DEBUG, "postgres notice", ZL_S("notice", msg));
}

/* Creates the ledger table unless it exists. Checked first: CREATE TABLE IF NOT EXISTS needs
 * CREATE on the schema even when the table is there, which a least-privilege loader lacks. */
static int ledger_ensure(pg_target *t, zl_err *err)
{
	zl_buf q;
	zl_buf_init(&q, 0);
	int rc = zl_sql_ident(&q, t->ledger) ? zl_err_set(err, ZL_ENOMEM, "out of memory") : 0;
	if (rc)
		goto out;
	const char *params[1] = { zl_buf_str(&q) };
	PGresult *res = PQexecParams(t->conn, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, params, NULL, NULL, 0);
	int exists = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : pg_fail(t, res, "ledger", err);
	PQclear(res);
	if (rc || exists)
		goto out;
	zl_buf_reset(&q);
	zl_dialect_pg_ledger_create(&q, t->ledger);
	rc = run(t, zl_buf_str(&q), "ledger", err);
	if (rc == ZL_ELOAD && strstr(err->msg, "23505"))
		rc = 0; /* created concurrently by another loader */
out:
	zl_buf_release(&q);
	return rc;
}

static void pg_close(zl_target *base)
{
	pg_target *t = (pg_target *)base;
	if (!t)
		return;
	PQfinish(t->conn);
	zl_strvec_release(&t->columns);
	zl_strvec_release(&t->table_cols);
	zl_buf_release(&t->sql);
	free(t->buf);
	free(t);
}

static int pg_connect(const json_t *cfg, zl_target **out, zl_err *err)
{
	const char *keys[12], *vals[12];
	char port[16], timeout[16];
	int n = 0, rc = 0;
	*out = NULL;
	pg_target *t = calloc(1, sizeof *t);
	if (!t || !(t->buf = malloc(COPY_CHUNK))) {
		free(t);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	t->base.ops = &zl_target_pg_ops;
	zl_strvec_init(&t->columns);
	zl_strvec_init(&t->table_cols);
	zl_buf_init(&t->sql, 0);
	t->table = str_field(cfg, "targetTable");
	t->ledger = str_field(cfg, "ledgerTable") ? str_field(cfg, "ledgerTable") : "zload_ledger";
	t->options = str_field(cfg, "copyOptions");
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(cfg, "columns"), i, c) {
		if (!json_is_string(c)) {
			rc = zl_err_set(err, ZL_EINVAL, "columns[%zu]: expected a string", i);
			goto out;
		}
		zl_strvec_push(&t->columns, json_string_value(c));
	}
	/* The connection string first, so the separate fields override what it says. */
	static const char *const fields[][2] = { { "conninfo", "dbname" }, { "host", "host" }, { "database", "dbname" },
	                                         { "user", "user" }, { "password", "password" }, { "sslmode", "sslmode" } };
	for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
		if (str_field(cfg, fields[k][0])) {
			keys[n] = fields[k][1];
			vals[n++] = str_field(cfg, fields[k][0]);
		}
	if (json_object_get(cfg, "port")) {
		snprintf(port, sizeof port, "%lld", (long long)json_integer_value(json_object_get(cfg, "port")));
		keys[n] = "port";
		vals[n++] = port;
	}
	json_t *ct = json_object_get(cfg, "connectTimeoutSecs");
	snprintf(timeout, sizeof timeout, "%lld", ct ? (long long)json_integer_value(ct) : 10LL);
	keys[n] = "connect_timeout";
	vals[n++] = timeout;
	keys[n] = "application_name";
	vals[n++] = "zload";
	keys[n] = vals[n] = NULL;
	t->conn = PQconnectdbParams(keys, vals, 1);
	if (!t->conn || PQstatus(t->conn) != CONNECTION_OK) {
		rc = connect_error(t->conn, err);
		goto out;
	}
	PQsetNoticeProcessor(t->conn, pg_notice, NULL);
	rc = ledger_ensure(t, err);
out:
	if (rc) {
		pg_close(&t->base);
		return rc;
	}
	*out = &t->base;
	return 0;
}

static int pg_ledger_has(zl_target *base, const zl_ledger_key *k, int *has, zl_err *err)
{
	pg_target *t = (pg_target *)base;
	zl_buf q;
	zl_buf_init(&q, 0);
	zl_dialect_pg_ledger_select(&q, t->ledger);
	const char *params[1] = { k->batch_id };
	PGresult *res = PQexecParams(t->conn, zl_buf_str(&q), 1, NULL, params, NULL, NULL, 0);
	int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : pg_fail(t, res, "ledger", err);
	*has = rc == 0 && PQntuples(res) > 0;
	PQclear(res);
	zl_buf_release(&q);
	return rc;
}

static int pg_ledger_insert(zl_target *base, const zl_ledger_key *k, zl_err *err)
{
	pg_target *t = (pg_target *)base;
	zl_buf q;
	zl_buf_init(&q, 0);
	zl_dialect_pg_ledger_insert(&q, t->ledger);
	const char *params[2] = { k->batch_id, k->prefix };
	PGresult *res = PQexecParams(t->conn, zl_buf_str(&q), 2, NULL, params, NULL, NULL, 0);
	int rc = 0;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		rc = state && strcmp(state, "23505") == 0
		         ? zl_err_set(err, ZL_EEXIST, "batch %s is already in the ledger", k->batch_id)
		         : pg_fail(t, res, "ledger", err);
	}
	PQclear(res);
	zl_buf_release(&q);
	return rc;
}

static int pg_begin(zl_target *base, zl_err *err) { return run((pg_target *)base, "BEGIN", NULL, err); }

static int pg_exec(zl_target *base, const char *sql, zl_err *err)
{
	return sql && *sql ? run((pg_target *)base, sql, NULL, err) : 0;
}

static int pg_commit(zl_target *base, zl_err *err)
{
	pg_target *t = (pg_target *)base;
	PGresult *res = PQexec(t->conn, "COMMIT");
	int rc = 0;
	/* A transaction that failed earlier answers COMMIT with ROLLBACK. */
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = pg_fail(t, res, "commit", err);
	else if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
		rc = zl_err_set(err, ZL_ELOAD, "commit: the transaction was rolled back");
	PQclear(res);
	return rc;
}

static void pg_rollback(zl_target *base)
{
	pg_target *t = (pg_target *)base;
	if (PQstatus(t->conn) == CONNECTION_OK)
		PQclear(PQexec(t->conn, "ROLLBACK"));
}

/* Streams r into the COPY that sql starts, after the first `have` bytes already in t->buf;
 * sets *rows from the command tag. */
static int stream_copy(pg_target *t, const char *name, const char *sql, size_t have, zl_reader *r,
                       int64_t *rows, zl_err *err)
{
	PGresult *res = PQexec(t->conn, sql);
	int rc = 0;
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		rc = pg_fail(t, res, name, err);
		PQclear(res);
		return rc;
	}
	PQclear(res);
	zl_err rerr = { 0 };
	if (have && PQputCopyData(t->conn, t->buf, (int)have) != 1)
		have = 0, r = NULL; /* the server's error arrives with the result below */
	for (; r;) {
		ssize_t n = zl_reader_read(r, t->buf, COPY_CHUNK, &rerr);
		if (n < 0) {
			rc = n;
			break;
		}
		if (n == 0)
			break;
		if (PQputCopyData(t->conn, t->buf, (int)n) != 1)
			break; /* the server's error arrives with the result below */
	}
	PQputCopyEnd(t->conn, rc ? "zload: reading the object failed" : NULL);
	while ((res = PQgetResult(t->conn))) {
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			*rows = strtoll(PQcmdTuples(res), NULL, 10);
		else if (rc == 0)
			rc = pg_fail(t, res, name, err);
		PQclear(res);
	}
	if (rerr.code) /* our read error is the real cause, not the server's reaction to it */
		rc = zl_err_set(err, rerr.code, "%s", rerr.msg);
	return rc;
}

/* Splits the first CSV record of p[0, n) into names (PostgreSQL's CSV rules: the escape
 * character only escapes the quote or itself inside quotes). Returns 1 when the record ended
 * (or the input did, at eof), 0 when it needs more bytes, ZL_ENOMEM. */
static int header_parse(const char *p, size_t n, int eof, const zl_format *f, zl_strvec *names, zl_buf *field)
{
	char q = f->quote, e = f->escape ? f->escape : f->quote, d = f->delimiter;
	int inq = 0, rc = 0;
	zl_buf_reset(field);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char c = p[i];
		if (inq && c == e && (e != q || i + 1 == n || p[i + 1] == q)) {
			if (i + 1 == n)
				return eof ? (rc = zl_strvec_push(names, zl_buf_str(field))) ? rc : 1 : 0;
			if (p[i + 1] == q || p[i + 1] == e) {
				rc = zl_buf_addc(field, p[++i]);
				continue;
			}
		}
		if (inq && c == q)
			inq = 0;
		else if (inq)
			rc = zl_buf_addc(field, c);
		else if (c == q)
			inq = 1;
		else if (c == d || c == '\n' || c == '\r') {
			rc = zl_strvec_push(names, zl_buf_str(field));
			zl_buf_reset(field);
			if (c != d)
				return rc ? rc : 1;
		} else
			rc = zl_buf_addc(field, c);
	}
	if (rc == 0 && eof && (n || names->n))
		rc = zl_strvec_push(names, zl_buf_str(field));
	return rc ? rc : eof;
}

/* Reads ahead into t->buf until the header record is complete; *have is the bytes read. */
static int read_header(pg_target *t, const char *name, zl_reader *r, const zl_format *f, size_t *have,
                       zl_strvec *names, zl_err *err)
{
	zl_buf field;
	zl_buf_init(&field, 0);
	int rc = 0, done = 0;
	*have = 0;
	while (!done && rc == 0) {
		if (*have == COPY_CHUNK) {
			rc = zl_err_set(err, ZL_ELOAD, "%s: the header line is longer than %d bytes", name, COPY_CHUNK);
			break;
		}
		ssize_t n = zl_reader_read(r, t->buf + *have, COPY_CHUNK - *have, err);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		*have += (size_t)n;
		zl_strvec_release(names);
		zl_strvec_init(names);
		done = header_parse(t->buf, *have, n == 0, f, names, &field);
		if (done < 0)
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	zl_buf_release(&field);
	return rc;
}

/* The table's column names, read once per connection (none when the table does not exist: the
 * COPY then says so). */
static int table_columns(pg_target *t, const char *name, zl_err *err)
{
	if (t->table_cols.n)
		return 0;
	zl_buf q;
	zl_buf_init(&q, 0);
	if (zl_sql_ident(&q, t->table)) {
		zl_buf_release(&q);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	const char *params[1] = { zl_buf_str(&q) };
	PGresult *res = PQexecParams(t->conn,
	                             "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1)"
	                             " AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
	                             1, NULL, params, NULL, NULL, 0);
	int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : pg_fail(t, res, name, err);
	for (int i = 0; rc == 0 && i < PQntuples(res); i++)
		rc = zl_strvec_push(&t->table_cols, PQgetvalue(res, i, 0));
	PQclear(res);
	zl_buf_release(&q);
	return rc;
}

/* A header name as the table spells it: the exact column, else the one column equal to it
 * ignoring case, else the name itself (the server then says which column does not exist). */
static const char *table_column(const pg_target *t, const char *h)
{
	const char *ci = NULL;
	int nci = 0;
	for (size_t i = 0; i < t->table_cols.n; i++) {
		if (strcmp(t->table_cols.v[i], h) == 0)
			return h;
		if (strcasecmp(t->table_cols.v[i], h) == 0) {
			ci = t->table_cols.v[i];
			nci++;
		}
	}
	return nci == 1 ? ci : h;
}

static int pg_copy(zl_target *base, const char *name, zl_reader *r, const zl_format *fmt, int64_t *rows,
                   zl_err *err)
{
	pg_target *t = (pg_target *)base;
	zl_copy_spec spec = { t->table, (const char *const *)t->columns.v, t->columns.n, fmt, t->options };
	zl_strvec header;
	const char **mapped = NULL;
	size_t have = 0;
	int64_t n = 0;
	int rc;
	zl_strvec_init(&header);
	zl_buf_reset(&t->sql);
	if (fmt->type == ZL_FMT_CSV && fmt->header && t->columns.n == 0) {
		/* The header names the columns; the server still skips it (HEADER true). */
		if ((rc = read_header(t, name, r, fmt, &have, &header, err)))
			goto out;
		if (header.n && (rc = table_columns(t, name, err)))
			goto out;
		if (header.n && !(mapped = calloc(header.n, sizeof *mapped))) {
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < header.n; i++) /* a UTF-8 byte order mark is not part of the name */
			mapped[i] = table_column(t, header.v[i] + (i == 0 && strncmp(header.v[0], "\xEF\xBB\xBF", 3) == 0 ? 3 : 0));
		spec.columns = mapped;
		spec.ncolumns = header.n;
	}
	if (fmt->type != ZL_FMT_JSONL) {
		zl_dialect_pg_copy(&t->sql, &spec);
		rc = stream_copy(t, name, zl_buf_str(&t->sql), have, r, &n, err);
		goto out;
	}
	if (!t->stage_ready && (rc = run(t, zl_dialect_pg_json_stage_create, name, err)))
		goto out;
	t->stage_ready = 1;
	if ((rc = stream_copy(t, name, zl_dialect_pg_json_stage_copy, 0, r, &n, err)))
		goto out;
	zl_buf insert;
	zl_buf_init(&insert, 0);
	zl_dialect_pg_json_insert(&insert, &spec);
	zl_buf_printf(&t->sql, "%s; %s; %s", zl_dialect_pg_json_stage_copy, zl_buf_str(&insert),
	              zl_dialect_pg_json_stage_clear);
	PGresult *res = PQexec(t->conn, zl_buf_str(&insert));
	zl_buf_release(&insert);
	rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : pg_fail(t, res, name, err);
	n = rc ? 0 : strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	rc = rc ? rc : run(t, zl_dialect_pg_json_stage_clear, name, err);
out:
	free(mapped);
	zl_strvec_release(&header);
	if (rc == 0)
		*rows += n;
	return rc;
}

static const char *pg_last_sql(zl_target *base) { return zl_buf_str(&((pg_target *)base)->sql); }

const zl_target_ops zl_target_pg_ops = {
	.type = "postgres",
	.fields = pg_fields,
	.connect = pg_connect,
	.close = pg_close,
	.ledger_has = pg_ledger_has,
	.begin = pg_begin,
	.exec = pg_exec,
	.copy = pg_copy,
	.ledger_insert = pg_ledger_insert,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.last_sql = pg_last_sql,
};
