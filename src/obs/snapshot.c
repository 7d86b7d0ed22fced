#include "obs/snapshot.h"
#include "core/config.h"
#include "core/policy.h"
#include "notify/notify.h"
#include "target/target.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The valid configurations, for the due rules. */
typedef struct snap_configs {
	zl_config **v;
	size_t n;
} snap_configs;

static void configs_release(snap_configs *cf)
{
	for (size_t i = 0; i < cf->n; i++)
		zl_config_free(cf->v[i]);
	free(cf->v);
}

static const zl_config *config_of(const snap_configs *cf, const char *prefix)
{
	for (size_t i = 0; i < cf->n; i++)
		if (strcmp(cf->v[i]->prefix, prefix) == 0)
			return cf->v[i];
	return NULL;
}

/* Makes room for element n of *v (elements of size sz): capacity doubles at each power of two. */
static int grow(void **v, size_t n, size_t sz)
{
	if (n && (n & (n - 1)))
		return 0;
	void *nv = realloc(*v, (n ? n * 2 : 4) * sz);
	if (!nv)
		return ZL_ENOMEM;
	*v = nv;
	return 0;
}

/* qsort, which must not see the NULL of an empty array. */
static void sort(void *v, size_t n, size_t sz, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(v, n, sz, cmp);
}

/* Rows summed over the targets and the attempt's "ms", from a batch's result (-1 when absent). */
static void result_figures(const char *result, int64_t *rows, int64_t *ms)
{
	*rows = *ms = -1;
	json_t *j = result ? json_loads(result, 0, NULL) : NULL;
	json_t *targets = json_object_get(j, "targets"), *t;
	size_t i;
	if (json_is_array(targets)) {
		*rows = 0;
		json_array_foreach(targets, i, t)
			*rows += json_integer_value(json_object_get(t, "rows"));
	}
	if (json_is_integer(json_object_get(j, "ms")))
		*ms = json_integer_value(json_object_get(j, "ms"));
	json_decref(j);
}

/* Appends b to *v, taking its strings (b is left empty). */
static zl_snap_batch *push_batch(zl_snap_batch **v, size_t *n, zl_batch *b)
{
	if (grow((void **)v, *n, sizeof **v))
		return NULL;
	zl_snap_batch *sb = &(*v)[(*n)++];
	memset(sb, 0, sizeof *sb);
	sb->b = *b;
	memset(b, 0, sizeof *b);
	result_figures(sb->b.result, &sb->rows, &sb->load_ms);
	return sb;
}

static void batches_free(zl_snap_batch *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		zl_batch_release(&v[i].b);
	free(v);
}

/* The entry of prefix, added (unconfigured) when absent. NULL when out of memory. */
static zl_snap_prefix *prefix_entry(zl_snapshot *s, const char *prefix)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].prefix, prefix) == 0)
			return &s->v[i];
	if (grow((void **)&s->v, s->n, sizeof *s->v))
		return NULL;
	zl_snap_prefix *p = &s->v[s->n];
	memset(p, 0, sizeof *p);
	zl_strvec_init(&p->targets);
	if (!(p->prefix = strdup(prefix)))
		return NULL;
	s->n++;
	return p;
}

static int add_configured(zl_snapshot *s, const zl_config *c)
{
	zl_snap_prefix *p = prefix_entry(s, c->prefix);
	if (!p)
		return ZL_ENOMEM;
	if (p->configured)
		return 0; /* two stored keys for one prefix: the engine uses the first too */
	p->configured = 1;
	p->batch_size = c->batch_size;
	p->batch_size_bytes = c->batch_size_bytes;
	p->batch_timeout_ms = c->batch_timeout_ms;
	for (size_t i = 0; i < c->ntargets; i++) {
		char line[256];
		if (c->targets[i].name)
			snprintf(line, sizeof line, "%s (%s)", c->targets[i].name, c->targets[i].ops->type);
		else
			snprintf(line, sizeof line, "target-%zu (%s)", i + 1, c->targets[i].ops->type);
		if (zl_strvec_push(&p->targets, line))
			return ZL_ENOMEM;
	}
	return 0;
}

static int read_configs(zl_state *st, zl_snapshot *s, snap_configs *cf, zl_err *err)
{
	zl_strvec prefixes, jsons;
	zl_strvec_init(&prefixes);
	zl_strvec_init(&jsons);
	int rc = st->ops->config_list(st, &prefixes, &jsons, err);
	if (rc == 0 && !(cf->v = calloc(jsons.n + 1, sizeof *cf->v)))
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < jsons.n; i++) {
		zl_err cerr;
		if (zl_config_parse(jsons.v[i], &cf->v[cf->n], &cerr))
			continue; /* invalid: the engine skips it too */
		if (add_configured(s, cf->v[cf->n++]))
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	zl_strvec_release(&prefixes);
	zl_strvec_release(&jsons);
	return rc;
}

