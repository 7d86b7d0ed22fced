#include "core/config_secrets.h"
#include "core/engine.h"
#include "core/policy.h"
#include "core/route.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static const char *const outcome_names[] = { "queued", "duplicate", "filtered", "unrouted" };

const char *zl_ingest_outcome_name(zl_ingest_outcome o) { return outcome_names[o]; }

void zl_tickets_init(zl_tickets *t) { memset(t, 0, sizeof *t); }

void zl_tickets_release(zl_tickets *t)
{
	free(t->v);
	zl_tickets_init(t);
}

int zl_tickets_push(zl_tickets *t, const zl_ticket *k)
{
	if (t->n == t->alloc) {
		size_t n = t->alloc ? t->alloc * 2 : 8;
		zl_ticket *v = realloc(t->v, n * sizeof *v);
		if (!v)
			return ZL_ENOMEM;
		t->v = v;
		t->alloc = n;
	}
	t->v[t->n++] = *k;
	return 0;
}

static void free_configs(zl_engine *e)
{
	for (size_t i = 0; i < e->nconfigs; i++)
		zl_config_free(e->configs[i]);
	free(e->configs);
	e->configs = NULL;
	e->nconfigs = 0;
}

int zl_engine_open(zl_engine *e, const char *state_url, zl_store *store, zl_secrets *secrets, zl_err *err)
{
	memset(e, 0, sizeof *e);
	e->state_url = state_url;
	e->store = store;
	e->secrets = secrets;
	e->config_version = -1;
	char host[48] = "localhost";
	gethostname(host, sizeof host - 1);
	snprintf(e->host_pid, sizeof e->host_pid, "%s:%d", host, (int)getpid());
	int rc = zl_state_open(state_url, &e->st, err);
	if (rc == 0 && (rc = zl_engine_refresh(e, err)))
		zl_engine_close(e);
	return rc;
}

void zl_engine_close(zl_engine *e)
{
	free_configs(e);
	zl_state_close(e->st);
	e->st = NULL;
}

/* Owner ids of one process: a random start, then counting up, so each is new without a system
 * call (host and pid tell processes apart; the random start, a process reusing a pid). */
static _Atomic uint32_t next_owner;
static pthread_once_t next_owner_once = PTHREAD_ONCE_INIT;

static void seed_owner(void)
{
	uint32_t r = 0;
	if (getrandom(&r, sizeof r, 0) != sizeof r)
		r = (uint32_t)zl_mono_ms() ^ (uint32_t)getpid();
	atomic_store(&next_owner, r);
}

void zl_engine_new_owner(const zl_engine *e, char owner[ZL_OWNER_LEN])
{
	pthread_once(&next_owner_once, seed_owner);
	/* "%s:%08x" of host_pid and the count, cut to ZL_OWNER_LEN as snprintf would (a claim makes one) */
	char id[sizeof e->host_pid + 10];
	uint32_t v = atomic_fetch_add(&next_owner, 1);
	size_t n = strnlen(e->host_pid, sizeof e->host_pid - 1);
	memcpy(id, e->host_pid, n);
	id[n++] = ':';
	for (int i = 7; i >= 0; i--, v >>= 4)
		id[n + (size_t)i] = "0123456789abcdef"[v & 15];
	n += 8;
	if (n > ZL_OWNER_LEN - 1)
		n = ZL_OWNER_LEN - 1;
	memcpy(owner, id, n);
	owner[n] = '\0';
}

/* A configuration stored by a zload that kept secrets in plain text: seal them and store it again,
 * unless it changed meanwhile (then the next reload sees the new one). */
