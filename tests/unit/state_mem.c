/* The in-memory state backend: plain arrays behind one process-wide mutex. Each operation holds
 * the mutex from start to end, which makes it as atomic as one SQLite transaction. state_sqlite.c
 * is the reference: each function says which of its statements it mirrors. */
#include "state_mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/timeutil.h"

typedef struct mem_config {
	char *prefix, *json;
} mem_config;

typedef struct mem_batch {
	zl_batch b;      /* files and nfiles unused: files point at their batch */
	int was_locked;  /* SQLite's "locked_at IS NOT NULL": a batch once locked takes no files */
} mem_batch;

typedef struct mem_store {
	struct mem_store *next;
	char *name;
	int refs;                /* open handles, plus one while the registry lists it */
	int64_t config_version;
	mem_config *configs;     /* ordered by prefix */
	size_t nconfigs, aconfigs;
	mem_batch *batches;      /* in creation order */
	size_t nbatches, abatches;
	zl_file_rec *files;      /* in arrival order (SQLite's rowid order) */
	size_t nfiles, afiles;
	zl_notice_rec *outbox;   /* in id order */
	size_t noutbox, aoutbox;
	int64_t last_notice_id;
	zl_state_mem_stats stats;
} mem_store;

typedef struct mem_state {
	zl_state base;
	mem_store *s;
} mem_state;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static mem_store *stores;

static mem_store *store_of(zl_state *st) { return ((mem_state *)st)->s; }

/* Makes room for one more element in *v (n used of *alloc); 0 or ZL_ENOMEM. */
static int grow(void **v, size_t *alloc, size_t n, size_t size)
{
	if (n < *alloc)
		return 0;
	size_t na = *alloc ? *alloc * 2 : 16;
	void *p = realloc(*v, na * size);
	if (!p)
		return ZL_ENOMEM;
	*v = p;
	*alloc = na;
	return 0;
}

/* strdup that keeps NULL; sets *failed on out of memory. */
static char *dup_or_null(const char *s, int *failed)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*failed = 1;
	return d;
}

static void store_free(mem_store *s)
{
	for (size_t i = 0; i < s->nconfigs; i++) {
		free(s->configs[i].prefix);
		free(s->configs[i].json);
	}
	for (size_t i = 0; i < s->nbatches; i++)
		zl_batch_release(&s->batches[i].b);
	for (size_t i = 0; i < s->nfiles; i++)
		zl_file_rec_release(&s->files[i]);
	for (size_t i = 0; i < s->noutbox; i++)
		zl_notice_rec_release(&s->outbox[i]);
	free(s->outbox);
	free(s->configs);
	free(s->batches);
	free(s->files);
	free(s->name);
	free(s);
}

/* Drops one reference; the caller holds mu. */
static void store_unref(mem_store *s)
{
	if (--s->refs == 0)
		store_free(s);
}

static mem_store *store_find(const char *name)
{
	for (mem_store *s = stores; s; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

static int mem_open(const char *target, zl_state **out, zl_err *err)
{
	mem_state *h = NULL;
	int ret = 0;

	*out = NULL;
	if (!target || !*target)
		return zl_err_set(err, ZL_EINVAL, "mem state needs a name (mem:NAME)");
	pthread_mutex_lock(&mu);
	mem_store *s = store_find(target);
	if (!(h = calloc(1, sizeof *h))) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	if (!s) {
		if (!(s = calloc(1, sizeof *s)) || !(s->name = strdup(target))) {
			free(s);
			ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
			goto out;
		}
		s->refs = 1;
		s->next = stores;
		stores = s;
	}
	s->refs++;
	h->base.ops = &zl_state_mem_ops;
	h->s = s;
	*out = &h->base;
	h = NULL;
out:
	pthread_mutex_unlock(&mu);
	free(h);
	return ret;
}

static void mem_close(zl_state *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&mu);
	mem_store *s = store_of(st);
	s->stats.closes++;
	store_unref(s);
	pthread_mutex_unlock(&mu);
	free(st);
}

void zl_state_mem_drop(const char *name)
{
	pthread_mutex_lock(&mu);
	for (mem_store **p = &stores; *p; p = &(*p)->next)
		if (strcmp((*p)->name, name) == 0) {
			mem_store *s = *p;
			*p = s->next;
			store_unref(s);
			break;
		}
	pthread_mutex_unlock(&mu);
}

zl_state_mem_stats zl_state_mem_stats_of(const char *name)
{
	zl_state_mem_stats st = { 0 };
	pthread_mutex_lock(&mu);
	mem_store *s = store_find(name);
	if (s)
		st = s->stats;
	pthread_mutex_unlock(&mu);
	return st;
}

static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static int register_rc;

static void register_backend(void) { register_rc = zl_state_register(&zl_state_mem_ops); }

int zl_state_mem_register(void)
{
	pthread_once(&register_once, register_backend);
	return register_rc;
}

/* ---- configurations ---- */

static mem_config *config_find(mem_store *s, const char *prefix)
{
	for (size_t i = 0; i < s->nconfigs; i++)
		if (strcmp(s->configs[i].prefix, prefix) == 0)
			return &s->configs[i];
	return NULL;
}

/* S_CONFIG_PUT; every change bumps config_version (the schema's triggers). */
static int mem_config_put(zl_state *st, const char *prefix, const char *json, zl_err *err)
{
	mem_store *s = store_of(st);
	char *p = NULL, *j = NULL;
	int ret = 0;

	if (!prefix || !json)
		return zl_err_set(err, ZL_EINVAL, "configuration needs a prefix and JSON text");
	pthread_mutex_lock(&mu);
	if (!(j = strdup(json))) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	mem_config *c = config_find(s, prefix);
	if (c) {
		free(c->json);
		c->json = j;
		j = NULL;
		s->config_version++;
		goto out;
	}
	if (!(p = strdup(prefix)) || grow((void **)&s->configs, &s->aconfigs, s->nconfigs, sizeof *s->configs)) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	size_t at = 0;
	while (at < s->nconfigs && strcmp(s->configs[at].prefix, prefix) < 0)
		at++;
	memmove(&s->configs[at + 1], &s->configs[at], (s->nconfigs - at) * sizeof *s->configs);
	s->configs[at] = (mem_config){ p, j };
	s->nconfigs++;
	s->config_version++;
	p = j = NULL;
out:
	pthread_mutex_unlock(&mu);
	free(p);
	free(j);
	return ret;
}

static int mem_config_get(zl_state *st, const char *prefix, char **json, zl_err *err)
{
	int ret = 0;

	*json = NULL;
	pthread_mutex_lock(&mu);
	mem_config *c = config_find(store_of(st), prefix);
	if (!c)
		ret = zl_err_set(err, ZL_ENOTFOUND, "no configuration for prefix \"%s\"", prefix);
	else if (!(*json = strdup(c->json)))
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
	pthread_mutex_unlock(&mu);
	return ret;
}

static int mem_config_list(zl_state *st, zl_strvec *prefixes, zl_strvec *jsons, zl_err *err)
{
	mem_store *s = store_of(st);
	size_t np = prefixes->n, nj = jsons->n;
	int ret = 0;

	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < s->nconfigs; i++)
		if (zl_strvec_push(prefixes, s->configs[i].prefix) || zl_strvec_push(jsons, s->configs[i].json)) {
			ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
			break;
		}
	pthread_mutex_unlock(&mu);
	if (ret) {
		zl_strvec_truncate(prefixes, np);
		zl_strvec_truncate(jsons, nj);
	}
	return ret;
}

