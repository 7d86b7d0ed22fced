#include "target/pg_db.h"

#include <stdio.h>
#include <string.h>

#include "util/buf.h"

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
void zl_pg_oneline(char *s)
{
	chomp(s);
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

int zl_pg_fail(PGconn *conn, PGresult *res, const char *what, zl_err *err)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *context = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	char msg[768];
	snprintf(msg, sizeof msg, "%s", primary ? primary : PQerrorMessage(conn));
	zl_pg_oneline(msg);
	int lost = PQstatus(conn) == CONNECTION_BAD;
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
	zl_err_set_sqlstate(err, state);
	zl_buf_release(&b);
	return code;
}

int zl_pg_run(PGconn *conn, const char *sql, const char *what, zl_err *err)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : zl_pg_fail(conn, res, what, err);
	PQclear(res);
	return rc;
}
