/* The DynamoDB state's files and batches on the original loader's tables (layout in
 * state_dynamo_int.h). Each protocol step is one TransactWriteItems conditioned on what it read:
 * claiming a file and appending it to the current batch are one transaction (the original lost
 * the file when its second write failed), and so are locking a batch and rotating the
 * configuration's currentBatch (the original's separate writes left appends spinning on a locked
 * batch). A locked batch carries a lease; the original's locked batches, which have none, count as
 * expired, so the sweeper takes them over. */
#include "state/state_dynamo_int.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TRIES 64

static const char *const status_names[] = { "open", "locked", "complete", "error" };

/* ---- items ---- */

static json_t *batch_key(const char *prefix, const char *id) { return dyn_key("s3Prefix", prefix, "batchId", id); }
static json_t *file_key(const char *file_id) { return dyn_key("loadFile", file_id, NULL, NULL); }
static json_t *config_key(const char *prefix) { return dyn_key("s3Prefix", prefix, NULL, NULL); }

/* "bucket/key": what the original's entries and loadFile hold. */
static char *entry_name(const char *bucket, const char *key)
{
	size_t n = strlen(bucket) + strlen(key) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s/%s", bucket, key);
	return s;
}

json_t *dyn_file_entry(const zl_file_rec *f)
{
	json_t *m = json_pack("{s:o,s:o,s:o,s:o,s:o}", "id", dyn_S(f->file_id), "bucket", dyn_S(f->bucket), "key",
	                      dyn_S(f->key), "size", dyn_N(f->size), "at", dyn_N(f->received_at));
	if (m && f->etag)
		json_object_set_new(m, "etag", dyn_S(f->etag));
	return m ? json_pack("{s:o}", "M", m) : NULL;
}

json_t *dyn_file_item(const zl_file_rec *f)
{
	json_t *it = json_pack("{s:o,s:o,s:o,s:o,s:o}", "loadFile", dyn_S(f->file_id), "zloadBucket", dyn_S(f->bucket),
	                       "zloadKey", dyn_S(f->key), "zloadSize", dyn_N(f->size), "zloadReceivedAt",
	                       dyn_N(f->received_at));
	if (!it)
		return NULL;
	if (f->batch_id[0])
		json_object_set_new(it, "batchId", dyn_S(f->batch_id));
	if (f->prefix)
		json_object_set_new(it, "s3Prefix", dyn_S(f->prefix));
	if (f->etag)
		json_object_set_new(it, "zloadEtag", dyn_S(f->etag));
	return it;
}

static void copy_id(char out[ZL_UUID_LEN], const char *id)
{
	snprintf(out, ZL_UUID_LEN, "%s", id ? id : "");
}

/* Splits "bucket/key" (an original loadFile) into f's bucket and key. */
static int split_entry(const char *name, zl_file_rec *f)
{
	const char *slash = strchr(name, '/');
	f->bucket = slash ? strndup(name, (size_t)(slash - name)) : strdup(name);
	f->key = strdup(slash ? slash + 1 : "");
	return f->bucket && f->key ? 0 : -1;
}

int dyn_file_from_item(const json_t *item, zl_file_rec *out, zl_err *err)
{
	int oom = 0;
	memset(out, 0, sizeof *out);
	out->file_id = dyn_dup_s(item, "loadFile", &oom);
	out->etag = dyn_dup_s(item, "zloadEtag", &oom);
	out->prefix = dyn_dup_s(item, "s3Prefix", &oom);
	if (dyn_get_s(item, "zloadBucket")) {
		out->bucket = dyn_dup_s(item, "zloadBucket", &oom);
		out->key = dyn_dup_s(item, "zloadKey", &oom);
		if (!out->key && !oom)
			out->key = strdup("");
	} else if (out->file_id && split_entry(out->file_id, out)) {
		oom = 1;
	}
	if (!out->prefix && !oom && !(out->prefix = strdup(""))) /* the original's items name none */
		oom = 1;
	out->size = dyn_get_n(item, "zloadSize", 0);
	out->received_at = dyn_get_n(item, "zloadReceivedAt", 0);
	copy_id(out->batch_id, dyn_get_s(item, "batchId"));
	if (oom || !out->file_id || !out->bucket || !out->key) {
		zl_file_rec_release(out);
		return oom ? zl_err_set(err, ZL_ENOMEM, "out of memory") : zl_err_set(err, ZL_ESTATE, "a ProcessedFiles item has no loadFile");
	}
	return 0;
}

static int parse_status(const json_t *item, zl_batch_status *st)
{
	const char *s = dyn_get_s(item, "status");
	for (int i = 0; i < ZL_BATCH_NSTATUS; i++)
		if (s && strcmp(s, status_names[i]) == 0) {
			*st = (zl_batch_status)i;
			return 0;
		}
	*st = ZL_BATCH_ERROR; /* the Redshift loader's reprocessing/reprocessed: finished, for zload */
	return s ? 0 : -1;
}

/* Whether entry ("bucket/key") names a file of zloadFiles list. */
static int listed(const json_t *list, const char *entry)
{
	size_t i, bl;
	json_t *e;
	json_array_foreach(list, i, e) {
		const json_t *m = json_object_get(e, "M");
		const char *bucket = dyn_get_s(m, "bucket"), *key = dyn_get_s(m, "key");
		if (bucket && key && strncmp(entry, bucket, bl = strlen(bucket)) == 0 && entry[bl] == '/' &&
		    strcmp(entry + bl + 1, key) == 0)
			return 1;
	}
	return 0;
}

/* The entries of a batch item that its zloadFiles lacks: files the original loader added to a
 * batch of zload's (its index.js ADDs to the current batch's entries), appended to *extra when
 * extra is not NULL; their number. */
static size_t unlisted_entries(const json_t *item, json_t *extra)
{
	const json_t *list = json_object_get(json_object_get(item, "zloadFiles"), "L");
	const json_t *entries = json_object_get(json_object_get(item, "entries"), "SS");
	size_t i, n = 0;
	json_t *e;
	if (!list)
		return 0;
	json_array_foreach(entries, i, e) {
		const char *s = json_string_value(e);
		if (s && !listed(list, s)) {
			n++;
			if (extra)
				json_array_append(extra, e);
		}
	}
	return n;
}

/* The files of a batch item: zloadFiles and the entries it lacks, or for a batch the original
 * made, its entries. */
static int batch_files(const json_t *item, zl_batch *b)
{
	const json_t *list = json_object_get(json_object_get(item, "zloadFiles"), "L");
	const json_t *entries = json_object_get(json_object_get(item, "entries"), "SS");
	const json_t *src = list ? list : entries;
	json_t *extra = json_array();
	if (!extra)
		return -1;
	unlisted_entries(item, extra);
	size_t nl = json_array_size(src), n = nl + json_array_size(extra), i;
	json_t *e;
	int ret = 0;
	if (!n)
		goto out;
	if (!(b->files = calloc(n, sizeof *b->files))) {
		ret = -1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		e = i < nl ? json_array_get(src, i) : json_array_get(extra, i - nl);
		zl_file_rec *f = &b->files[b->nfiles];
		int oom = 0;
		if (list && i < nl) {
			const json_t *m = json_object_get(e, "M");
			f->file_id = dyn_dup_s(m, "id", &oom);
			f->bucket = dyn_dup_s(m, "bucket", &oom);
			f->key = dyn_dup_s(m, "key", &oom);
			f->etag = dyn_dup_s(m, "etag", &oom);
			f->size = dyn_get_n(m, "size", 0);
			f->received_at = dyn_get_n(m, "at", 0);
			if (!f->file_id || !f->bucket || !f->key)
				oom = 1;
		} else {
			f->file_id = strdup(json_string_value(e) ? json_string_value(e) : "");
			oom = !f->file_id || split_entry(f->file_id, f);
			f->received_at = b->first_at; /* the original kept no time per file */
		}
		f->prefix = b->prefix ? strdup(b->prefix) : NULL;
		copy_id(f->batch_id, b->id);
		snprintf(f->batch_status, sizeof f->batch_status, "%s", zl_batch_status_name(b->status));
		b->nfiles++;
		if (oom || (b->prefix && !f->prefix)) {
			ret = -1;
			goto out;
		}
	}
out:
	json_decref(extra);
	return ret;
}