static int mem_config_replace(zl_state *st, const char *prefix, const char *old_json, const char *json,
                              zl_err *err)
{
	mem_store *s = store_of(st);
	int ret = 0;
	char *j = strdup(json);

	pthread_mutex_lock(&mu);
	mem_config *c = config_find(s, prefix);
	if (!j) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
	} else if (!c || strcmp(c->json, old_json) != 0) {
		ret = zl_err_set(err, ZL_EBUSY, "the configuration for prefix \"%s\" changed meanwhile", prefix);
	} else {
		free(c->json);
		c->json = j;
		j = NULL;
		s->config_version++;
	}
	pthread_mutex_unlock(&mu);
	free(j);
	return ret;
}

static int mem_config_delete(zl_state *st, const char *prefix, zl_err *err)
{
	mem_store *s = store_of(st);
	int ret = 0;

	pthread_mutex_lock(&mu);
	mem_config *c = config_find(s, prefix);
	if (!c) {
		ret = zl_err_set(err, ZL_ENOTFOUND, "no configuration for prefix \"%s\"", prefix);
		goto out;
	}
	free(c->prefix);
	free(c->json);
	size_t at = (size_t)(c - s->configs);
	memmove(c, c + 1, (s->nconfigs - at - 1) * sizeof *c);
	s->nconfigs--;
	s->config_version++;
out:
	pthread_mutex_unlock(&mu);
	return ret;
}

static int mem_config_version(zl_state *st, int64_t *version, zl_err *err)
{
	pthread_mutex_lock(&mu);
	*version = store_of(st)->config_version;
	pthread_mutex_unlock(&mu);
	return 0;
}

/* ---- lookups and copies (the caller holds mu) ---- */

static mem_batch *batch_find(mem_store *s, const char *id)
{
	for (size_t i = 0; id && i < s->nbatches; i++)
		if (strcmp(s->batches[i].b.id, id) == 0)
			return &s->batches[i];
	return NULL;
}

static zl_file_rec *file_find(mem_store *s, const char *file_id)
{
	for (size_t i = 0; file_id && i < s->nfiles; i++)
		if (strcmp(s->files[i].file_id, file_id) == 0)
			return &s->files[i];
	return NULL;
}

static int is_finished(zl_batch_status st) { return st == ZL_BATCH_COMPLETE || st == ZL_BATCH_ERROR; }

/* A caller-owned copy of a stored batch, without its files. */
static int copy_batch(const mem_batch *m, zl_batch *out, zl_err *err)
{
	int failed = 0;
	*out = m->b;
	out->files = NULL;
	out->nfiles = 0;
	out->prefix = dup_or_null(m->b.prefix, &failed);
	out->owner = dup_or_null(m->b.owner, &failed);
	out->result = dup_or_null(m->b.result, &failed);
	out->error = dup_or_null(m->b.error, &failed);
	if (!failed)
		return 0;
	zl_batch_release(out);
	return zl_err_set(err, ZL_ENOMEM, "out of memory");
}

/* A caller-owned copy of a file record, with its batch's status ("" when the batch is gone). */
static int copy_file(mem_store *s, const zl_file_rec *f, zl_file_rec *out, zl_err *err)
{
	int failed = 0;
	*out = *f;
	out->file_id = dup_or_null(f->file_id, &failed);
	out->bucket = dup_or_null(f->bucket, &failed);
	out->key = dup_or_null(f->key, &failed);
	out->etag = dup_or_null(f->etag, &failed);
	out->prefix = dup_or_null(f->prefix, &failed);
	const mem_batch *b = batch_find(s, f->batch_id);
	snprintf(out->batch_status, sizeof out->batch_status, "%s", b ? zl_batch_status_name(b->b.status) : "");
	if (!failed)
		return 0;
	zl_file_rec_release(out);
	return zl_err_set(err, ZL_ENOMEM, "out of memory");
}

