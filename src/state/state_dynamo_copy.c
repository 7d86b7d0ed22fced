/* The DynamoDB state's side of copying a store (`zload state migrate`): file records read in key
 * order, and file records and batches written as they are, ids and times kept. */
#include "state/state_dynamo_int.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TRIES 32

/* ---- file_scan ---- */

static void forget_keys(dyn_state *d)
{
	for (size_t i = 0; i < d->nscan; i++)
		free(d->scan_keys[i]);
	free(d->scan_keys);
	d->scan_keys = NULL;
	d->nscan = 0;
}

static int cmp_key(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Reads every file id of ProcessedFiles, sorted in byte order, into d->scan_keys. */
static int read_keys(dyn_state *d, zl_err *err)
{
	json_t *items = NULL, *it;
	size_t i;

	forget_keys(d);
	int ret = dyn_query_all(d, "Scan",
	                        json_pack("{s:s,s:b,s:s,s:{s:s}}", "TableName", d->t_files, "ConsistentRead", 1,
	                                  "ProjectionExpression", "#k", "ExpressionAttributeNames", "#k", "loadFile"),
	                        &items, err);
	if (ret)
		goto out;
	if (json_array_size(items) && !(d->scan_keys = calloc(json_array_size(items), sizeof *d->scan_keys))) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(items, i, it) {
		const char *k = dyn_get_s(it, "loadFile");
		if (!k)
			continue;
		if (!(d->scan_keys[d->nscan] = strdup(k))) {
			ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
			goto out;
		}
		d->nscan++;
	}
	if (d->nscan)
		qsort(d->scan_keys, d->nscan, sizeof *d->scan_keys, cmp_key);
out:
	json_decref(items);
	if (ret)
		forget_keys(d);
	return ret;
}

/* The index of the first key > after. */
static size_t first_after(const dyn_state *d, const char *after)
{
	size_t lo = 0, hi = d->nscan;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(d->scan_keys[mid], after) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static json_t *file_key(const char *file_id) { return dyn_key("loadFile", file_id, NULL, NULL); }

int dyn_file_scan(zl_state *st, const char *after, size_t limit, zl_file_rec **out, size_t *n, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	zl_file_rec *v = NULL;
	size_t nv = 0, i;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (limit == 0)
		return zl_err_set(err, ZL_EINVAL, "a file scan needs a page size");
	if (!after)
		after = "";
	/* a scan from the start reads the keys once; its next pages come from them */
	if ((!*after || !d->scan_keys) && (ret = read_keys(d, err)))
		return ret;
	i = first_after(d, after);
	if (!(v = calloc((d->nscan - i < limit ? d->nscan - i : limit) + 1, sizeof *v)))
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	for (; i < d->nscan && nv < limit; i++) {
		json_t *item = NULL;
		if ((ret = dyn_get_item(d, d->t_files, file_key(d->scan_keys[i]), &item, err)))
			goto out;
		if (!item) /* deleted since the keys were read */
			continue;
		ret = dyn_file_from_item(item, &v[nv], err);
		json_decref(item);
		if (ret)
			goto out;
		v[nv++].batch_status[0] = '\0';
	}
	*out = v;
	*n = nv;
	v = NULL;
out:
	zl_file_list_free(v, nv);
	return ret;
}

/* ---- file_import ---- */

/* Whether the batch item's zloadFiles has an entry for file_id. */
static int lists_file(const json_t *batch, const char *file_id)
{
	const json_t *e;
	size_t i;
	json_array_foreach(json_object_get(json_object_get(batch, "zloadFiles"), "L"), i, e) {
		const char *id = dyn_get_s(json_object_get(e, "M"), "id");
		if (id && strcmp(id, file_id) == 0)
			return 1;
	}
	return 0;
}

/* f's file item, only where no record of its file id is. */
static json_t *put_file(const dyn_state *d, const zl_file_rec *f)
{
	return json_pack("{s:s,s:o,s:s}", "TableName", d->t_files, "Item", dyn_file_item(f), "ConditionExpression",
	                 "attribute_not_exists(loadFile)");
}

/* Appends f to its batch (at prefix) after the batch's files, and to the original's entries; the
 * totals stay the batch's own. */
static json_t *append_file(const dyn_state *d, const char *prefix, const zl_file_rec *f)
{
	return json_pack("{s:s,s:o,s:s,s:s,s:{s:{s:[]},s:{s:[o]},s:{s:[o]}}}", "TableName", d->t_batches, "Key",
	                 dyn_key("s3Prefix", prefix, "batchId", f->batch_id), "UpdateExpression",
	                 "SET zloadFiles = list_append(if_not_exists(zloadFiles, :empty), :f) ADD entries :e",
	                 "ConditionExpression", "attribute_exists(batchId)", "ExpressionAttributeValues", ":empty", "L",
	                 ":f", "L", dyn_file_entry(f), ":e", "SS", json_sprintf("%s/%s", f->bucket, f->key));
}

/* One try at storing f: 0; DYN_CONDITION when a record of its file id is stored already;
 * DYN_CANCELED when its batch went away meanwhile (try again). */
static int store_file(dyn_state *d, const zl_file_rec *f, zl_err *err)
{
	json_t *batch = NULL, *fault = NULL;
	char *prefix = NULL;
	int ret = 0;

	if (f->batch_id[0] && (ret = dyn_batch_item(d, f->batch_id, &prefix, &batch, err)) == ZL_ENOTFOUND) {
		zl_err_clear(err); /* its batch need not exist: the file record alone */
		ret = 0;
	}
	if (ret)
		goto out;
	if (batch && !lists_file(batch, f->file_id)) {
		ret = dyn_transact(d, json_pack("[{s:o},{s:o}]", "Put", put_file(d, f), "Update", append_file(d, prefix, f)),
		                   &fault, err);
		if (ret == DYN_CANCELED && dyn_canceled_at(fault, 0))
			ret = DYN_CONDITION;
	} else {
		ret = dyn_call(d, "PutItem", put_file(d, f), NULL, NULL, err);
	}
out:
	json_decref(fault);
	json_decref(batch);
	free(prefix);
	return ret;
}

/* For a file id stored already: no change if the stored record is f, else ZL_EBUSY;
 * DYN_CANCELED when it was deleted meanwhile (try again). */
static int file_conflict(dyn_state *d, const zl_file_rec *f, zl_err *err)
{
	json_t *item = NULL;
	zl_file_rec stored = { 0 };
	int ret = dyn_get_item(d, d->t_files, file_key(f->file_id), &item, err);
	if (ret || !item)
		return ret ? ret : DYN_CANCELED;
	if ((ret = dyn_file_from_item(item, &stored, err)) == 0 && !zl_file_rec_same(&stored, f))
		ret = zl_state_file_conflict(&stored, f, err);
	zl_file_rec_release(&stored);
	json_decref(item);
	return ret;
}

int dyn_file_import(zl_state *st, const zl_file_rec *f, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	int ret = 0;

	if (!f->file_id || !f->bucket || !f->key || !f->prefix)
		return zl_err_set(err, ZL_EINVAL, "a file record needs a file id, bucket, key and prefix");
	for (int tries = 0; tries < MAX_TRIES; tries++) {
		if ((ret = store_file(d, f, err)) == DYN_CONDITION)
			ret = file_conflict(d, f, err);
		if (ret != DYN_CANCELED)
			return ret;
	}
	return zl_err_set(err, ZL_ETRANSIENT, "file record \"%s\": its batch or record kept changing during the import",
	                  f->file_id);
}

/* ---- batch_import ---- */

/* Sets a time attribute, left out when 0 (not set). */
static void set_time(json_t *item, const char *name, int64_t v)
{
	if (v)
		json_object_set_new(item, name, dyn_N(v));
}

/* Sets a string attribute, left out when NULL. */
static void set_str(json_t *item, const char *name, const char *v)
{
	if (v)
		json_object_set_new(item, name, dyn_S(v));
}

/* b's batch item as claim_append and batch_finish leave one, without files (they come by
 * file_import) and without entries (an empty SS is not allowed). */
static json_t *batch_item_of(const zl_batch *b)
{
	json_t *item = dyn_key("s3Prefix", b->prefix, "batchId", b->id);
	if (!item)
		return NULL;
	json_object_set_new(item, "status", dyn_S(zl_batch_status_name(b->status)));
	json_object_set_new(item, "lastUpdate", dyn_secs(b->updated_at));
	set_time(item, "zloadCreatedAt", b->created_at);
	set_time(item, "zloadFirstAt", b->first_at);
	set_time(item, "zloadUpdatedAt", b->updated_at);
	set_time(item, "zloadLockedAt", b->locked_at);
	set_time(item, "zloadFinishedAt", b->finished_at);
	set_time(item, "zloadLeaseUntil", b->lease_until);
	json_object_set_new(item, "zloadFileCount", dyn_N(b->file_count));
	json_object_set_new(item, "zloadBytes", dyn_N(b->bytes));
	json_object_set_new(item, "zloadAttempts", dyn_N(b->attempts));
	set_str(item, "zloadOwner", b->owner);
	set_str(item, "zloadResult", b->result);
	set_str(item, "errorMessage", b->error);
	if (b->status != ZL_BATCH_OPEN || b->locked_at) /* once locked, it takes no new files */
		json_object_set_new(item, "zloadSealed", json_pack("{s:b}", "BOOL", 1));
	json_object_set_new(item, "zloadFiles", json_pack("{s:[]}", "L"));
	return item;
}

/* For a batch id stored already: no change when the stored batch has b's status and updated_at,
 * else ZL_EBUSY. */
static int batch_stamp_differs(dyn_state *d, const zl_batch *b, zl_err *err)
{
	json_t *item = NULL;
	char *prefix = NULL;
	zl_batch stored = { 0 };
	int ret = dyn_batch_item(d, b->id, &prefix, &item, err);

	if (ret == ZL_ENOTFOUND)
		ret = zl_err_set(err, ZL_ESTATE, "batch %s vanished", b->id);
	if (ret || (ret = dyn_batch_from_item(item, 0, &stored, err)))
		goto out;
	if (stored.status != b->status || stored.updated_at != b->updated_at)
		ret = zl_state_batch_conflict(b->id, stored.status, stored.updated_at, b, err);
out:
	zl_batch_release(&stored);
	json_decref(item);
	free(prefix);
	return ret;
}

int dyn_batch_import(zl_state *st, const zl_batch *b, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;

	if (!b->id[0] || !b->prefix || (unsigned)b->status >= ZL_BATCH_NSTATUS)
		return zl_err_set(err, ZL_EINVAL, "a batch needs an id, a prefix and a status");
	json_t *pointer = json_pack("{s:o,s:o,s:o}", "s3Prefix", dyn_S(DYN_POINTERS), "batchId", dyn_S(b->id),
	                            "zloadPrefix", dyn_S(b->prefix));
	/* the pointer may only be this batch's: the same id under another prefix is a conflict too */
	json_t *items = json_pack("[{s:{s:s,s:o,s:s}},{s:{s:s,s:o,s:s,s:{s:o}}}]", "Put", "TableName", d->t_batches,
	                          "Item", batch_item_of(b), "ConditionExpression", "attribute_not_exists(batchId)", "Put",
	                          "TableName", d->t_batches, "Item", pointer, "ConditionExpression",
	                          "attribute_not_exists(batchId) OR zloadPrefix = :p", "ExpressionAttributeValues", ":p",
	                          dyn_S(b->prefix));
	int ret = dyn_transact(d, items, NULL, err);
	return ret == DYN_CANCELED ? batch_stamp_differs(d, b, err) : ret;
}