/* Why an open batch that is not due cannot become due without a new file (c may be NULL). */
static void never_due(zl_snap_batch *sb, const zl_config *c)
{
	const zl_batch *b = &sb->b;
	sb->stuck = 1;
	if (!c)
		snprintf(sb->why_stuck, sizeof sb->why_stuck, "no configuration for the prefix: its %lld files never load",
		         (long long)b->file_count);
	else if (c->batch_size_bytes > 0)
		snprintf(sb->why_stuck, sizeof sb->why_stuck,
		         "%lld of batchSize %lld files, %lld of batchSizeBytes %lld bytes, and no batchTimeoutSecs",
		         (long long)b->file_count, (long long)c->batch_size, (long long)b->bytes,
		         (long long)c->batch_size_bytes);
	else
		snprintf(sb->why_stuck, sizeof sb->why_stuck, "%lld of batchSize %lld files and no batchTimeoutSecs",
		         (long long)b->file_count, (long long)c->batch_size);
}

/* Since when a due open batch has been due: its age limit, or the append (or unlock) that made it
 * due, whichever came first. */
static int64_t due_since(const zl_snap_batch *sb, zl_due_reason r, int64_t now)
{
	int64_t since = sb->b.updated_at ? sb->b.updated_at : sb->b.first_at;
	if (r == ZL_DUE_TIMEOUT || (r != ZL_DUE_REOPENED && sb->due_at && sb->due_at <= now && sb->due_at < since))
		since = sb->due_at;
	return since;
}

static void open_verdict(zl_snap_batch *sb, const zl_config *c, int64_t now)
{
	if (!c) {
		never_due(sb, NULL);
		return;
	}
	if (zl_open_batch_ages(c, &sb->b))
		sb->due_at = sb->b.first_at + c->batch_timeout_ms;
	zl_due_reason r = zl_open_batch_due(c, &sb->b, now);
	if (!r) {
		if (!sb->due_at)
			never_due(sb, c);
		return;
	}
	sb->due = zl_due_reason_name(r);
	int64_t since = due_since(sb, r, now);
	if (now - since > ZL_SNAP_STUCK_GRACE_MS) {
		char t[40];
		sb->stuck = 1;
		snprintf(sb->why_stuck, sizeof sb->why_stuck, "due (%s) since %s and no loader took it", sb->due,
		         zl_time_format(since, t, sizeof t));
	}
}

static void locked_verdict(zl_snap_batch *sb, int64_t now)
{
	const zl_batch *b = &sb->b;
	char t[40];
	if (now - b->lease_until <= ZL_SNAP_STUCK_GRACE_MS)
		return;
	sb->stuck = 1;
	zl_time_format(b->lease_until, t, sizeof t);
	if (!b->lease_until) /* as the original loader leaves a batch it locked */
		snprintf(sb->why_stuck, sizeof sb->why_stuck, "locked%s%s without a lease and no loader reclaimed it",
		         b->owner ? " by " : "", b->owner ? b->owner : "");
	else if (!b->owner)
		snprintf(sb->why_stuck, sizeof sb->why_stuck, "retry was due at %s and no loader took it", t);
	else
		snprintf(sb->why_stuck, sizeof sb->why_stuck, "lease of %s expired at %s and no loader reclaimed it",
		         b->owner, t);
}

static int add_live(zl_snapshot *s, const snap_configs *cf, zl_batch *b, int64_t now)
{
	if (b->status == ZL_BATCH_OPEN && b->file_count <= 0)
		return 0; /* an empty open batch waits for files: nothing to show */
	zl_snap_prefix *p = prefix_entry(s, b->prefix);
	if (!p)
		return ZL_ENOMEM;
	if (b->status == ZL_BATCH_LOCKED) {
		zl_snap_batch *sb = push_batch(&p->locked, &p->nlocked, b);
		if (sb)
			locked_verdict(sb, now);
		return sb ? 0 : ZL_ENOMEM;
	}
	p->files_waiting += b->file_count;
	if (!p->oldest_open_at || (b->first_at && b->first_at < p->oldest_open_at))
		p->oldest_open_at = b->first_at;
	zl_snap_batch *sb = push_batch(&p->open, &p->nopen, b);
	if (sb)
		open_verdict(sb, config_of(cf, sb->b.prefix), now);
	return sb ? 0 : ZL_ENOMEM;
}