int dyn_batch_from_item(const json_t *item, int with_files, zl_batch *out, zl_err *err)
{
	int oom = 0;
	memset(out, 0, sizeof *out);
	copy_id(out->id, dyn_get_s(item, "batchId"));
	out->prefix = dyn_dup_s(item, "s3Prefix", &oom);
	if (parse_status(item, &out->status)) {
		zl_batch_release(out);
		return zl_err_set(err, ZL_ESTATE, "batch item %s has no status", out->id);
	}
	int64_t last = dyn_get_secs_ms(item, "lastUpdate", 0);
	out->created_at = dyn_get_n(item, "zloadCreatedAt", last);
	out->first_at = dyn_get_n(item, "zloadFirstAt", out->created_at);
	out->updated_at = dyn_get_n(item, "zloadUpdatedAt", last);
	out->locked_at = dyn_get_n(item, "zloadLockedAt", 0);
	int finished = out->status == ZL_BATCH_COMPLETE || out->status == ZL_BATCH_ERROR;
	out->finished_at = dyn_get_n(item, "zloadFinishedAt", finished && !json_object_get(item, "zloadFileCount") ? last : 0);
	out->lease_until = dyn_get_n(item, "zloadLeaseUntil", 0);
	const json_t *entries = json_object_get(json_object_get(item, "entries"), "SS");
	out->file_count = dyn_get_n(item, "zloadFileCount", (int64_t)json_array_size(entries)) +
	                  (int64_t)unlisted_entries(item, NULL);
	out->bytes = dyn_get_n(item, "zloadBytes", dyn_get_n(item, "size", 0));
	out->attempts = (int)dyn_get_n(item, "zloadAttempts", out->status == ZL_BATCH_OPEN ? 0 : 1);
	out->owner = dyn_dup_s(item, "zloadOwner", &oom);
	out->result = dyn_dup_s(item, "zloadResult", &oom);
	if (!out->result && !json_object_get(item, "zloadFileCount"))
		out->result = dyn_dup_s(item, "clusterLoadStatus", &oom); /* the original's */
	out->error = dyn_dup_s(item, "errorMessage", &oom);
	if (!oom && with_files && batch_files(item, out))
		oom = 1;
	if (oom) {
		zl_batch_release(out);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	return 0;
}

/* ---- finding a batch by id ---- */

static const char *cached_prefix(dyn_state *d, const char *id)
{
	for (size_t i = 0; i < sizeof d->pcache / sizeof *d->pcache; i++)
		if (d->pcache[i].prefix && strcmp(d->pcache[i].id, id) == 0)
			return d->pcache[i].prefix;
	return NULL;
}

static void cache_prefix(dyn_state *d, const char *id, const char *prefix)
{
	unsigned i = d->pnext++ % (sizeof d->pcache / sizeof *d->pcache);
	char *p = strdup(prefix);
	if (!p)
		return;
	free(d->pcache[i].prefix);
	d->pcache[i].prefix = p;
	copy_id(d->pcache[i].id, id);
}

static json_t *pointer_item(const char *id, const char *prefix)
{
	return json_pack("{s:o,s:o,s:o}", "s3Prefix", dyn_S(DYN_POINTERS), "batchId", dyn_S(id), "zloadPrefix",
	                 dyn_S(prefix));
}

/* Batches the original loader made have no pointer: the status index finds them (up to max of
 * those whose id starts with id_prefix); each one found gets its pointer. */
static int find_unpointed(dyn_state *d, const char *id_prefix, int exact, char (*ids)[ZL_UUID_LEN],
                          char **prefixes, int max, int *found, zl_err *err)
{
	int ret = 0;
	*found = 0;
	for (int s = 0; s < ZL_BATCH_NSTATUS && !ret && *found < max; s++) {
		json_t *items = NULL, *it;
		size_t i;
		json_t *q = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s},s:{s:o,s:o},s:s}", "TableName", d->t_batches, "IndexName",
		                      d->gsi, "KeyConditionExpression", "#st = :s", "FilterExpression",
		                      exact ? "batchId = :b" : "begins_with(batchId, :b)", "ExpressionAttributeNames", "#st",
		                      "status", "#b", "batchId", "ExpressionAttributeValues", ":s", dyn_S(status_names[s]),
		                      ":b", dyn_S(id_prefix), "ProjectionExpression", "s3Prefix, #b");
		if ((ret = dyn_query_all(d, "Query", q, &items, err))) {
			json_decref(items);
			break;
		}
		json_array_foreach(items, i, it) {
			const char *id = dyn_get_s(it, "batchId"), *p = dyn_get_s(it, "s3Prefix");
			if (!id || !p || *found >= max)
				continue;
			copy_id(ids[*found], id);
			if (!(prefixes[*found] = strdup(p))) {
				ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
				break;
			}
			(*found)++;
			dyn_call(d, "PutItem", json_pack("{s:s,s:o}", "TableName", d->t_batches, "Item", pointer_item(id, p)), NULL,
			         NULL, &(zl_err){ 0 });
		}
		json_decref(items);
	}
	return ret;
}

int dyn_batch_prefix(dyn_state *d, const char *batch_id, char **prefix, zl_err *err)
{
	const char *c = cached_prefix(d, batch_id);
	json_t *ptr = NULL;
	int ret;
	*prefix = NULL;
	if (c)
		return (*prefix = strdup(c)) ? 0 : zl_err_set(err, ZL_ENOMEM, "out of memory");
	if ((ret = dyn_get_item(d, d->t_batches, batch_key(DYN_POINTERS, batch_id), &ptr, err)))
		return ret;
	const char *p = dyn_get_s(ptr, "zloadPrefix");
	if (p) {
		*prefix = strdup(p);
		json_decref(ptr);
	} else {
		char ids[1][ZL_UUID_LEN];
		int found = 0;
		json_decref(ptr);
		if ((ret = find_unpointed(d, batch_id, 1, ids, prefix, 1, &found, err)))
			return ret;
		if (!found)
			return zl_err_set(err, ZL_ENOTFOUND, "no batch \"%s\"", batch_id);
	}
	if (!*prefix)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	cache_prefix(d, batch_id, *prefix);
	return 0;
}

int dyn_batch_item(dyn_state *d, const char *batch_id, char **prefix, json_t **item, zl_err *err)
{
	int ret = dyn_batch_prefix(d, batch_id, prefix, err);
	*item = NULL;
	if (ret == 0 && (ret = dyn_get_item(d, d->t_batches, batch_key(*prefix, batch_id), item, err)) == 0 && !*item)
		ret = zl_err_set(err, ZL_ENOTFOUND, "no batch \"%s\"", batch_id);
	if (ret) {
		free(*prefix);
		*prefix = NULL;
	}
	return ret;
}