/* S_BATCH_LOCK's condition: whether mask lets the batch be locked at now. */
static int lockable(const zl_batch *b, unsigned mask, int64_t now)
{
	return ((mask & ZL_LOCK_OPEN) && b->status == ZL_BATCH_OPEN) ||
	       ((mask & ZL_LOCK_EXPIRED) && b->status == ZL_BATCH_LOCKED && b->lease_until <= now) ||
	       ((mask & ZL_LOCK_FINISHED) && is_finished(b->status));
}

/* S_BATCH_LOCK's update; owner is copied. */
static int lock_batch(mem_batch *m, const char *owner, int64_t now, int64_t lease_until, zl_err *err)
{
	char *o = strdup(owner);
	if (!o)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	zl_batch *b = &m->b;
	b->attempts = is_finished(b->status) ? 1 : b->attempts + 1;
	if (is_finished(b->status))
		b->finished_at = 0;
	b->status = ZL_BATCH_LOCKED;
	free(b->owner);
	b->owner = o;
	b->locked_at = now;
	b->lease_until = lease_until;
	b->updated_at = now;
	m->was_locked = 1;
	return 0;
}

/* state_sqlite.c not_changed(): why a conditional batch update changed nothing. */
static int not_changed(mem_store *s, const char *batch_id, const char *why, zl_err *err)
{
	const mem_batch *m = batch_find(s, batch_id);
	if (!m)
		return zl_err_set(err, ZL_ENOTFOUND, "no batch \"%s\"", batch_id);
	if (m->b.owner && m->b.status == ZL_BATCH_LOCKED) {
		char t[40];
		return zl_err_set(err, ZL_EBUSY, "batch %s is locked by %s until %s", batch_id,
		                  m->b.owner, zl_time_format(m->b.lease_until, t, sizeof t));
	}
	return zl_err_set(err, ZL_EBUSY, "batch %s is %s, %s", batch_id, zl_batch_status_name(m->b.status), why);
}

/* state_sqlite.c lost(): the ZL_ELOST for an owner-conditional update that changed nothing. */
static int lost(mem_store *s, const char *batch_id, const char *owner, zl_err *err)
{
	const mem_batch *m = batch_find(s, batch_id);
	if (!m)
		return zl_err_set(err, ZL_ELOST, "%s lost the lease on batch %s: the batch was deleted", owner,
		                  batch_id);
	return zl_err_set(err, ZL_ELOST, "%s lost the lease on batch %s: it is %s%s%s", owner, batch_id,
	                  zl_batch_status_name(m->b.status), m->b.owner ? " by " : "", m->b.owner ? m->b.owner : "");
}

/* ---- files and appends ---- */

/* S_OPEN_BATCH: the newest batch of prefix that was never locked and is not full by opts. */
static mem_batch *open_batch(mem_store *s, const char *prefix, const zl_claim_opts *opts)
{
	mem_batch *best = NULL;
	for (size_t i = 0; i < s->nbatches; i++) {
		mem_batch *m = &s->batches[i];
		const zl_batch *b = &m->b;
		if (strcmp(b->prefix, prefix) != 0 || b->status != ZL_BATCH_OPEN || m->was_locked ||
		    (opts->max_files > 0 && b->file_count >= opts->max_files) ||
		    (opts->max_bytes > 0 && b->bytes >= opts->max_bytes))
			continue;
		if (!best || b->created_at > best->b.created_at ||
		    (b->created_at == best->b.created_at && strcmp(b->id, best->b.id) > 0))
			best = m;
	}
	return best;
}

