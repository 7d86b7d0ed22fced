/* The PostgreSQL target's pipelined statements: one simple-query string per group, results read
 * one by one (PQgetResult), each error attributed to the statement that made it. */
#include "target/pg_session.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "target/dialect.h"
#include "target/pg_db.h"
#include "target/pg_ledger.h"
#include "util/buf.h"
#include "util/log.h"

/* What DISCARD ALL does, as statements that may run in a string of several. */
static const char reset_sql[] = "SET SESSION AUTHORIZATION DEFAULT;\nRESET ALL;\nDEALLOCATE ALL;\nCLOSE ALL;\n"
                                "UNLISTEN *;\nSELECT pg_advisory_unlock_all();\nDISCARD PLANS;\nDISCARD TEMP;\n"
                                "DISCARD SEQUENCES;\n";
#define RESET_STATEMENTS 9

/* Notices go to the debug log, not raw to stderr; a FATAL one outside a query says the server is
 * closing the connection (pg_terminate_backend, shutdown). */
static void on_notice(void *arg, const PGresult *res)
{
	zl_pg_session *s = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
		s->fatal = 1;
	char msg[512];
	snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(res));
	zl_pg_oneline(msg);
	ZL_LOG(ZL_DEBUG, "postgres notice", ZL_S("notice", msg));
}

void zl_pg_session_watch(zl_pg_session *s) { PQsetNoticeReceiver(s->conn, on_notice, s); }

void zl_pg_session_ran(zl_pg_session *s) { s->ran = 1; }

/* Appends a ledger statement of dialect_pg.c with its $1 (batch), $2 (target), $3 (prefix), $4
 * (part) as literals quoted by libpq (the text's identifiers, in double quotes, are left alone). */
static int ledger_text(PGconn *conn, int (*text)(zl_buf *, const char *), const char *ledger, const zl_ledger_key *k,
                       zl_buf *out)
{
	char part[16];
	snprintf(part, sizeof part, "%d", k->part);
	const char *params[4] = { k->batch_id, k->target, k->prefix ? k->prefix : "", part };
	zl_buf q;
	zl_buf_init(&q, 0);
	int rc = text(&q, ledger), quoted = 0;
	for (const char *p = zl_buf_str(&q); rc == 0 && *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		if (quoted || *p != '$' || p[1] < '1' || p[1] > '4') {
			rc = zl_buf_addc(out, *p);
			continue;
		}
		const char *v = params[*++p - '1'];
		char *lit = PQescapeLiteral(conn, v, strlen(v));
		rc = lit ? zl_buf_adds(out, lit) : -1;
		PQfreemem(lit);
	}
	zl_buf_release(&q);
	return rc;
}

/* Reads what is left of the results, so that the connection takes the next query. */
static void drain(PGconn *conn)
{
	PGresult *res;
	while ((res = PQgetResult(conn)))
		PQclear(res);
}

static int send_begin_check(zl_pg_session *s, int with_reset, const char *ledger, const zl_ledger_key *k,
                            const char *table, zl_strvec *cols, int *has, int *reset_failed, zl_err *err)
{
	zl_buf q;
	zl_buf_init(&q, 0);
	int nreset = with_reset ? RESET_STATEMENTS : 0, nbegin = s->begin_pending;
	int rc = zl_buf_adds(&q, with_reset ? reset_sql : "");
	rc = rc ? rc : zl_buf_adds(&q, nbegin ? "BEGIN;\n" : "");
	rc = rc ? rc : ledger_text(s->conn, zl_dialect_pg_ledger_select, ledger, k, &q);
	if (rc == 0 && table) {
		zl_buf id;
		zl_buf_init(&id, 0);
		char *lit = zl_sql_ident(&id, table) ? NULL : PQescapeLiteral(s->conn, zl_buf_str(&id), id.len);
		rc = !lit || zl_buf_printf(&q, ";\nSELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s)"
		                               " AND attnum > 0 AND NOT attisdropped ORDER BY attnum", lit);
		PQfreemem(lit);
		zl_buf_release(&id);
	}
	if (rc) {
		zl_buf_release(&q);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	int expect = nreset + nbegin + 1 + (table != NULL), i = 0;
	*has = 0;
	memset(&s->parts, 0, sizeof s->parts);
	*reset_failed = 0;
	if (!PQsendQuery(s->conn, zl_buf_str(&q)))
		rc = zl_pg_fail(s->conn, NULL, NULL, err);
	zl_buf_release(&q);
	for (PGresult *res; rc == 0 && (res = PQgetResult(s->conn)); i++) {
		ExecStatusType st = PQresultStatus(res);
		int which = i - nreset - nbegin; /* < -nbegin: reset, -1: BEGIN, 0: ledger, 1: columns */
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			*reset_failed = which < -nbegin;
			rc = zl_pg_fail(s->conn, res, which < -nbegin ? "resetting the session" : which < 0 ? NULL
			                              : which == 0 ? "ledger" : table, err);
		} else if (which == 0) {
			for (int r = 0; r < PQntuples(res); r++)
				zl_ledger_parts_add(&s->parts, strtol(PQgetvalue(res, r, 0), NULL, 10));
			*has = zl_ledger_parts_has(&s->parts, k->part);
		} else if (which == 1) {
			for (int r = 0; rc == 0 && r < PQntuples(res); r++)
				if (zl_strvec_push(cols, PQgetvalue(res, r, 0)))
					rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		}
		PQclear(res);
	}
	drain(s->conn);
	if (rc == 0 && i < expect)
		rc = zl_pg_fail(s->conn, NULL, NULL, err);
	return rc;
}