/* The batch item a file record names, NULL when the batch is gone: through the record's prefix,
 * or, for the original's records, which name none, through the batch's pointer (*found then gets
 * the prefix; caller frees). */
static int record_batch(dyn_state *d, const char *prefix, const char *batch_id, json_t **bi, char **found,
                        zl_err *err)
{
	*bi = NULL;
	*found = NULL;
	if (!batch_id[0])
		return 0;
	int rc = prefix && *prefix ? dyn_get_item(d, d->t_batches, batch_key(prefix, batch_id), bi, err)
	                           : dyn_batch_item(d, batch_id, found, bi, err);
	return rc == ZL_ENOTFOUND ? 0 : rc;
}

/* ---- claims ---- */

/* A claimed file: res gets its batch and the batch's totals. 1 when claimed, 0 when not. */
static int find_claim(dyn_state *d, const char *file_id, zl_append_result *res, zl_err *err)
{
	json_t *fi = NULL, *bi = NULL;
	char *prefix = NULL;
	int ret = dyn_get_item(d, d->t_files, file_key(file_id), &fi, err);
	if (ret || !fi)
		goto out;
	res->duplicate = 1;
	copy_id(res->batch_id, dyn_get_s(fi, "batchId"));
	ret = 1;
	int rc = record_batch(d, dyn_get_s(fi, "s3Prefix"), res->batch_id, &bi, &prefix, err);
	if (rc) {
		ret = rc;
		goto out;
	}
	if (bi) {
		zl_batch b;
		if ((rc = dyn_batch_from_item(bi, 0, &b, err))) {
			ret = rc;
			goto out;
		}
		res->file_count = b.file_count;
		res->bytes = b.bytes;
		res->first_at = b.first_at;
		zl_batch_release(&b);
	}
out:
	json_decref(fi);
	json_decref(bi);
	free(prefix);
	return ret;
}

/* Whether a batch item can take a file by opts: open, never locked, one zload counts, not full. */
static int appendable(const json_t *b, const zl_claim_opts *o)
{
	const char *st = dyn_get_s(b, "status");
	int64_t n = dyn_get_n(b, "zloadFileCount", -1), bytes = dyn_get_n(b, "zloadBytes", 0);
	return st && strcmp(st, "open") == 0 && !json_object_get(b, "zloadSealed") && n >= 0 &&
	       !(o->max_files > 0 && n >= o->max_files) && !(o->max_bytes > 0 && bytes >= o->max_bytes);
}

/* The newest open batch of prefix, other than cur, that never was locked and has room by o (a
 * file forgotten from a full batch makes room), found through the status index; *out NULL when
 * none. The index may lag: the append's condition is what decides. */
static int open_candidate(dyn_state *d, const char *prefix, const char *cur, const zl_claim_opts *o, json_t **out,
                          zl_err *err)
{
	json_t *items = NULL, *it, *best = NULL;
	size_t i;
	*out = NULL;
	int ret = dyn_query_all(d, "Query",
	                        json_pack("{s:s,s:s,s:s,s:s,s:{s:s},s:{s:o,s:o}}", "TableName", d->t_batches, "IndexName",
	                                  d->gsi, "KeyConditionExpression", "#st = :s", "FilterExpression",
	                                  "s3Prefix = :p AND attribute_not_exists(zloadSealed)", "ExpressionAttributeNames",
	                                  "#st", "status", "ExpressionAttributeValues", ":s", dyn_S("open"), ":p",
	                                  dyn_S(prefix)),
	                        &items, err);
	json_array_foreach(items, i, it) {
		const char *id = dyn_get_s(it, "batchId");
		if (!id || (cur && strcmp(id, cur) == 0) || !appendable(it, o))
			continue;
		if (!best || strcmp(id, dyn_get_s(best, "batchId")) > 0) /* ids are UUIDv7: newest sorts last */
			best = it;
	}
	if (best && ret == 0)
		*out = json_incref(best);
	json_decref(items);
	return ret;
}

/* Points the prefix's configuration item at a new current batch (making a bare item when the
 * prefix has no configuration), if it still points at cur. DYN_CONDITION when it moved. */
static int rotate(dyn_state *d, const char *prefix, const json_t *cfg, const char *cur, const char *next, int64_t now,
                  zl_err *err)
{
	if (!cfg)
		return dyn_call(d, "PutItem",
		                json_pack("{s:s,s:{s:o,s:o,s:o,s:{s:b}},s:s}", "TableName", d->t_config, "Item", "s3Prefix",
		                          dyn_S(prefix), "currentBatch", dyn_S(next), "lastBatchRotation", dyn_secs(now),
		                          "zloadBare", "BOOL", 1, "ConditionExpression", "attribute_not_exists(s3Prefix)"),
		                NULL, NULL, err);
	json_t *body = json_pack("{s:s,s:o,s:s,s:{s:o,s:o}}", "TableName", d->t_config, "Key", config_key(prefix),
	                         "UpdateExpression", "SET currentBatch = :n, lastBatchRotation = :t",
	                         "ExpressionAttributeValues", ":n", dyn_S(next), ":t", dyn_secs(now));
	if (cur) {
		json_object_set_new(body, "ConditionExpression", json_string("currentBatch = :c"));
		json_object_set_new(json_object_get(body, "ExpressionAttributeValues"), ":c", dyn_S(cur));
	} else {
		json_object_set_new(body, "ConditionExpression", json_string("attribute_exists(s3Prefix) AND attribute_not_exists(currentBatch)"));
	}
	return dyn_call(d, "UpdateItem", body, NULL, NULL, err);
}

/* The configuration item's part of a transaction on batch cur: rotate to next when next, else
 * check that cur is still current. */
static json_t *config_step(dyn_state *d, const char *prefix, const char *cur, const char *next, int64_t now)
{
	if (next)
		return json_pack("{s:{s:s,s:o,s:s,s:s,s:{s:o,s:o,s:o}}}", "Update", "TableName", d->t_config, "Key",
		                 config_key(prefix), "UpdateExpression", "SET currentBatch = :n, lastBatchRotation = :t",
		                 "ConditionExpression", "currentBatch = :c", "ExpressionAttributeValues", ":n", dyn_S(next),
		                 ":t", dyn_secs(now), ":c", dyn_S(cur));
	return json_pack("{s:{s:s,s:o,s:s,s:{s:o}}}", "ConditionCheck", "TableName", d->t_config, "Key",
	                 config_key(prefix), "ConditionExpression", "currentBatch = :c", "ExpressionAttributeValues", ":c",
	                 dyn_S(cur));
}

/* What a claim knows of the batch it appends to: from reads, or from this handle's last append
 * to the prefix (the transaction's conditions catch a stale one). */
typedef struct seen_batch {
	char id[ZL_UUID_LEN];
	int exists;
	int64_t n, bytes, first_at;
} seen_batch;

static void seen_from_item(seen_batch *s, const char *id, const json_t *b, int64_t now)
{
	copy_id(s->id, id);
	s->exists = b != NULL;
	s->n = b ? dyn_get_n(b, "zloadFileCount", 0) : 0;
	s->bytes = b ? dyn_get_n(b, "zloadBytes", 0) : 0;
	s->first_at = b ? dyn_get_n(b, "zloadFirstAt", now) : now;
}

