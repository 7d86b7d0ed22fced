/* The runtime's HTTP pages, served by the webhook's server and by --metrics: GET /metrics (the
 * Prometheus exposition, gauges read from the state at each scrape), GET / (the status page) and
 * GET /batches/ID. */
#include "obs/metrics.h"
#include "runtime/pages.h"
#include "runtime/runtime_int.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <stdlib.h>
#include <string.h>

#define PROMETHEUS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The prefix's gauges in v (growing it), found or added. */
static zl_prefix_gauges *gauges_of(zl_prefix_gauges **v, size_t *n, const char *prefix)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].prefix, prefix) == 0)
			return &(*v)[i];
	zl_prefix_gauges *nv = realloc(*v, (*n + 1) * sizeof *nv);
	if (!nv)
		return NULL;
	*v = nv;
	nv[*n] = (zl_prefix_gauges){ .prefix = prefix };
	return &nv[(*n)++];
}

/* Reads the gauges: every configured prefix, and every prefix an open or locked batch names.
 * The strings stay in prefixes and batches. */
static int read_gauges(zl_state *st, int64_t now, zl_strvec *prefixes, zl_batch **batches, size_t *nb,
                       zl_gauges *g, zl_prefix_gauges **pv, zl_err *err)
{
	zl_strvec jsons;
	zl_strvec_init(&jsons);
	zl_batch_filter f = { .status_mask = ZL_STATUS_BIT(ZL_BATCH_OPEN) | ZL_STATUS_BIT(ZL_BATCH_LOCKED) };
	zl_notice_filter nf = { .status_mask = ZL_STATUS_BIT(ZL_NOTICE_PENDING) };
	zl_notice_rec *notices = NULL;
	size_t nn = 0, np = 0;
	int rc = st->ops->config_list(st, prefixes, &jsons, err);
	if (rc == 0)
		rc = st->ops->batch_list(st, &f, batches, nb, err);
	if (rc == 0)
		rc = st->ops->notice_list(st, &nf, &notices, &nn, err);
	for (size_t i = 0; rc == 0 && i < prefixes->n; i++)
		if (!gauges_of(pv, &np, prefixes->v[i]))
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < *nb; i++) {
		const zl_batch *b = &(*batches)[i];
		zl_prefix_gauges *p = gauges_of(pv, &np, b->prefix);
		if (!p) {
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
			break;
		}
		if (b->status == ZL_BATCH_LOCKED) {
			p->locked_batches++;
			continue;
		}
		if (b->file_count == 0) /* as zload status counts them: an empty open batch waits for nothing */
			continue;
		p->open_batches++;
		p->files_waiting += b->file_count;
		double age = b->first_at ? (double)(now - b->first_at) / 1000.0 : 0;
		if (age > p->oldest_open_age_secs)
			p->oldest_open_age_secs = age;
	}
	*g = (zl_gauges){ .prefixes = *pv, .nprefixes = np, .notifications_pending = (int64_t)nn, .state_ok = rc == 0 };
	zl_notice_list_free(notices, nn);
	zl_strvec_release(&jsons);
	return rc;
}

static int metrics_page(zl_rt *rt, zl_buf *reply, const char **type)
{
	zl_err err = { 0 };
	zl_strvec prefixes;
	zl_strvec_init(&prefixes);
	zl_batch *batches = NULL;
	size_t nb = 0;
	zl_prefix_gauges *pv = NULL;
	zl_gauges g = { 0 };
	zl_engine *e = zl_rt_engine_get(rt, &err);
	if (!e || read_gauges(e->st, zl_now_ms(), &prefixes, &batches, &nb, &g, &pv, &err))
		ZL_LOG(ZL_WARN, "metrics: state not read; gauges left out", ZL_S("error", err.msg));
	zl_rt_engine_put(rt, e);
	zl_metrics_render(reply, &g);
	free(pv);
	zl_batch_list_free(batches, nb);
	zl_strvec_release(&prefixes);
	*type = PROMETHEUS_TYPE;
	return 200;
}

int zl_rt_page(void *ud, const char *path, zl_buf *reply, const char **content_type)
{
	zl_rt *rt = ud;
	if (strcmp(path, "/metrics") == 0)
		return metrics_page(rt, reply, content_type);
	return zl_rt_status_pages(rt, path, reply, content_type);
}