/* S_BATCH_INSERT: a new open batch of prefix created at now. */
static int new_batch(mem_store *s, const char *prefix, int64_t now, mem_batch **out, zl_err *err)
{
	char *p = strdup(prefix);
	if (!p || grow((void **)&s->batches, &s->abatches, s->nbatches, sizeof *s->batches)) {
		free(p);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	mem_batch *m = &s->batches[s->nbatches++];
	memset(m, 0, sizeof *m);
	zl_uuid_v7(now, m->b.id);
	m->b.prefix = p;
	m->b.status = ZL_BATCH_OPEN;
	m->b.created_at = m->b.first_at = m->b.updated_at = now;
	*out = m;
	return 0;
}

/* S_FILE_INSERT. */
static int insert_file(mem_store *s, const char *file_id, const char *prefix, const zl_object *obj, int64_t size,
                       int64_t now, const char *batch_id, zl_err *err)
{
	if (grow((void **)&s->files, &s->afiles, s->nfiles, sizeof *s->files))
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	zl_file_rec f = { 0 };
	int failed = 0;
	f.file_id = dup_or_null(file_id, &failed);
	f.bucket = dup_or_null(obj->bucket, &failed);
	f.key = dup_or_null(obj->key, &failed);
	f.etag = dup_or_null(obj->etag, &failed);
	f.prefix = dup_or_null(prefix, &failed);
	f.size = size;
	f.received_at = now;
	snprintf(f.batch_id, sizeof f.batch_id, "%s", batch_id);
	if (failed) {
		zl_file_rec_release(&f);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	s->files[s->nfiles++] = f;
	return 0;
}

static int mem_claim_append(zl_state *st, const char *file_id, const char *prefix, const zl_object *obj,
                            int64_t now, const zl_claim_opts *opts, zl_append_result *res, zl_err *err)
{
	static const zl_claim_opts no_opts;
	mem_store *s = store_of(st);
	int64_t size = obj && obj->size > 0 ? obj->size : 0;
	int ret = 0;

	memset(res, 0, sizeof *res);
	if (!opts)
		opts = &no_opts;
	if (!file_id || !prefix || !obj || !obj->bucket || !obj->key)
		return zl_err_set(err, ZL_EINVAL, "claim needs a file id, prefix, bucket and key");
	pthread_mutex_lock(&mu);
	const zl_file_rec *claimed = file_find(s, file_id);
	if (claimed) {
		res->duplicate = 1;
		snprintf(res->batch_id, sizeof res->batch_id, "%s", claimed->batch_id);
		const mem_batch *m = batch_find(s, claimed->batch_id);
		if (m) {
			res->file_count = m->b.file_count;
			res->bytes = m->b.bytes;
			res->first_at = m->b.first_at;
		}
		goto out;
	}
	mem_batch *m = open_batch(s, prefix, opts);
	if (!m && (ret = new_batch(s, prefix, now, &m, err)))
		goto out;
	if ((ret = insert_file(s, file_id, prefix, obj, size, now, m->b.id, err)))
		goto out;
	m->b.file_count++;
	m->b.bytes += size;
	m->b.updated_at = now;
	memcpy(res->batch_id, m->b.id, sizeof res->batch_id);
	res->file_count = m->b.file_count;
	res->bytes = m->b.bytes;
	res->first_at = m->b.first_at;
	if (opts->lock_owner && ((opts->max_files > 0 && res->file_count >= opts->max_files) ||
	                         (opts->max_bytes > 0 && res->bytes >= opts->max_bytes))) {
		if ((ret = lock_batch(m, opts->lock_owner, now, opts->lease_until, err)))
			goto out;
		res->locked = 1;
	}
out:
	pthread_mutex_unlock(&mu);
	if (ret)
		memset(res, 0, sizeof *res);
	return ret;
}

static int mem_file_get(zl_state *st, const char *file_id, zl_file_rec *out, zl_err *err)
{
	mem_store *s = store_of(st);
	int ret;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&mu);
	const zl_file_rec *f = file_find(s, file_id);
	ret = f ? copy_file(s, f, out, err) : zl_err_set(err, ZL_ENOTFOUND, "no file record \"%s\"", file_id);
	pthread_mutex_unlock(&mu);
	return ret;
}

/* S_FILE_UNCOUNT then S_FILE_DELETE, or S_FILE_RETIRE when the batch is not open. */
static int mem_file_delete(zl_state *st, const char *file_id, zl_err *err)
{
	mem_store *s = store_of(st);
	int ret = 0;

	pthread_mutex_lock(&mu);
	zl_file_rec *f = file_find(s, file_id);
	if (!f) {
		ret = zl_err_set(err, ZL_ENOTFOUND, "no file record \"%s\"", file_id);
		goto out;
	}
	mem_batch *m = batch_find(s, f->batch_id);
	if (m && m->b.status == ZL_BATCH_OPEN) {
		m->b.file_count--;
		m->b.bytes -= f->size;
		zl_file_rec_release(f);
		size_t at = (size_t)(f - s->files);
		memmove(f, f + 1, (s->nfiles - at - 1) * sizeof *f);
		s->nfiles--;
		goto out;
	}
	uint8_t rnd[6] = { 0 };
	if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
		rnd[0] = (uint8_t)zl_mono_ms();
	char *id = NULL;
	if (asprintf(&id, "%s#forgotten-%02x%02x%02x%02x%02x%02x", f->file_id, rnd[0], rnd[1], rnd[2], rnd[3],
	             rnd[4], rnd[5]) < 0) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	free(f->file_id);
	f->file_id = id;
out:
	pthread_mutex_unlock(&mu);
	return ret;
}

/* ---- batches ---- */

static int mem_batch_lock(zl_state *st, const char *batch_id, unsigned mask, const char *owner, int64_t now,
                          int64_t lease_until, zl_err *err)
{
	mem_store *s = store_of(st);
	int ret;

	if (!batch_id || !owner)
		return zl_err_set(err, ZL_EINVAL, "locking a batch needs a batch id and an owner");
	pthread_mutex_lock(&mu);
	mem_batch *m = batch_find(s, batch_id);
	ret = m && lockable(&m->b, mask, now) ? lock_batch(m, owner, now, lease_until, err)
	                                      : not_changed(s, batch_id, "not lockable", err);
	pthread_mutex_unlock(&mu);
	return ret;
}

/* The batch if owner holds it (status locked, same owner), else NULL. */
static mem_batch *held_by(mem_store *s, const char *batch_id, const char *owner)
{
	mem_batch *m = batch_find(s, batch_id);
	return m && m->b.status == ZL_BATCH_LOCKED && m->b.owner && strcmp(m->b.owner, owner) == 0 ? m : NULL;
}

static int mem_batch_renew(zl_state *st, const char *batch_id, const char *owner, int64_t lease_until,
                           zl_err *err)
{
	mem_store *s = store_of(st);
	int ret = 0;

	if (!batch_id || !owner)
		return zl_err_set(err, ZL_EINVAL, "renewing a lease needs a batch id and an owner");
	pthread_mutex_lock(&mu);
	mem_batch *m = held_by(s, batch_id, owner);
	if (m) {
		m->b.lease_until = lease_until;
		s->stats.renewals++;
	} else {
		ret = lost(s, batch_id, owner, err);
		s->stats.renewals_lost++;
	}
	pthread_mutex_unlock(&mu);
	return ret;
}

/* S_NOTICE_INSERT for each notice, the batch's prefix beside it. */
static int queue_notices(mem_store *s, const zl_batch *b, const zl_notice *notices, size_t n, int64_t now,
                         zl_err *err)
{
	size_t before = s->noutbox;
	int failed = 0;
	for (size_t i = 0; i < n && !failed; i++) {
		if (grow((void **)&s->outbox, &s->aoutbox, s->noutbox, sizeof *s->outbox)) {
			failed = 1;
			break;
		}
		zl_notice_rec *r = &s->outbox[s->noutbox];
		memset(r, 0, sizeof *r);
		r->id = s->last_notice_id + 1 + (int64_t)i;
		memcpy(r->batch_id, b->id, sizeof r->batch_id);
		r->prefix = dup_or_null(b->prefix, &failed);
		r->dest = dup_or_null(notices[i].dest, &failed);
		r->event = dup_or_null(notices[i].event, &failed);
		r->subject = dup_or_null(notices[i].subject, &failed);
		r->body = dup_or_null(notices[i].body, &failed);
		r->status = ZL_NOTICE_PENDING;
		r->max_attempts = notices[i].max_attempts > 0 ? notices[i].max_attempts : 1;
		r->created_at = r->next_at = now;
		s->noutbox++;
	}
	if (failed) { /* the transaction rolls back */
		while (s->noutbox > before)
			zl_notice_rec_release(&s->outbox[--s->noutbox]);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	s->last_notice_id += (int64_t)n;
	return 0;
}

static int mem_batch_finish(zl_state *st, const char *batch_id, const char *owner, zl_batch_status status,
                            int64_t now, int64_t retry_at, const char *result, const char *error,
                            const zl_notice *notices, size_t nnotices, zl_err *err)
{
	mem_store *s = store_of(st);
	int ret = 0, failed = 0;

	if ((ret = zl_state_check_finish(batch_id, owner, status, nnotices, err)))
		return ret;
	pthread_mutex_lock(&mu);
	mem_batch *m = held_by(s, batch_id, owner);
	if (!m) {
		ret = lost(s, batch_id, owner, err);
		goto out;
	}
	zl_batch *b = &m->b;
	char *r = dup_or_null(result, &failed), *e = dup_or_null(error, &failed);
	if (failed || (ret = queue_notices(s, b, notices, nnotices, now, err))) {
		free(r);
		free(e);
		ret = failed ? zl_err_set(err, ZL_ENOMEM, "out of memory") : ret;
		goto out;
	}
	b->status = status;
	free(b->owner);
	b->owner = NULL;
	if (status != ZL_BATCH_LOCKED)
		b->finished_at = now;
	b->lease_until = status == ZL_BATCH_LOCKED ? retry_at : 0;
	free(b->result);
	free(b->error);
	b->result = r;
	b->error = e;
	b->updated_at = now;
out:
	pthread_mutex_unlock(&mu);
	return ret;
}

static int cmp_ids(const void *a, const void *b) { return strcmp(a, b); }

static int mem_batch_resolve(zl_state *st, const char *id_prefix, char out[ZL_UUID_LEN], zl_err *err)
{
	mem_store *s = store_of(st);
	size_t n = strlen(id_prefix), found = 0;
	char lower[ZL_UUID_LEN], (*ids)[ZL_UUID_LEN] = NULL;
	int ret = 0;

	out[0] = '\0';
	if (n == 0 || n >= ZL_UUID_LEN || strspn(id_prefix, "0123456789abcdefABCDEF-") != n)
		return zl_err_set(err, ZL_ENOTFOUND, "no batch \"%s\"", id_prefix);
	if (n < 4)
		return zl_err_set(err, ZL_EINVAL, "batch id \"%s\" is too short: give at least 4 characters", id_prefix);
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)(id_prefix[i] >= 'A' && id_prefix[i] <= 'F' ? id_prefix[i] + 32 : id_prefix[i]);
	pthread_mutex_lock(&mu);
	if (s->nbatches && !(ids = calloc(s->nbatches, sizeof *ids))) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < s->nbatches; i++)
		if (strncmp(s->batches[i].b.id, lower, n) == 0)
			memcpy(ids[found++], s->batches[i].b.id, ZL_UUID_LEN);
	if (found > 1)
		qsort(ids, found, sizeof *ids, cmp_ids);
	if (found == 1)
		memcpy(out, ids[0], ZL_UUID_LEN);
	else if (found == 0)
		ret = zl_err_set(err, ZL_ENOTFOUND, "no batch \"%s\"", id_prefix);
	else
		ret = zl_err_set(err, ZL_EINVAL, "batch id \"%s\" is ambiguous: %s, %s%s", id_prefix, ids[0], ids[1],
		                 found > 2 ? ", ..." : "");
out:
	pthread_mutex_unlock(&mu);
	free(ids);
	return ret;
}