static dyn_claim_cache *cache_slot(dyn_state *d, const char *prefix, int make)
{
	size_t n = sizeof d->ccache / sizeof *d->ccache;
	for (size_t i = 0; i < n; i++)
		if (d->ccache[i].prefix && strcmp(d->ccache[i].prefix, prefix) == 0)
			return &d->ccache[i];
	if (!make)
		return NULL;
	dyn_claim_cache *c = &d->ccache[d->cnext++ % n];
	free(c->prefix);
	memset(c, 0, sizeof *c);
	return (c->prefix = strdup(prefix)) ? c : NULL;
}

static void cache_forget(dyn_state *d, const char *prefix)
{
	dyn_claim_cache *c = cache_slot(d, prefix, 0);
	if (c)
		c->valid = 0;
}

static void cache_store(dyn_state *d, const char *prefix, const char *id, int exists, int64_t n, int64_t bytes,
                        int64_t first_at)
{
	dyn_claim_cache *c = cache_slot(d, prefix, 1);
	if (!c)
		return;
	copy_id(c->id, id);
	c->exists = exists;
	c->n = n;
	c->bytes = bytes;
	c->first_at = first_at;
	c->valid = 1;
}

static int full_by(const zl_claim_opts *o, int64_t n, int64_t bytes)
{
	return (o->max_files > 0 && n >= o->max_files) || (o->max_bytes > 0 && bytes >= o->max_bytes);
}

/* The batch update that appends f to batch s, locking it for o->lock_owner when lock. */
static json_t *append_step(dyn_state *d, const char *prefix, const seen_batch *s, const zl_file_rec *f,
                           const zl_claim_opts *o, int lock, int64_t now)
{
	char *entry = entry_name(f->bucket, f->key);
	char set[512];
	json_t *v = json_pack("{s:o,s:o,s:o,s:{s:[]},s:{s:[o]},s:{s:[s]},s:o,s:o}", ":st", dyn_S(lock ? "locked" : "open"),
	                      ":lu", dyn_secs(now), ":now", dyn_N(now), ":empty", "L", ":f", "L", dyn_file_entry(f), ":e", "SS",
	                      entry ? entry : "", ":one", dyn_N(1), ":sz", dyn_N(f->size));
	free(entry);
	snprintf(set, sizeof set,
	         "SET #st = :st, lastUpdate = :lu, zloadUpdatedAt = :now, zloadCreatedAt = if_not_exists(zloadCreatedAt, :now),"
	         " zloadFirstAt = if_not_exists(zloadFirstAt, :now), zloadFiles = list_append(if_not_exists(zloadFiles, :empty), :f)%s"
	         " ADD entries :e, zloadFileCount :one, zloadBytes :sz",
	         lock ? ", zloadOwner = :o, zloadLeaseUntil = :lease, zloadLockedAt = :now, zloadSealed = :true,"
	                " zloadAttempts = :one" : "");
	if (lock) {
		json_object_set_new(v, ":o", dyn_S(o->lock_owner));
		json_object_set_new(v, ":lease", dyn_N(o->lease_until));
		json_object_set_new(v, ":true", json_pack("{s:b}", "BOOL", 1));
	}
	const char *cond = "attribute_not_exists(batchId)";
	if (s->exists) {
		cond = "#st = :open AND attribute_not_exists(zloadSealed) AND zloadFileCount = :n";
		json_object_set_new(v, ":open", dyn_S("open"));
		json_object_set_new(v, ":n", dyn_N(s->n));
	}
	return json_pack("{s:{s:s,s:o,s:s,s:s,s:{s:s},s:o}}", "Update", "TableName", d->t_batches, "Key",
	                 batch_key(prefix, s->id), "UpdateExpression", set, "ConditionExpression", cond,
	                 "ExpressionAttributeNames", "#st", "status", "ExpressionAttributeValues", v);
}

/* Reads which batch a claim for prefix appends to, rotating the configuration's currentBatch
 * when it is missing or cannot take the file. */
static int pick_batch(dyn_state *d, const zl_file_rec *f, const zl_claim_opts *o, int64_t now, seen_batch *s,
                      zl_err *err)
{
	json_t *cfg = NULL, *b = NULL, *cand = NULL;
	char rotated[ZL_UUID_LEN];
	int ret;

	if ((ret = dyn_get_item(d, d->t_config, config_key(f->prefix), &cfg, err)))
		goto out;
	const char *cur = dyn_get_s(cfg, "currentBatch");
	if (cur && (ret = dyn_get_item(d, d->t_batches, batch_key(f->prefix, cur), &b, err)))
		goto out;
	if (cur && (!b || appendable(b, o))) {
		seen_from_item(s, cur, b, now);
		goto out;
	}
	if ((ret = open_candidate(d, f->prefix, cur, o, &cand, err)))
		goto out;
	if (cand)
		copy_id(rotated, dyn_get_s(cand, "batchId"));
	else
		zl_uuid_v7(now, rotated);
	if ((ret = rotate(d, f->prefix, cfg, cur, rotated, now, err)) == 0)
		seen_from_item(s, rotated, cand, now);
out:
	json_decref(cfg);
	json_decref(b);
	json_decref(cand);
	return ret;
}

/* One try at claim + append (+ lock): 0 done, DYN_CANCELED (res->duplicate tells whether the file
 * was claimed meanwhile) or DYN_CONDITION to try again, or an error. */
static int claim_once(dyn_state *d, const zl_file_rec *f, const zl_claim_opts *o, int64_t now, zl_append_result *res,
                      zl_err *err)
{
	dyn_claim_cache *c = cache_slot(d, f->prefix, 0);
	json_t *fault = NULL;
	seen_batch s;
	char next[ZL_UUID_LEN];
	int ret = 0;

	if (c && c->valid && !full_by(o, c->n, c->bytes)) {
		copy_id(s.id, c->id);
		s.exists = c->exists;
		s.n = c->n;
		s.bytes = c->bytes;
		s.first_at = c->exists ? c->first_at : now;
	} else if ((ret = pick_batch(d, f, o, now, &s, err))) {
		return ret;
	}
	int lock = o->lock_owner && full_by(o, s.n + 1, s.bytes + f->size);
	zl_file_rec mine = *f;
	copy_id(mine.batch_id, s.id);
	json_t *items = json_pack("[{s:{s:s,s:o,s:s}},o]", "Put", "TableName", d->t_files, "Item", dyn_file_item(&mine),
	                          "ConditionExpression", "attribute_not_exists(loadFile)",
	                          append_step(d, f->prefix, &s, &mine, o, lock, now));
	if (lock)
		zl_uuid_v7(now, next);
	json_array_append_new(items, config_step(d, f->prefix, s.id, lock ? next : NULL, now));
	if (!s.exists)
		json_array_append_new(items, json_pack("{s:{s:s,s:o}}", "Put", "TableName", d->t_batches, "Item",
		                                      pointer_item(s.id, f->prefix)));
	ret = dyn_transact(d, items, &fault, err);
	if (ret) {
		cache_forget(d, f->prefix);
		if (ret == DYN_CANCELED && dyn_canceled_at(fault, 0))
			res->duplicate = 1;
		json_decref(fault);
		return ret;
	}
	copy_id(res->batch_id, s.id);
	res->file_count = s.n + 1;
	res->bytes = s.bytes + f->size;
	res->first_at = s.first_at;
	res->locked = lock;
	cache_prefix(d, s.id, f->prefix);
	if (lock) /* the batch is sealed; the configuration points at next, which does not exist yet */
		cache_store(d, f->prefix, next, 0, 0, 0, now);
	else
		cache_store(d, f->prefix, s.id, 1, s.n + 1, s.bytes + f->size, s.first_at);
	return 0;
}

