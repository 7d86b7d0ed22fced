/* The runtime's notifier: delivers the outbox's due notifications off the loaders' threads, so a
 * slow or unreachable destination never delays a load. The daemon runs it on a thread that polls
 * every second and wakes at once when a batch finished; one-shot commands deliver what they
 * queued before they exit, for a bounded time. */
#include "notify/sender.h"
#include "runtime/runtime_int.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <string.h>

#define POLL_MS 1000

static int stopping(zl_rt *rt)
{
	pthread_mutex_lock(&rt->mu);
	int stop = rt->notify_stop;
	pthread_mutex_unlock(&rt->mu);
	return stop;
}

/* Delivers due notifications (of batch_id, or any) until none is due or the notifier stops. */
static void deliver_due(zl_rt *rt, const char *batch_id, long timeout_ms)
{
	zl_err err = { 0 };
	zl_engine *e = zl_rt_engine_get(rt, &err);
	if (!e) {
		ZL_LOG(ZL_WARN, "notifications: cannot open the state", ZL_S("error", err.msg));
		return;
	}
	char owner[ZL_OWNER_LEN];
	zl_engine_new_owner(e, owner);
	zl_notify_send_opts o = { .owner = owner, .batch_id = batch_id, .timeout_ms = timeout_ms };
	for (zl_send_outcome out = ZL_SEND_SENT; out != ZL_SEND_NONE && !stopping(rt);) {
		if (zl_notify_send_one(e, &o, zl_now_ms(), &out, &err)) {
			ZL_LOG(ZL_WARN, "notifications: state error", ZL_S("error", err.msg));
			break;
		}
	}
	zl_rt_engine_put(rt, e);
}

static void *notifier(void *arg)
{
	zl_rt *rt = arg;
	pthread_mutex_lock(&rt->mu);
	while (!rt->notify_stop) {
		rt->notify_kicked = 0;
		rt->notify_busy = 1;
		pthread_mutex_unlock(&rt->mu);
		deliver_due(rt, NULL, 0);
		pthread_mutex_lock(&rt->mu);
		rt->notify_busy = 0;
		if (rt->notify_kicked || rt->notify_stop)
			continue;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t wake = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + POLL_MS;
		ts.tv_sec = wake / 1000;
		ts.tv_nsec = (wake % 1000) * 1000000;
		while (!rt->notify_kicked && !rt->notify_stop &&
		       pthread_cond_timedwait(&rt->notify_cv, &rt->mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&rt->mu);
	return NULL;
}

int zl_rt_notifier_start(zl_rt *rt, zl_err *err)
{
	if (pthread_create(&rt->notify_th, NULL, notifier, rt) != 0)
		return zl_err_set(err, ZL_ENOMEM, "cannot start the notifier thread");
	rt->notify_started = 1;
	return 0;
}

void zl_rt_notifier_stop(zl_rt *rt)
{
	if (!rt->notify_started)
		return;
	pthread_mutex_lock(&rt->mu);
	rt->notify_stop = 1;
	pthread_cond_broadcast(&rt->notify_cv);
	pthread_mutex_unlock(&rt->mu);
	pthread_join(rt->notify_th, NULL);
	rt->notify_started = 0;
}

void zl_rt_notifier_kick(zl_rt *rt, const char *batch_id)
{
	pthread_mutex_lock(&rt->mu);
	if (rt->notify_started) {
		rt->notify_kicked = 1;
		pthread_cond_broadcast(&rt->notify_cv);
	} else if (zl_strvec_push(&rt->finished, batch_id)) {
		ZL_LOG(ZL_WARN, "out of memory: notifications of the batch left for a daemon", ZL_S("batch", batch_id));
	}
	pthread_mutex_unlock(&rt->mu);
}

int zl_rt_notifier_busy(zl_rt *rt)
{
	pthread_mutex_lock(&rt->mu);
	int busy = rt->notify_kicked || rt->notify_busy;
	pthread_mutex_unlock(&rt->mu);
	return busy;
}

/* How many notifications of the batch are pending, and when the first is due again. */
static size_t pending_of(zl_rt *rt, const char *batch_id, int64_t *next_at)
{
	zl_notice_filter f = { .status_mask = ZL_STATUS_BIT(ZL_NOTICE_PENDING), .batch_id = batch_id };
	zl_notice_rec *v = NULL;
	size_t n = 0;
	zl_err err;
	zl_engine *e = zl_rt_engine_get(rt, &err);
	if (e && e->st->ops->notice_list(e->st, &f, &v, &n, &err) == 0)
		for (size_t i = 0; i < n; i++) {
			int64_t due = v[i].owner && v[i].lease_until > v[i].next_at ? v[i].lease_until : v[i].next_at;
			if (!*next_at || due < *next_at)
				*next_at = due;
		}
	zl_notice_list_free(v, n);
	zl_rt_engine_put(rt, e);
	return n;
}

size_t zl_rt_notify_flush(zl_rt *rt, int64_t bound_ms)
{
	int64_t deadline = zl_now_ms() + bound_ms;
	size_t left = 0;
	for (;;) {
		int64_t next_at = 0, now = zl_now_ms();
		long timeout = deadline - now < ZL_NOTIFY_TIMEOUT_MS ? (long)(deadline - now) : ZL_NOTIFY_TIMEOUT_MS;
		left = 0;
		for (size_t i = 0; i < rt->finished.n; i++) {
			deliver_due(rt, rt->finished.v[i], timeout < 1000 ? 1000 : timeout);
			left += pending_of(rt, rt->finished.v[i], &next_at);
		}
		if (!left || next_at > deadline || zl_now_ms() >= deadline)
			break;
		zl_sleep_ms(next_at > zl_now_ms() ? next_at - zl_now_ms() : 10);
	}
	if (left)
		ZL_LOG(ZL_WARN, "notifications not delivered yet: left in the outbox for zload serve",
		       ZL_I("pending", (long long)left));
	return left;
}

size_t zl_rt_notify_due(zl_rt *rt, int64_t until_ms)
{
	size_t sent = 0;
	zl_err err = { 0 };
	zl_engine *e = zl_rt_engine_get(rt, &err);
	if (!e) {
		ZL_LOG(ZL_WARN, "notifications: cannot open the state", ZL_S("error", err.msg));
		return 0;
	}
	char owner[ZL_OWNER_LEN];
	zl_engine_new_owner(e, owner);
	for (zl_send_outcome out = ZL_SEND_SENT; out != ZL_SEND_NONE;) {
		int64_t left = until_ms - zl_now_ms();
		if (left < 1000)
			break;
		zl_notify_send_opts o = { .owner = owner,
		                          .timeout_ms = left < ZL_NOTIFY_TIMEOUT_MS ? (long)left : ZL_NOTIFY_TIMEOUT_MS };
		if (zl_notify_send_one(e, &o, zl_now_ms(), &out, &err)) {
			ZL_LOG(ZL_WARN, "notifications: state error", ZL_S("error", err.msg));
			break;
		}
		sent += out == ZL_SEND_SENT;
	}
	zl_rt_engine_put(rt, e);
	pthread_mutex_lock(&rt->mu);
	zl_strvec_release(&rt->finished);
	zl_strvec_init(&rt->finished);
	pthread_mutex_unlock(&rt->mu);
	return sent;
}