static void seal_stored(zl_engine *e, const zl_config *c, const char *stored)
{
	json_t *copy = json_deep_copy(c->json);
	char *text = NULL;
	int sealed = 0;
	zl_err err = { 0 };
	int rc = copy ? zl_config_seal(c, e->secrets, copy, &sealed, &err) : zl_err_set(&err, ZL_ENOMEM, "out of memory");
	if (rc == 0 && sealed && !(text = json_dumps(copy, JSON_COMPACT | JSON_PRESERVE_ORDER)))
		rc = zl_err_set(&err, ZL_ENOMEM, "out of memory");
	if (rc == 0 && sealed)
		rc = e->st->ops->config_replace(e->st, c->prefix, stored, text, &err);
	if (rc == 0 && sealed)
		ZL_LOG(ZL_INFO, "sealed the plain secrets of a configuration", ZL_S("prefix", c->prefix),
		       ZL_I("secrets", sealed), ZL_S("provider", zl_secrets_name(e->secrets)));
	else if (rc && rc != ZL_EBUSY)
		ZL_LOG(ZL_WARN, "could not seal the plain secrets of a configuration", ZL_S("prefix", c->prefix),
		       ZL_S("error", err.msg));
	free(text);
	json_decref(copy);
}

int zl_engine_reload(zl_engine *e, zl_err *err)
{
	zl_strvec prefixes, jsons;
	zl_strvec_init(&prefixes);
	zl_strvec_init(&jsons);
	zl_config **configs = NULL;
	size_t n = 0;
	int64_t version = 0;
	/* The version first: a change made while we read is seen by the next refresh. */
	int rc = e->st->ops->config_version(e->st, &version, err);
	if (rc || (rc = e->st->ops->config_list(e->st, &prefixes, &jsons, err)))
		goto out;
	configs = calloc(jsons.n + 1, sizeof *configs);
	if (!configs) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < jsons.n; i++) {
		zl_err cerr;
		if (zl_config_parse(jsons.v[i], &configs[n], &cerr) == 0) {
			if (e->secrets)
				seal_stored(e, configs[n], jsons.v[i]);
			n++;
		} else
			ZL_LOG(ZL_WARN, "stored configuration is invalid, skipped", ZL_S("prefix", prefixes.v[i]),
			       ZL_S("error", cerr.msg));
	}
	free_configs(e);
	e->configs = configs;
	e->nconfigs = n;
	e->config_version = version;
	e->loaded_mono = zl_mono_ms();
	configs = NULL;
out:
	free(configs);
	zl_strvec_release(&prefixes);
	zl_strvec_release(&jsons);
	return rc;
}

/* Configurations are read again at least this often, for edits made by other tools (the
 * original loader's scripts write DynamoDB items without zload's version). */
#define CONFIG_MAX_AGE_MS 60000

int zl_engine_refresh(zl_engine *e, zl_err *err)
{
	int64_t version;
	int rc = e->st->ops->config_version(e->st, &version, err);
	if (rc == 0 && (version != e->config_version || zl_mono_ms() - e->loaded_mono >= CONFIG_MAX_AGE_MS))
		rc = zl_engine_reload(e, err);
	return rc;
}

const zl_config *zl_engine_config(const zl_engine *e, const char *prefix)
{
	for (size_t i = 0; i < e->nconfigs; i++)
		if (strcmp(e->configs[i]->prefix, prefix) == 0)
			return e->configs[i];
	return NULL;
}

char *zl_file_id(const zl_config *c, const char *bucket, const char *key, const char *etag)
{
	/* BUCKET/KEY, or BUCKET/KEY@ETAG */
	int with_etag = c->dedupe_etag && etag;
	size_t b = strlen(bucket), k = strlen(key), e = with_etag ? strlen(etag) : 0;
	char *id = malloc(b + 1 + k + (with_etag ? 1 + e : 0) + 1), *p = id;
	if (!id)
		return NULL;
	memcpy(p, bucket, b);
	p += b;
	*p++ = '/';
	memcpy(p, key, k);
	p += k;
	if (with_etag) {
		*p++ = '@';
		memcpy(p, etag, e);
		p += e;
	}
	*p = '\0';
	return id;
}

/* A refused object (ZL_EINVAL: e.g. a link out of a dir: store) fails the record. Events may lack
 * the size, and key+etag dedupe needs the etag: ask the store; its other errors only log. */