int zl_pg_session_begin_check(zl_pg_session *s, const char *ledger, const zl_ledger_key *k, const char *table,
                              zl_strvec *cols, int *has, int *reconnected, zl_err *err)
{
	int first = s->begin_pending, reset_failed = 0;
	*reconnected = 0;
	int rc = send_begin_check(s, s->dirty, ledger, k, table, cols, has, &reset_failed, err);
	/* Nothing of the batch stayed: a session that died while idle, or could not be reset, is
	 * replaced by a new one. */
	if (rc && first && (PQstatus(s->conn) == CONNECTION_BAD || reset_failed)) {
		ZL_LOG(ZL_INFO, "postgres: reconnecting", ZL_S("reason", err->msg));
		PQreset(s->conn);
		if (PQstatus(s->conn) != CONNECTION_OK)
			return zl_err_set(err, ZL_ETRANSIENT, "cannot connect: %s", PQerrorMessage(s->conn));
		*reconnected = 1;
		s->fatal = s->dirty = 0;
		s->begin_pending = 1;
		zl_strvec_release(cols);
		zl_strvec_init(cols);
		memset(err, 0, sizeof *err);
		rc = send_begin_check(s, 0, ledger, k, table, cols, has, &reset_failed, err);
	}
	s->begin_pending = 0;
	return rc;
}

/* The end of the transaction: a session the configuration's statements touched is reset before
 * the next batch, unless it committed a reset and nothing else since. */
static void ended(zl_pg_session *s, int committed)
{
	s->dirty = committed ? s->ran : s->dirty || s->ran;
	s->ran = 0;
	s->begin_pending = 0;
}

int zl_pg_session_insert_commit(zl_pg_session *s, const char *ledger, const zl_ledger_key *k, const char *post,
                                int *step, zl_err *err)
{
	zl_buf q;
	zl_buf_init(&q, 0);
	char tag[64] = "";
	int rc = ledger_text(s->conn, k->part ? zl_dialect_pg_ledger_insert_part : zl_dialect_pg_ledger_insert, ledger, k,
	                     &q), i = 0;
	/* Line breaks around post: a trailing comment or a missing semicolon cannot swallow COMMIT. */
	rc = rc ? rc : post ? zl_buf_printf(&q, ";\n%s\n;\nCOMMIT", post) : zl_buf_adds(&q, ";\nCOMMIT");
	*step = 0;
	if (rc) {
		zl_buf_release(&q);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	if (!PQsendQuery(s->conn, zl_buf_str(&q)))
		rc = zl_pg_fail(s->conn, NULL, "ledger", err);
	zl_buf_release(&q);
	for (PGresult *res; rc == 0 && (res = PQgetResult(s->conn)); i++) {
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			snprintf(tag, sizeof tag, "%s", PQcmdStatus(res));
		} else if (i == 0) {
			/* A syntax error fails the whole string before anything ran: it is post's, as the
			 * insert is zload's own. */
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
			*step = post && state && strcmp(state, "42601") == 0 ? 1 : 0;
			rc = zl_pg_fail(s->conn, res, *step ? NULL : "ledger", err);
		} else {
			drain(s->conn);
			/* post failed inside the transaction, which stays open and aborted; a failed COMMIT
			 * ended it. */
			*step = post && PQtransactionStatus(s->conn) == PQTRANS_INERROR ? 1 : 2;
			rc = zl_pg_fail(s->conn, res, *step == 1 ? NULL : "commit", err);
		}
		PQclear(res);
	}
	drain(s->conn);
	if (rc == 0 && i < 2) {
		*step = 2;
		rc = zl_pg_fail(s->conn, NULL, "commit", err);
	} else if (rc == 0 && strcmp(tag, "COMMIT") != 0) { /* a transaction that failed earlier answers ROLLBACK */
		*step = 2;
		rc = zl_err_set(err, ZL_ELOAD, "commit: the transaction was rolled back");
	}
	if (*step == 0 && rc && strcmp(err->sqlstate, "23505") == 0)
		rc = zl_pg_ledger_exists(k, err);
	if (rc == 0 || PQtransactionStatus(s->conn) == PQTRANS_IDLE)
		ended(s, rc == 0);
	return rc;
}

void zl_pg_session_rollback(zl_pg_session *s)
{
	PGTransactionStatusType ts = PQtransactionStatus(s->conn);
	if (PQstatus(s->conn) == CONNECTION_OK && ts != PQTRANS_IDLE && ts != PQTRANS_UNKNOWN)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	ended(s, 0);
}

int zl_pg_session_check(zl_pg_session *s)
{
	for (int tries = 0; tries < 4; tries++) {
		if (s->fatal || PQstatus(s->conn) != CONNECTION_OK || PQtransactionStatus(s->conn) != PQTRANS_IDLE)
			return 0;
		struct pollfd p = { .fd = PQsocket(s->conn), .events = POLLIN };
		int n = poll(&p, 1, 0);
		if (n == 0)
			return 1;
		/* Readable while idle: a FATAL message, or the end of the connection; consumed, then
		 * looked at again. */
		if (n < 0 || !PQconsumeInput(s->conn))
			return 0;
		while (!PQisBusy(s->conn)) {
			PGresult *res = PQgetResult(s->conn);
			if (!res)
				break;
			PQclear(res);
		}
	}
	return 0;
}
