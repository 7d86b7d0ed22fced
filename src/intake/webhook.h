/* The HTTP intake (libmicrohttpd): POST /events with an event body, GET /healthz, and the pages of
 * a page handler (GET /metrics, the status page). The webhook owns
 * its threads: one polls every connection (epoll where there is one) and answers /healthz at
 * once; a small pool runs the handler, so a slow claim never holds up the others. */
#ifndef ZL_WEBHOOK_H
#define ZL_WEBHOOK_H

#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

typedef struct zl_webhook zl_webhook;

/* Handles one complete body; returns the HTTP status and writes a JSON reply into reply. A 2xx
 * status promises that every record of the body is durably claimed. Called on one of the
 * webhook's handler threads: with more than one, concurrently. */
typedef int (*zl_webhook_handler)(void *ud, const char *body, size_t len, zl_buf *reply);

/* Answers GET path (anything but /healthz and /events; without the query string): returns the
 * HTTP status, writes the body into reply and sets *content_type (static storage). Called on a
 * handler thread, like zl_webhook_handler. */
typedef int (*zl_webhook_page)(void *ud, const char *path, zl_buf *reply, const char **content_type);

/* Defaults for the fields of zl_webhook_opts left 0. */
enum {
	ZL_WEBHOOK_MAX_BODY = 1 << 20,
	ZL_WEBHOOK_MAX_CONNS = 1024,
	ZL_WEBHOOK_MAX_PER_IP = 64,
	ZL_WEBHOOK_IDLE_SECS = 10,
	ZL_WEBHOOK_HANDLERS = 2,
	ZL_WEBHOOK_MAX_QUEUED = 64,
};

typedef struct zl_webhook_opts {
	const char *listen;   /* "PORT" (on 127.0.0.1), "ADDR:PORT" or "[IPv6]:PORT" */
	const char *token;    /* bearer token required on POST, or NULL */
	size_t max_body;      /* larger bodies are answered 413 */
	unsigned max_conns;   /* open connections in all (also bounded by RLIMIT_NOFILE) */
	unsigned max_per_ip;  /* open connections from one address; more are closed at once */
	unsigned idle_secs;   /* a connection that sends nothing this long is closed */
	int handler_threads;  /* threads calling the handler */
	unsigned max_queued;  /* bodies waiting for or in a handler; beyond, 503 with Retry-After */
	const char *option;   /* the option that named listen, for errors (default "--webhook") */
	zl_webhook_page pages; /* GET pages, or NULL; the token guards them too */
	void *pages_ud;
} zl_webhook_opts;

/* Starts listening (raising RLIMIT_NOFILE's soft limit to the hard one). The options are copied.
 * h may be NULL: then there is no POST /events (a server for o->pages only). */
int zl_webhook_start(const zl_webhook_opts *o, zl_webhook_handler h, void *ud, zl_webhook **out, zl_err *err);
/* The port actually bound (useful with port 0). */
int zl_webhook_port(const zl_webhook *w);
/* "127.0.0.1:8080" or "[::1]:8080", with the bound port; the webhook owns the string. */
const char *zl_webhook_address(const zl_webhook *w);
/* The options in force, defaults filled in and max_conns as bounded by RLIMIT_NOFILE. */
const zl_webhook_opts *zl_webhook_options(const zl_webhook *w);
/* The event loop libmicrohttpd chose: "epoll", "poll" or "select". Static storage. */
const char *zl_webhook_poller(const zl_webhook *w);
/* Connections open now (suspended ones included). */
unsigned zl_webhook_connections(const zl_webhook *w);
/* Stops accepting, lets queued and running handlers finish and their replies go out, then closes
 * every connection and frees w. NULL is a no-op. */
void zl_webhook_stop(zl_webhook *w);

#endif
