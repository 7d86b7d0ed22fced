/* The PostgreSQL target (libpq): streams each object into COPY ... FROM STDIN. The COPY text
 * comes from dialect_pg.c, the ledger from pg_ledger.c. CSV headers and JSON lines are read by
 * zload's row reader (format/rows.c), as the SQLite target reads them. */
#include "target/dialect.h"
#include "target/pg_db.h"
#include "target/pg_ledger.h"
#include "target/pg_session.h"
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
	{ "parallelism", ZL_FT_INT, 0, NULL, NULL, "connections a batch's objects are split over, each part its own "
	                                           "transaction (default 1: the batch in one transaction)" },
	{ "connectTimeoutSecs", ZL_FT_INT, 0, NULL, NULL, "connection timeout (default 10)" },
	{ 0 }
};

typedef struct pg_target {
	zl_target base;
	PGconn *conn;
	zl_pg_session s;   /* its transaction and session state */
	char *table;       /* copies: the configuration's JSON is freed after each batch */
	char *ledger;
	char *options;
	zl_strvec columns;
	zl_strvec table_cols; /* the table's column names, read at the start of each batch for CSV headers */
	int cols_read;
	int stage_ready;
	zl_buf sql;        /* the last COPY statement(s) */
	char *buf;         /* COPY_CHUNK bytes */
} pg_target;

static const char *str_field(const json_t *cfg, const char *name)
{
	const char *s = json_string_value(json_object_get(cfg, name));
	return s && *s ? s : NULL;
}

static int run(pg_target *t, const char *sql, const char *what, zl_err *err)
{
	return zl_pg_run(t->conn, sql, what, err);
}

/* Connection failures: a retry will not fix authentication or a missing database. */
static int connect_error(PGconn *conn, zl_err *err)
{
	char msg[768];
	snprintf(msg, sizeof msg, "%s", conn ? PQerrorMessage(conn) : "out of memory");
	zl_pg_oneline(msg);
	/* No SQLSTATE before a session exists: libpq's words are all there is. */
	static const char *const permanent[] = { "authentication failed", "does not exist", "no pg_hba.conf entry",
	                                         "permission denied", "password is required", "no password supplied", "invalid ", NULL };
	int code = ZL_ETRANSIENT;
	for (int i = 0; permanent[i]; i++)
		if (strstr(msg, permanent[i]))
			code = ZL_ELOAD;
	return zl_err_set(err, code, "cannot connect: %s", msg);
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
	free(t->table);
	free(t->ledger);
	free(t->options);
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
	t->table = strdup(str_field(cfg, "targetTable") ? str_field(cfg, "targetTable") : "");
	t->ledger = strdup(str_field(cfg, "ledgerTable") ? str_field(cfg, "ledgerTable") : "zload_ledger");
	t->options = str_field(cfg, "copyOptions") ? strdup(str_field(cfg, "copyOptions")) : NULL;
	if (!t->table || !t->ledger || (str_field(cfg, "copyOptions") && !t->options)) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
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
	t->s.conn = t->conn;
	zl_pg_session_watch(&t->s); /* notices go to the debug log, not raw to stderr */
	json_t *par = json_object_get(cfg, "parallelism");
	rc = zl_pg_ledger_ensure(t->conn, t->ledger, par && json_integer_value(par) > 1, err);
out:
	if (rc) {
		pg_close(&t->base);
		return rc;
	}
	*out = &t->base;
	return 0;
}

/* BEGIN was deferred to here: one round trip sends it with the ledger check and, when the
 * columns are not configured, the query of the table's columns for CSV headers. */
static int pg_ledger_has(zl_target *base, const zl_ledger_key *k, int *has, zl_err *err)
{
	pg_target *t = (pg_target *)base;
	int reconnected = 0;
	zl_strvec_release(&t->table_cols);
	zl_strvec_init(&t->table_cols);
	int rc = zl_pg_session_begin_check(&t->s, t->ledger, k, t->columns.n ? NULL : t->table, &t->table_cols, has,
	                                   &reconnected, err);
	t->cols_read = rc == 0 && t->columns.n == 0;
	if (reconnected) { /* a new session: its temporary staging table is gone */
		t->stage_ready = 0;
		t->base.reopened++;
	}
	return rc;
}

