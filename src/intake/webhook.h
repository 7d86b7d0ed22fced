/* The HTTP intake (libmicrohttpd): POST /events with an event body, GET /healthz. The server
 * owns its thread; the handler runs on it, one request at a time. */
#ifndef ZL_WEBHOOK_H
#define ZL_WEBHOOK_H

#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

typedef struct zl_webhook zl_webhook;

/* Handles one complete body; returns the HTTP status and writes a JSON reply into reply. A 2xx
 * status promises that every record of the body is durably claimed. */
typedef int (*zl_webhook_handler)(void *ud, const char *body, size_t len, zl_buf *reply);

/* Listens on "ADDR:PORT" (IPv4, or "[IPv6]:PORT"). token: bearer token required on POST, or NULL.
 * Bodies larger than max_body are answered 413. */
int zl_webhook_start(const char *listen, const char *token, size_t max_body, zl_webhook_handler handler,
                     void *ud, zl_webhook **out, zl_err *err);
/* The port actually bound (useful with port 0). */
int zl_webhook_port(const zl_webhook *w);
void zl_webhook_stop(zl_webhook *w);

#endif
