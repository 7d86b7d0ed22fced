/* The one submit path: every intake's objects are routed, claimed and (when they fill a batch)
 * locked and queued here. */
#include "obs/metrics.h"
#include "runtime/runtime_int.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <stdlib.h>
#include <string.h>

/* Routes and claims one object with engine e (held by the caller); nothing is answered yet. */
static int ingest(zl_rt *rt, zl_engine *e, const zl_object *obj, unsigned flags, zl_ingest_result *res, zl_err *err)
{
	e->quiet_duplicates = (flags & ZL_SUBMIT_QUIET) != 0;
	return zl_engine_ingest(e, obj, zl_now_ms(), !rt->o.no_load, res, err);
}

int zl_rt_submit(zl_rt *rt, const char *intake, const zl_object *obj, unsigned flags, zl_ingest_result *res,
                 zl_err *err)
{
	memset(res, 0, sizeof *res);
	zl_engine *e = zl_rt_engine_get(rt, err);
	int rc = e ? ingest(rt, e, obj, flags, res, err) : err->code ? err->code : ZL_ESTATE;
	zl_rt_engine_put(rt, e);
	if (rc == 0 && res->outcome == ZL_INGEST_QUEUED)
		zl_metrics_claimed(res->prefix);
	if (rc == 0 && res->locked)
		zl_rt_enqueue(rt, &res->ticket);
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

#define GROUP_MAX 1000  /* claims of a body in one state transaction at most (others wait for it) */

/* A record claimed in the open group: answered once the group commits. */
typedef struct held {
	zl_event_record rec;   /* kind, and obj (a copy); nothing else is set */
	zl_ingest_result res;
	size_t body;           /* of the bodies submitted together */
} held;

/* Bodies being submitted (one, or an SQS receive's messages), record by record as zl_event_each
 * delivers them. With a state that has group commit, the claims go into groups of up to
 * GROUP_MAX, one transaction each, and are answered (counted, called back, their full batches
 * queued) only once it commits. Each body has its own counts and outcome. */
typedef struct body_submit {
	zl_rt *rt;
	zl_engine *e;
	zl_record_cb cb;
	void *ud;
	zl_err no_engine; /* why e is NULL: then every record fails with it */
	unsigned flags;   /* ZL_SUBMIT_* */
	int grouped;      /* the state has group commit */
	int open;         /* a group is open */
	held *held;
	size_t nheld, alloc;
	size_t body, n;   /* the body being walked, of n */
	zl_body_summary *sums; /* per body */
	int *rcs;         /* per body: its first failed claim, or ZL_EINVAL when malformed */
	zl_err *errs;
} body_submit;

/* A record of body `body` could not be recorded. */
static void fail_record(body_submit *b, size_t body, const zl_event_record *r, int irc, const char *msg)
{
	b->sums[body].failed++;
	ZL_LOG(ZL_ERROR, "cannot queue object", ZL_S("bucket", r->obj.bucket), ZL_S("key", r->obj.key),
	       ZL_S("error", msg));
	if (b->rcs[body] == 0)
		b->rcs[body] = zl_err_set(&b->errs[body], irc, "%s/%s: %s", r->obj.bucket, r->obj.key, msg);
	if (b->cb)
		b->cb(b->ud, r, NULL, msg);
}

/* An outcome recorded (durable): counted, called back, and a batch it filled queued. */
static void answer(body_submit *b, size_t body, const zl_event_record *r, const zl_ingest_result *res)
{
	zl_body_summary *sum = &b->sums[body];
	size_t *counts[] = { &sum->queued, &sum->duplicate, &sum->filtered, &sum->unrouted };
	(*counts[res->outcome])++;
	if (res->outcome == ZL_INGEST_QUEUED)
		zl_metrics_claimed(res->prefix);
	if (res->locked)
		zl_rt_enqueue(b->rt, &res->ticket);
	if (b->cb)
		b->cb(b->ud, r, res, NULL);
}

/* Answers the records of the group just ended: each as recorded when rc is 0, else every one
 * failed with msg. */
static void group_settle(body_submit *b, int rc, const char *msg)
{
	b->open = 0;
	for (size_t i = 0; i < b->nheld; i++) {
		held *h = &b->held[i];
		if (rc)
			fail_record(b, h->body, &h->rec, rc, msg);
		else
			answer(b, h->body, &h->rec, &h->res);
		zl_object_release(&h->rec.obj);
	}
	b->nheld = 0;
}

/* The group's transaction was lost (its connection broke): its records are claimed again, each in
 * its own transaction with the state's own retries, until one fails; that one and the rest fail
 * with its reason. Claims are idempotent, so a group that did commit after all comes back as
 * duplicates. */
static void claim_held_alone(body_submit *b)
{
	int rc = 0;
	zl_err e = { 0 };
	b->open = 0;
	for (size_t i = 0; i < b->nheld; i++) {
		held *h = &b->held[i];
		if (rc == 0)
			rc = ingest(b->rt, b->e, &h->rec.obj, b->flags, &h->res, &e);
		if (rc)
			fail_record(b, h->body, &h->rec, rc, e.msg);
		else
			answer(b, h->body, &h->rec, &h->res);
		zl_object_release(&h->rec.obj);
	}
	b->nheld = 0;
}

/* Commits the open group and answers its records. */
static void group_flush(body_submit *b)
{
	if (!b->open)
		return;
	zl_err gerr;
	int rc = b->e->st->ops->group_end(b->e->st, 1, &gerr);
	if (rc == ZL_ETRANSIENT) {
		ZL_LOG(ZL_WARN, "group of claims lost; claiming them one by one", ZL_I("records", (long long)b->nheld),
		       ZL_S("error", gerr.msg));
		claim_held_alone(b);
		return;
	}
	group_settle(b, rc, gerr.msg);
}

static int copy_object(zl_object *dst, const zl_object *src)
{
	*dst = (zl_object){ .bucket = strdup(src->bucket), .key = strdup(src->key), .size = src->size,
	                    .etag = src->etag ? strdup(src->etag) : NULL, .modified = src->modified };
	if (dst->bucket && dst->key && (dst->etag || !src->etag))
		return 0;
	zl_object_release(dst);
	return ZL_ENOMEM;
}

/* Claims r inside the group (opening one first): 0 when it was held for the commit, 1 when it was
 * claimed on its own into *res (the group's transaction was lost), else an error. */
static int claim_grouped(body_submit *b, const zl_event_record *r, zl_ingest_result *res, zl_err *ierr)
{
	zl_state *st = b->e->st;
	if (!b->open) {
		int rc = st->ops->group_begin(st, ierr);
		if (rc)
			return rc;
		b->open = 1;
	}
	if (b->nheld == b->alloc) {
		size_t na = b->alloc ? 2 * b->alloc : 64;
		held *nh = realloc(b->held, na * sizeof *nh);
		if (!nh)
			return zl_err_set(ierr, ZL_ENOMEM, "out of memory");
		b->held = nh;
		b->alloc = na;
	}
	held *h = &b->held[b->nheld];
	memset(h, 0, sizeof *h);
	int rc = ingest(b->rt, b->e, &r->obj, b->flags, &h->res, ierr);
	if (rc == ZL_ETRANSIENT) { /* the group is lost: what it held, then r, each on its own */
		group_flush(b);
		rc = ingest(b->rt, b->e, &r->obj, b->flags, res, ierr);
		return rc ? rc : 1;
	}
	if (rc)
		return rc;
	h->rec.kind = r->kind;
	h->body = b->body;
	if (copy_object(&h->rec.obj, &r->obj)) { /* the claim stays in the group: fail them all */
		zl_err gerr;
		st->ops->group_end(st, 0, &gerr);
		group_settle(b, ZL_ENOMEM, "out of memory");
		return zl_err_set(ierr, ZL_ENOMEM, "out of memory");
	}
	b->nheld++;
	if (b->nheld >= GROUP_MAX)
		group_flush(b);
	return 0;
}

static int submit_record(void *arg, const zl_event_record *r)
{
	body_submit *b = arg;
	zl_body_summary *sum = &b->sums[b->body];
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
	if (!b->e) {
		ierr = b->no_engine;
		irc = ierr.code ? ierr.code : ZL_ESTATE;
	} else if (b->grouped) {
		irc = claim_grouped(b, r, &res, &ierr);
		if (irc == 0)
			return 0;
		if (irc == 1)
			irc = 0;
	} else {
		irc = ingest(b->rt, b->e, &r->obj, b->flags, &res, &ierr);
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
		fail_record(b, b->body, r, irc, ierr.msg);
		return 0;
	}
	answer(b, b->body, r, &res);
	return 0;
}

/* Starts a submission of n bodies with one engine; done by submit_finish. */
static void submit_start(body_submit *b, zl_rt *rt, unsigned flags, zl_record_cb cb, void *ud, size_t n,
                         zl_body_summary *sums, int *rcs, zl_err *errs)
{
	*b = (body_submit){ .rt = rt, .flags = flags, .cb = cb, .ud = ud, .n = n, .sums = sums, .rcs = rcs, .errs = errs };
	for (size_t i = 0; i < n; i++) {
		memset(&sums[i], 0, sizeof sums[i]);
		rcs[i] = 0;
		zl_err_clear(&errs[i]);
	}
	b->e = zl_rt_engine_get(rt, &b->no_engine);
	b->grouped = b->e && b->e->st->ops->group_begin && b->e->st->ops->group_end;
}

/* Walks body i; a body that is not an event is counted malformed and fails with the reason. */
static void submit_text(body_submit *b, size_t i, const char *text, size_t len)
{
	zl_err perr;
	b->body = i;
	int rc = zl_event_each(text, len, submit_record, b, &perr);
	if (rc == ZL_EINVAL && b->sums[i].records == 0) /* the body itself was malformed */
		b->sums[i].malformed++;
	if (rc) { /* the body's own error comes before its records' */
		b->rcs[i] = rc;
		b->errs[i] = perr;
	}
}

static void submit_finish(body_submit *b, const char *intake)
{
	zl_body_summary all = { 0 };
	group_flush(b);
	free(b->held);
	zl_rt_engine_put(b->rt, b->e);
	for (size_t i = 0; i < b->n; i++) {
		size_t *to = &all.records, *from = &b->sums[i].records; /* every field is a count */
		for (size_t f = 0; f < sizeof all / sizeof all.records; f++)
			to[f] += from[f];
	}
	count_body(intake, &all);
}

int zl_rt_submit_objects(zl_rt *rt, const char *intake, const zl_object *objs, size_t n, unsigned flags,
                         zl_record_cb cb, void *ud, zl_body_summary *sum, zl_err *err)
{
	body_submit b;
	int rc;
	submit_start(&b, rt, flags, cb, ud, 1, sum, &rc, err);
	for (size_t i = 0; i < n; i++) {
		zl_event_record rec = { .kind = ZL_REC_CREATED, .obj = objs[i] };
		submit_record(&b, &rec);
	}
	submit_finish(&b, intake);
	return rc;
}

int zl_rt_submit_body(zl_rt *rt, const char *intake, const char *body, size_t len, zl_record_cb cb, void *ud,
                      zl_body_summary *sum, zl_err *err)
{
	body_submit b;
	int rc;
	submit_start(&b, rt, 0, cb, ud, 1, sum, &rc, err); /* one engine for the whole body */
	submit_text(&b, 0, body, len);
	submit_finish(&b, intake);
	return rc;
}

int zl_rt_submit_bodies(zl_rt *rt, const char *intake, const zl_text *bodies, size_t n, int *rcs, zl_err *errs,
                        zl_body_summary *sums)
{
	body_submit b;
	submit_start(&b, rt, 0, NULL, NULL, n, sums, rcs, errs);
	for (size_t i = 0; i < n; i++)
		submit_text(&b, i, bodies[i].p, bodies[i].len);
	int grouped = b.grouped;
	submit_finish(&b, intake);
	if (grouped)
		zl_metrics_group_bodies(intake, n);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = rcs[i];
	return rc;
}