static int pg_insert_commit(zl_target *base, const zl_ledger_key *k, const char *post, int *step, zl_err *err)
{
	pg_target *t = (pg_target *)base;
	if (post && *post)
		zl_pg_session_ran(&t->s);
	return zl_pg_session_insert_commit(&t->s, t->ledger, k, post && *post ? post : NULL, step, err);
}

static void pg_ledger_parts(zl_target *base, zl_ledger_parts *out) { *out = ((pg_target *)base)->s.parts; }

static int pg_ledger_insert(zl_target *base, const zl_ledger_key *k, zl_err *err)
{
	pg_target *t = (pg_target *)base;
	return zl_pg_ledger_insert(t->conn, t->ledger, k, err);
}

/* Sent with the ledger check (pg_ledger_has), which always follows. */
static int pg_begin(zl_target *base, zl_err *err)
{
	(void)err;
	((pg_target *)base)->s.begin_pending = 1;
	return 0;
}

/* A statement of the configuration (preLoadStatement): it may change the session, or the
 * search_path the table's columns were read under. */
static int pg_exec(zl_target *base, const char *sql, zl_err *err)
{
	pg_target *t = (pg_target *)base;
	if (!sql || !*sql)
		return 0;
	zl_pg_session_ran(&t->s);
	t->cols_read = 0;
	zl_strvec_release(&t->table_cols);
	zl_strvec_init(&t->table_cols);
	return run(t, sql, NULL, err);
}

static int pg_commit(zl_target *base, zl_err *err)
{
	pg_target *t = (pg_target *)base;
	PGresult *res = PQexec(t->conn, "COMMIT");
	int rc = 0;
	/* A transaction that failed earlier answers COMMIT with ROLLBACK. */
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = zl_pg_fail(t->conn, res, "commit", err);
	else if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
		rc = zl_err_set(err, ZL_ELOAD, "commit: the transaction was rolled back");
	PQclear(res);
	return rc;
}

static void pg_rollback(zl_target *base) { zl_pg_session_rollback(&((pg_target *)base)->s); }

static int pg_check(zl_target *base) { return zl_pg_session_check(&((pg_target *)base)->s); }

/* Starts the COPY ... FROM STDIN that sql says. */
static int copy_start(pg_target *t, const char *name, const char *sql, zl_err *err)
{
	PGresult *res = PQexec(t->conn, sql);
	int rc = PQresultStatus(res) == PGRES_COPY_IN ? 0 : zl_pg_fail(t->conn, res, name, err);
	PQclear(res);
	return rc;
}

/* Sends n bytes of COPY data; -1 once the server stopped taking them (its error arrives with
 * copy_finish). */
static int copy_put(pg_target *t, const char *p, size_t n)
{
	return n == 0 || PQputCopyData(t->conn, p, (int)n) == 1 ? 0 : -1;
}

/* Ends the COPY, aborting it when reading the object failed (cause set), and sets *rows from
 * the command tag. The cause, not the server's reaction to the abort, is the error. */
static int copy_finish(pg_target *t, const char *name, const zl_err *cause, int64_t *rows, zl_err *err)
{
	int rc = 0;
	PGresult *res;
	PQputCopyEnd(t->conn, cause->code ? "zload: reading the object failed" : NULL);
	while ((res = PQgetResult(t->conn))) {
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			*rows = strtoll(PQcmdTuples(res), NULL, 10);
		else if (rc == 0)
			rc = zl_pg_fail(t->conn, res, name, err);
		PQclear(res);
	}
	if (cause->code)
		rc = zl_err_set(err, cause->code, "%s", cause->msg);
	return rc;
}

/* Streams r into the COPY that sql starts, after the first `have` bytes already in t->buf;
 * sets *rows from the command tag. */