static int complete_metadata(zl_engine *e, const zl_config *c, zl_object *o, zl_object *head, zl_err *err)
{
	int rc = zl_store_check(e->store, o->bucket, o->key, err);
	if (rc || !e->store || (o->size >= 0 && (!c->dedupe_etag || o->etag)))
		return rc;
	zl_err herr;
	rc = e->store->ops->head(e->store, o->bucket, o->key, head, &herr);
	if (rc == 0) {
		o->size = o->size < 0 ? head->size : o->size;
		o->etag = o->etag ? o->etag : head->etag;
		return 0;
	}
	if (rc == ZL_EINVAL)
		return zl_err_set(err, rc, "%s", herr.msg);
	ZL_LOG(ZL_WARN, "cannot read object metadata", ZL_S("prefix", c->prefix), ZL_S("key", o->key),
	       ZL_S("error", herr.msg));
	return 0;
}

int zl_engine_ingest(zl_engine *e, const zl_object *obj, int64_t now, int lock, zl_ingest_result *res,
                     zl_err *err)
{
	memset(res, 0, sizeof *res);
	const zl_config *c = zl_route(e->configs, e->nconfigs, obj->bucket, obj->key);
	if (!c) {
		res->outcome = ZL_INGEST_UNROUTED;
		ZL_LOG(ZL_DEBUG, "no configuration for object", ZL_S("bucket", obj->bucket), ZL_S("key", obj->key));
		return 0;
	}
	size_t plen = strnlen(c->prefix, sizeof res->prefix - 1); /* cut as snprintf would */
	memcpy(res->prefix, c->prefix, plen);
	res->prefix[plen] = '\0';
	if (!zl_config_accepts(c, zl_key_basename(obj->key))) {
		res->outcome = ZL_INGEST_FILTERED;
		ZL_LOG(ZL_DEBUG, "file name filtered out", ZL_S("prefix", c->prefix), ZL_S("key", obj->key));
		return 0;
	}
	zl_object o = *obj;
	zl_object head = { 0 };
	char *file_id = NULL;
	int rc = complete_metadata(e, c, &o, &head, err);
	if (rc)
		goto out;
	if (!(file_id = zl_file_id(c, o.bucket, o.key, o.etag))) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	zl_claim_opts opts = { .max_files = c->batch_size, .max_bytes = c->batch_size_bytes };
	if (lock) {
		zl_engine_new_owner(e, res->ticket.owner);
		opts.lock_owner = res->ticket.owner;
		opts.lease_until = now + c->lease_ms;
	}
	zl_append_result ar;
	if ((rc = e->st->ops->claim_append(e->st, file_id, c->prefix, &o, now, &opts, &ar, err)))
		goto out;
	memcpy(res->batch_id, ar.batch_id, sizeof res->batch_id);
	if (ar.duplicate) {
		res->outcome = ZL_INGEST_DUPLICATE;
		ZL_LOG(e->quiet_duplicates ? ZL_DEBUG : ZL_INFO, "duplicate event ignored", ZL_S("batch", ar.batch_id),
		       ZL_S("prefix", c->prefix), ZL_S("file", file_id));
		goto out;
	}
	res->outcome = ZL_INGEST_QUEUED;
	zl_due_reason due = zl_batch_due(c, ar.file_count, ar.bytes, ar.first_at, now);
	res->due = due ? zl_due_reason_name(due) : NULL;
	ZL_LOG(ZL_DEBUG, "file queued", ZL_S("batch", ar.batch_id), ZL_S("prefix", c->prefix),
	       ZL_S("file", file_id), ZL_I("files", ar.file_count), ZL_I("bytes", ar.bytes));
	if (ar.locked) {
		res->locked = 1;
		memcpy(res->ticket.batch_id, ar.batch_id, sizeof res->ticket.batch_id);
		ZL_LOG(ZL_INFO, "batch locked", ZL_S("batch", ar.batch_id), ZL_S("prefix", c->prefix),
		       ZL_S("reason", res->due ? res->due : "full"), ZL_S("owner", res->ticket.owner));
	}
out:
	free(file_id);
	zl_object_release(&head);
	return rc;
}