int dyn_claim_append(zl_state *st, const char *file_id, const char *prefix, const zl_object *obj, int64_t now,
                     const zl_claim_opts *opts, zl_append_result *res, zl_err *err)
{
	static const zl_claim_opts no_opts;
	dyn_state *d = (dyn_state *)st;
	int ret;

	memset(res, 0, sizeof *res);
	if (!opts)
		opts = &no_opts;
	if (!file_id || !prefix || !obj || !obj->bucket || !obj->key)
		return zl_err_set(err, ZL_EINVAL, "claim needs a file id, prefix, bucket and key");
	if (strncmp(prefix, "zload:", 6) == 0)
		return zl_err_set(err, ZL_EINVAL, "prefix \"%s\": names starting with zload: are the state's own", prefix);
	zl_file_rec f = {
		.file_id = (char *)file_id, .bucket = obj->bucket, .key = obj->key, .etag = obj->etag,
		.prefix = (char *)prefix, .size = obj->size > 0 ? obj->size : 0, .received_at = now,
	};
	for (int tries = 0; tries < MAX_TRIES; tries++) {
		/* No read first: the transaction's first condition tells a duplicate, then read */
		if (res->duplicate && (ret = find_claim(d, file_id, res, err)) != 0)
			return ret > 0 ? 0 : ret;
		memset(res, 0, sizeof *res);
		ret = claim_once(d, &f, opts, now, res, err);
		if (ret != DYN_CANCELED && ret != DYN_CONDITION) {
			if (ret)
				memset(res, 0, sizeof *res);
			return ret;
		}
	}
	return zl_err_set(err, ZL_ETRANSIENT, "claim of \"%s\": the open batch of prefix \"%s\" kept changing (%d tries)",
	                  file_id, prefix, MAX_TRIES);
}

/* ---- files ---- */

int dyn_file_get(zl_state *st, const char *file_id, zl_file_rec *out, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	json_t *fi = NULL, *bi = NULL;
	char *prefix = NULL;
	memset(out, 0, sizeof *out);
	int ret = dyn_get_item(d, d->t_files, file_key(file_id), &fi, err);
	if (ret)
		return ret;
	if (!fi)
		return zl_err_set(err, ZL_ENOTFOUND, "no file record \"%s\"", file_id);
	if ((ret = dyn_file_from_item(fi, out, err)))
		goto out;
	if (out->batch_id[0]) {
		if ((ret = record_batch(d, out->prefix, out->batch_id, &bi, &prefix, err))) {
			zl_file_rec_release(out);
			goto out;
		}
		if (prefix) { /* the original's file item: the prefix is its batch's */
			free(out->prefix);
			out->prefix = prefix;
			prefix = NULL;
		}
		const char *s = dyn_get_s(bi, "status");
		snprintf(out->batch_status, sizeof out->batch_status, "%s", s ? s : "");
		if (bi && !json_object_get(fi, "zloadReceivedAt")) /* the original kept no time per file */
			out->received_at = dyn_get_n(bi, "zloadFirstAt", dyn_get_secs_ms(bi, "lastUpdate", 0));
	}
out:
	json_decref(fi);
	json_decref(bi);
	free(prefix);
	return ret;
}

/* The index of file_id in a batch item's zloadFiles, -1 when absent. */
static int entry_index(const json_t *b, const char *file_id)
{
	const json_t *list = json_object_get(json_object_get(b, "zloadFiles"), "L");
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e) {
		const char *id = dyn_get_s(json_object_get(e, "M"), "id");
		if (id && strcmp(id, file_id) == 0)
			return (int)i;
	}
	return -1;
}

/* A file forgotten from an open batch leaves it (counts go down); from any other batch it stays
 * in the batch's history under a retired id, as SQLite's state keeps it. */
static int forget_once(dyn_state *d, const char *file_id, zl_err *err)
{
	json_t *fi = NULL, *bi = NULL, *items = NULL, *fault = NULL;
	char *prefix = NULL;
	zl_file_rec f;
	int ret = dyn_get_item(d, d->t_files, file_key(file_id), &fi, err), have = 0;
	if (ret)
		return ret;
	if (!fi)
		return zl_err_set(err, ZL_ENOTFOUND, "no file record \"%s\"", file_id);
	if ((ret = dyn_file_from_item(fi, &f, err)))
		goto out;
	have = 1;
	if ((ret = record_batch(d, f.prefix, f.batch_id, &bi, &prefix, err)))
		goto out;
	const char *bp = dyn_get_s(bi, "s3Prefix");
	const char *status = dyn_get_s(bi, "status");
	int at = bi ? entry_index(bi, file_id) : -1;
	items = json_pack("[{s:{s:s,s:o,s:s}}]", "Delete", "TableName", d->t_files, "Key", file_key(file_id),
	                  "ConditionExpression", "attribute_exists(loadFile)");
	if (bi && status && strcmp(status, "open") == 0 && json_object_get(bi, "zloadFileCount")) {
		char expr[160];
		char *entry = entry_name(f.bucket, f.key);
		if (at >= 0)
			snprintf(expr, sizeof expr, "REMOVE zloadFiles[%d] ADD zloadFileCount :m1, zloadBytes :msz DELETE entries :e", at);
		else
			snprintf(expr, sizeof expr, "DELETE entries :e");
		json_t *v = json_pack("{s:{s:[s]},s:o,s:o}", ":e", "SS", entry ? entry : "", ":open", dyn_S("open"), ":n",
		                      dyn_N(dyn_get_n(bi, "zloadFileCount", 0)));
		free(entry);
		if (at >= 0) {
			json_object_set_new(v, ":m1", dyn_N(-1));
			json_object_set_new(v, ":msz", dyn_N(-f.size));
		}
		json_array_append_new(items, json_pack("{s:{s:s,s:o,s:s,s:s,s:{s:s},s:o}}", "Update", "TableName", d->t_batches,
		                                      "Key", batch_key(bp, f.batch_id), "UpdateExpression", expr,
		                                      "ConditionExpression", "#st = :open AND zloadFileCount = :n",
		                                      "ExpressionAttributeNames", "#st", "status", "ExpressionAttributeValues", v));
	} else {
		char tail[ZL_UUID_LEN], expr[64];
		char *rid;
		zl_uuid_v7(zl_now_ms(), tail); /* its last 12 hex digits are random */
		size_t n = strlen(file_id) + 32;
		if (!(rid = malloc(n))) {
			ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
			goto out;
		}
		snprintf(rid, n, "%s#forgotten-%s", file_id, tail + 24);
		char *keep = f.file_id;
		f.file_id = rid;
		json_array_append_new(items, json_pack("{s:{s:s,s:o}}", "Put", "TableName", d->t_files, "Item", dyn_file_item(&f)));
		f.file_id = keep;
		if (at >= 0) {
			snprintf(expr, sizeof expr, "SET zloadFiles[%d].id = :rid", at);
			char cond[64];
			snprintf(cond, sizeof cond, "zloadFiles[%d].id = :id", at);
			json_array_append_new(items, json_pack("{s:{s:s,s:o,s:s,s:s,s:{s:o,s:o}}}", "Update", "TableName",
			                                      d->t_batches, "Key", batch_key(bp, f.batch_id), "UpdateExpression",
			                                      expr, "ConditionExpression", cond, "ExpressionAttributeValues",
			                                      ":rid", dyn_S(rid), ":id", dyn_S(file_id)));
		}
		free(rid);
	}
	ret = dyn_transact(d, items, &fault, err);
	items = NULL;
	if (ret == DYN_CANCELED && dyn_canceled_at(fault, 0))
		ret = zl_err_set(err, ZL_ENOTFOUND, "no file record \"%s\"", file_id);
out:
	if (have)
		zl_file_rec_release(&f);
	json_decref(items);
	json_decref(fi);
	json_decref(bi);
	json_decref(fault);
	free(prefix);
	return ret;
}