static int mem_batch_get(zl_state *st, const char *batch_id, zl_batch *out, zl_err *err)
{
	mem_store *s = store_of(st);
	int ret;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&mu);
	const mem_batch *m = batch_find(s, batch_id);
	if (!m) {
		ret = zl_err_set(err, ZL_ENOTFOUND, "no batch \"%s\"", batch_id);
		goto out;
	}
	if ((ret = copy_batch(m, out, err)))
		goto out;
	size_t n = 0;
	for (size_t i = 0; i < s->nfiles; i++)
		n += strcmp(s->files[i].batch_id, batch_id) == 0;
	if (n && !(out->files = calloc(n, sizeof *out->files))) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < s->nfiles && ret == 0; i++)
		if (strcmp(s->files[i].batch_id, batch_id) == 0 &&
		    (ret = copy_file(s, &s->files[i], &out->files[out->nfiles], err)) == 0)
			out->nfiles++;
out:
	pthread_mutex_unlock(&mu);
	if (ret)
		zl_batch_release(out);
	return ret;
}

/* S_BATCH_LIST's order: created_at DESC, id DESC. */
static int newest_first(const void *pa, const void *pb)
{
	const zl_batch *a = pa, *b = pb;
	if (a->created_at != b->created_at)
		return a->created_at > b->created_at ? -1 : 1;
	return -strcmp(a->id, b->id);
}

