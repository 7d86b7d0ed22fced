/* The PostgreSQL target's statements around its COPYs, each group sent as one simple-query
 * string (one round trip): BEGIN with the ledger check, and the ledger insert with the
 * postLoadStatement and COMMIT; plus the pool's check of an idle connection. */
#ifndef ZL_PG_SESSION_H
#define ZL_PG_SESSION_H

#include <libpq-fe.h>

#include "target/target.h"
#include "util/strvec.h"

typedef struct zl_pg_session {
	PGconn *conn;
	int begin_pending;  /* BEGIN goes with the next statements sent */
	int dirty;          /* statements of the configuration may have left session state (reset at the next BEGIN) */
	int ran;            /* they ran in this batch (zl_pg_session_ran) */
	int fatal;          /* the server sent a FATAL error outside any query (it is closing) */
	zl_ledger_parts parts; /* the ledger rows of the batch and target the last check read */
} zl_pg_session;

/* Installs the notice receiver that logs notices and notes FATAL ones in s (after connecting). */
void zl_pg_session_watch(zl_pg_session *s);
/* Sends the reset statements when s is dirty (they are DISCARD ALL's, which itself may not run in
 * a string of several), the pending BEGIN, the ledger check of k and, with table, the query of
 * its column names (into cols) as one string; sets *has (target.h's ledger_has) and s->parts. When the connection turns out dead at
 * this first contact of the batch, or the reset fails, reconnects once (PQreset: a new session),
 * sets *reconnected and sends again. */
int zl_pg_session_begin_check(zl_pg_session *s, const char *ledger, const zl_ledger_key *k, const char *table,
                              zl_strvec *cols, int *has, int *reconnected, zl_err *err);
/* The configuration's own statements ran in this batch (they may set session state). */
void zl_pg_session_ran(zl_pg_session *s);
/* Inserts k into the ledger, runs post (NULL: none) and commits, as one string. *step: 0 the insert failed (ZL_EEXIST on the unique key), 1
 * post failed, 2 the commit failed. */
int zl_pg_session_insert_commit(zl_pg_session *s, const char *ledger, const zl_ledger_key *k, const char *post,
                                int *step, zl_err *err);
/* ROLLBACK when a transaction is open. */
void zl_pg_session_rollback(zl_pg_session *s);
/* The connection is up, idle outside a transaction, and has nothing waiting to be read (no
 * FATAL message, no end of file from a server that terminated it): no round trip. */
int zl_pg_session_check(zl_pg_session *s);

#endif
