/* The one submit path: every intake's objects are routed, claimed and (when they fill a batch)
 * locked and queued here. */
#include "obs/metrics.h"
#include "runtime/runtime_int.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <string.h>

/* Submits one object with engine e (held by the caller). */
static int submit_with(zl_rt *rt, zl_engine *e, const zl_object *obj, unsigned flags, zl_ingest_result *res,
                       zl_err *err)
{
	e->quiet_duplicates = (flags & ZL_SUBMIT_QUIET) != 0;
	int rc = zl_engine_ingest(e, obj, zl_now_ms(), !rt->o.no_load, res, err);
	if (rc == 0 && res->outcome == ZL_INGEST_QUEUED)
		zl_metrics_claimed(res->prefix);
	if (rc == 0 && res->locked)
		zl_rt_enqueue(rt, &res->ticket);
	return rc;
}

int zl_rt_submit(zl_rt *rt, const char *intake, const zl_object *obj, unsigned flags, zl_ingest_result *res,
                 zl_err *err)
{
	memset(res, 0, sizeof *res);
	zl_engine *e = zl_rt_engine_get(rt, err);
	int rc = e ? submit_with(rt, e, obj, flags, res, err) : err->code ? err->code : ZL_ESTATE;
	zl_rt_engine_put(rt, e);
	zl_metrics_events(intake, rc == 0 ? zl_ingest_outcome_name(res->outcome) : rc == ZL_EINVAL ? "malformed" : "failed",
	                  1);
	return rc;
}

/* zload_events_total for what a body held. */
static void count_body(const char *intake, const zl_body_summary *s)
{
	zl_metrics_events(intake, "queued", s->queued);
	zl_metrics_events(intake, "duplicate", s->duplicate);
	zl_metrics_events(intake, "filtered", s->filtered);
	zl_metrics_events(intake, "unrouted", s->unrouted);
	zl_metrics_events(intake, "malformed", s->malformed);
	zl_metrics_events(intake, "ignored", s->ignored);
	zl_metrics_events(intake, "failed", s->failed);
}

/* One body being submitted, record by record as zl_event_each delivers them. */
typedef struct body_submit {
	zl_rt *rt;
	zl_engine *e;
	zl_record_cb cb;
	void *ud;
	zl_body_summary *sum;
	zl_err *err;
	zl_err no_engine; /* why e is NULL: then every record fails with it */
	int rc;           /* the first claim that failed */
} body_submit;

static int submit_record(void *arg, const zl_event_record *r)
{
	body_submit *b = arg;
	zl_body_summary *sum = b->sum;
	sum->records++;
	if (r->kind == ZL_REC_IGNORED) {
		sum->ignored++;
		if (b->cb)
			b->cb(b->ud, r, NULL, NULL);
		return 0;
	}
	if (r->kind == ZL_REC_MALFORMED) {
		sum->malformed++;
		ZL_LOG(ZL_ERROR, "malformed event record skipped", ZL_S("error", r->error));
		if (b->cb)
			b->cb(b->ud, r, NULL, r->error);
		return 0;
	}
	zl_ingest_result res;
	zl_err ierr;
	int irc;
	if (b->e) {
		irc = submit_with(b->rt, b->e, &r->obj, 0, &res, &ierr);
	} else {
		ierr = b->no_engine;
		irc = ierr.code ? ierr.code : ZL_ESTATE;
	}
	if (irc == ZL_EINVAL) { /* a refused object: bad input, not worth a retry */
		sum->malformed++;
		ZL_LOG(ZL_ERROR, "object refused", ZL_S("bucket", r->obj.bucket), ZL_S("key", r->obj.key),
		       ZL_S("error", ierr.msg));
		if (b->cb)
			b->cb(b->ud, r, NULL, ierr.msg);
		return 0;
	}
	if (irc) {
		sum->failed++;
		ZL_LOG(ZL_ERROR, "cannot queue object", ZL_S("bucket", r->obj.bucket), ZL_S("key", r->obj.key),
		       ZL_S("error", ierr.msg));
		if (b->rc == 0)
			b->rc = zl_err_set(b->err, irc, "%s/%s: %s", r->obj.bucket, r->obj.key, ierr.msg);
		if (b->cb)
			b->cb(b->ud, r, NULL, ierr.msg);
		return 0;
	}
	size_t *counts[] = { &sum->queued, &sum->duplicate, &sum->filtered, &sum->unrouted };
	(*counts[res.outcome])++;
	if (b->cb)
		b->cb(b->ud, r, &res, NULL);
	return 0;
}

int zl_rt_submit_body(zl_rt *rt, const char *intake, const char *body, size_t len, zl_record_cb cb, void *ud,
                      zl_body_summary *sum, zl_err *err)
{
	memset(sum, 0, sizeof *sum);
	body_submit b = { .rt = rt, .cb = cb, .ud = ud, .sum = sum, .err = err };
	b.e = zl_rt_engine_get(rt, &b.no_engine); /* one engine for the whole body */
	int rc = zl_event_each(body, len, submit_record, &b, err);
	zl_rt_engine_put(rt, b.e);
	if (rc == ZL_EINVAL && sum->records == 0) /* the body itself was malformed */
		sum->malformed++;
	count_body(intake, sum);
	return rc ? rc : b.rc;
}