static int matches(const zl_batch *b, const zl_batch_filter *f)
{
	return (!f->status_mask || (f->status_mask & ZL_STATUS_BIT(b->status))) &&
	       (!f->prefix || strcmp(b->prefix, f->prefix) == 0) && (!f->since || b->created_at >= f->since) &&
	       (!f->until || b->created_at <= f->until);
}

static int mem_batch_list(zl_state *st, const zl_batch_filter *f, zl_batch **out, size_t *n, zl_err *err)
{
	static const zl_batch_filter all;
	mem_store *s = store_of(st);
	zl_batch *v = NULL;
	size_t nv = 0;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!f)
		f = &all;
	pthread_mutex_lock(&mu);
	if (!(v = calloc(s->nbatches + 1, sizeof *v))) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < s->nbatches; i++)
		if (matches(&s->batches[i].b, f)) {
			if ((ret = copy_batch(&s->batches[i], &v[nv], err)))
				goto out;
			nv++;
		}
out:
	pthread_mutex_unlock(&mu);
	if (ret) {
		zl_batch_list_free(v, nv);
		return ret;
	}
	qsort(v, nv, sizeof *v, newest_first);
	while (f->limit && nv > f->limit)
		zl_batch_release(&v[--nv]);
	*out = v;
	*n = nv;
	return 0;
}

/* S_BATCH_UNLOCK: with owner only from that owner; else with force always; else only when no
 * owner holds a live lease. */
static int mem_batch_unlock(zl_state *st, const char *batch_id, int64_t now, const char *owner, int force,
                            zl_err *err)
{
	mem_store *s = store_of(st);
	int ret = 0;

	pthread_mutex_lock(&mu);
	mem_batch *m = batch_find(s, batch_id);
	zl_batch *b = m ? &m->b : NULL;
	int allowed = b && b->status == ZL_BATCH_LOCKED &&
	              (owner ? b->owner && strcmp(b->owner, owner) == 0
	                     : force || !b->owner || b->lease_until <= now);
	if (!allowed) {
		ret = not_changed(s, batch_id, "not locked", err);
		goto out;
	}
	b->status = ZL_BATCH_OPEN;
	free(b->owner);
	b->owner = NULL;
	b->lease_until = 0;
	b->updated_at = now;
out:
	pthread_mutex_unlock(&mu);
	return ret;
}

static int mem_batch_delete(zl_state *st, const char *batch_id, zl_err *err)
{
	mem_store *s = store_of(st);
	int ret = 0;

	pthread_mutex_lock(&mu);
	mem_batch *m = batch_find(s, batch_id);
	if (!m || !is_finished(m->b.status)) {
		ret = not_changed(s, batch_id, "not finished", err);
		goto out;
	}
	zl_batch_release(&m->b);
	size_t at = (size_t)(m - s->batches);
	memmove(m, m + 1, (s->nbatches - at - 1) * sizeof *m);
	s->nbatches--;
	size_t kept = 0; /* S_NOTICE_FORGET */
	for (size_t i = 0; i < s->noutbox; i++)
		if (strcmp(s->outbox[i].batch_id, batch_id) == 0 && s->outbox[i].status != ZL_NOTICE_PENDING)
			zl_notice_rec_release(&s->outbox[i]);
		else
			s->outbox[kept++] = s->outbox[i];
	s->noutbox = kept;
out:
	pthread_mutex_unlock(&mu);
	return ret;
}

/* ---- the outbox ---- */

static zl_notice_rec *notice_find(mem_store *s, int64_t id)
{
	for (size_t i = 0; i < s->noutbox; i++)
		if (s->outbox[i].id == id)
			return &s->outbox[i];
	return NULL;
}

/* A caller-owned copy of an outbox row. */
static int copy_notice(const zl_notice_rec *n, zl_notice_rec *out, zl_err *err)
{
	int failed = 0;
	*out = *n;
	out->prefix = dup_or_null(n->prefix, &failed);
	out->dest = dup_or_null(n->dest, &failed);
	out->event = dup_or_null(n->event, &failed);
	out->subject = dup_or_null(n->subject, &failed);
	out->body = dup_or_null(n->body, &failed);
	out->owner = dup_or_null(n->owner, &failed);
	out->last_error = dup_or_null(n->last_error, &failed);
	if (!failed)
		return 0;
	zl_notice_rec_release(out);
	return zl_err_set(err, ZL_ENOMEM, "out of memory");
}

/* S_NOTICE_CLAIM's condition: pending, due, held by no live lease. */
static int claimable(const zl_notice_rec *n, int64_t now, const char *batch_id)
{
	return n->status == ZL_NOTICE_PENDING && n->next_at <= now && (!n->owner || n->lease_until <= now) &&
	       (!batch_id || strcmp(n->batch_id, batch_id) == 0);
}