/* Open and locked batches, oldest first. */
static int read_live(zl_state *st, zl_snapshot *s, const snap_configs *cf, int64_t now, zl_err *err)
{
	zl_batch_filter f = { .status_mask = ZL_STATUS_BIT(ZL_BATCH_OPEN) | ZL_STATUS_BIT(ZL_BATCH_LOCKED) };
	zl_batch *v = NULL;
	size_t n = 0;
	int rc = st->ops->batch_list(st, &f, &v, &n, err);
	for (size_t i = n; rc == 0 && i-- > 0;) /* the list is newest first */
		if (add_live(s, cf, &v[i], now))
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	zl_batch_list_free(v, n);
	return rc;
}

static int by_finished_desc(const void *a, const void *b)
{
	const zl_snap_batch *x = a, *y = b;
	if (x->b.finished_at != y->b.finished_at)
		return x->b.finished_at < y->b.finished_at ? 1 : -1;
	return x->b.created_at < y->b.created_at ? 1 : x->b.created_at > y->b.created_at ? -1 : 0;
}

/* Error batches that finished in the window. The list filters on creation, and a batch created long
 * ago may have failed lately (retries, reprocess): every error batch is read. */
static int read_errors(zl_state *st, zl_snapshot *s, int64_t now, zl_err *err)
{
	zl_batch_filter f = { .status_mask = ZL_STATUS_BIT(ZL_BATCH_ERROR) };
	zl_batch *v = NULL;
	size_t n = 0;
	int rc = st->ops->batch_list(st, &f, &v, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (v[i].finished_at < now - ZL_SNAP_ERROR_WINDOW_MS)
			continue;
		zl_snap_prefix *p = prefix_entry(s, v[i].prefix);
		if (!p || !push_batch(&p->errors, &p->nerrors, &v[i]))
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < s->n; i++)
		sort(s->v[i].errors, s->v[i].nerrors, sizeof *s->v[i].errors, by_finished_desc);
	zl_batch_list_free(v, n);
	return rc;
}

/* The last finished batches of each prefix, newest first. */
static int read_recent(zl_state *st, zl_snapshot *s, zl_err *err)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < s->n; i++) {
		zl_snap_prefix *p = &s->v[i];
		zl_batch_filter f = { .status_mask = ZL_STATUS_BIT(ZL_BATCH_COMPLETE) | ZL_STATUS_BIT(ZL_BATCH_ERROR),
		                      .prefix = p->prefix, .limit = ZL_SNAP_RECENT };
		zl_batch *v = NULL;
		size_t n = 0;
		rc = st->ops->batch_list(st, &f, &v, &n, err);
		for (size_t j = 0; rc == 0 && j < n; j++)
			if (!push_batch(&p->recent, &p->nrecent, &v[j]))
				rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		sort(p->recent, p->nrecent, sizeof *p->recent, by_finished_desc);
		zl_batch_list_free(v, n);
	}
	return rc;
}

