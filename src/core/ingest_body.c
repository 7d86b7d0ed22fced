/* Steps 1-4 for a whole event body: every record claimed before the caller answers the sender. */
#include "core/engine.h"
#include "core/event.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <string.h>

/* One body being ingested, record by record as zl_event_each delivers them. */
typedef struct body_ingest {
	zl_engine *e;
	zl_strvec *due;
	zl_record_cb cb;
	void *ud;
	zl_body_summary *sum;
	zl_err *err;
	int rc; /* the first claim that failed */
} body_ingest;

static int ingest_record(void *arg, const zl_event_record *r)
{
	body_ingest *b = arg;
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
	int64_t now = zl_now_ms();
	int irc = zl_engine_ingest(b->e, &r->obj, now, &res, &ierr);
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
	if (res.due && b->due &&
	    zl_engine_lock(b->e, res.batch_id, res.config->prefix, ZL_LOCK_OPEN, now, res.due, &ierr) == 0)
		zl_strvec_push(b->due, res.batch_id);
	return 0;
}

int zl_engine_ingest_body(zl_engine *e, const char *body, size_t len, zl_strvec *due, zl_record_cb cb,
                          void *ud, zl_body_summary *sum, zl_err *err)
{
	body_ingest b = { e, due, cb, ud, sum, err, 0 };
	memset(sum, 0, sizeof *sum);
	int rc = zl_event_each(body, len, ingest_record, &b, err);
	return rc ? rc : b.rc;
}