int dyn_file_delete(zl_state *st, const char *file_id, zl_err *err)
{
	for (int tries = 0; tries < MAX_TRIES; tries++) {
		int ret = forget_once((dyn_state *)st, file_id, err);
		if (ret != DYN_CANCELED)
			return ret;
	}
	return zl_err_set(err, ZL_ETRANSIENT, "forgetting \"%s\": its batch kept changing", file_id);
}

/* ---- batches ---- */

/* The ZL_EBUSY of a batch that is not in the state an operation needs (as SQLite words it). */
static int busy(const zl_batch *b, const char *why, zl_err *err)
{
	if (b->owner && b->status == ZL_BATCH_LOCKED) {
		char t[40];
		return zl_err_set(err, ZL_EBUSY, "batch %s is locked by %s until %s", b->id, b->owner,
		                  zl_time_format(b->lease_until, t, sizeof t));
	}
	return zl_err_set(err, ZL_EBUSY, "batch %s is %s, %s", b->id, zl_batch_status_name(b->status), why);
}

/* Reads batch_id into *b (and its item into *item when asked). */
static int read_batch(dyn_state *d, const char *batch_id, zl_batch *b, json_t **item, zl_err *err)
{
	char *prefix = NULL;
	json_t *it = NULL;
	int ret = dyn_batch_item(d, batch_id, &prefix, &it, err);
	free(prefix);
	if (ret == 0)
		ret = dyn_batch_from_item(it, 0, b, err);
	if (item && ret == 0)
		*item = it;
	else
		json_decref(it);
	return ret;
}

/* The update of batch b by expr ("SET ..."), which also pins the creation times a batch of the
 * original's derives from its lastUpdate (which the update moves). */
static json_t *update_step(dyn_state *d, const zl_batch *b, const char *expr, const char *cond, json_t *values)
{
	char full[768];
	snprintf(full, sizeof full,
	         "SET zloadCreatedAt = if_not_exists(zloadCreatedAt, :c0), zloadFirstAt = if_not_exists(zloadFirstAt, :f0), %s",
	         expr + strlen("SET "));
	json_object_set_new(values, ":c0", dyn_N(b->created_at));
	json_object_set_new(values, ":f0", dyn_N(b->first_at));
	return json_pack("{s:{s:s,s:o,s:s,s:s,s:{s:s},s:o}}", "Update", "TableName", d->t_batches, "Key",
	                 batch_key(b->prefix, b->id), "UpdateExpression", full, "ConditionExpression", cond,
	                 "ExpressionAttributeNames", "#st", "status", "ExpressionAttributeValues", values);
}

int dyn_batch_lock(zl_state *st, const char *batch_id, unsigned mask, const char *owner, int64_t now,
                   int64_t lease_until, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	if (!batch_id || !owner)
		return zl_err_set(err, ZL_EINVAL, "locking a batch needs a batch id and an owner");
	for (int tries = 0; tries < MAX_TRIES; tries++) {
		zl_batch b;
		json_t *cfg = NULL, *fault = NULL;
		int ret = read_batch(d, batch_id, &b, NULL, err);
		if (ret)
			return ret;
		const char *cond;
		int finished = b.status == ZL_BATCH_COMPLETE || b.status == ZL_BATCH_ERROR;
		if ((mask & ZL_LOCK_OPEN) && b.status == ZL_BATCH_OPEN)
			cond = "#st = :was";
		else if ((mask & ZL_LOCK_EXPIRED) && b.status == ZL_BATCH_LOCKED && b.lease_until <= now)
			cond = "#st = :was AND (attribute_not_exists(zloadLeaseUntil) OR zloadLeaseUntil <= :now)";
		else if ((mask & ZL_LOCK_FINISHED) && finished)
			cond = "#st = :was";
		else {
			ret = busy(&b, "not lockable", err);
			zl_batch_release(&b);
			return ret;
		}
		json_t *v = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:{s:b},s:o}", ":was", dyn_S(status_names[b.status]), ":locked",
		                      dyn_S("locked"), ":o", dyn_S(owner), ":now", dyn_N(now), ":lease", dyn_N(lease_until),
		                      ":lu", dyn_secs(now), ":true", "BOOL", 1, ":one", dyn_N(1));
		const char *expr = finished ? "SET #st = :locked, zloadOwner = :o, zloadLockedAt = :now, zloadLeaseUntil = :lease,"
		                              " zloadUpdatedAt = :now, lastUpdate = :lu, zloadSealed = :true, zloadAttempts = :one"
		                              " REMOVE zloadFinishedAt"
		                            : "SET #st = :locked, zloadOwner = :o, zloadLockedAt = :now, zloadLeaseUntil = :lease,"
		                              " zloadUpdatedAt = :now, lastUpdate = :lu, zloadSealed = :true,"
		                              " zloadAttempts = if_not_exists(zloadAttempts, :zero) + :one";
		if (!finished)
			json_object_set_new(v, ":zero", dyn_N(b.status == ZL_BATCH_LOCKED && !b.attempts ? 1 : 0));
		json_t *items = json_pack("[o]", update_step(d, &b, expr, cond, v));
		/* a flush moves the configuration's currentBatch on, in the same transaction */
		if (b.status == ZL_BATCH_OPEN)
			cache_forget(d, b.prefix);
		if (b.status == ZL_BATCH_OPEN && (ret = dyn_get_item(d, d->t_config, config_key(b.prefix), &cfg, err)) == 0) {
			const char *cur = dyn_get_s(cfg, "currentBatch");
			if (cur && strcmp(cur, batch_id) == 0) {
				char next[ZL_UUID_LEN];
				zl_uuid_v7(now, next);
				json_array_append_new(items, config_step(d, b.prefix, batch_id, next, now));
			}
		}
		json_decref(cfg);
		if (ret == 0)
			ret = dyn_transact(d, items, &fault, err);
		else
			json_decref(items);
		json_decref(fault);
		zl_batch_release(&b);
		if (ret != DYN_CANCELED)
			return ret;
	}
	return zl_err_set(err, ZL_ETRANSIENT, "locking batch %s: it kept changing", batch_id);
}

/* The ZL_ELOST for an owner-conditional write that did not apply. */
static int lost(dyn_state *d, const char *batch_id, const char *owner, zl_err *err)
{
	zl_batch b;
	int ret = read_batch(d, batch_id, &b, NULL, err);
	if (ret == ZL_ENOTFOUND)
		return zl_err_set(err, ZL_ELOST, "%s lost the lease on batch %s: the batch was deleted", owner, batch_id);
	if (ret)
		return ret;
	ret = zl_err_set(err, ZL_ELOST, "%s lost the lease on batch %s: it is %s%s%s", owner, batch_id,
	                 zl_batch_status_name(b.status), b.owner ? " by " : "", b.owner ? b.owner : "");
	zl_batch_release(&b);
	return ret;
}