static int stream_copy(pg_target *t, const char *name, const char *sql, size_t have, zl_reader *r,
                       int64_t *rows, zl_err *err)
{
	zl_err rerr = { 0 };
	int rc = copy_start(t, name, sql, err);
	if (rc)
		return rc;
	const void *bytes = t->buf;
	for (ssize_t n = (ssize_t)have; copy_put(t, bytes, (size_t)n) == 0;) {
		if ((n = zl_reader_next(r, t->buf, COPY_CHUNK, &bytes, &rerr)) <= 0)
			break;
	}
	return copy_finish(t, name, &rerr, rows, err);
}

/* A reader that keeps what it passes on in t->buf: the CSV header is parsed from the bytes read
 * ahead, which then go to the COPY before the rest of the object. */
typedef struct ahead_reader {
	zl_reader base;
	zl_reader *inner;
	pg_target *t;
	size_t len;
} ahead_reader;

static ssize_t ahead_read(zl_reader *r, void *dst, size_t n, zl_err *err)
{
	ahead_reader *a = (ahead_reader *)r;
	if (a->len == COPY_CHUNK)
		return zl_err_set(err, ZL_ELOAD, "%s: the header line is longer than %d bytes", a->base.name, COPY_CHUNK);
	ssize_t k = zl_reader_read(a->inner, a->t->buf + a->len, n < COPY_CHUNK - a->len ? n : COPY_CHUNK - a->len, err);
	if (k > 0) {
		memcpy(dst, a->t->buf + a->len, (size_t)k);
		a->len += (size_t)k;
	}
	return k;
}

static void ahead_close(zl_reader *r) { (void)r; }

/* Reads the CSV header with the row reader (a byte order mark is not part of the first name);
 * *have is the bytes read ahead into t->buf. */
static int read_header(pg_target *t, const char *name, zl_reader *r, const zl_format *f, size_t *have,
                       zl_strvec *names, zl_err *err)
{
	ahead_reader a = { { .read = ahead_read, .close = ahead_close, .name = name }, r, t, 0 };
	zl_rows *rs = NULL;
	const char *const *hdr;
	size_t n = 0;
	int rc = zl_rows_open(&a.base, f, name, &rs, err);
	if (rc)
		goto out;
	zl_rows_header(rs, &hdr, &n);
	for (size_t i = 0; i < n && rc == 0; i++)
		if (zl_strvec_push(names, hdr[i]))
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
out:
	zl_rows_free(rs);
	*have = a.len;
	return rc;
}

/* The table's column names, read once per connection (none when the table does not exist: the
 * COPY then says so). */
