/* libpq error handling shared by the PostgreSQL target's files (target_pg.c, pg_ledger.c). */
#ifndef ZL_PG_DB_H
#define ZL_PG_DB_H

#include <libpq-fe.h>

#include "util/err.h"

/* Fills err from a failed result (or the connection's message when res is NULL) in one line,
 * "what: message (detail) [SQLSTATE xxxxx] [context]", with err->sqlstate set: ZL_ETRANSIENT
 * when a retry may cure it (connection lost, resources, shutdown, conflicts), else ZL_ELOAD. */
int zl_pg_fail(PGconn *conn, PGresult *res, const char *what, zl_err *err);
/* Runs statements that return no rows; 0 or zl_pg_fail's code. */
int zl_pg_run(PGconn *conn, const char *sql, const char *what, zl_err *err);
/* Trims trailing line breaks and spaces, then joins the lines of s into one, in place. */
void zl_pg_oneline(char *s);

#endif
