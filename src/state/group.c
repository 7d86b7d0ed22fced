#include "state/group.h"

#include <stdlib.h>
#include <string.h>

zl_group_prefix *zl_group_find(zl_group *g, const char *prefix)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->v[i].prefix, prefix) == 0)
			return &g->v[i];
	return NULL;
}

zl_group_prefix *zl_group_add(zl_group *g, const char *prefix)
{
	zl_group_prefix *v = realloc(g->v, (g->n + 1) * sizeof *v);
	if (!v)
		return NULL;
	g->v = v;
	v = &g->v[g->n];
	memset(v, 0, sizeof *v);
	if (!(v->prefix = strdup(prefix)))
		return NULL;
	g->n++;
	return v;
}

void zl_group_clear(zl_group *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->v[i].prefix);
	free(g->v);
	g->v = NULL;
	g->n = 0;
}

static int full(const zl_claim_opts *opts, int64_t files, int64_t bytes)
{
	return (opts->max_files > 0 && files >= opts->max_files) || (opts->max_bytes > 0 && bytes >= opts->max_bytes);
}

/* Records a new file of size appended to p's batch at now, and fills res with the batch. */
static void append(zl_group_prefix *p, int64_t size, int64_t now, zl_append_result *res)
{
	p->file_count++;
	p->bytes += size;
	p->add_files++;
	p->add_bytes += size;
	p->add_at = now;
	memcpy(res->batch_id, p->batch_id, sizeof res->batch_id);
	res->file_count = p->file_count;
	res->bytes = p->bytes;
	res->first_at = p->first_at;
}

static int write_appends(const zl_group_backend *be, void *h, zl_group_prefix *p, zl_err *err)
{
	if (!p->add_files)
		return 0;
	int rc = be->write_appends(h, p, err);
	if (rc == 0)
		p->add_files = p->add_bytes = 0;
	return rc;
}

/* p's entry, taking the prefix's claim lock when it is new. */
static zl_group_prefix *hold(zl_group *g, const zl_group_backend *be, void *h, const char *prefix, zl_err *err)
{
	zl_group_prefix *p = zl_group_find(g, prefix);
	if (p)
		return p;
	if (be->hold_prefix && be->hold_prefix(h, prefix, err))
		return NULL;
	if (!(p = zl_group_add(g, prefix)))
		zl_err_set(err, ZL_ENOMEM, "out of memory");
	return p;
}

/* Claimed before: res as the batch's totals stand (the pending appends written first). */
static int duplicate(const zl_group_backend *be, void *h, zl_group_prefix *p, const char *file_id,
                     zl_append_result *res, zl_err *err)
{
	int rc = write_appends(be, h, p, err);
	if (rc == 0)
		rc = be->find_claim(h, file_id, res, err);
	return rc;
}

int zl_group_claim(zl_group *g, const zl_group_backend *be, void *h, const char *file_id, const char *prefix,
                   const zl_object *obj, int64_t now, const zl_claim_opts *opts, zl_append_result *res, zl_err *err)
{
	int64_t size = obj->size > 0 ? obj->size : 0;
	zl_group_prefix *p = hold(g, be, h, prefix, err);
	int rc, inserted;
	if (!p)
		return err->code;
	if (!p->has_batch || full(opts, p->file_count, p->bytes)) {
		/* a duplicate must not leave a new, empty batch behind */
		if ((rc = duplicate(be, h, p, file_id, res, err)) != 0)
			return rc > 0 ? 0 : rc;
		if ((rc = be->pick_batch(h, p, opts, now, err)))
			return rc;
		p->has_batch = 1;
	}
	if ((rc = be->insert_file(h, file_id, prefix, obj, size, now, p->batch_id, &inserted, err)))
		return rc;
	if (!inserted) {
		rc = duplicate(be, h, p, file_id, res, err);
		return rc > 0 ? 0 : rc ? rc : zl_err_set(err, ZL_ETRANSIENT, "file %s was claimed and forgotten meanwhile", file_id);
	}
	append(p, size, now, res);
	if (opts->lock_owner && full(opts, p->file_count, p->bytes)) {
		if ((rc = write_appends(be, h, p, err)) || (rc = be->lock_full(h, p->batch_id, opts, now, &res->locked, err)))
			return rc;
		p->has_batch = 0; /* locked: the next claim picks another */
	}
	return 0;
}

int zl_group_write_all(zl_group *g, const zl_group_backend *be, void *h, zl_err *err)
{
	for (size_t i = 0; i < g->n; i++) {
		int rc = write_appends(be, h, &g->v[i], err);
		if (rc)
			return rc;
	}
	return 0;
}
