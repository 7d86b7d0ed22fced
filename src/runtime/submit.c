/* The one submit path: every intake's objects are routed, claimed and (when they fill a batch)
 * locked and queued here. */
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
	if (rc == 0 && res->locked)
		zl_rt_enqueue(rt, &res->ticket);
	return rc;
}

int zl_rt_submit(zl_rt *rt, const zl_object *obj, unsigned flags, zl_ingest_result *res, zl_err *err)
{
	memset(res, 0, sizeof *res);
	zl_engine *e = zl_rt_engine_get(rt, err);
	if (!e)
		return err->code ? err->code : ZL_ESTATE;
	int rc = submit_with(rt, e, obj, flags, res, err);
	zl_rt_engine_put(rt, e);
	return rc;
}

int zl_rt_submit_body(zl_rt *rt, const char *body, size_t len, zl_record_cb cb, void *ud, zl_body_summary *sum,
                      zl_err *err)
{
	zl_event_record *recs = NULL;
	size_t n = 0;
	memset(sum, 0, sizeof *sum);
	int rc = zl_event_parse(body, len, &recs, &n, err);
	if (rc)
		return rc;
	zl_engine *e = n ? zl_rt_engine_get(rt, err) : NULL;
	if (n && !e) {
		zl_event_records_free(recs, n);
		return err->code ? err->code : ZL_ESTATE;
	}
	sum->records = n;
	for (size_t i = 0; i < n; i++) {
		zl_event_record *r = &recs[i];
		if (r->kind == ZL_REC_IGNORED) {
			sum->ignored++;
			if (cb)
				cb(ud, r, NULL, NULL);
			continue;
		}
		if (r->kind == ZL_REC_MALFORMED) {
			sum->malformed++;
			ZL_LOG(ZL_ERROR, "malformed event record skipped", ZL_S("error", r->error));
			if (cb)
				cb(ud, r, NULL, r->error);
			continue;
		}
		zl_ingest_result res;
		zl_err ierr;
		int irc = submit_with(rt, e, &r->obj, 0, &res, &ierr);
		if (irc == ZL_EINVAL) { /* a refused object: bad input, not worth a retry */
			sum->malformed++;
			ZL_LOG(ZL_ERROR, "object refused", ZL_S("bucket", r->obj.bucket), ZL_S("key", r->obj.key),
			       ZL_S("error", ierr.msg));
			if (cb)
				cb(ud, r, NULL, ierr.msg);
			continue;
		}
		if (irc) {
			sum->failed++;
			ZL_LOG(ZL_ERROR, "cannot queue object", ZL_S("bucket", r->obj.bucket), ZL_S("key", r->obj.key),
			       ZL_S("error", ierr.msg));
			if (rc == 0)
				rc = zl_err_set(err, irc, "%s/%s: %s", r->obj.bucket, r->obj.key, ierr.msg);
			if (cb)
				cb(ud, r, NULL, ierr.msg);
			continue;
		}
		size_t *counts[] = { &sum->queued, &sum->duplicate, &sum->filtered, &sum->unrouted };
		(*counts[res.outcome])++;
		if (cb)
			cb(ud, r, &res, NULL);
	}
	zl_rt_engine_put(rt, e);
	zl_event_records_free(recs, n);
	return rc;
}
