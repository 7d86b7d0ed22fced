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

typedef enum { ZL_VC_TLS_DISABLE = 0, ZL_VC_TLS_PREFER, ZL_VC_TLS_REQUIRE, ZL_VC_TLS_VERIFY_CA,
               ZL_VC_TLS_VERIFY_FULL } zl_vc_tls;

typedef struct zl_vc_opts {
	const char *host;                 /* first node to try */
	int port;                         /* 0: 5433 */
	const char *const *backup_hosts;  /* "host" or "host:port", tried in order when host fails */
	size_t nbackup;
	const char *database;             /* NULL: the server's default */
	const char *user;
	const char *password;             /* NULL: none */
	zl_vc_tls tls;                    /* default PREFER, as vsql */
	const char *tls_root_cert;        /* PEM file for VERIFY_CA / VERIFY_FULL; NULL: the system's */
	int load_balance;                 /* ask the first node to redirect us (LoadBalanceRequest) */
	int connect_timeout_ms;           /* per node; 0: 10000 */
	const char *client_label;         /* "zload-VERSION" */
} zl_vc_opts;

/* Connects, negotiates TLS and the protocol, authenticates; autocommit is off (every statement
 * joins the open transaction until COMMIT or ROLLBACK). Errors: ZL_ETRANSIENT when no node could
 * be reached (each node's reason in the message), ZL_ELOAD for authentication and other refusals
 * (an expired password names it; a grace-period warning is logged). */
int zl_vc_connect(const zl_vc_opts *o, zl_vc **out, zl_err *err);
void zl_vc_close(zl_vc *c);

/* The protocol version both sides speak (3<<16 | minor) and a ParameterStatus value (or NULL). */
uint32_t zl_vc_protocol(const zl_vc *c);
const char *zl_vc_param(const zl_vc *c, const char *name);
/* "host:port" of the node this connection reached (after load balancing or failover). */
const char *zl_vc_peer(const zl_vc *c);

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

/* Runs one statement with the simple query protocol (res may be NULL). A server error is ZL_ELOAD
 * or ZL_ETRANSIENT (SQLSTATE classes 08, 40, 53, 57, lock timeouts, a node down, the connection
 * lost), with the message, SQLSTATE (also in err->sqlstate) and Vertica's code:
 * "MESSAGE [SQLSTATE 42V01, Vertica 4566]". */
int zl_vc_query(zl_vc *c, const char *sql, zl_vc_result *res, zl_err *err);

/* What a COPY ... FROM LOCAL STDIN sent back. */
typedef struct zl_vc_copy_result {
	int64_t rows_loaded;      /* the DataRow after the COPY */
	uint64_t *rejected_rows;  /* RETURNREJECTED row numbers (1-based), or NULL */
	size_t nrejected;
} zl_vc_copy_result;

void zl_vc_copy_result_release(zl_vc_copy_result *r);

/* Runs sql (a COPY ... FROM LOCAL STDIN ...) and streams the reader's bytes as its data, in
 * constant memory. A read error aborts the COPY (CopyError) and is returned as the cause. */
int zl_vc_copy_local_stdin(zl_vc *c, const char *sql, zl_reader *data, zl_vc_copy_result *res, zl_err *err);

/* Whether the connection is still usable (no protocol error or loss seen). */
int zl_vc_ok(const zl_vc *c);

#endif
