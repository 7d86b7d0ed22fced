/* The outbox sender: takes the notification due first from the state (a lease, so loaders that
 * share the state never deliver one twice at once), delivers it, and records the outcome: sent,
 * due again after a back-off with jitter, or failed after its max_attempts. The runtime calls it
 * from its notifier thread and from one-shot commands. */
#ifndef ZL_SENDER_H
#define ZL_SENDER_H

#include <stdint.h>

#include "core/engine.h"
#include "util/err.h"

#define ZL_NOTIFY_TIMEOUT_MS 10000     /* one delivery, by default */
#define ZL_NOTIFY_LEASE_MARGIN_MS 20000 /* the lease outlasts the delivery's timeout by this */

typedef struct zl_notify_send_opts {
	const char *owner;      /* the sender's owner id (borrowed) */
	const char *batch_id;   /* only this batch's notifications; NULL: any */
	long timeout_ms;        /* one delivery; 0: ZL_NOTIFY_TIMEOUT_MS */
} zl_notify_send_opts;

typedef enum {
	ZL_SEND_NONE = 0,   /* nothing was due */
	ZL_SEND_SENT,
	ZL_SEND_RETRY,      /* the delivery failed; due again later */
	ZL_SEND_FAILED,     /* the delivery failed for the last time */
	ZL_SEND_LOST,       /* another sender took it over meanwhile (our lease had run out) */
} zl_send_outcome;

/* One notification at now (wall clock, Unix ms): claimed from e's state, delivered with the
 * settings of its prefix's configuration, settled. Returns 0 with *outcome, or a state error. */
int zl_notify_send_one(zl_engine *e, const zl_notify_send_opts *o, int64_t now, zl_send_outcome *outcome,
                       zl_err *err);

#endif