static int by_due(const void *a, const void *b)
{
	const zl_notice_rec *x = a, *y = b;
	if (x->next_at != y->next_at)
		return x->next_at < y->next_at ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Keeps the first keep of *v (n of them), freeing the rest. */
static void keep_notices(zl_notice_rec *v, size_t n, size_t keep, size_t *kept)
{
	for (size_t i = keep; i < n; i++)
		zl_notice_rec_release(&v[i]);
	*kept = n < keep ? n : keep;
}

static int read_pending(zl_state *st, zl_snapshot *s, zl_err *err)
{
	zl_notice_filter f = { .status_mask = ZL_STATUS_BIT(ZL_NOTICE_PENDING) };
	size_t n = 0;
	int rc = st->ops->notice_list(st, &f, &s->pending, &n, err);
	if (rc)
		return rc;
	s->notices_pending = (int64_t)n;
	sort(s->pending, n, sizeof *s->pending, by_due);
	keep_notices(s->pending, n, ZL_SNAP_NOTICES, &s->npending);
	return 0;
}

/* Failed notices whose last delivery fell due in the window, newest first (the list's order). */
static int read_failed(zl_state *st, zl_snapshot *s, int64_t now, zl_err *err)
{
	zl_notice_filter f = { .status_mask = ZL_STATUS_BIT(ZL_NOTICE_FAILED) };
	size_t n = 0, w = 0;
	int rc = st->ops->notice_list(st, &f, &s->failed, &n, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		zl_notice_rec *x = &s->failed[i];
		int64_t at = x->next_at > x->created_at ? x->next_at : x->created_at;
		if (at < now - ZL_SNAP_ERROR_WINDOW_MS) {
			zl_notice_rec_release(x);
			continue;
		}
		s->failed[w++] = *x;
	}
	s->notices_failed = (int64_t)w;
	keep_notices(s->failed, w, ZL_SNAP_NOTICES, &s->nfailed);
	return 0;
}

static int problem(zl_snapshot *s, const zl_snap_batch *sb, const char *what, const char *why)
{
	char *line = NULL;
	if (asprintf(&line, "batch %s (prefix %s): %s%s", sb->b.id, sb->b.prefix, what, why) < 0)
		return ZL_ENOMEM;
	return zl_strvec_push_take(&s->problems, line);
}

static int notice_problem(zl_snapshot *s, const zl_notice_rec *x)
{
	char shown[1024], *line = NULL;
	zl_notify_display(x->dest, shown, sizeof shown);
	if (asprintf(&line, "batch %s (prefix %s): %s notification %lld to %s failed after %d attempts: %s", x->batch_id,
	             x->prefix ? x->prefix : "", x->event ? x->event : "", (long long)x->id, shown, x->attempts,
	             x->last_error ? x->last_error : "no error recorded") < 0)
		return ZL_ENOMEM;
	return zl_strvec_push_take(&s->problems, line);
}

static int list_problems(zl_snapshot *s)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < s->n; i++) {
		const zl_snap_prefix *p = &s->v[i];
		for (size_t j = 0; rc == 0 && j < p->nopen; j++)
			if (p->open[j].stuck)
				rc = problem(s, &p->open[j], "stuck open: ", p->open[j].why_stuck);
		for (size_t j = 0; rc == 0 && j < p->nlocked; j++)
			if (p->locked[j].stuck)
				rc = problem(s, &p->locked[j], "stuck locked: ", p->locked[j].why_stuck);
		for (size_t j = 0; rc == 0 && j < p->nerrors; j++)
			rc = problem(s, &p->errors[j], "error: ", p->errors[j].b.error ? p->errors[j].b.error : "no error recorded");
	}
	/* one line for each failed one kept in full, one for the rest */
	for (size_t i = 0; rc == 0 && i < s->nfailed; i++)
		rc = notice_problem(s, &s->failed[i]);
	if (rc == 0 && s->notices_failed > (int64_t)s->nfailed) {
		char line[128];
		snprintf(line, sizeof line, "%lld more notifications failed in the last 24 hours",
		         (long long)(s->notices_failed - (int64_t)s->nfailed));
		rc = zl_strvec_push(&s->problems, line);
	}
	return rc;
}

/* Configured prefixes first, then the others; each group by prefix. */
static int by_prefix(const void *a, const void *b)
{
	const zl_snap_prefix *x = a, *y = b;
	if (x->configured != y->configured)
		return y->configured - x->configured;
	return strcmp(x->prefix, y->prefix);
}

int zl_snapshot_take(zl_state *st, int64_t now, zl_snapshot *out, zl_err *err)
{
	snap_configs cf = { 0 };
	memset(out, 0, sizeof *out);
	zl_strvec_init(&out->problems);
	out->taken_at = now;
	int rc = read_configs(st, out, &cf, err);
	if (rc || (rc = read_live(st, out, &cf, now, err)) || (rc = read_errors(st, out, now, err)) ||
	    (rc = read_recent(st, out, err)) || (rc = read_pending(st, out, err)) || (rc = read_failed(st, out, now, err)))
		goto out;
	sort(out->v, out->n, sizeof *out->v, by_prefix);
	if (list_problems(out))
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
out:
	configs_release(&cf);
	if (rc)
		zl_snapshot_release(out);
	return rc;
}

void zl_snapshot_release(zl_snapshot *s)
{
	for (size_t i = 0; i < s->n; i++) {
		zl_snap_prefix *p = &s->v[i];
		free(p->prefix);
		zl_strvec_release(&p->targets);
		batches_free(p->open, p->nopen);
		batches_free(p->locked, p->nlocked);
		batches_free(p->recent, p->nrecent);
		batches_free(p->errors, p->nerrors);
	}
	free(s->v);
	zl_notice_list_free(s->pending, s->npending);
	zl_notice_list_free(s->failed, s->nfailed);
	zl_strvec_release(&s->problems);
	memset(s, 0, sizeof *s);
	zl_strvec_init(&s->problems);
}
