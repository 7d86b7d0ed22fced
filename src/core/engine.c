#include "core/engine.h"
#include "core/policy.h"
#include "core/route.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const outcome_names[] = { "queued", "duplicate", "filtered", "unrouted" };

const char *zl_ingest_outcome_name(zl_ingest_outcome o) { return outcome_names[o]; }

static void free_configs(zl_engine *e)
{
	for (size_t i = 0; i < e->nconfigs; i++)
		zl_config_free(e->configs[i]);
	free(e->configs);
	e->configs = NULL;
	e->nconfigs = 0;
}

int zl_engine_open(zl_engine *e, const char *state_url, zl_store *store, zl_err *err)
{
	memset(e, 0, sizeof *e);
	e->state_url = state_url;
	e->store = store;
	char host[64] = "localhost", id[ZL_UUID_LEN];
	gethostname(host, sizeof host - 1);
	zl_uuid_v7(zl_now_ms(), id);
	snprintf(e->owner, sizeof e->owner, "%s:%d:%.8s", host, (int)getpid(), id + 28);
	int rc = zl_state_open(state_url, &e->st, err);
	if (rc == 0 && (rc = zl_engine_reload(e, err)))
		zl_engine_close(e);
	return rc;
}

void zl_engine_close(zl_engine *e)
{
	free_configs(e);
	zl_state_close(e->st);
	e->st = NULL;
}

int zl_engine_reload(zl_engine *e, zl_err *err)
{
	zl_strvec prefixes, jsons;
	zl_strvec_init(&prefixes);
	zl_strvec_init(&jsons);
	zl_config **configs = NULL;
	size_t n = 0;
	int rc = e->st->ops->config_list(e->st, &prefixes, &jsons, err);
	if (rc)
		goto out;
	configs = calloc(jsons.n + 1, sizeof *configs);
	if (!configs) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < jsons.n; i++) {
		zl_err cerr;
		if (zl_config_parse(jsons.v[i], &configs[n], &cerr) == 0)
			n++;
		else
			ZL_LOG(ZL_WARN, "stored configuration is invalid, skipped", ZL_S("prefix", prefixes.v[i]),
			       ZL_S("error", cerr.msg));
	}
	free_configs(e);
	e->configs = configs;
	e->nconfigs = n;
	configs = NULL;
out:
	free(configs);
	zl_strvec_release(&prefixes);
	zl_strvec_release(&jsons);
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
	char *id = NULL;
	int n = c->dedupe_etag && etag ? asprintf(&id, "%s/%s@%s", bucket, key, etag)
	                               : asprintf(&id, "%s/%s", bucket, key);
	return n < 0 ? NULL : id;
}

int zl_engine_ingest(zl_engine *e, const zl_object *obj, int64_t now, zl_ingest_result *res,
                     zl_err *err)
{
	memset(res, 0, sizeof *res);
	const zl_config *c = zl_route(e->configs, e->nconfigs, obj->bucket, obj->key);
	if (!c) {
		res->outcome = ZL_INGEST_UNROUTED;
		ZL_LOG(ZL_DEBUG, "no configuration for object", ZL_S("bucket", obj->bucket), ZL_S("key", obj->key));
		return 0;
	}
	res->config = c;
	if (!zl_config_accepts(c, zl_key_basename(obj->key))) {
		res->outcome = ZL_INGEST_FILTERED;
		ZL_LOG(ZL_DEBUG, "file name filtered out", ZL_S("prefix", c->prefix), ZL_S("key", obj->key));
		return 0;
	}
	zl_object o = *obj;
	zl_object head = { 0 };
	/* Events may lack the size, and key+etag dedupe needs the etag: ask the store. */
	if ((o.size < 0 || (c->dedupe_etag && !o.etag)) && e->store) {
		zl_err herr;
		if (e->store->ops->head(e->store, obj->bucket, obj->key, &head, &herr) == 0) {
			o.size = o.size < 0 ? head.size : o.size;
			o.etag = o.etag ? o.etag : head.etag;
		} else {
			ZL_LOG(ZL_WARN, "cannot read object metadata", ZL_S("prefix", c->prefix),
			       ZL_S("key", obj->key), ZL_S("error", herr.msg));
		}
	}
	char *file_id = zl_file_id(c, o.bucket, o.key, o.etag);
	zl_append_result ar;
	int rc = file_id ? e->st->ops->claim_append(e->st, file_id, c->prefix, &o, now, &ar, err)
	                 : zl_err_set(err, ZL_ENOMEM, "out of memory");
	if (rc)
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
out:
	free(file_id);
	zl_object_release(&head);
	return rc;
}

int zl_engine_lock(zl_engine *e, const char *batch_id, const char *prefix, unsigned mask,
                   int64_t now, const char *reason, zl_err *err)
{
	const zl_config *c = zl_engine_config(e, prefix);
	int64_t lease = c ? c->lease_ms : 60000;
	int rc = e->st->ops->batch_lock(e->st, batch_id, mask, e->owner, now, now + lease, err);
	if (rc == 0)
		ZL_LOG(ZL_INFO, "batch locked", ZL_S("batch", batch_id), ZL_S("prefix", prefix), ZL_S("reason", reason),
		       ZL_S("owner", e->owner));
	return rc;
}

int zl_engine_sweep(zl_engine *e, int64_t now, zl_strvec *locked, zl_err *err)
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
			zl_due_reason r = zl_batch_due(c, b->file_count, b->bytes, b->first_at, now);
			mask = r ? ZL_LOCK_OPEN : 0;
			why = zl_due_reason_name(r);
		} else if (b->status == ZL_BATCH_LOCKED && b->lease_until <= now) {
			mask = ZL_LOCK_EXPIRED;
			why = b->owner ? "lease expired" : "retry due";
		}
		if (!mask)
			continue;
		zl_err lerr;
		int lrc = zl_engine_lock(e, b->id, b->prefix, mask, now, why, &lerr);
		if (lrc == ZL_EBUSY || lrc == ZL_ENOTFOUND)
			continue; /* another loader got there first */
		if (lrc) {
			rc = zl_err_set(err, lrc, "%s", lerr.msg);
			break;
		}
		if ((rc = zl_strvec_push(locked, b->id)))
			break;
	}
	zl_batch_list_free(v, n);
	return rc;
}

int zl_engine_pending(zl_engine *e, int64_t *count, zl_err *err)
{
	zl_batch_filter f = { .status_mask = ZL_STATUS_BIT(ZL_BATCH_OPEN) | ZL_STATUS_BIT(ZL_BATCH_LOCKED) };
	zl_batch *v = NULL;
	size_t n = 0;
	*count = 0;
	int rc = e->st->ops->batch_list(e->st, &f, &v, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		*count += v[i].status == ZL_BATCH_LOCKED || v[i].file_count > 0;
	zl_batch_list_free(v, n);
	return rc;
}
