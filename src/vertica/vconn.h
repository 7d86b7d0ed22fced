/* Internals of a zl_vc shared by the client's files: the connection record, buffered message I/O
 * over a plain or TLS socket, and the socket helpers. Not for use outside src/vertica/. */
#ifndef ZL_VCONN_H
#define ZL_VCONN_H

#include <stddef.h>
#include <signal.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "util/buf.h"
#include "util/err.h"
#include "vertica/vclient.h"

#define ZL_VC_MAX_PARAMS 32
#define ZL_VC_PARAM_CAP 4096          /* longest ParameterStatus value kept */
#define ZL_VC_RESULT_CAP ((size_t)64 << 20) /* bytes of row values one zl_vc_query keeps */
#define ZL_VC_REJECTED_CAP ((size_t)8 << 20) /* RETURNREJECTED row numbers one COPY keeps */

struct zl_vc {
	int fd;
	SSL_CTX *ssl_ctx;
	SSL *ssl;
	int64_t deadline_ms;       /* monotonic; 0: no deadline (keepalive finds a dead peer) */
	uint8_t rbuf[16384];
	size_t rpos, rlen;
	uint8_t type;              /* the last message read by zl_vcio_next */
	uint8_t *body;             /* its body, NUL-terminated one past body_len */
	size_t body_len, body_alloc;
	zl_buf out;                /* messages waiting for zl_vcio_flush */
	int broken;                /* the code of the failure that made the connection unusable */
	char broken_msg[320];
	uint32_t protocol;
	struct { char *name, *value; } params[ZL_VC_MAX_PARAMS];
	size_t nparams;
	char peer[300];            /* "host:port" */
	uint32_t backend_pid, backend_key;
	char tx_status;
};

/* ---- vio.c: message I/O; each failure marks the connection unusable ---- */

/* Marks c unusable and sets err to code and "peer: message"; returns code. */
int zl_vcio_fail(zl_vc *c, int code, zl_err *err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Marks c unusable with the error err already holds (a protocol error from a decoder). */
int zl_vcio_fail_err(zl_vc *c, zl_err *err);
int zl_vcio_write(zl_vc *c, const void *data, size_t n, zl_err *err);
/* Sends a header and a body as one message, without first copying them together. */
int zl_vcio_write2(zl_vc *c, const void *head, size_t nhead, const void *body, size_t nbody, zl_err *err);
/* Sends c->out and empties it. */
int zl_vcio_flush(zl_vc *c, zl_err *err);
int zl_vcio_read_exact(zl_vc *c, void *dst, size_t n, zl_err *err);
/* Whether bytes from the server are waiting (a read would not block). */
int zl_vcio_readable(zl_vc *c);
/* Reads the next message into c->type / c->body, handling NoticeResponse (debug log) and
 * ParameterStatus (kept; protocol_version honoured) on the way. */
int zl_vcio_next(zl_vc *c, zl_err *err);
/* Takes the next message from the bytes already buffered, without reading or waiting: 1 taken
 * (c->type, c->body; a ParameterStatus or notice is handled as zl_vcio_next does, then returned
 * too), 0 when no whole message is buffered, or a negative code. */
int zl_vcio_next_buffered(zl_vc *c, zl_err *err);
/* Reads messages until ReadyForQuery (after an error or an abort), ending any COPY the server
 * starts meanwhile. Call it when the last message read was not ReadyForQuery. */
int zl_vcio_drain(zl_vc *c, zl_err *err);
/* Frees a message body grown past 1 MiB, so an idle connection holds little memory. */
void zl_vcio_shrink(zl_vc *c);
int64_t zl_vcio_now_ms(void);
/* Ends a COPY the server started (c->type 'G' or 'F') that we will not feed: CopyFail or CopyError. */
int zl_vcio_refuse_copy(zl_vc *c, const char *why, zl_err *err);

/* ---- vquery.c: the result of one Query message, shared by zl_vc_query and the COPY ---- */

typedef struct zl_vcq {
	zl_vc_result *res;      /* the caller's, or scratch */
	zl_vc_result scratch;
	size_t alloc_rows, bytes;
	int have_desc;          /* a RowDescription began the current statement's result */
	int failed;             /* first holds the first error */
	zl_err first;
} zl_vcq;

void zl_vcq_init(zl_vcq *q, zl_vc_result *res);
void zl_vcq_release(zl_vcq *q);
/* Records the first error (once) and whether it ended the session. */
void zl_vcq_fail(zl_vcq *q, const zl_err *e);
/* Takes c's current message if it is part of a result (T, D, C, I, E, K, c): 1 taken, 0 not
 * ours, or a negative code when the connection failed (err set). */
int zl_vcq_take(zl_vc *c, zl_vcq *q, zl_err *err);
/* Reads to ReadyForQuery, keeping the first error; returns 0 or the first error's code in err. */
int zl_vcq_finish(zl_vc *c, zl_vcq *q, zl_err *err);
/* The message type as printable text for errors. */
char zl_vc_printable(uint8_t type);

/* ---- vconn.c ---- */

/* For tests and the fuzzer: Startup and authentication (no TLS, no load balancing) on a socket
 * already connected, which the session takes over (closed on failure too). */
int zl_vc_start_on_fd(int fd, const zl_vc_opts *o, zl_vc **out, zl_err *err);

/* ---- vnet.c: sockets and TLS ---- */

/* Connects a TCP socket to host:port within timeout_ms (each address in turn), with keepalive.
 * The fd, or -1 with the reason in why. */
int zl_vnet_connect(const char *host, int port, int timeout_ms, char *why, size_t whylen);
/* Bounds every blocking read and write on fd to ms (0: no bound). */
void zl_vnet_set_io_timeout(int fd, int ms);
/* TLS handshake on c->fd for host with the mode's verification. ZL_ELOAD for a certificate that
 * does not verify, ZL_ETRANSIENT for other handshake failures. */
int zl_vnet_tls_handshake(zl_vc *c, zl_vc_tls mode, const char *root_cert, const char *host, zl_err *err);
void zl_vnet_close(zl_vc *c);
/* OpenSSL writes with write(2): a write to a closed peer must not raise SIGPIPE in the process.
 * Block it around such writes and swallow the one the write raised (libpq's approach). */
typedef struct zl_vnet_sigpipe {
	sigset_t old;
	int was_pending;
} zl_vnet_sigpipe;
void zl_vnet_sigpipe_block(zl_vnet_sigpipe *g);
void zl_vnet_sigpipe_restore(zl_vnet_sigpipe *g, int got_epipe);

#endif
