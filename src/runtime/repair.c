/* Repair operations: the checks and transitions behind `zload flush`, `batches reprocess`,
 * `batches unlock` and `files delete|reprocess`, beside the code that owns the batches. */
#include "core/route.h"
#include "runtime/runtime_int.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <stdlib.h>
#include <string.h>

static int need_store(zl_rt *rt, zl_err *err)
{
	return rt->o.store ? 0 : zl_err_set(err, ZL_EINVAL, "%s", ZL_NO_STORE_MSG);
}

int zl_rt_flush(zl_rt *rt, const char *prefix_arg, size_t *n, zl_err *err)
{
	zl_batch *v = NULL;
	size_t nv = 0;
	*n = 0;
	int rc = need_store(rt, err);
	if (rc)
		return rc;
	char *prefix = zl_prefix_normalised(prefix_arg);
	zl_engine *e = prefix ? zl_rt_engine_get(rt, err) : NULL;
	if (!e) {
		rc = prefix ? err->code : zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	if (!zl_engine_config(e, prefix)) {
		rc = zl_err_set(err, ZL_ENOTFOUND, "no configuration for prefix \"%s\"", prefix);
		goto out;
	}
	zl_batch_filter f = { .status_mask = ZL_STATUS_BIT(ZL_BATCH_OPEN), .prefix = prefix };
	if ((rc = e->st->ops->batch_list(e->st, &f, &v, &nv, err)))
		goto out;
	for (size_t i = nv; i-- > 0;) { /* oldest first */
		zl_ticket k;
		if (v[i].file_count == 0)
			continue;
		int lrc = zl_engine_lock(e, v[i].id, prefix, ZL_LOCK_OPEN, zl_now_ms(), "flush", &k, err);
		if (lrc == ZL_EBUSY || lrc == ZL_ENOTFOUND)
			continue; /* a loader took it meanwhile */
		if (lrc) {
			rc = lrc;
			goto out;
		}
		zl_rt_enqueue(rt, &k);
		(*n)++;
	}
out:
	zl_batch_list_free(v, nv);
	zl_rt_engine_put(rt, e);
	free(prefix);
	return rc;
}

/* Resolves an abbreviated id and reads the batch (without files). */
static int find_batch(zl_engine *e, const char *arg, char id[ZL_UUID_LEN], zl_batch *b, zl_err *err)
{
	int rc = e->st->ops->batch_resolve(e->st, arg, id, err);
	return rc ? rc : e->st->ops->batch_get(e->st, id, b, err);
}

int zl_rt_reprocess(zl_rt *rt, const char *batch_arg, char id[ZL_UUID_LEN], zl_err *err)
{
	zl_batch b = { 0 };
	int rc = need_store(rt, err);
	if (rc)
		return rc;
	zl_engine *e = zl_rt_engine_get(rt, err);
	if (!e)
		return err->code;
	if ((rc = find_batch(e, batch_arg, id, &b, err)))
		goto out;
	if (b.status != ZL_BATCH_COMPLETE && b.status != ZL_BATCH_ERROR) {
		rc = zl_err_set(err, ZL_EBUSY, "batch %s is %s: only complete or error batches can be reprocessed", b.id,
		                zl_batch_status_name(b.status));
		goto out;
	}
	zl_ticket k;
	if ((rc = zl_engine_lock(e, b.id, b.prefix, ZL_LOCK_FINISHED, zl_now_ms(), "reprocess", &k, err)))
		goto out;
	zl_rt_enqueue(rt, &k);
out:
	zl_batch_release(&b);
	zl_rt_engine_put(rt, e);
	return rc;
}

int zl_rt_unlock(zl_rt *rt, const char *batch_arg, int force, char id[ZL_UUID_LEN], zl_err *err)
{
	zl_batch b = { 0 };
	zl_engine *e = zl_rt_engine_get(rt, err);
	if (!e)
		return err->code;
	int64_t now = zl_now_ms();
	int rc = find_batch(e, batch_arg, id, &b, err);
	if (rc)
		goto out;
	if (b.status != ZL_BATCH_LOCKED) {
		rc = zl_err_set(err, ZL_EBUSY, "batch %s is %s, not locked", b.id, zl_batch_status_name(b.status));
		goto out;
	}
	if (b.owner && b.lease_until > now && !force) {
		char t[40];
		rc = zl_err_set(err, ZL_EBUSY,
		                "batch %s is locked by %s until %s: its loader may still be loading it; use --force to "
		                "unlock it anyway", b.id, b.owner, zl_time_format(b.lease_until, t, sizeof t));
		goto out;
	}
	if ((rc = e->st->ops->batch_unlock(e->st, b.id, now, NULL, force, err)))
		goto out;
	ZL_LOG(ZL_INFO, "batch unlocked", ZL_S("batch", b.id), ZL_S("prefix", b.prefix),
	       ZL_S("owner", b.owner ? b.owner : ""), ZL_I("forced", force && b.owner && b.lease_until > now));
out:
	zl_batch_release(&b);
	zl_rt_engine_put(rt, e);
	return rc;
}

int zl_rt_forget(zl_rt *rt, const char *file_id, int retrigger, zl_file_rec *rec, zl_err *err)
{
	zl_file_rec f = { 0 };
	zl_store *store = rt->o.store;
	int rc = retrigger ? need_store(rt, err) : 0;
	if (rc)
		return rc;
	if (retrigger && !store->ops->copy_in_place)
		return zl_err_set(err, ZL_EINVAL, "this store cannot re-trigger events; use 'zload files delete' and send "
		                                  "the event again");
	zl_engine *e = zl_rt_engine_get(rt, err);
	if (!e)
		return err->code;
	if ((rc = e->st->ops->file_get(e->st, file_id, &f, err)))
		goto out;
	/* Forget first: the event the copy triggers must find no record. */
	if ((rc = e->st->ops->file_delete(e->st, f.file_id, err)))
		goto out;
	if (retrigger && (rc = store->ops->copy_in_place(store, f.bucket, f.key, err)))
		goto out;
	ZL_LOG(ZL_INFO, retrigger ? "file forgotten and re-triggered" : "file forgotten", ZL_S("file", f.file_id),
	       ZL_S("batch", f.batch_id));
	if (rec) {
		*rec = f;
		memset(&f, 0, sizeof f);
	}
out:
	zl_file_rec_release(&f);
	zl_rt_engine_put(rt, e);
	return rc;
}