int dyn_batch_renew(zl_state *st, const char *batch_id, const char *owner, int64_t lease_until, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	char *prefix = NULL;
	if (!batch_id || !owner)
		return zl_err_set(err, ZL_EINVAL, "renewing a lease needs a batch id and an owner");
	int ret = dyn_batch_prefix(d, batch_id, &prefix, err);
	if (ret == ZL_ENOTFOUND)
		return lost(d, batch_id, owner, err);
	if (ret)
		return ret;
	ret = dyn_call(d, "UpdateItem",
	               json_pack("{s:s,s:o,s:s,s:s,s:{s:s},s:{s:o,s:o,s:o}}", "TableName", d->t_batches, "Key",
	                         batch_key(prefix, batch_id), "UpdateExpression", "SET zloadLeaseUntil = :l",
	                         "ConditionExpression", "#st = :locked AND zloadOwner = :o", "ExpressionAttributeNames", "#st",
	                         "status", "ExpressionAttributeValues", ":l", dyn_N(lease_until), ":locked",
	                         dyn_S("locked"), ":o", dyn_S(owner)),
	               NULL, NULL, err);
	free(prefix);
	if (ret != DYN_CONDITION)
		return ret;
	/* a retry of a renewal that went through unseen finds its own lease */
	zl_batch b;
	if (read_batch(d, batch_id, &b, NULL, err) == 0) {
		int mine = b.status == ZL_BATCH_LOCKED && b.owner && strcmp(b.owner, owner) == 0 && b.lease_until == lease_until;
		zl_batch_release(&b);
		if (mine)
			return 0;
	}
	return lost(d, batch_id, owner, err);
}

/* The original's clusterLoadStatus, {"target":{"status":0|-1,"error":null|"..."}}, from zload's
 * result; NULL when result says nothing of targets. */
static char *cluster_load_status(const char *result)
{
	json_t *r = result ? json_loads(result, 0, NULL) : NULL, *t, *out = json_object();
	size_t i;
	char *text = NULL;
	json_array_foreach(json_object_get(r, "targets"), i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));
		const char *status = json_string_value(json_object_get(t, "status"));
		json_t *e = json_object_get(t, "error");
		if (name)
			json_object_set_new(out, name, json_pack("{s:i,s:O}", "status", status && strcmp(status, "complete") == 0 ? 0 : -1,
			                                         "error", e ? e : json_null()));
	}
	if (json_object_size(out))
		text = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	json_decref(r);
	return text;
}

int dyn_batch_finish(zl_state *st, const char *batch_id, const char *owner, zl_batch_status status, int64_t now,
                     int64_t retry_at, const char *result, const char *error, const zl_notice *notices,
                     size_t nnotices, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	zl_batch b;
	json_t *fault = NULL;
	char *cls = NULL;
	int64_t first = 0;
	int ret;

	if ((ret = zl_state_check_finish(batch_id, owner, status, nnotices, err)))
		return ret;
	if ((ret = read_batch(d, batch_id, &b, NULL, err)))
		return ret == ZL_ENOTFOUND ? lost(d, batch_id, owner, err) : ret;
	if (b.status != ZL_BATCH_LOCKED || !b.owner || strcmp(b.owner, owner) != 0) {
		zl_batch_release(&b);
		return lost(d, batch_id, owner, err);
	}
	if (nnotices && (ret = dyn_next_ids(d, (int64_t)nnotices, &first, err)))
		goto out;

	char set[400], remove[120] = "REMOVE zloadOwner";
	json_t *v = json_pack("{s:o,s:o,s:o,s:o}", ":locked", dyn_S("locked"), ":o", dyn_S(owner), ":now", dyn_N(now),
	                      ":lu", dyn_secs(now));
	if (status == ZL_BATCH_LOCKED) {
		snprintf(set, sizeof set, "SET zloadLeaseUntil = :retry, zloadUpdatedAt = :now, lastUpdate = :lu");
		json_object_set_new(v, ":retry", dyn_N(retry_at));
	} else {
		snprintf(set, sizeof set, "SET #st = :s, zloadFinishedAt = :now, zloadUpdatedAt = :now, lastUpdate = :lu");
		strcat(remove, ", zloadLeaseUntil");
		json_object_set_new(v, ":s", dyn_S(status_names[status]));
		if ((cls = cluster_load_status(result))) {
			strcat(set, ", clusterLoadStatus = :cls");
			json_object_set_new(v, ":cls", dyn_S(cls));
		}
	}
	if (result) {
		strcat(set, ", zloadResult = :r");
		json_object_set_new(v, ":r", dyn_S(result));
	} else {
		strcat(remove, ", zloadResult");
	}
	if (error) {
		strcat(set, ", errorMessage = :e");
		json_object_set_new(v, ":e", dyn_S(error));
	} else {
		strcat(remove, ", errorMessage");
	}
	strcat(set, " ");
	strcat(set, remove);
	json_t *items = json_pack("[o]", update_step(d, &b, set, "#st = :locked AND zloadOwner = :o", v));
	for (size_t i = 0; i < nnotices; i++)
		json_array_append_new(items, json_pack("{s:{s:s,s:o}}", "Put", "TableName", d->t_batches, "Item",
		                                      dyn_notice_item(first + (int64_t)i, batch_id, b.prefix, &notices[i], now)));
	ret = dyn_transact(d, items, &fault, err);
	if (ret == DYN_CANCELED)
		ret = lost(d, batch_id, owner, err);
out:
	free(cls);
	json_decref(fault);
	zl_batch_release(&b);
	return ret;
}

int dyn_batch_resolve(zl_state *st, const char *id_prefix, char out[ZL_UUID_LEN], zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	char lower[ZL_UUID_LEN], ids[4][ZL_UUID_LEN];
	char *prefixes[4] = { 0 };
	int ret = 0, found = 0;

	out[0] = '\0';
	if ((ret = zl_state_check_id_prefix(id_prefix, lower, err)))
		return ret;
	json_t *items = NULL, *it;
	size_t i;
	ret = dyn_query_all(d, "Query",
	                    json_pack("{s:s,s:s,s:{s:o,s:o},s:b}", "TableName", d->t_batches, "KeyConditionExpression",
	                              "s3Prefix = :p AND begins_with(batchId, :b)", "ExpressionAttributeValues", ":p",
	                              dyn_S(DYN_POINTERS), ":b", dyn_S(lower), "ConsistentRead", 1),
	                    &items, err);
	json_array_foreach(items, i, it) {
		if (found < 4)
			copy_id(ids[found++], dyn_get_s(it, "batchId"));
	}
	json_decref(items);
	if (ret == 0 && found == 0)
		ret = find_unpointed(d, lower, 0, ids, prefixes, 4, &found, err);
	for (int k = 0; k < 4; k++)
		free(prefixes[k]);
	if (ret)
		return ret;
	if (found == 1) {
		memcpy(out, ids[0], ZL_UUID_LEN);
		return 0;
	}
	if (found == 0)
		return zl_err_set(err, ZL_ENOTFOUND, "no batch \"%s\"", id_prefix);
	return zl_err_set(err, ZL_EINVAL, "batch id \"%s\" is ambiguous: %s, %s%s", id_prefix, ids[0], ids[1],
	                  found > 2 ? ", ..." : "");
}

int dyn_batch_get(zl_state *st, const char *batch_id, zl_batch *out, zl_err *err)
{
	char *prefix = NULL;
	json_t *item = NULL;
	memset(out, 0, sizeof *out);
	int ret = dyn_batch_item((dyn_state *)st, batch_id, &prefix, &item, err);
	free(prefix);
	if (ret == 0)
		ret = dyn_batch_from_item(item, 1, out, err);
	json_decref(item);
	return ret;
}

