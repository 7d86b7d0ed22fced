/* The dir: store watcher as an intake: complete files are submitted; a claim that fails for a
 * passing reason (state database locked, disk full) is retried with back-off, and a periodic
 * rescan finds anything missed, so no file is dropped until a restart. */
#include "intake/watch_dir.h"
#include "obs/metrics.h"
#include "runtime/runtime_int.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <stdlib.h>
#include <string.h>

#define RETRY_FIRST_MS 1000
#define RETRY_MAX_MS 30000
#define REFUSED_REMEMBERED 4096 /* keys whose refusal a rescan logs at debug level only */

typedef struct retry {
	char *bucket, *key;
	int64_t at;       /* wall-clock ms */
	int64_t delay;
} retry;

typedef struct watch_intake {
	zl_rt *rt;
	zl_watch_dir *w;
	int64_t rescan_ms, next_rescan;
	retry *v;
	size_t n, alloc;
	zl_strvec refused; /* "bucket/key" already logged as refused */
	int scanning;     /* duplicates met by a scan are logged at debug level */
} watch_intake;

/* Logs a refused object once at error level; rescans meet it again. */
static void log_refused(watch_intake *wi, const char *bucket, const char *key, const char *why)
{
	char name[4096];
	snprintf(name, sizeof name, "%s/%s", bucket, key);
	for (size_t i = 0; i < wi->refused.n; i++)
		if (strcmp(wi->refused.v[i], name) == 0) {
			ZL_LOG(ZL_DEBUG, "object refused", ZL_S("bucket", bucket), ZL_S("key", key), ZL_S("error", why));
			return;
		}
	if (wi->refused.n < REFUSED_REMEMBERED)
		zl_strvec_push(&wi->refused, name);
	ZL_LOG(ZL_ERROR, "object refused", ZL_S("bucket", bucket), ZL_S("key", key), ZL_S("error", why));
}

static retry *find_retry(watch_intake *wi, const char *bucket, const char *key)
{
	for (size_t i = 0; i < wi->n; i++)
		if (strcmp(wi->v[i].bucket, bucket) == 0 && strcmp(wi->v[i].key, key) == 0)
			return &wi->v[i];
	return NULL;
}

static void drop_retry(watch_intake *wi, retry *r)
{
	free(r->bucket);
	free(r->key);
	*r = wi->v[--wi->n];
}

/* Remembers a failed claim; the delay doubles up to 30 s each time it fails again. */
static void schedule_retry(watch_intake *wi, const char *bucket, const char *key, int64_t now, const char *why)
{
	retry *r = find_retry(wi, bucket, key);
	if (!r) {
		if (wi->n == wi->alloc) {
			size_t n = wi->alloc ? wi->alloc * 2 : 16;
			retry *v = realloc(wi->v, n * sizeof *v);
			if (!v) {
				ZL_LOG(ZL_ERROR, "out of memory: the next rescan will find the file", ZL_S("bucket", bucket),
				       ZL_S("key", key));
				return;
			}
			wi->v = v;
			wi->alloc = n;
		}
		r = &wi->v[wi->n];
		*r = (retry){ strdup(bucket), strdup(key), 0, 0 };
		if (!r->bucket || !r->key) {
			free(r->bucket);
			free(r->key);
			return;
		}
		wi->n++;
	}
	r->delay = r->delay ? (r->delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : r->delay * 2) : RETRY_FIRST_MS;
	r->at = now + r->delay;
	ZL_LOG(ZL_WARN, "cannot queue object: will retry", ZL_S("bucket", bucket), ZL_S("key", key), ZL_S("error", why),
	       ZL_I("retry_ms", r->delay));
}

/* Submits one complete file. Returns 0 when it is settled for good (claimed, skipped, refused or
 * gone), else the error worth a retry. */
static int submit_file(watch_intake *wi, const char *bucket, const char *key, zl_err *err)
{
	zl_store *store = zl_rt_store(wi->rt);
	zl_object obj = { 0 };
	zl_ingest_result res;
	int rc = store->ops->head(store, bucket, key, &obj, err);
	if (rc == ZL_ENOTFOUND) { /* gone before we got to it */
		ZL_LOG(ZL_DEBUG, "new object vanished", ZL_S("bucket", bucket), ZL_S("key", key), ZL_S("error", err->msg));
		return 0;
	}
	if (rc == 0)
		rc = zl_rt_submit(wi->rt, ZL_INTAKE_WATCH, &obj, wi->scanning ? ZL_SUBMIT_QUIET : 0, &res, err);
	zl_object_release(&obj);
	if (rc == ZL_EINVAL) {
		log_refused(wi, bucket, key, err->msg);
		return 0;
	}
	if (rc)
		return rc;
	if (res.outcome == ZL_INGEST_QUEUED)
		ZL_LOG(ZL_INFO, "file queued", ZL_S("batch", res.batch_id), ZL_S("prefix", res.prefix), ZL_S("bucket", bucket),
		       ZL_S("key", key));
	else if (res.outcome != ZL_INGEST_DUPLICATE)
		ZL_LOG(ZL_DEBUG, "file not queued", ZL_S("outcome", zl_ingest_outcome_name(res.outcome)),
		       ZL_S("bucket", bucket), ZL_S("key", key));
	return 0;
}

