/* Copying one state store into another: the checks that make it safe to run (and to run again),
 * then configurations, batches with their files, the other file records and the outbox. */
#include "state/state_copy.h"
#include "util/buf.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PAGE 1000
#define MAX_NAMED 5 /* live leases named in the refusal; the rest are counted */

int zl_state_file_conflict(const zl_file_rec *stored, const zl_file_rec *f, zl_err *err)
{
	char t1[40], t2[40];
	return zl_err_set(err, ZL_EBUSY,
	                  "file record \"%s\" is stored already, in batch %s received at %s, and differs from the"
	                  " one to import (batch %s, received at %s)",
	                  f->file_id, stored->batch_id[0] ? stored->batch_id : "(none)",
	                  zl_time_format(stored->received_at, t1, sizeof t1), f->batch_id[0] ? f->batch_id : "(none)",
	                  zl_time_format(f->received_at, t2, sizeof t2));
}

int zl_state_batch_conflict(const char *id, zl_batch_status stored_status, int64_t stored_updated_at,
                            const zl_batch *b, zl_err *err)
{
	char t1[40], t2[40];
	return zl_err_set(err, ZL_EBUSY,
	                  "batch %s is stored already, %s and updated at %s, and differs from the one to import"
	                  " (%s, updated at %s)",
	                  id, zl_batch_status_name(stored_status), zl_time_format(stored_updated_at, t1, sizeof t1),
	                  zl_batch_status_name(b->status), zl_time_format(b->updated_at, t2, sizeof t2));
}

/* One copy: what was read from the source, and where the counts go. */
typedef struct copy_ctx {
	zl_state *src, *dst;
	const zl_state_copy_opts *o;
	zl_state_copy_counts *c;
	zl_strvec prefixes, jsons;   /* the source's configurations */
	zl_batch *batches;           /* the source's batches, newest first (without files) */
	size_t nbatches;
	const zl_batch **by_id;      /* the same, ordered by id */
	zl_notice_rec *notices;      /* the source's outbox, newest first */
	size_t nnotices;
} copy_ctx;

static int cmp_batch_ptr(const void *a, const void *b)
{
	return strcmp((*(const zl_batch *const *)a)->id, (*(const zl_batch *const *)b)->id);
}

