/* The runtime's core: engines shared by the threads that submit, the queue of locked batches and
 * the workers that load them. */
#include "runtime/runtime_int.h"
#include "target/pool.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <stdlib.h>
#include <string.h>

zl_engine *zl_rt_engine_get(zl_rt *rt, zl_err *err)
{
	zl_engine *e = NULL;
	pthread_mutex_lock(&rt->mu);
	if (rt->nfree)
		e = rt->free_engines[--rt->nfree];
	pthread_mutex_unlock(&rt->mu);
	if (!e) {
		if (!(e = malloc(sizeof *e))) {
			zl_err_set(err, ZL_ENOMEM, "out of memory");
			return NULL;
		}
		if (zl_engine_open(e, rt->o.state_url, rt->o.store, rt->o.secrets, err)) {
			free(e);
			return NULL;
		}
	} else if (zl_engine_refresh(e, err)) {
		zl_rt_engine_put(rt, e);
		return NULL;
	}
	return e;
}

void zl_rt_engine_put(zl_rt *rt, zl_engine *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&rt->mu);
	if (rt->nfree == rt->alloc_free) {
		size_t n = rt->alloc_free ? rt->alloc_free * 2 : 8;
		zl_engine **v = realloc(rt->free_engines, n * sizeof *v);
		if (v) {
			rt->free_engines = v;
			rt->alloc_free = n;
		}
	}
	if (rt->nfree < rt->alloc_free) {
		rt->free_engines[rt->nfree++] = e;
		e = NULL;
	}
	pthread_mutex_unlock(&rt->mu);
	if (e) { /* no room to keep it */
		zl_engine_close(e);
		free(e);
	}
}

void zl_rt_enqueue(zl_rt *rt, const zl_ticket *k)
{
	pthread_mutex_lock(&rt->mu);
	if (rt->head == rt->queue.n)
		rt->head = rt->queue.n = 0;
	if (zl_tickets_push(&rt->queue, k) == 0)
		pthread_cond_signal(&rt->cv);
	else /* the lease expires and a sweeper takes the batch over */
		ZL_LOG(ZL_ERROR, "out of memory: batch left to its lease", ZL_S("batch", k->batch_id));
	pthread_mutex_unlock(&rt->mu);
}

/* Loads one ticket with an engine of the pool and reports it. Returns 1 when it ended complete. */
static int load_one(zl_rt *rt, const zl_ticket *k)
{
	zl_load_summary sum = { 0 };
	zl_err err = { 0 };
	int rc;
	zl_engine *e = zl_rt_engine_get(rt, &err);
	if (!e)
		rc = err.code ? err.code : ZL_ESTATE;
	else
		rc = zl_engine_load(e, k, &sum, &err);
	zl_rt_engine_put(rt, e);
	if (rc == 0 && sum.status != ZL_BATCH_LOCKED) /* finished: its notifications are queued */
		zl_rt_notifier_kick(rt, k->batch_id);
	if (rc == ZL_ELOST)
		ZL_LOG(ZL_INFO, "batch taken over by another attempt", ZL_S("batch", k->batch_id), ZL_S("error", err.msg));
	else if (rc)
		ZL_LOG(ZL_ERROR, "load failed", ZL_S("batch", k->batch_id), ZL_S("error", err.msg));
	if (rt->o.on_loaded)
		rt->o.on_loaded(rt->o.ud, k, &sum, rc, &err);
	return rc == 0 && sum.status == ZL_BATCH_COMPLETE;
}

static void *worker(void *arg)
{
	zl_rt *rt = arg;
	pthread_mutex_lock(&rt->mu);
	for (;;) {
		while (!rt->stopping && rt->head == rt->queue.n)
			pthread_cond_wait(&rt->cv, &rt->mu);
		if (rt->stopping)
			break;
		zl_ticket k = rt->queue.v[rt->head++];
		rt->busy++;
		pthread_mutex_unlock(&rt->mu);
		load_one(rt, &k);
		pthread_mutex_lock(&rt->mu);
		rt->busy--;
		pthread_cond_broadcast(&rt->cv);
	}
	pthread_mutex_unlock(&rt->mu);
	return NULL;
}