static void on_file(void *ud, const char *bucket, const char *key)
{
	watch_intake *wi = ud;
	zl_err err;
	if (submit_file(wi, bucket, key, &err) != 0) {
		schedule_retry(wi, bucket, key, zl_now_ms(), err.msg);
		return;
	}
	retry *r = find_retry(wi, bucket, key);
	if (r) {
		ZL_LOG(ZL_INFO, "object queued after retry", ZL_S("bucket", bucket), ZL_S("key", key));
		drop_retry(wi, r);
	}
}

static void scan(watch_intake *wi, int64_t now, const char *what)
{
	zl_err err;
	wi->scanning = 1;
	if (zl_watch_dir_scan(wi->w, now, &err))
		ZL_LOG(ZL_WARN, "scan failed", ZL_S("scan", what), ZL_S("error", err.msg));
	wi->scanning = 0;
	wi->next_rescan = wi->rescan_ms > 0 ? now + wi->rescan_ms : 0;
}

static void watch_stop(void *ctx)
{
	watch_intake *wi = ctx;
	if (!wi)
		return;
	zl_watch_dir_close(wi->w);
	zl_strvec_release(&wi->refused);
	while (wi->n)
		drop_retry(wi, &wi->v[0]);
	free(wi->v);
	free(wi);
}

static int watch_start(zl_rt *rt, const void *cfgp, void **ctx, zl_err *err)
{
	const zl_watch_cfg *cfg = cfgp;
	watch_intake *wi = calloc(1, sizeof *wi);
	if (!wi)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	wi->rt = rt;
	wi->rescan_ms = cfg->rescan_ms;
	zl_strvec_init(&wi->refused);
	zl_watch_opts wo = { .settle_ms = cfg->settle_ms };
	int rc = zl_watch_dir_open(cfg->root, &wo, on_file, wi, &wi->w, err);
	if (rc) {
		watch_stop(wi);
		return rc;
	}
	/* Files that landed while no loader ran: the claim skips those already recorded. */
	scan(wi, zl_now_ms(), "start-up");
	*ctx = wi;
	return 0;
}

static int watch_fd(void *ctx) { return zl_watch_dir_fd(((watch_intake *)ctx)->w); }

static void watch_ready(void *ctx, int64_t now)
{
	watch_intake *wi = ctx;
	zl_err err;
	if (zl_watch_dir_dispatch(wi->w, now, &err))
		ZL_LOG(ZL_WARN, "watcher failed", ZL_S("error", err.msg));
}

static int64_t until(int64_t at, int64_t now) { return at <= now ? 0 : at - now; }

static int64_t watch_next_ms(void *ctx, int64_t now)
{
	watch_intake *wi = ctx;
	int64_t next = zl_watch_dir_next_ms(wi->w, now);
	if (wi->next_rescan && (next < 0 || until(wi->next_rescan, now) < next))
		next = until(wi->next_rescan, now);
	for (size_t i = 0; i < wi->n; i++)
		if (next < 0 || until(wi->v[i].at, now) < next)
			next = until(wi->v[i].at, now);
	return next;
}

static void watch_tick(void *ctx, int64_t now)
{
	watch_intake *wi = ctx;
	zl_watch_dir_tick(wi->w, now);
	for (size_t i = 0; i < wi->n;) {
		if (wi->v[i].at > now) {
			i++;
			continue;
		}
		size_t n = wi->n;
		on_file(wi, wi->v[i].bucket, wi->v[i].key);
		i += wi->n == n; /* else the entry at i is gone and the last one moved there */
	}
	if (wi->next_rescan && now >= wi->next_rescan)
		scan(wi, now, "rescan");
}

static int watch_busy(void *ctx)
{
	watch_intake *wi = ctx;
	return wi->n > 0 || zl_watch_dir_pending(wi->w) > 0;
}

const zl_intake_ops zl_intake_watch = {
	.name = "watch",
	.start = watch_start,
	.stop = watch_stop,
	.fd = watch_fd,
	.ready = watch_ready,
	.next_ms = watch_next_ms,
	.tick = watch_tick,
	.busy = watch_busy,
};
