/* The webhook as an intake: POST /events bodies are submitted; 2xx only once every record is
 * durably claimed, so a sender that got an error retries. The same server answers GET /metrics,
 * / and /batches/ID; the pages intake serves those alone on an address of its own. */
#include "intake/webhook.h"
#include "obs/metrics.h"
#include "runtime/commit_queue.h"
#include "runtime/pages.h"
#include "runtime/runtime_int.h"
#include "util/log.h"

#include <jansson.h>
#include <stdlib.h>

typedef struct webhook_intake {
	zl_rt *rt;
	zl_webhook *hook;
	zl_commit_queue *queue; /* with a state that groups: requests' bodies claimed together */
} webhook_intake;

static int on_body(void *ud, const char *body, size_t len, zl_buf *reply)
{
	webhook_intake *wi = ud;
	zl_err err;
	zl_body_summary sum;
	int rc = wi->queue ? zl_commit_queue_submit(wi->queue, body, len, &sum, &err)
	                   : zl_rt_submit_body(wi->rt, ZL_INTAKE_WEBHOOK, body, len, NULL, NULL, &sum, &err);
	if (rc == ZL_EINVAL) {
		ZL_LOG(ZL_WARN, "webhook: malformed body refused", ZL_S("error", err.msg));
		json_t *j = json_pack("{s:s}", "error", err.msg);
		char *t = json_dumps(j, JSON_COMPACT);
		zl_buf_adds(reply, t ? t : "{}");
		free(t);
		json_decref(j);
		return 400;
	}
	zl_buf_printf(reply, "{\"records\":%zu,\"queued\":%zu,\"duplicate\":%zu,\"filtered\":%zu,\"unrouted\":%zu,"
	              "\"ignored\":%zu,\"malformed\":%zu,\"failed\":%zu}", sum.records, sum.queued, sum.duplicate,
	              sum.filtered, sum.unrouted, sum.ignored, sum.malformed, sum.failed);
	return rc ? 503 : 200;
}

static void webhook_stop(void *ctx)
{
	webhook_intake *wi = ctx;
	if (!wi)
		return;
	zl_webhook_stop(wi->hook); /* its handler threads are gone: nobody is in the queue */
	zl_commit_queue_free(wi->queue);
	free(wi);
}

/* Whether the state has group commit (SQLite, PostgreSQL); not known (no state yet): no. */
static int state_groups(zl_rt *rt)
{
	zl_err err;
	zl_engine *e = zl_rt_engine_get(rt, &err);
	int grouped = e && e->st->ops->group_begin && e->st->ops->group_end;
	zl_rt_engine_put(rt, e);
	return grouped;
}

/* With a state that groups, the bodies of concurrent requests are claimed together, one group at
 * a time: enough handler threads to fill a group (they mostly wait in the queue). */
static int group_requests(zl_rt *rt, webhook_intake *wi, zl_webhook_opts *o, zl_err *err)
{
	if (!state_groups(rt))
		return 0;
	unsigned queued = o->max_queued ? o->max_queued : ZL_WEBHOOK_MAX_QUEUED;
	if (o->handler_threads <= 0)
		o->handler_threads = queued < ZL_COMMIT_GROUP_MAX ? (int)queued : ZL_COMMIT_GROUP_MAX;
	return zl_commit_queue_new(rt, ZL_INTAKE_WEBHOOK, ZL_COMMIT_GROUP_MAX, 1, &wi->queue, err);
}

/* Starts a server for the runtime's pages and, with events set, POST /events. */
static int start_server(zl_rt *rt, const zl_webhook_opts *cfg, int events, webhook_intake **out, zl_err *err)
{
	zl_webhook_opts o = *cfg;
	webhook_intake *wi = calloc(1, sizeof *wi);
	if (!wi)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	wi->rt = rt;
	o.pages = zl_rt_page;
	o.pages_ud = rt;
	int rc = events ? group_requests(rt, wi, &o, err) : 0;
	if (rc == 0)
		rc = zl_webhook_start(&o, events ? on_body : NULL, events ? wi : NULL, &wi->hook, err);
	if (rc) {
		zl_commit_queue_free(wi->queue);
		free(wi);
		return rc;
	}
	*out = wi;
	return 0;
}

static int webhook_start(zl_rt *rt, const void *cfgp, void **ctx, zl_err *err)
{
	const zl_webhook_opts *cfg = cfgp;
	webhook_intake *wi;
	int rc = start_server(rt, cfg, 1, &wi, err);
	if (rc)
		return rc;
	const zl_webhook_opts *in_force = zl_webhook_options(wi->hook);
	ZL_LOG(ZL_INFO, "webhook listening", ZL_S("listen", zl_webhook_address(wi->hook)),
	       ZL_I("port", zl_webhook_port(wi->hook)), ZL_S("auth", cfg->token ? "bearer" : "none"),
	       ZL_S("poll", zl_webhook_poller(wi->hook)), ZL_I("max_conns", in_force->max_conns),
	       ZL_I("max_per_ip", in_force->max_per_ip), ZL_I("idle_secs", in_force->idle_secs),
	       ZL_I("handlers", in_force->handler_threads), ZL_S("claims", wi->queue ? "grouped" : "per request"));
	*ctx = wi;
	return 0;
}

const zl_intake_ops zl_intake_webhook = {
	.name = "webhook",
	.start = webhook_start,
	.stop = webhook_stop,
};

static int pages_start(zl_rt *rt, const void *cfgp, void **ctx, zl_err *err)
{
	const zl_webhook_opts *cfg = cfgp;
	webhook_intake *wi;
	int rc = start_server(rt, cfg, 0, &wi, err);
	if (rc)
		return rc;
	ZL_LOG(ZL_INFO, "metrics and status page listening", ZL_S("listen", zl_webhook_address(wi->hook)),
	       ZL_I("port", zl_webhook_port(wi->hook)), ZL_S("auth", cfg->token ? "bearer" : "none"));
	*ctx = wi;
	return 0;
}

const zl_intake_ops zl_intake_pages = {
	.name = "pages",
	.start = pages_start,
	.stop = webhook_stop,
};