int zl_engine_lock(zl_engine *e, const char *batch_id, const char *prefix, unsigned mask, int64_t now,
                   const char *reason, zl_ticket *ticket, zl_err *err)
{
	const zl_config *c = zl_engine_config(e, prefix);
	int64_t lease = c ? c->lease_ms : 60000;
	zl_ticket k;
	snprintf(k.batch_id, sizeof k.batch_id, "%s", batch_id);
	zl_engine_new_owner(e, k.owner);
	int rc = e->st->ops->batch_lock(e->st, batch_id, mask, k.owner, now, now + lease, err);
	if (rc == 0) {
		ZL_LOG(ZL_INFO, "batch locked", ZL_S("batch", batch_id), ZL_S("prefix", prefix), ZL_S("reason", reason),
		       ZL_S("owner", k.owner));
		*ticket = k;
	}
	return rc;
}

int zl_engine_sweep(zl_engine *e, int64_t now, zl_tickets *locked, zl_err *err)
{
	zl_batch_filter f = { .status_mask = ZL_STATUS_BIT(ZL_BATCH_OPEN) | ZL_STATUS_BIT(ZL_BATCH_LOCKED) };
	zl_batch *v = NULL;
	size_t n = 0;
	int rc = e->st->ops->batch_list(e->st, &f, &v, &n, err);
	if (rc)
		return rc;
	for (size_t i = n; i-- > 0;) { /* oldest first */
		zl_batch *b = &v[i];
		const zl_config *c = zl_engine_config(e, b->prefix);
		unsigned mask = 0;
		const char *why = NULL;
		if (b->status == ZL_BATCH_OPEN && c) {
			zl_due_reason r = zl_open_batch_due(c, b, now);
			mask = r ? ZL_LOCK_OPEN : 0;
			why = zl_due_reason_name(r);
		} else if (b->status == ZL_BATCH_LOCKED && b->lease_until <= now) {
			mask = ZL_LOCK_EXPIRED;
			why = b->owner ? "lease expired" : "retry due";
		}
		if (!mask)
			continue;
		zl_err lerr;
		zl_ticket k;
		int lrc = zl_engine_lock(e, b->id, b->prefix, mask, now, why, &k, &lerr);
		if (lrc == ZL_EBUSY || lrc == ZL_ENOTFOUND)
			continue; /* another loader got there first */
		if (lrc) {
			rc = zl_err_set(err, lrc, "%s", lerr.msg);
			break;
		}
		if ((rc = zl_tickets_push(locked, &k))) {
			rc = zl_err_set(err, rc, "out of memory");
			break;
		}
	}
	zl_batch_list_free(v, n);
	return rc;
}

static void describe_stuck(zl_strvec *stuck, const zl_batch *b, const zl_config *c)
{
	char line[512];
	if (!c)
		snprintf(line, sizeof line, "%s (prefix %s, %lld files): no configuration for the prefix", b->id,
		         b->prefix, (long long)b->file_count);
	else
		snprintf(line, sizeof line, "%s (prefix %s): %lld of batchSize %lld files and no batchTimeoutSecs",
		         b->id, b->prefix, (long long)b->file_count, (long long)c->batch_size);
	zl_strvec_push(stuck, line);
}

int zl_engine_progress(zl_engine *e, int64_t now, int64_t *pending, zl_strvec *stuck, zl_err *err)
{
	zl_batch_filter f = { .status_mask = ZL_STATUS_BIT(ZL_BATCH_OPEN) | ZL_STATUS_BIT(ZL_BATCH_LOCKED) };
	zl_batch *v = NULL;
	size_t n = 0;
	*pending = 0;
	int rc = e->st->ops->batch_list(e->st, &f, &v, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const zl_batch *b = &v[i];
		const zl_config *c = zl_engine_config(e, b->prefix);
		if (b->status == ZL_BATCH_LOCKED)
			(*pending)++;
		else if (b->file_count == 0)
			continue;
		else if (c && (zl_open_batch_due(c, b, now) || zl_open_batch_ages(c, b)))
			(*pending)++;
		else if (stuck)
			describe_stuck(stuck, b, c);
	}
	zl_batch_list_free(v, n);
	return rc;
}
