#include "core/model.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

void zl_object_release(zl_object *o)
{
	if (!o)
		return;
	free(o->bucket);
	free(o->key);
	free(o->etag);
	memset(o, 0, sizeof *o);
}

static const char *const status_names[ZL_BATCH_NSTATUS] = { "open", "locked", "complete", "error" };

const char *zl_batch_status_name(zl_batch_status s)
{
	return (unsigned)s < ZL_BATCH_NSTATUS ? status_names[s] : "?";
}

int zl_batch_status_parse(const char *name, zl_batch_status *s)
{
	for (int i = 0; i < ZL_BATCH_NSTATUS; i++)
		if (name && strcmp(name, status_names[i]) == 0) {
			*s = (zl_batch_status)i;
			return 0;
		}
	return ZL_EINVAL;
}

void zl_file_rec_release(zl_file_rec *f)
{
	if (!f)
		return;
	free(f->file_id);
	free(f->bucket);
	free(f->key);
	free(f->etag);
	free(f->prefix);
	memset(f, 0, sizeof *f);
}

static int same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

int zl_file_rec_same(const zl_file_rec *a, const zl_file_rec *b)
{
	return same_str(a->file_id, b->file_id) && same_str(a->bucket, b->bucket) && same_str(a->key, b->key) &&
	       same_str(a->etag, b->etag) && same_str(a->prefix, b->prefix) && a->size == b->size &&
	       a->received_at == b->received_at && strcmp(a->batch_id, b->batch_id) == 0;
}

void zl_file_list_free(zl_file_rec *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		zl_file_rec_release(&v[i]);
	free(v);
}

void zl_batch_release(zl_batch *b)
{
	if (!b)
		return;
	free(b->prefix);
	free(b->owner);
	free(b->result);
	free(b->error);
	for (size_t i = 0; i < b->nfiles; i++)
		zl_file_rec_release(&b->files[i]);
	free(b->files);
	memset(b, 0, sizeof *b);
}

void zl_batch_list_free(zl_batch *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		zl_batch_release(&v[i]);
	free(v);
}

static const char *const notice_status_names[ZL_NOTICE_NSTATUS] = { "pending", "sent", "failed" };

const char *zl_notice_status_name(zl_notice_status s)
{
	return (unsigned)s < ZL_NOTICE_NSTATUS ? notice_status_names[s] : "?";
}

int zl_notice_status_parse(const char *name, zl_notice_status *s)
{
	for (int i = 0; i < ZL_NOTICE_NSTATUS; i++)
		if (name && strcmp(name, notice_status_names[i]) == 0) {
			*s = (zl_notice_status)i;
			return 0;
		}
	return ZL_EINVAL;
}

void zl_notice_rec_release(zl_notice_rec *n)
{
	if (!n)
		return;
	free(n->prefix);
	free(n->dest);
	free(n->event);
	free(n->subject);
	free(n->body);
	free(n->owner);
	free(n->last_error);
	memset(n, 0, sizeof *n);
}

void zl_notice_list_free(zl_notice_rec *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		zl_notice_rec_release(&v[i]);
	free(v);
}
