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

int zl_group_full(const zl_claim_opts *opts, int64_t files, int64_t bytes)
{
	return (opts->max_files > 0 && files >= opts->max_files) || (opts->max_bytes > 0 && bytes >= opts->max_bytes);
}

void zl_group_append(zl_group_prefix *p, int64_t size, int64_t now, zl_append_result *res)
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