static int mem_notice_claim(zl_state *st, const char *owner, int64_t now, int64_t lease_until, const char *batch_id,
                            zl_notice_rec *out, int *claimed, zl_err *err)
{
	mem_store *s = store_of(st);
	zl_notice_rec *best = NULL;
	char *o = NULL;
	int ret = 0;

	memset(out, 0, sizeof *out);
	*claimed = 0;
	if (!owner)
		return zl_err_set(err, ZL_EINVAL, "claiming a notification needs an owner");
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < s->noutbox; i++) { /* ORDER BY next_at, id */
		zl_notice_rec *n = &s->outbox[i];
		if (claimable(n, now, batch_id) && (!best || n->next_at < best->next_at))
			best = n;
	}
	if (!best)
		goto out;
	if (!(o = strdup(owner))) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	free(best->owner);
	best->owner = o;
	best->lease_until = lease_until;
	best->attempts++;
	if ((ret = copy_notice(best, out, err)) == 0)
		*claimed = 1;
out:
	pthread_mutex_unlock(&mu);
	return ret;
}

static int mem_notice_settle(zl_state *st, int64_t id, const char *owner, zl_notice_status status, int64_t now,
                             int64_t next_at, const char *error, zl_err *err)
{
	mem_store *s = store_of(st);
	int ret = 0, failed = 0;

	if (!owner || (unsigned)status >= ZL_NOTICE_NSTATUS)
		return zl_err_set(err, ZL_EINVAL, "settling notification %lld needs an owner and a status", (long long)id);
	pthread_mutex_lock(&mu);
	zl_notice_rec *n = notice_find(s, id);
	if (!n || n->status != ZL_NOTICE_PENDING || !n->owner || strcmp(n->owner, owner) != 0) {
		if (!n)
			ret = zl_err_set(err, ZL_ELOST, "%s lost notification %lld: it was deleted", owner, (long long)id);
		else
			ret = zl_err_set(err, ZL_ELOST, "%s lost notification %lld: it is %s%s%s", owner, (long long)id,
			                 zl_notice_status_name(n->status), n->owner ? " by " : "", n->owner ? n->owner : "");
		goto out;
	}
	if (status != ZL_NOTICE_SENT) {
		char *e = dup_or_null(error, &failed);
		if (failed) {
			ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
			goto out;
		}
		free(n->last_error);
		n->last_error = e;
	}
	if (status == ZL_NOTICE_PENDING)
		n->next_at = next_at;
	if (status == ZL_NOTICE_SENT)
		n->sent_at = now;
	n->status = status;
	free(n->owner);
	n->owner = NULL;
	n->lease_until = 0;
out:
	pthread_mutex_unlock(&mu);
	return ret;
}

static int mem_notice_list(zl_state *st, const zl_notice_filter *f, zl_notice_rec **out, size_t *n, zl_err *err)
{
	static const zl_notice_filter all;
	mem_store *s = store_of(st);
	zl_notice_rec *v = NULL;
	size_t nv = 0;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!f)
		f = &all;
	pthread_mutex_lock(&mu);
	if (!(v = calloc(s->noutbox + 1, sizeof *v))) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = s->noutbox; i-- > 0 && (!f->limit || nv < f->limit);) { /* newest first */
		const zl_notice_rec *r = &s->outbox[i];
		if ((f->status_mask && !(f->status_mask & ZL_STATUS_BIT(r->status))) ||
		    (f->batch_id && strcmp(r->batch_id, f->batch_id) != 0))
			continue;
		if ((ret = copy_notice(r, &v[nv], err)))
			goto out;
		nv++;
	}
out:
	pthread_mutex_unlock(&mu);
	if (ret) {
		zl_notice_list_free(v, nv);
		return ret;
	}
	*out = v;
	*n = nv;
	return 0;
}

/* S_NOTICE_REQUEUE_ONE / _FAILED. */
static void requeue(zl_notice_rec *n, int64_t now)
{
	n->status = ZL_NOTICE_PENDING;
	n->attempts = 0;
	n->next_at = now;
	free(n->owner);
	n->owner = NULL;
	n->lease_until = 0;
}

static int mem_notice_requeue(zl_state *st, int64_t id, int64_t now, size_t *count, zl_err *err)
{
	mem_store *s = store_of(st);
	int ret = 0;
	char t[40];

	*count = 0;
	pthread_mutex_lock(&mu);
	if (!id) {
		for (size_t i = 0; i < s->noutbox; i++)
			if (s->outbox[i].status == ZL_NOTICE_FAILED) {
				requeue(&s->outbox[i], now);
				(*count)++;
			}
		goto out;
	}
	zl_notice_rec *n = notice_find(s, id);
	if (!n)
		ret = zl_err_set(err, ZL_ENOTFOUND, "no notification %lld", (long long)id);
	else if (n->status == ZL_NOTICE_SENT)
		ret = zl_err_set(err, ZL_EBUSY, "notification %lld was sent at %s", (long long)id,
		                 zl_time_format(n->sent_at, t, sizeof t));
	else if (n->status == ZL_NOTICE_PENDING && n->owner && n->lease_until > now)
		ret = zl_err_set(err, ZL_EBUSY, "notification %lld is being sent by %s (lease until %s)", (long long)id,
		                 n->owner, zl_time_format(n->lease_until, t, sizeof t));
	else {
		requeue(n, now);
		*count = 1;
	}
out:
	pthread_mutex_unlock(&mu);
	return ret;
}

/* ---- copying a store ---- */

static int by_file_id(const void *a, const void *b)
{
	return strcmp((*(const zl_file_rec *const *)a)->file_id, (*(const zl_file_rec *const *)b)->file_id);
}

