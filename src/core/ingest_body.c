/* Steps 1-4 for a whole event body: every record claimed before the caller answers the sender. */
#include "core/engine.h"
#include "core/event.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <string.h>

int zl_engine_ingest_body(zl_engine *e, const char *body, size_t len, zl_strvec *due, zl_record_cb cb,
                          void *ud, zl_body_summary *sum, zl_err *err)
{
	zl_event_record *recs = NULL;
	size_t n = 0;
	int rc = zl_event_parse(body, len, &recs, &n, err);
	memset(sum, 0, sizeof *sum);
	if (rc)
		return rc;
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
		int64_t now = zl_now_ms();
		int irc = zl_engine_ingest(e, &r->obj, now, &res, &ierr);
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
		if (res.due && due && zl_engine_lock(e, res.batch_id, res.config->prefix, ZL_LOCK_OPEN, now, res.due, &ierr) == 0)
			zl_strvec_push(due, res.batch_id);
	}
	zl_event_records_free(recs, n);
	return rc;
}
