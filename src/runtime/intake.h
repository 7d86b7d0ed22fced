/* How events reach the runtime: an intake is started with its own configuration and submits what
 * it receives through zl_rt_submit / zl_rt_submit_body. The loop polls an intake's descriptor and
 * calls its tick when it has timed work; intakes with their own threads (webhook, SQS) need
 * neither. Every optional method may be NULL; call them through the zl_intake_* wrappers. */
#ifndef ZL_INTAKE_H
#define ZL_INTAKE_H

#include <stdint.h>

#include "runtime/runtime.h"

typedef struct zl_intake_ops {
	const char *name;                            /* "watch", "webhook", "sqs" */
	int (*start)(zl_rt *rt, const void *cfg, void **ctx, zl_err *err);
	void (*stop)(void *ctx);                     /* after this no call reaches the runtime */
	int (*fd)(void *ctx);                        /* optional: a descriptor to poll, or -1 */
	void (*ready)(void *ctx, int64_t now);       /* optional: the descriptor is readable */
	int64_t (*next_ms)(void *ctx, int64_t now);  /* optional: ms until tick has work, -1 none */
	void (*tick)(void *ctx, int64_t now);        /* optional */
	int (*busy)(void *ctx);                      /* optional: holds work that idle must wait for */
} zl_intake_ops;

/* Starts an intake and hands it to the runtime, which stops it when its loop ends. */
int zl_rt_add_intake(zl_rt *rt, const zl_intake_ops *ops, const void *cfg, zl_err *err);

static inline int zl_intake_fd(const zl_intake_ops *o, void *ctx) { return o->fd ? o->fd(ctx) : -1; }
static inline void zl_intake_ready(const zl_intake_ops *o, void *ctx, int64_t now)
{
	if (o->ready)
		o->ready(ctx, now);
}
static inline int64_t zl_intake_next_ms(const zl_intake_ops *o, void *ctx, int64_t now)
{
	return o->next_ms ? o->next_ms(ctx, now) : -1;
}
static inline void zl_intake_tick(const zl_intake_ops *o, void *ctx, int64_t now)
{
	if (o->tick)
		o->tick(ctx, now);
}
static inline int zl_intake_busy(const zl_intake_ops *o, void *ctx) { return o->busy ? o->busy(ctx) : 0; }

/* The intakes zload has, each with its configuration. */
typedef struct zl_watch_cfg {
	const char *root;           /* the dir: store's root */
	int64_t settle_ms;          /* a file found by a scan is claimed once unchanged this long */
	int64_t rescan_ms;          /* full rescans (files missed or not claimed); 0: none */
} zl_watch_cfg;
extern const zl_intake_ops zl_intake_watch;

extern const zl_intake_ops zl_intake_webhook;  /* its configuration: a zl_webhook_opts */
/* GET /metrics, / and /batches/ID on an address of their own (--metrics): a zl_webhook_opts */
extern const zl_intake_ops zl_intake_pages;

typedef struct zl_sqs_cfg {
	const char *queue_url;
	int wait_secs;
} zl_sqs_cfg;
extern const zl_intake_ops zl_intake_sqs;

#endif