/* A listing reads every attribute but the file list (its count is zloadFileCount, or the size
 * of the original's entries). */
static json_t *list_projection(json_t *q)
{
	if (!q)
		return NULL;
	json_object_set_new(q, "ProjectionExpression",
	                    json_string("s3Prefix, batchId, #st, entries, lastUpdate, zloadCreatedAt, zloadFirstAt,"
	                                " zloadUpdatedAt, zloadLockedAt, zloadFinishedAt, zloadLeaseUntil, zloadFileCount,"
	                                " zloadBytes, #sz, zloadAttempts, zloadOwner, zloadResult, clusterLoadStatus,"
	                                " errorMessage"));
	json_object_set_new(q, "ExpressionAttributeNames", json_pack("{s:s,s:s}", "#st", "status", "#sz", "size"));
	return q;
}

static int newest_first(const void *a, const void *b)
{
	const zl_batch *x = a, *y = b;
	if (x->created_at != y->created_at)
		return x->created_at > y->created_at ? -1 : 1;
	return -strcmp(x->id, y->id);
}

int dyn_batch_list(zl_state *st, const zl_batch_filter *f, zl_batch **out, size_t *n, zl_err *err)
{
	static const zl_batch_filter all;
	dyn_state *d = (dyn_state *)st;
	json_t *items = NULL, *it;
	zl_batch *v = NULL;
	size_t nv = 0, i;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!f)
		f = &all;
	if (f->prefix && !f->status_mask) {
		json_t *q = json_pack("{s:s,s:s,s:{s:o},s:b}", "TableName", d->t_batches, "KeyConditionExpression",
		                      "s3Prefix = :p", "ExpressionAttributeValues", ":p", dyn_S(f->prefix), "ConsistentRead", 1);
		ret = dyn_query_all(d, "Query", list_projection(q), &items, err);
	} else {
		/* by status through the index: the open and locked batches are few, however long the history */
		for (int s = 0; s < ZL_BATCH_NSTATUS && !ret; s++) {
			if (f->status_mask && !(f->status_mask & ZL_STATUS_BIT(s)))
				continue;
			json_t *q = json_pack("{s:s,s:s,s:s,s:{s:o}}", "TableName", d->t_batches, "IndexName", d->gsi,
			                      "KeyConditionExpression", "#st = :s", "ExpressionAttributeValues", ":s",
			                      dyn_S(status_names[s]));
			if (q && f->prefix) {
				json_object_set_new(q, "FilterExpression", json_string("s3Prefix = :p"));
				json_object_set_new(json_object_get(q, "ExpressionAttributeValues"), ":p", dyn_S(f->prefix));
			}
			ret = dyn_query_all(d, "Query", list_projection(q), &items, err);
		}
	}
	if (ret)
		goto out;
	if (!(v = calloc(json_array_size(items) + 1, sizeof *v))) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(items, i, it) {
		if (!json_object_get(it, "status"))
			continue;
		if ((ret = dyn_batch_from_item(it, 0, &v[nv], err)))
			goto out;
		zl_batch *b = &v[nv];
		if ((f->status_mask && !(f->status_mask & ZL_STATUS_BIT(b->status))) || (f->since && b->created_at < f->since) ||
		    (f->until && b->created_at > f->until)) {
			zl_batch_release(b);
			memset(b, 0, sizeof *b);
			continue;
		}
		nv++;
	}
	qsort(v, nv, sizeof *v, newest_first);
	if (f->limit && nv > f->limit) {
		for (i = f->limit; i < nv; i++)
			zl_batch_release(&v[i]);
		nv = f->limit;
	}
	*out = v;
	*n = nv;
	v = NULL;
	nv = 0;
out:
	zl_batch_list_free(v, nv);
	json_decref(items);
	return ret;
}

int dyn_batch_unlock(zl_state *st, const char *batch_id, int64_t now, const char *owner, int force, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	for (int tries = 0; tries < MAX_TRIES; tries++) {
		zl_batch b;
		int ret = read_batch(d, batch_id, &b, NULL, err);
		if (ret)
			return ret;
		int ok = b.status == ZL_BATCH_LOCKED &&
		         (owner ? b.owner && strcmp(b.owner, owner) == 0 : force || !b.owner || b.lease_until <= now);
		if (!ok) {
			ret = busy(&b, "not locked", err);
			zl_batch_release(&b);
			return ret;
		}
		json_t *v = json_pack("{s:o,s:o,s:o,s:o}", ":locked", dyn_S("locked"), ":open", dyn_S("open"), ":now",
		                      dyn_N(now), ":lu", dyn_secs(now));
		const char *cond = "#st = :locked";
		if (owner) {
			cond = "#st = :locked AND zloadOwner = :o";
			json_object_set_new(v, ":o", dyn_S(owner));
		} else if (!force) {
			cond = "#st = :locked AND (attribute_not_exists(zloadOwner) OR attribute_not_exists(zloadLeaseUntil)"
			       " OR zloadLeaseUntil <= :now)";
		}
		json_t *fault = NULL;
		ret = dyn_transact(d,
		                   json_pack("[o]", update_step(d, &b,
		                                                "SET #st = :open, zloadUpdatedAt = :now, lastUpdate = :lu"
		                                                " REMOVE zloadOwner, zloadLeaseUntil",
		                                                cond, v)),
		                   &fault, err);
		json_decref(fault);
		zl_batch_release(&b);
		if (ret != DYN_CANCELED)
			return ret;
	}
	return zl_err_set(err, ZL_ETRANSIENT, "unlocking batch %s: it kept changing", batch_id);
}

int dyn_batch_delete(zl_state *st, const char *batch_id, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	zl_batch b;
	json_t *fault = NULL;
	int ret = read_batch(d, batch_id, &b, NULL, err);
	if (ret)
		return ret;
	if (b.status != ZL_BATCH_COMPLETE && b.status != ZL_BATCH_ERROR) {
		ret = busy(&b, "not finished", err);
		goto out;
	}
	if ((ret = dyn_notices_forget(d, batch_id, err)))
		goto out;
	json_t *items = json_pack("[{s:{s:s,s:o,s:s,s:{s:s},s:{s:o}}},{s:{s:s,s:o}}]", "Delete", "TableName", d->t_batches,
	                          "Key", batch_key(b.prefix, batch_id), "ConditionExpression", "#st = :s",
	                          "ExpressionAttributeNames", "#st", "status", "ExpressionAttributeValues", ":s",
	                          dyn_S(status_names[b.status]), "Delete", "TableName", d->t_batches, "Key",
	                          batch_key(DYN_POINTERS, batch_id));
	if ((ret = dyn_transact(d, items, &fault, err)) == DYN_CANCELED) {
		zl_batch now;
		if ((ret = read_batch(d, batch_id, &now, NULL, err)) == 0) {
			ret = busy(&now, "not finished", err);
			zl_batch_release(&now);
		}
	}
	for (size_t i = 0; i < sizeof d->pcache / sizeof *d->pcache; i++)
		if (d->pcache[i].prefix && strcmp(d->pcache[i].id, batch_id) == 0) {
			free(d->pcache[i].prefix);
			d->pcache[i].prefix = NULL;
		}
out:
	json_decref(fault);
	zl_batch_release(&b);
	return ret;
}