/* Queued batches no loader started go back to open (only while this runtime's ticket holds them). */
static size_t release_queued(zl_rt *rt, const char *why)
{
	zl_err err;
	size_t n = 0;
	pthread_mutex_lock(&rt->mu);
	zl_tickets left;
	zl_tickets_init(&left);
	for (size_t i = rt->head; i < rt->queue.n; i++)
		if (zl_tickets_push(&left, &rt->queue.v[i]) == 0)
			n++;
	rt->head = rt->queue.n;
	pthread_mutex_unlock(&rt->mu);
	zl_engine *e = left.n ? zl_rt_engine_get(rt, &err) : NULL;
	for (size_t i = 0; e && i < left.n; i++) {
		const zl_ticket *k = &left.v[i];
		if (e->st->ops->batch_unlock(e->st, k->batch_id, zl_now_ms(), k->owner, 0, &err) == 0)
			ZL_LOG(ZL_INFO, why, ZL_S("batch", k->batch_id));
		else /* its lease expires and a sweeper takes it */
			ZL_LOG(ZL_WARN, "batch not released: left to its lease", ZL_S("batch", k->batch_id),
			       ZL_S("error", err.msg));
	}
	zl_rt_engine_put(rt, e);
	zl_tickets_release(&left);
	return n;
}

size_t zl_rt_drain_until(zl_rt *rt, int64_t until_ms, zl_rt_drain_stats *st)
{
	zl_rt_drain_stats s = { 0 };
	for (;;) {
		if (zl_now_ms() >= until_ms) {
			s.deferred = release_queued(rt, "batch released: too little time left to load it");
			s.incomplete += s.deferred;
			break;
		}
		pthread_mutex_lock(&rt->mu);
		int have = rt->head < rt->queue.n;
		zl_ticket k;
		if (have)
			k = rt->queue.v[rt->head++];
		pthread_mutex_unlock(&rt->mu);
		if (!have)
			break;
		s.started++;
		s.incomplete += !load_one(rt, &k);
	}
	if (st)
		*st = s;
	return s.incomplete;
}

size_t zl_rt_drain(zl_rt *rt) { return zl_rt_drain_until(rt, INT64_MAX, NULL); }

