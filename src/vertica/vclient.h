/* zload's own client for Vertica's wire protocol (PostgreSQL v3 plus Vertica's additions): startup
 * with the binary protocol_version, SHA-512/MD5/cleartext authentication, TLS, connection load
 * balancing and failover, the simple query protocol with Vertica's RowDescription, and the COPY
 * LOCAL exchange. One zl_vc is one connection, used by one thread; results belong to the caller. */
#ifndef ZL_VCLIENT_H
#define ZL_VCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/reader.h"

typedef struct zl_vc zl_vc;

/* PREFER (the zero value, as vsql): TLS when the server offers it, else plain; REQUIRE: TLS, the
 * certificate unchecked; VERIFY_CA: its chain checked against tls_root_cert; VERIFY_FULL: also
 * the host name (or IP address) we connected to. */
typedef enum { ZL_VC_TLS_PREFER = 0, ZL_VC_TLS_DISABLE, ZL_VC_TLS_REQUIRE, ZL_VC_TLS_VERIFY_CA,
               ZL_VC_TLS_VERIFY_FULL } zl_vc_tls;

typedef struct zl_vc_opts {
	const char *host;                 /* first node to try */
	int port;                         /* 0: 5433 */
	const char *const *backup_hosts;  /* "host" or "host:port", tried in order when host fails */
	size_t nbackup;
	const char *database;             /* NULL: the server's default */
	const char *user;
	const char *password;             /* NULL: none */
	zl_vc_tls tls;                    /* default (0) PREFER, as vsql */
	const char *tls_root_cert;        /* PEM file for VERIFY_CA / VERIFY_FULL; NULL: the system's */
	int load_balance;                 /* ask the first node to redirect us (LoadBalanceRequest) */
	int connect_timeout_ms;           /* per node; 0: 10000 */
	const char *client_label;         /* "zload-VERSION"; NULL: "zload" */
	const char *client_version;       /* sent as client_version; NULL: "" */
} zl_vc_opts;

/* Connects, negotiates TLS and the protocol, authenticates; autocommit is off (every statement
 * joins the open transaction until COMMIT or ROLLBACK). Nodes are tried in order (host, then
 * backup_hosts; after a load-balancing redirect the named node first, then the rest): a node that
 * cannot be reached or answers with a transient error passes to the next, any other refusal stops.
 * Errors: ZL_ETRANSIENT when no node could be reached (each node's reason in the message),
 * ZL_ELOAD for authentication, TLS verification and other refusals (an expired password names
 * it; a grace-period warning is logged). *out is the caller's, for zl_vc_close. */
int zl_vc_connect(const zl_vc_opts *o, zl_vc **out, zl_err *err);
/* Says goodbye (Terminate) when the link is sound, and frees c. Accepts NULL. */
void zl_vc_close(zl_vc *c);

/* The protocol version both sides speak (3<<16 | minor) and a ParameterStatus value (or NULL). */
uint32_t zl_vc_protocol(const zl_vc *c);
const char *zl_vc_param(const zl_vc *c, const char *name);
/* "host:port" of the node this connection reached (after load balancing or failover). */
const char *zl_vc_peer(const zl_vc *c);
/* The transaction status of the last ReadyForQuery: 'I' idle, 'T' in a transaction, 'E' failed. */
char zl_vc_tx_status(const zl_vc *c);

/* A statement's result: column names, rows of text values (NULL for SQL NULL), the command tag. */
typedef struct zl_vc_result {
	size_t ncols, nrows;
	char **names;    /* ncols */
	char **values;   /* nrows * ncols, row-major */
	char *tag;       /* "INSERT 0 1", "COMMIT", ... */
} zl_vc_result;

void zl_vc_result_release(zl_vc_result *r);
static inline const char *zl_vc_value(const zl_vc_result *r, size_t row, size_t col)
{
	return r->values[row * r->ncols + col];
}

/* Runs sql with the simple query protocol (res may be NULL; else the caller releases it, also after
 * an error). Several statements in one string: res holds the last one's result, the first error
 * stops them and is returned. A server error is ZL_ELOAD or ZL_ETRANSIENT (SQLSTATE classes 08,
 * 40, 53, 57, V1, lock timeouts 55P03/55V03, a node down, the connection lost), with the message,
 * SQLSTATE (also in err->sqlstate) and Vertica's code: "MESSAGE [SQLSTATE 42V01, Vertica 4566]".
 * Notices go to the debug log. A COPY started here is refused (use zl_vc_copy_local_stdin). */
int zl_vc_query(zl_vc *c, const char *sql, zl_vc_result *res, zl_err *err);

/* What a COPY ... FROM LOCAL STDIN sent back. */
typedef struct zl_vc_copy_result {
	int64_t rows_loaded;      /* the DataRow after the COPY; for a plain COPY FROM STDIN the count
	                           * in its "COPY n" tag, else -1 (ask GET_NUM_ACCEPTED_ROWS()) */
	uint64_t *rejected_rows;  /* RETURNREJECTED row numbers as the server sent them, or NULL */
	size_t nrejected;         /* entries in rejected_rows (at most 8 Mi are kept) */
	uint64_t rows_rejected;   /* RETURNREJECTED row numbers received, kept or not */
} zl_vc_copy_result;

void zl_vc_copy_result_release(zl_vc_copy_result *r);

/* Runs sql (a COPY ... FROM LOCAL STDIN ..., or a plain COPY ... FROM STDIN) and streams the
 * reader's bytes as its data in 256 KiB CopyData messages, in constant memory; res may be NULL,
 * else the caller releases it. A read error aborts the COPY (CopyError, or CopyFail for a plain
 * COPY) and is returned as it came from the reader. A server error during the COPY is returned
 * as zl_vc_query's are. Local files (COPY FROM LOCAL 'path') are refused: zload sends STDIN. */
int zl_vc_copy_local_stdin(zl_vc *c, const char *sql, zl_reader *data, zl_vc_copy_result *res, zl_err *err);
/* The same, with the statement(s) then (NULL: none) after the COPY in the same Query message (one
 * round trip less: Vertica runs a COPY LOCAL STDIN followed by other statements in one query, as
 * vertica-python's test_copy_local_stdin_multistat shows). res->rows_loaded stays the COPY's;
 * then_res (NULL: not kept; else the caller releases it) gets the last statement's result. The
 * error returned is the first one (the COPY's when it failed). */
int zl_vc_copy_local_stdin_then(zl_vc *c, const char *sql, const char *then, zl_reader *data, zl_vc_copy_result *res,
                                zl_vc_result *then_res, zl_err *err);

/* Whether the connection is still usable (no protocol error or loss seen). Once it is not, every
 * call fails with the first failure's code (ZL_ETRANSIENT for a loss, ZL_ELOAD for a protocol
 * error): close it and connect again. */
int zl_vc_ok(const zl_vc *c);

/* Whether an idle connection can take the next batch, told without a round trip: usable (as
 * zl_vc_ok), outside any transaction (the last ReadyForQuery said 'I'), and nothing but
 * ParameterStatus or notices arrived meanwhile (no FATAL error, no end of the connection). A
 * connection found otherwise is marked unusable. */
int zl_vc_idle_ok(zl_vc *c);

#endif
