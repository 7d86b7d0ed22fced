/* GET / (the status page) and GET /batches/ID: a snapshot of the state drawn as HTML. */
#include "obs/metrics.h"
#include "obs/snapshot.h"
#include "obs/status_page.h"
#include "runtime/pages.h"
#include "runtime/runtime_int.h"
#include "util/timeutil.h"

#include <stdlib.h>
#include <string.h>

#define HTML_TYPE "text/html; charset=utf-8"
#define MAX_LOADS 64

static int overview(zl_engine *e, zl_buf *reply)
{
	zl_snapshot s = { 0 };
	zl_err err = { 0 };
	zl_series *series = malloc(sizeof *series); /* 5.8 KB: off the handler thread's stack */
	zl_progress loads[MAX_LOADS];
	size_t nloads = zl_progress_list(loads, MAX_LOADS);
	int64_t now = zl_now_ms();
	if (!series) {
		zl_error_page(reply, 503, "out of memory");
		return 503;
	}
	int rc = e ? zl_snapshot_take(e->st, now, &s, &err) : ZL_ESTATE;
	zl_metrics_series(now, series);
	zl_status_page(reply, rc ? NULL : &s, rc ? (err.msg[0] ? err.msg : "state not open") : NULL, series, loads,
	               nloads);
	free(series);
	if (rc == 0)
		zl_snapshot_release(&s);
	return rc ? 500 : 200;
}

static int batch_page(zl_engine *e, const char *id_arg, zl_buf *reply)
{
	char id[ZL_UUID_LEN];
	zl_batch b = { 0 };
	zl_err err = { 0 };
	int rc = e ? e->st->ops->batch_resolve(e->st, id_arg, id, &err) : ZL_ESTATE;
	if (rc == 0)
		rc = e->st->ops->batch_get(e->st, id, &b, &err);
	if (rc) {
		int status = rc == ZL_ENOTFOUND || rc == ZL_EINVAL ? 404 : 500;
		zl_error_page(reply, status, err.msg[0] ? err.msg : "state not open");
		return status;
	}
	zl_batch_page(reply, &b);
	zl_batch_release(&b);
	return 200;
}

int zl_rt_status_pages(zl_rt *rt, const char *path, zl_buf *reply, const char **content_type)
{
	*content_type = HTML_TYPE;
	int is_batch = strncmp(path, "/batches/", 9) == 0 && path[9];
	if (strcmp(path, "/") != 0 && !is_batch) {
		zl_error_page(reply, 404, "not found: GET /, /batches/ID, /metrics or /healthz");
		return 404;
	}
	zl_err err = { 0 };
	zl_engine *e = zl_rt_engine_get(rt, &err);
	int status = is_batch ? batch_page(e, path + 9, reply) : overview(e, reply);
	zl_rt_engine_put(rt, e);
	return status;
}
