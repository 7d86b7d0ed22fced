/* The PostgreSQL state backend's parts: the connection with its retries and schema
 * (state_pg_conn.c) and the operations (state_pg.c). */
#ifndef ZL_STATE_PG_INT_H
#define ZL_STATE_PG_INT_H

#include <libpq-fe.h>
#include <stdint.h>

#include "state/group.h"
#include "state/state.h"

#define PG_SCHEMA_VERSION 2
#define PG_MAX_PARAMS 16

typedef struct pg_state {
	zl_state base;
	PGconn *conn;
	char *conninfo;          /* what libpq takes: the URL or conninfo without zload's options */
	char schema[64];         /* validated: [a-z_][a-z0-9_]* */
	int64_t retry_ms;        /* how long an operation retries a lost connection */
	uint64_t prepared;       /* statements prepared on this connection */
	int commit_unknown;      /* the previous attempt may have committed before the connection broke */
	/* group commit: claims in one transaction (state_pg.c) */
	int group;               /* a group's transaction is open */
	int group_lost;          /* its connection broke or a statement failed: nothing of it will commit */
	zl_group gp;             /* the prefixes the group claimed into */
} pg_state;


/* Parameters of one statement, as text. */
typedef struct pg_params {
	const char *v[PG_MAX_PARAMS];
	char num[PG_MAX_PARAMS][24];
	int n;
} pg_params;

void pg_str(pg_params *p, const char *s);
void pg_int(pg_params *p, int64_t x);

/* Parses the URL after "postgresql:" ("//user@host/db?schema=s&retry=30", or a conninfo
 * "host=... dbname=... schema=s") into h's conninfo, schema and retry_ms. */
int pg_parse_target(pg_state *h, const char *target, zl_err *err);
/* Makes h->conn usable: reconnects a broken connection, rolls back a transaction left open, and
 * on a new connection sets the search path and creates or migrates the schema. */
int pg_connected(pg_state *h, zl_err *err);
void pg_disconnect(pg_state *h);

/* One attempt's retry bookkeeping. */
typedef struct pg_retry {
	int attempt;
	int64_t deadline;
} pg_retry;

/* After an attempt that returned rc: 1 to try again (a transient failure, before the deadline,
 * after a back-off), 0 to return rc. Logs once when the state database becomes unreachable and
 * once when it is reachable again (process-wide, not per attempt). */
int pg_again(pg_state *h, pg_retry *r, int rc, zl_err *err);

/* Runs every operation body as: connect, attempt, retry while transient. */
#define PG_RETRYING(h, err, call)                                  \
	do {                                                           \
		pg_retry r_ = { 0 };                                       \
		int rc_;                                                   \
		(h)->commit_unknown = 0;                                   \
		do {                                                       \
			rc_ = pg_connected((h), (err));                        \
			if (rc_ == 0)                                          \
				rc_ = (call);                                      \
		} while (pg_again((h), &r_, rc_, (err)));                  \
		return rc_;                                                \
	} while (0)

/* Fills err from a failed result: ZL_ETRANSIENT when a retry may cure it, else ZL_ESTATE. */
int pg_fail(pg_state *h, PGresult *res, zl_err *err);
/* Runs sql (no parameters, no rows wanted). */
int pg_exec(pg_state *h, const char *sql, zl_err *err);

#endif