static int table_columns(pg_target *t, const char *name, zl_err *err)
{
	if (t->cols_read || t->table_cols.n)
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
	int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : zl_pg_fail(t->conn, res, name, err);
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

/* CSV and text: the object's bytes go to COPY as they are; a CSV header names the columns (the
 * server still skips it: HEADER true). */
static int copy_delimited(pg_target *t, const char *name, zl_reader *r, const zl_format *fmt, int64_t *rows,
                          zl_err *err)
{
	zl_copy_spec spec = { t->table, (const char *const *)t->columns.v, t->columns.n, fmt, t->options };
	zl_strvec header;
	const char **mapped = NULL;
	size_t have = 0;
	int rc = 0;
	zl_strvec_init(&header);
	if (fmt->type == ZL_FMT_CSV && fmt->header && t->columns.n == 0) {
		if ((rc = read_header(t, name, r, fmt, &have, &header, err)))
			goto out;
		if (header.n && (rc = table_columns(t, name, err)))
			goto out;
		if (header.n && !(mapped = calloc(header.n, sizeof *mapped))) {
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < header.n; i++)
			mapped[i] = table_column(t, header.v[i]);
		spec.columns = mapped;
		spec.ncolumns = header.n;
	}
	zl_dialect_pg_copy(&t->sql, &spec);
	rc = stream_copy(t, name, zl_buf_str(&t->sql), have, r, rows, err);
out:
	free(mapped);
	zl_strvec_release(&header);
	return rc;
}

/* COPY data for the JSON staging table, gathered in t->buf. */
typedef struct line_out {
	pg_target *t;
	size_t len;
	int refused;   /* the server stopped taking data */
} line_out;

static void out_flush(line_out *o)
{
	if (!o->refused && copy_put(o->t, o->t->buf, o->len) != 0)
		o->refused = 1;
	o->len = 0;
}

/* A carriage return can only be whitespace between tokens of a valid JSON line, and CSV COPY
 * would take a bare one for the end of the line: it goes as a space. */
static void out_add(line_out *o, const char *p, size_t n)
{
	while (n) {
		size_t k = n < COPY_CHUNK - o->len ? n : COPY_CHUNK - o->len;
		char *w = o->t->buf + o->len;
		memcpy(w, p, k);
		for (char *c = memchr(w, '\r', k); c; c = memchr(c, '\r', k - (size_t)(c - w)))
			*c = ' ';
		o->len += k;
		p += k;
		n -= k;
		if (o->len == COPY_CHUNK)
			out_flush(o);
	}
}

/* JSON lines: each line is read by the row reader (blank lines skipped; not an object, invalid
 * JSON or UTF-8 fail naming the object and line, as in every target), then the accepted lines
 * go to the staging table and one INSERT maps their keys onto the columns. */
static int copy_jsonl(pg_target *t, const char *name, zl_reader *r, const zl_format *fmt, int64_t *rows,
                      zl_err *err)
{
	zl_copy_spec spec = { t->table, (const char *const *)t->columns.v, t->columns.n, fmt, t->options };
	zl_rows *rs = NULL;
	zl_err cause = { 0 };
	zl_buf insert;
	zl_buf_init(&insert, 0);
	int64_t staged = 0;
	int rc = 0;
	if (!t->stage_ready && (rc = run(t, zl_dialect_pg_json_stage_create, name, err)))
		goto out;
	t->stage_ready = 1;
	zl_dialect_pg_json_insert(&insert, &spec);
	zl_buf_printf(&t->sql, "%s; %s; %s", zl_dialect_pg_json_stage_copy, zl_buf_str(&insert),
	              zl_dialect_pg_json_stage_clear);
	if ((rc = zl_rows_open(r, fmt, name, &rs, err)))
		goto out;
	if ((rc = copy_start(t, name, zl_dialect_pg_json_stage_copy, err)))
		goto out;
	line_out o = { t, 0, 0 };
	zl_row row;
	while (!o.refused && zl_rows_next(rs, &row, &cause) == 1) {
		const char *text;
		size_t len;
		zl_rows_line(rs, &text, &len);
		out_add(&o, text, len);
		out_add(&o, "\n", 1);
	}
	out_flush(&o);
	if ((rc = copy_finish(t, name, &cause, &staged, err)))
		goto out;
	PGresult *res = PQexec(t->conn, zl_buf_str(&insert));
	rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : zl_pg_fail(t->conn, res, name, err);
	*rows = rc ? 0 : strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	rc = rc ? rc : run(t, zl_dialect_pg_json_stage_clear, name, err);
out:
	zl_rows_free(rs);
	zl_buf_release(&insert);
	return rc;
}

static int pg_copy(zl_target *base, const char *name, zl_reader *r, const zl_format *fmt, int64_t *rows,
                   zl_err *err)
{
	pg_target *t = (pg_target *)base;
	int64_t n = 0;
	zl_buf_reset(&t->sql);
	int rc = fmt->type == ZL_FMT_JSONL ? copy_jsonl(t, name, r, fmt, &n, err) : copy_delimited(t, name, r, fmt, &n, err);
	if (rc == ZL_EINVAL) { /* the object's content, or its compression, is bad: a retry will not help */
		rc = ZL_ELOAD;
		err->code = rc;
	}
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
	.check = pg_check,
	.insert_commit = pg_insert_commit,
	.ledger_parts = pg_ledger_parts,
};