/* The source's batch with this id, or NULL. */
static const zl_batch *src_batch(const copy_ctx *x, const char *id)
{
	size_t lo = 0, hi = x->nbatches;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(x->by_id[mid]->id, id);
		if (c == 0)
			return x->by_id[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int read_source(copy_ctx *x, zl_err *err)
{
	zl_state *s = x->src;
	int ret;

	if ((ret = s->ops->config_list(s, &x->prefixes, &x->jsons, err)) ||
	    (ret = s->ops->batch_list(s, NULL, &x->batches, &x->nbatches, err)) ||
	    (ret = s->ops->notice_list(s, NULL, &x->notices, &x->nnotices, err)))
		return zl_err_prefix(err, "reading the source");
	if (x->nbatches && !(x->by_id = malloc(x->nbatches * sizeof *x->by_id)))
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	for (size_t i = 0; i < x->nbatches; i++)
		x->by_id[i] = &x->batches[i];
	if (x->nbatches)
		qsort(x->by_id, x->nbatches, sizeof *x->by_id, cmp_batch_ptr);
	return 0;
}

static int live_batch(const zl_batch *b, int64_t now)
{
	return b->status == ZL_BATCH_LOCKED && b->owner && b->lease_until > now;
}

static int live_notice(const zl_notice_rec *n, int64_t now)
{
	return n->status == ZL_NOTICE_PENDING && n->owner && n->lease_until > now;
}

/* ZL_EBUSY naming the batches and notifications of src that a live lease holds (a loader or a
 * sender is at work on them: what it writes next would be lost). */
static int check_leases(const copy_ctx *x, zl_err *err)
{
	int64_t now = x->o->now;
	size_t named = 0, more = 0;
	char t[40];
	zl_buf b;
	int ret = 0;

	zl_buf_init(&b, 0);
	for (size_t i = x->nbatches; i-- > 0;) {
		const zl_batch *bt = &x->batches[i];
		if (!live_batch(bt, now))
			continue;
		if (named == MAX_NAMED) {
			more++;
			continue;
		}
		zl_buf_printf(&b, "%sbatch %s (prefix %s) is locked by %s until %s", named++ ? "; " : "", bt->id,
		              bt->prefix, bt->owner, zl_time_format(bt->lease_until, t, sizeof t));
	}
	for (size_t i = x->nnotices; i-- > 0;) {
		const zl_notice_rec *n = &x->notices[i];
		if (!live_notice(n, now))
			continue;
		if (named == MAX_NAMED) {
			more++;
			continue;
		}
		zl_buf_printf(&b, "%snotification %lld (batch %s) is being sent by %s until %s", named++ ? "; " : "",
		              (long long)n->id, n->batch_id, n->owner, zl_time_format(n->lease_until, t, sizeof t));
	}
	if (more)
		zl_buf_printf(&b, "; and %zu more", more);
	if (named)
		ret = zl_err_set(err, ZL_EBUSY,
		                 "the source is in use: %s; stop the loaders (zload serve) or wait until the leases end,"
		                 " then run again", zl_buf_str(&b));
	zl_buf_release(&b);
	return ret;
}

/* Whether dst has the configuration of prefix: 1 with the same text, 0 without one; ZL_EBUSY
 * when it holds another. */
static int dst_has_config(const copy_ctx *x, const char *prefix, const char *json, zl_err *err)
{
	char *have = NULL;
	int ret = x->dst->ops->config_get(x->dst, prefix, &have, err);
	if (ret == ZL_ENOTFOUND)
		return 0;
	if (ret)
		return zl_err_prefix(err, "reading the destination");
	ret = strcmp(have, json) == 0
	          ? 1
	          : zl_err_set(err, ZL_EBUSY, "the destination has another configuration for prefix \"%s\"", prefix);
	free(have);
	return ret;
}

/* Every batch of dst must be src's, as src has it: ZL_EBUSY naming the first that is not. */
static int check_dst_batches(const copy_ctx *x, zl_err *err)
{
	zl_batch *v = NULL;
	size_t n = 0;
	int ret;

	if ((ret = x->dst->ops->batch_list(x->dst, NULL, &v, &n, err))) {
		ret = zl_err_prefix(err, "reading the destination");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const zl_batch *mine = src_batch(x, v[i].id);
		if (!mine) {
			ret = zl_err_set(err, ZL_EBUSY,
			                 "the destination holds batch %s (prefix %s), which the source does not: copy into"
			                 " an empty store, or one that an earlier migrate from this source wrote",
			                 v[i].id, v[i].prefix);
			goto out;
		}
		if (mine->status != v[i].status || mine->updated_at != v[i].updated_at) {
			ret = zl_state_batch_conflict(v[i].id, v[i].status, v[i].updated_at, mine, err);
			zl_err_prefix(err, "the destination was changed after an earlier migrate");
			goto out;
		}
	}
out:
	zl_batch_list_free(v, n);
	return ret;
}

static int check_dst(const copy_ctx *x, zl_err *err)
{
	for (size_t i = 0; i < x->prefixes.n; i++) {
		int ret = dst_has_config(x, x->prefixes.v[i], x->jsons.v[i], err);
		if (ret < 0)
			return ret;
	}
	return check_dst_batches(x, err);
}

/* A configuration the destination has already is not stored again (its config_version stays). */
static int copy_configs(copy_ctx *x, zl_err *err)
{
	for (size_t i = 0; i < x->prefixes.n; i++) {
		int ret = dst_has_config(x, x->prefixes.v[i], x->jsons.v[i], err);
		if (ret < 0)
			return ret;
		if (ret == 0 && (ret = x->dst->ops->config_put(x->dst, x->prefixes.v[i], x->jsons.v[i], err)))
			return zl_err_prefix(err, "storing the configuration for prefix \"%s\"", x->prefixes.v[i]);
		x->c->configs++;
	}
	return 0;
}

static int import_file(copy_ctx *x, const zl_file_rec *f, zl_err *err)
{
	int ret = x->dst->ops->file_import(x->dst, f, err);
	if (ret && ret != ZL_EBUSY)
		return zl_err_prefix(err, "importing file record \"%s\"", f->file_id);
	if (ret == 0)
		x->c->files++;
	return ret;
}

/* One batch, as src has it now, then its files in order. */
static int copy_batch(copy_ctx *x, const char *id, zl_err *err)
{
	zl_batch b;
	int ret;

	if ((ret = x->src->ops->batch_get(x->src, id, &b, err)))
		return zl_err_prefix(err, "reading the source");
	if ((ret = x->dst->ops->batch_import(x->dst, &b, err))) {
		if (ret != ZL_EBUSY)
			zl_err_prefix(err, "importing batch %s", id);
		goto out;
	}
	x->c->batches++;
	for (size_t i = 0; i < b.nfiles && ret == 0; i++)
		ret = import_file(x, &b.files[i], err);
out:
	zl_batch_release(&b);
	return ret;
}

static int copy_batches(copy_ctx *x, zl_err *err)
{
	for (size_t i = x->nbatches; i-- > 0;) { /* oldest first */
		int ret = copy_batch(x, x->batches[i].id, err);
		if (ret)
			return ret;
	}
	return 0;
}

/* Every file record, page by page; with copy, those whose batch was not copied (it was deleted,
 * or the batch id is empty) are imported, else only counted. */
static int scan_files(copy_ctx *x, int copy, zl_err *err)
{
	size_t page = x->o->page ? x->o->page : DEFAULT_PAGE;
	char *after = strdup("");
	int ret = after ? 0 : zl_err_set(err, ZL_ENOMEM, "out of memory");

	while (ret == 0) {
		zl_file_rec *v = NULL;
		size_t n = 0;
		if ((ret = x->src->ops->file_scan(x->src, after, page, &v, &n, err))) {
			ret = zl_err_prefix(err, "reading the source");
			break;
		}
		for (size_t i = 0; i < n && ret == 0; i++) {
			if (!copy)
				x->c->files++;
			else if (!src_batch(x, v[i].batch_id))
				ret = import_file(x, &v[i], err);
		}
		if (n) {
			free(after);
			after = v[n - 1].file_id;
			v[n - 1].file_id = NULL;
		}
		zl_file_list_free(v, n);
		if (n < page)
			break;
	}
	free(after);
	return ret;
}

/* The outbox's identity of a notification: its batch, destination, event and creation time
 * (what it was for; not how far its delivery got). */
static int cmp_notice_key(const zl_notice_rec *a, const zl_notice_rec *b)
{
	int c = strcmp(a->batch_id, b->batch_id);
	if (c)
		return c;
	if (a->created_at != b->created_at)
		return a->created_at < b->created_at ? -1 : 1;
	if ((c = strcmp(a->dest, b->dest)))
		return c;
	return strcmp(a->event, b->event);
}

static int cmp_notice(const void *a, const void *b) { return cmp_notice_key(a, b); }

/* Takes from have (ordered by key; used marks those taken) one notification with n's key. */
static int take_match(zl_notice_rec *have, unsigned char *used, size_t nhave, const zl_notice_rec *n)
{
	size_t lo = 0, hi = nhave;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_notice_key(&have[mid], n) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < nhave && cmp_notice_key(&have[lo], n) == 0; lo++)
		if (!used[lo]) {
			used[lo] = 1;
			return 1;
		}
	return 0;
}

/* Oldest first, so the new ids keep their order; one dst has already (an earlier run copied it,
 * and it may have been delivered since) is not queued again. */
static int copy_notices(copy_ctx *x, zl_err *err)
{
	zl_notice_rec *have = NULL;
	unsigned char *used = NULL;
	size_t nhave = 0;
	int ret;

	if ((ret = x->dst->ops->notice_list(x->dst, NULL, &have, &nhave, err))) {
		ret = zl_err_prefix(err, "reading the destination");
		goto out;
	}
	if (nhave && !(used = calloc(nhave, 1))) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	if (nhave)
		qsort(have, nhave, sizeof *have, cmp_notice);
	for (size_t i = x->nnotices; i-- > 0;) {
		const zl_notice_rec *n = &x->notices[i];
		if (take_match(have, used, nhave, n)) {
			x->c->notices_kept++;
		} else if ((ret = x->dst->ops->notice_import(x->dst, n, err))) {
			ret = zl_err_prefix(err, "importing notification %lld", (long long)n->id);
			goto out;
		}
		x->c->notices++;
	}
out:
	free(used);
	zl_notice_list_free(have, nhave);
	return ret;
}

static int run_copy(copy_ctx *x, const char *dst_url, zl_err *err)
{
	int ret;

	if ((ret = read_source(x, err)) || (ret = check_leases(x, err)))
		return ret;
	if (x->o->dry_run) {
		x->c->configs = x->prefixes.n;
		x->c->batches = x->nbatches;
		x->c->notices = x->nnotices;
		return scan_files(x, 0, err);
	}
	if ((ret = zl_state_open(dst_url, &x->dst, err)))
		return zl_err_prefix(err, "opening the destination");
	if ((ret = check_dst(x, err)) || (ret = copy_configs(x, err)) || (ret = copy_batches(x, err)) ||
	    (ret = scan_files(x, 1, err)) || (ret = copy_notices(x, err)))
		return ret;
	return 0;
}

int zl_state_copy(zl_state *src, const char *dst_url, const zl_state_copy_opts *opts, zl_state_copy_counts *counts,
                  zl_err *err)
{
	copy_ctx x = { .src = src, .o = opts, .c = counts };
	int ret;

	memset(counts, 0, sizeof *counts);
	zl_strvec_init(&x.prefixes);
	zl_strvec_init(&x.jsons);
	ret = run_copy(&x, dst_url, err);
	zl_state_close(x.dst);
	zl_strvec_release(&x.prefixes);
	zl_strvec_release(&x.jsons);
	free(x.by_id);
	zl_batch_list_free(x.batches, x.nbatches);
	zl_notice_list_free(x.notices, x.nnotices);
	return ret;
}