int zl_rt_new(const zl_rt_opts *o, zl_rt **out, zl_err *err)
{
	*out = NULL;
	zl_rt *rt = calloc(1, sizeof *rt);
	if (!rt)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	rt->o = *o;
	if (o->signals)
		zl_rt_block_signals(); /* before any thread, so all inherit it */
	pthread_mutex_init(&rt->mu, NULL);
	pthread_cond_init(&rt->cv, NULL);
	pthread_cond_init(&rt->notify_cv, NULL);
	zl_tickets_init(&rt->queue);
	zl_strvec_init(&rt->finished);
	zl_engine *e = zl_rt_engine_get(rt, err); /* a bad state URL or database shows now */
	if (!e) {
		int rc = err->code ? err->code : ZL_ESTATE;
		zl_rt_free(rt);
		return rc;
	}
	zl_rt_engine_put(rt, e);
	if (o->workers > 0 && !(rt->workers = calloc((size_t)o->workers, sizeof *rt->workers))) {
		zl_rt_free(rt);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	for (; rt->nworkers < o->workers; rt->nworkers++)
		if (pthread_create(&rt->workers[rt->nworkers], NULL, worker, rt) != 0)
			break;
	if (o->workers > 0 && rt->nworkers == 0) {
		zl_rt_free(rt);
		return zl_err_set(err, ZL_ENOMEM, "cannot start a loader thread");
	}
	int rc = o->notify_thread ? zl_rt_notifier_start(rt, err) : 0;
	if (rc) {
		zl_rt_free(rt);
		return rc;
	}
	*out = rt;
	return 0;
}

zl_store *zl_rt_store(const zl_rt *rt) { return rt->o.store; }

long zl_rt_configurations(zl_rt *rt)
{
	zl_err err;
	zl_engine *e = zl_rt_engine_get(rt, &err);
	long n = e ? (long)e->nconfigs : -1;
	zl_rt_engine_put(rt, e);
	return n;
}

int zl_rt_worker_count(const zl_rt *rt) { return rt->nworkers; }

void zl_rt_free(zl_rt *rt)
{
	if (!rt)
		return;
	zl_rt_stop_intakes(rt);
	pthread_mutex_lock(&rt->mu);
	rt->stopping = 1;
	pthread_cond_broadcast(&rt->cv);
	pthread_mutex_unlock(&rt->mu);
	for (int i = 0; i < rt->nworkers; i++)
		pthread_join(rt->workers[i], NULL);
	zl_rt_notifier_stop(rt);
	release_queued(rt, "batch released at shutdown");
	zl_pool_close_all(); /* no batch of this runtime loads any more */
	for (size_t i = 0; i < rt->nfree; i++) {
		zl_engine_close(rt->free_engines[i]);
		free(rt->free_engines[i]);
	}
	free(rt->free_engines);
	free(rt->workers);
	zl_tickets_release(&rt->queue);
	zl_strvec_release(&rt->finished);
	pthread_mutex_destroy(&rt->mu);
	pthread_cond_destroy(&rt->cv);
	pthread_cond_destroy(&rt->notify_cv);
	free(rt);
}

int zl_rt_sweep(zl_rt *rt, zl_err *err)
{
	if (rt->o.no_load)
		return 0;
	zl_tickets locked;
	zl_tickets_init(&locked);
	zl_engine *e = zl_rt_engine_get(rt, err);
	int rc = e ? zl_engine_sweep(e, zl_now_ms(), &locked, err) : (err->code ? err->code : ZL_ESTATE);
	zl_rt_engine_put(rt, e);
	for (size_t i = 0; i < locked.n; i++)
		zl_rt_enqueue(rt, &locked.v[i]);
	zl_tickets_release(&locked);
	return rc;
}

int zl_rt_idle(zl_rt *rt, zl_strvec *stuck, zl_err *err)
{
	pthread_mutex_lock(&rt->mu);
	int local = rt->busy || rt->head < rt->queue.n;
	pthread_mutex_unlock(&rt->mu);
	local = local || zl_rt_notifier_busy(rt);
	for (size_t i = 0; !local && i < rt->nintakes; i++)
		local = zl_intake_busy(rt->intakes[i].ops, rt->intakes[i].ctx);
	if (local)
		return 0;
	int64_t pending = 0;
	zl_engine *e = zl_rt_engine_get(rt, err);
	int rc = e ? zl_engine_progress(e, zl_now_ms(), &pending, stuck, err) : ZL_ESTATE;
	zl_rt_engine_put(rt, e);
	return rc == 0 && pending == 0;
}

int zl_rt_add_intake(zl_rt *rt, const zl_intake_ops *ops, const void *cfg, zl_err *err)
{
	if (rt->nintakes == ZL_RT_MAX_INTAKES)
		return zl_err_set(err, ZL_EINVAL, "too many intakes");
	void *ctx = NULL;
	int rc = ops->start(rt, cfg, &ctx, err);
	if (rc)
		return rc;
	rt->intakes[rt->nintakes].ops = ops;
	rt->intakes[rt->nintakes].ctx = ctx;
	rt->nintakes++;
	return 0;
}

void zl_rt_stop_intakes(zl_rt *rt)
{
	while (rt->nintakes > 0) {
		rt->nintakes--;
		rt->intakes[rt->nintakes].ops->stop(rt->intakes[rt->nintakes].ctx);
	}
}