/* S_FILE_SCAN: file_id > after, ordered by file_id, at most limit. */
static int mem_file_scan(zl_state *st, const char *after, size_t limit, zl_file_rec **out, size_t *n, zl_err *err)
{
	mem_store *s = store_of(st);
	const zl_file_rec **sel = NULL;
	zl_file_rec *v = NULL;
	size_t nsel = 0, nv = 0;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (limit == 0)
		return zl_err_set(err, ZL_EINVAL, "a file scan needs a page size");
	if (!after)
		after = "";
	pthread_mutex_lock(&mu);
	if (!(sel = calloc(s->nfiles + 1, sizeof *sel)) || !(v = calloc(s->nfiles + 1, sizeof *v))) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < s->nfiles; i++)
		if (strcmp(s->files[i].file_id, after) > 0)
			sel[nsel++] = &s->files[i];
	qsort(sel, nsel, sizeof *sel, by_file_id);
	for (size_t i = 0; i < nsel && nv < limit; i++) {
		if ((ret = copy_file(s, sel[i], &v[nv], err)))
			goto out;
		v[nv++].batch_status[0] = '\0';
	}
out:
	pthread_mutex_unlock(&mu);
	free(sel);
	if (ret) {
		zl_file_list_free(v, nv);
		return ret;
	}
	*out = v;
	*n = nv;
	return 0;
}

/* S_FILE_BATCH, then S_FILE_ROW or S_FILE_INSERT: appended, so batch_get lists it last. */
static int mem_file_import(zl_state *st, const zl_file_rec *f, zl_err *err)
{
	mem_store *s = store_of(st);
	int ret = 0;

	if (!f->file_id || !f->bucket || !f->key || !f->prefix)
		return zl_err_set(err, ZL_EINVAL, "a file record needs a file id, bucket, key and prefix");
	pthread_mutex_lock(&mu);
	const zl_file_rec *have = file_find(s, f->file_id);
	if (have) {
		ret = zl_file_rec_same(have, f) ? 0 : zl_state_file_conflict(have, f, err);
		goto out;
	}
	if (grow((void **)&s->files, &s->afiles, s->nfiles, sizeof *s->files) ||
	    copy_file(s, f, &s->files[s->nfiles], err)) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	s->files[s->nfiles++].batch_status[0] = '\0';
out:
	pthread_mutex_unlock(&mu);
	return ret;
}

/* S_BATCH_IMPORT, or S_BATCH_STAMP when the id is taken. */
static int mem_batch_import(zl_state *st, const zl_batch *b, zl_err *err)
{
	mem_store *s = store_of(st);
	int ret = 0;

	if (!b->id[0] || !b->prefix || (unsigned)b->status >= ZL_BATCH_NSTATUS)
		return zl_err_set(err, ZL_EINVAL, "a batch needs an id, a prefix and a status");
	pthread_mutex_lock(&mu);
	const mem_batch *have = batch_find(s, b->id);
	if (have) {
		if (have->b.status != b->status || have->b.updated_at != b->updated_at)
			ret = zl_state_batch_conflict(b->id, have->b.status, have->b.updated_at, b, err);
		goto out;
	}
	if (grow((void **)&s->batches, &s->abatches, s->nbatches, sizeof *s->batches)) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	const mem_batch given = { .b = *b };
	mem_batch m = { .was_locked = b->locked_at != 0 };
	if ((ret = copy_batch(&given, &m.b, err)))
		goto out;
	s->batches[s->nbatches++] = m;
out:
	pthread_mutex_unlock(&mu);
	return ret;
}

/* S_NOTICE_IMPORT: under the next id. */
static int mem_notice_import(zl_state *st, const zl_notice_rec *n, zl_err *err)
{
	mem_store *s = store_of(st);
	int ret = 0;

	if (!n->batch_id[0] || !n->prefix || !n->dest || !n->event || !n->subject || !n->body ||
	    (unsigned)n->status >= ZL_NOTICE_NSTATUS)
		return zl_err_set(err, ZL_EINVAL, "a notification needs a batch, prefix, destination, event, subject,"
		                  " body and status");
	pthread_mutex_lock(&mu);
	if (grow((void **)&s->outbox, &s->aoutbox, s->noutbox, sizeof *s->outbox)) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = copy_notice(n, &s->outbox[s->noutbox], err)))
		goto out;
	s->outbox[s->noutbox++].id = ++s->last_notice_id;
out:
	pthread_mutex_unlock(&mu);
	return ret;
}

const zl_state_ops zl_state_mem_ops = {
	.scheme = "mem",
	.open = mem_open,
	.close = mem_close,
	.config_put = mem_config_put,
	.config_get = mem_config_get,
	.config_list = mem_config_list,
	.config_replace = mem_config_replace,
	.config_delete = mem_config_delete,
	.config_version = mem_config_version,
	.claim_append = mem_claim_append,
	.file_get = mem_file_get,
	.file_delete = mem_file_delete,
	.batch_lock = mem_batch_lock,
	.batch_renew = mem_batch_renew,
	.batch_finish = mem_batch_finish,
	.batch_resolve = mem_batch_resolve,
	.batch_get = mem_batch_get,
	.batch_list = mem_batch_list,
	.batch_unlock = mem_batch_unlock,
	.batch_delete = mem_batch_delete,
	.notice_claim = mem_notice_claim,
	.notice_settle = mem_notice_settle,
	.notice_list = mem_notice_list,
	.notice_requeue = mem_notice_requeue,
	.file_scan = mem_file_scan,
	.file_import = mem_file_import,
	.batch_import = mem_batch_import,
	.notice_import = mem_notice_import,
};
