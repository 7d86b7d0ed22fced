/* The runtime's insides, shared by its files only. */
#ifndef ZL_RUNTIME_INT_H
#define ZL_RUNTIME_INT_H

#include <pthread.h>

#include "runtime/intake.h"
#include "runtime/runtime.h"

#define ZL_RT_MAX_INTAKES 8

struct zl_rt {
	zl_rt_opts o;
	pthread_mutex_t mu;          /* guards everything below but the intakes (loop thread only) */
	pthread_cond_t cv;
	zl_engine **free_engines;    /* engines not in use; each thread takes one for a call */
	size_t nfree, alloc_free;
	zl_tickets queue;            /* locked batches waiting for a loader, from head on */
	size_t head;
	int busy;                    /* workers loading now */
	int stopping;
	pthread_t *workers;
	int nworkers;
	struct {
		const zl_intake_ops *ops;
		void *ctx;
	} intakes[ZL_RT_MAX_INTAKES];
	size_t nintakes;
	/* the notifier (notifier.c), under mu */
	pthread_t notify_th;
	pthread_cond_t notify_cv;
	int notify_started, notify_stop, notify_kicked, notify_busy;
	zl_strvec finished;          /* without the thread: batches finished here, to notify before exit */
};

/* An engine for this thread's call (opened or reused, configurations refreshed); NULL with err set. */
zl_engine *zl_rt_engine_get(zl_rt *rt, zl_err *err);
void zl_rt_engine_put(zl_rt *rt, zl_engine *e);
/* Hands a locked batch to the loaders. */
void zl_rt_enqueue(zl_rt *rt, const zl_ticket *k);
/* Stops the intakes, last started first. */
void zl_rt_stop_intakes(zl_rt *rt);
int zl_rt_worker_count(const zl_rt *rt);
/* Blocks SIGTERM and SIGINT in the calling thread (and the threads it starts). */
void zl_rt_block_signals(void);

/* The notifier: a thread delivering due notifications (opts.notify_thread), woken by a kick when
 * a batch finished; without it, kicks record the batch for zl_rt_notify_flush. */
int zl_rt_notifier_start(zl_rt *rt, zl_err *err);
/* Lets the delivery in progress end, then stops the thread. */
void zl_rt_notifier_stop(zl_rt *rt);
void zl_rt_notifier_kick(zl_rt *rt, const char *batch_id);
/* Whether the notifier was kicked or is delivering (exit-when-idle waits for it). */
int zl_rt_notifier_busy(zl_rt *rt);

#endif
