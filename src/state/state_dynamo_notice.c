/* The DynamoDB state's notification outbox: one item per notice in the "zload:outbox" partition
 * of <P>Batches, keyed by its id as 20 digits so that a Query reads them in id order. Changes are
 * single conditional writes; the attributes are zload's own (no status, no lastUpdate). */
#include "state/state_dynamo_int.h"
#include "util/timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A notice no sender holds: no owner, or a lease that ended by :now. */
#define NOT_HELD "(attribute_not_exists(zloadOwner) OR attribute_not_exists(zloadLeaseUntil) OR zloadLeaseUntil <= :now)"
#define CLAIMABLE "zloadStatus = :pending AND zloadNextAt <= :now AND " NOT_HELD

json_t *dyn_notice_key(int64_t id)
{
	char t[24];
	snprintf(t, sizeof t, "%020" PRId64, id);
	return dyn_key("s3Prefix", DYN_OUTBOX, "batchId", t);
}

/* The item of notice n under id, every field as it is (times and strings left out when unset). */
static json_t *item_of(int64_t id, const zl_notice_rec *n)
{
	json_t *item = dyn_notice_key(id);
	if (!item)
		return NULL;
	json_object_set_new(item, "zloadBatch", dyn_S(n->batch_id));
	json_object_set_new(item, "zloadPrefix", dyn_S(n->prefix));
	json_object_set_new(item, "zloadDest", dyn_S(n->dest));
	json_object_set_new(item, "zloadEvent", dyn_S(n->event));
	json_object_set_new(item, "zloadSubject", dyn_S(n->subject));
	json_object_set_new(item, "zloadBody", dyn_S(n->body));
	json_object_set_new(item, "zloadStatus", dyn_S(zl_notice_status_name(n->status)));
	json_object_set_new(item, "zloadAttempts", dyn_N(n->attempts));
	json_object_set_new(item, "zloadMaxAttempts", dyn_N(n->max_attempts));
	json_object_set_new(item, "zloadCreatedAt", dyn_N(n->created_at));
	json_object_set_new(item, "zloadNextAt", dyn_N(n->next_at));
	if (n->sent_at)
		json_object_set_new(item, "zloadSentAt", dyn_N(n->sent_at));
	if (n->lease_until)
		json_object_set_new(item, "zloadLeaseUntil", dyn_N(n->lease_until));
	if (n->owner)
		json_object_set_new(item, "zloadOwner", dyn_S(n->owner));
	if (n->last_error)
		json_object_set_new(item, "zloadLastError", dyn_S(n->last_error));
	return item;
}

json_t *dyn_notice_item(int64_t id, const char *batch_id, const char *prefix,
                        const zl_notice *n, int64_t now)
{
	zl_notice_rec r = { .id = id, .prefix = (char *)prefix, .dest = (char *)n->dest, .event = (char *)n->event,
	                    .subject = (char *)n->subject, .body = (char *)n->body, .status = ZL_NOTICE_PENDING,
	                    .max_attempts = n->max_attempts > 0 ? n->max_attempts : 1, .created_at = now, .next_at = now };
	snprintf(r.batch_id, sizeof r.batch_id, "%s", batch_id);
	return item_of(id, &r);
}

/* An outbox item as a notice; on failure n is released. */
static int notice_from_item(const json_t *item, zl_notice_rec *n, zl_err *err)
{
	static const char *const required[] = { "zloadPrefix", "zloadDest", "zloadEvent", "zloadSubject", "zloadBody" };
	const char *key = dyn_get_s(item, "batchId"), *status = dyn_get_s(item, "zloadStatus");
	const char *batch = dyn_get_s(item, "zloadBatch");
	int oom = 0;

	memset(n, 0, sizeof *n);
	n->id = key ? strtoll(key, NULL, 10) : 0;
	if (zl_notice_status_parse(status, &n->status))
		return zl_err_set(err, ZL_ESTATE, "notification %lld has unknown status \"%s\"", (long long)n->id,
		                  status ? status : "");
	for (size_t i = 0; i < sizeof required / sizeof *required; i++)
		if (!dyn_get_s(item, required[i]))
			return zl_err_set(err, ZL_ESTATE, "notification %lld has no %s", (long long)n->id, required[i]);
	snprintf(n->batch_id, sizeof n->batch_id, "%s", batch ? batch : "");
	n->attempts = (int)dyn_get_n(item, "zloadAttempts", 0);
	n->max_attempts = (int)dyn_get_n(item, "zloadMaxAttempts", 1);
	n->created_at = dyn_get_n(item, "zloadCreatedAt", 0);
	n->next_at = dyn_get_n(item, "zloadNextAt", 0);
	n->sent_at = dyn_get_n(item, "zloadSentAt", 0);
	n->lease_until = dyn_get_n(item, "zloadLeaseUntil", 0);
	n->prefix = dyn_dup_s(item, "zloadPrefix", &oom);
	n->dest = dyn_dup_s(item, "zloadDest", &oom);
	n->event = dyn_dup_s(item, "zloadEvent", &oom);
	n->subject = dyn_dup_s(item, "zloadSubject", &oom);
	n->body = dyn_dup_s(item, "zloadBody", &oom);
	n->owner = dyn_dup_s(item, "zloadOwner", &oom);
	n->last_error = dyn_dup_s(item, "zloadLastError", &oom);
	if (oom) {
		zl_notice_rec_release(n);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	return 0;
}

/* The outbox's items in id order (newest first unless forward) that pass filter (NULL: all);
 * values (taken) are filter's, ":p" is added. */
static int outbox_query(dyn_state *d, int forward, const char *filter, json_t *values, json_t **items, zl_err *err)
{
	*items = NULL;
	if (!values)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	json_object_set_new(values, ":p", dyn_S(DYN_OUTBOX));
	json_t *body = json_pack("{s:s,s:s,s:o,s:b,s:b}", "TableName", d->t_batches, "KeyConditionExpression",
	                         "s3Prefix = :p", "ExpressionAttributeValues", values, "ConsistentRead", 1,
	                         "ScanIndexForward", forward);
	if (body && filter)
		json_object_set_new(body, "FilterExpression", json_string(filter));
	return dyn_query_all(d, "Query", body, items, err);
}

/* A conditional UpdateItem of notice id; values (taken) hold the expressions' values. With attrs,
 * *attrs gets the item as updated. DYN_CONDITION when cond fails (or the notice is absent). */
static int notice_update(dyn_state *d, int64_t id, const char *update, const char *cond, json_t *values,
                         json_t **attrs, zl_err *err)
{
	json_t *reply = NULL;
	json_t *body = json_pack("{s:s,s:o,s:s,s:s,s:o}", "TableName", d->t_batches, "Key", dyn_notice_key(id),
	                         "UpdateExpression", update, "ConditionExpression", cond, "ExpressionAttributeValues",
	                         values);
	if (body && attrs)
		json_object_set_new(body, "ReturnValues", json_string("ALL_NEW"));
	int ret = dyn_call(d, "UpdateItem", body, &reply, NULL, err);
	if (ret == 0 && attrs)
		*attrs = json_incref(json_object_get(reply, "Attributes"));
	json_decref(reply);
	return ret;
}

/* The stored item of notice id, NULL when absent. */
static int notice_get(dyn_state *d, int64_t id, json_t **item, zl_err *err)
{
	return dyn_get_item(d, d->t_batches, dyn_notice_key(id), item, err);
}

static int64_t item_id(const json_t *item)
{
	const char *key = dyn_get_s(item, "batchId");
	return key ? strtoll(key, NULL, 10) : 0;
}

/* Due first: ORDER BY next_at, id. */
static int cmp_due(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	int64_t nx = dyn_get_n(x, "zloadNextAt", 0), ny = dyn_get_n(y, "zloadNextAt", 0);
	int64_t ix = item_id(x), iy = item_id(y);
	return nx != ny ? (nx < ny ? -1 : 1) : ix != iy ? (ix < iy ? -1 : 1) : 0;
}

/* Takes the claimable item cand for owner: 0 with *attrs, or DYN_CONDITION when another sender
 * took it (or it changed) since it was read. */
static int take(dyn_state *d, const json_t *cand, const char *owner, int64_t now, int64_t lease_until,
                json_t **attrs, zl_err *err)
{
	json_t *values = json_pack("{s:o,s:o,s:o,s:o,s:o}", ":pending", dyn_S("pending"), ":now", dyn_N(now), ":o",
	                           dyn_S(owner), ":l", dyn_N(lease_until), ":one", dyn_N(1));
	return notice_update(d, item_id(cand), "SET zloadOwner = :o, zloadLeaseUntil = :l ADD zloadAttempts :one",
	                     CLAIMABLE, values, attrs, err);
}

int dyn_notice_claim(zl_state *st, const char *owner, int64_t now, int64_t lease_until, const char *batch_id,
                     zl_notice_rec *out, int *claimed, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	json_t *items = NULL, *attrs = NULL, **v = NULL;
	size_t n = 0, i;
	int ret;

	memset(out, 0, sizeof *out);
	*claimed = 0;
	if (!owner)
		return zl_err_set(err, ZL_EINVAL, "claiming a notification needs an owner");
	json_t *values = json_pack("{s:o,s:o}", ":pending", dyn_S("pending"), ":now", dyn_N(now));
	if (values && batch_id)
		json_object_set_new(values, ":b", dyn_S(batch_id));
	if ((ret = outbox_query(d, 1, batch_id ? CLAIMABLE " AND zloadBatch = :b" : CLAIMABLE, values, &items, err)) ||
	    !(n = json_array_size(items)))
		goto out;
	if (!(v = malloc(n * sizeof *v))) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		v[i] = json_array_get(items, i);
	qsort(v, n, sizeof *v, cmp_due);
	/* a candidate another sender took meanwhile fails its condition: the next one is due next */
	for (i = 0; i < n; i++)
		if ((ret = take(d, v[i], owner, now, lease_until, &attrs, err)) != DYN_CONDITION)
			break;
	if (ret == DYN_CONDITION) {
		ret = 0;
		goto out;
	}
	if (ret || (ret = notice_from_item(attrs, out, err)))
		goto out;
	*claimed = 1;
out:
	free(v);
	json_decref(attrs);
	json_decref(items);
	return ret;
}

/* The ZL_ELOST error for a settle that changed nothing. */
static int notice_lost(dyn_state *d, int64_t id, const char *owner, zl_err *err)
{
	json_t *item = NULL;
	int ret = notice_get(d, id, &item, err);
	if (ret)
		return ret;
	if (!item)
		return zl_err_set(err, ZL_ELOST, "%s lost notification %lld: it was deleted", owner, (long long)id);
	const char *status = dyn_get_s(item, "zloadStatus"), *holder = dyn_get_s(item, "zloadOwner");
	ret = zl_err_set(err, ZL_ELOST, "%s lost notification %lld: it is %s%s%s", owner, (long long)id,
	                 status ? status : "?", holder ? " by " : "", holder ? holder : "");
	json_decref(item);
	return ret;
}

int dyn_notice_settle(zl_state *st, int64_t id, const char *owner, zl_notice_status status, int64_t now,
                      int64_t next_at, const char *error, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	char update[256];
	int sent = status == ZL_NOTICE_SENT, keep_error = sent || error;

	if (!owner || (unsigned)status >= ZL_NOTICE_NSTATUS)
		return zl_err_set(err, ZL_EINVAL, "settling notification %lld needs an owner and a status", (long long)id);
	json_t *values = json_pack("{s:o,s:o,s:o}", ":pending", dyn_S("pending"), ":o", dyn_S(owner), ":s",
	                           dyn_S(zl_notice_status_name(status)));
	if (values && sent)
		json_object_set_new(values, ":now", dyn_N(now));
	if (values && status == ZL_NOTICE_PENDING)
		json_object_set_new(values, ":next", dyn_N(next_at));
	if (values && !sent && error)
		json_object_set_new(values, ":e", dyn_S(error));
	/* SENT keeps the last error; the others replace it (NULL removes it) */
	snprintf(update, sizeof update, "SET zloadStatus = :s%s%s%s REMOVE zloadOwner, zloadLeaseUntil%s",
	         sent ? ", zloadSentAt = :now" : "", status == ZL_NOTICE_PENDING ? ", zloadNextAt = :next" : "",
	         !sent && error ? ", zloadLastError = :e" : "", keep_error ? "" : ", zloadLastError");
	int ret = notice_update(d, id, update, "zloadStatus = :pending AND zloadOwner = :o", values, NULL, err);
	return ret == DYN_CONDITION ? notice_lost(d, id, owner, err) : ret;
}

/* " AND "-joined conditions of f, with their values; NULL when f names no status at all. */
static const char *list_filter(const zl_notice_filter *f, json_t *values, char *buf, size_t size)
{
	const char *sep = "zloadStatus IN (";
	size_t len = 0;
	buf[0] = '\0';
	if (f->status_mask) {
		for (int i = 0; i < ZL_NOTICE_NSTATUS; i++) {
			if (!(f->status_mask & ZL_STATUS_BIT(i)))
				continue;
			char name[8];
			snprintf(name, sizeof name, ":s%d", i);
			json_object_set_new(values, name, dyn_S(zl_notice_status_name((zl_notice_status)i)));
			len += (size_t)snprintf(buf + len, size - len, "%s%s", sep, name);
			sep = ", ";
		}
		if (*sep != ',')
			return NULL;
		len += (size_t)snprintf(buf + len, size - len, ")");
	}
	if (f->batch_id) {
		json_object_set_new(values, ":b", dyn_S(f->batch_id));
		snprintf(buf + len, size - len, "%szloadBatch = :b", len ? " AND " : "");
	}
	return buf;
}

int dyn_notice_list(zl_state *st, const zl_notice_filter *f, zl_notice_rec **out, size_t *n, zl_err *err)
{
	static const zl_notice_filter all;
	dyn_state *d = (dyn_state *)st;
	json_t *items = NULL, *values = json_object();
	zl_notice_rec *v = NULL;
	size_t nv = 0, want;
	char buf[256] = "";
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!f)
		f = &all;
	const char *filter = values ? list_filter(f, values, buf, sizeof buf) : buf;
	if (!filter) { /* a mask of no known status matches none */
		json_decref(values);
		return 0;
	}
	if ((ret = outbox_query(d, 0, *filter ? filter : NULL, values, &items, err)))
		goto out;
	want = json_array_size(items);
	if (f->limit && f->limit < want)
		want = f->limit;
	if (!(v = calloc(want + 1, sizeof *v))) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	for (; nv < want; nv++)
		if ((ret = notice_from_item(json_array_get(items, nv), &v[nv], err)))
			goto out;
	*out = v;
	*n = nv;
	v = NULL;
out:
	zl_notice_list_free(v, nv);
	json_decref(items);
	return ret;
}

/* Why a requeue of notice id changed nothing: ZL_ENOTFOUND or ZL_EBUSY. */
static int notice_not_requeued(dyn_state *d, int64_t id, zl_err *err)
{
	json_t *item = NULL;
	char t[40];
	int ret = notice_get(d, id, &item, err);
	if (ret)
		return ret;
	if (!item)
		return zl_err_set(err, ZL_ENOTFOUND, "no notification %lld", (long long)id);
	const char *status = dyn_get_s(item, "zloadStatus"), *owner = dyn_get_s(item, "zloadOwner");
	if (status && strcmp(status, "sent") == 0)
		ret = zl_err_set(err, ZL_EBUSY, "notification %lld was sent at %s", (long long)id,
		                 zl_time_format(dyn_get_n(item, "zloadSentAt", 0), t, sizeof t));
	else
		ret = zl_err_set(err, ZL_EBUSY, "notification %lld is being sent by %s (lease until %s)", (long long)id,
		                 owner ? owner : "?", zl_time_format(dyn_get_n(item, "zloadLeaseUntil", 0), t, sizeof t));
	json_decref(item);
	return ret;
}

/* Queues notice id again if cond holds: DYN_CONDITION otherwise. */
static int requeue_one(dyn_state *d, int64_t id, int64_t now, const char *cond, zl_err *err)
{
	json_t *values = json_pack("{s:o,s:o,s:o,s:o}", ":pending", dyn_S("pending"), ":failed", dyn_S("failed"),
	                           ":zero", dyn_N(0), ":now", dyn_N(now));
	return notice_update(d, id,
	                     "SET zloadStatus = :pending, zloadAttempts = :zero, zloadNextAt = :now"
	                     " REMOVE zloadOwner, zloadLeaseUntil",
	                     cond, values, NULL, err);
}

int dyn_notice_requeue(zl_state *st, int64_t id, int64_t now, size_t *n, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	json_t *items = NULL, *it;
	size_t i;
	int ret;

	*n = 0;
	if (id) {
		/* a failed notice, or a pending one no live lease holds */
		ret = requeue_one(d, id, now, "zloadStatus = :failed OR (zloadStatus = :pending AND " NOT_HELD ")", err);
		if (ret == 0)
			*n = 1;
		return ret == DYN_CONDITION ? notice_not_requeued(d, id, err) : ret;
	}
	if ((ret = outbox_query(d, 1, "zloadStatus = :failed", json_pack("{s:o}", ":failed", dyn_S("failed")), &items,
	                        err)))
		goto out;
	json_array_foreach(items, i, it) {
		/* one queued again meanwhile is not counted twice */
		if ((ret = requeue_one(d, item_id(it), now, "zloadStatus = :failed", err)) == DYN_CONDITION)
			ret = 0;
		else if (ret)
			goto out;
		else
			(*n)++;
	}
out:
	json_decref(items);
	return ret;
}

int dyn_notice_import(zl_state *st, const zl_notice_rec *n, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	int64_t id;
	int ret;

	if (!n->batch_id[0] || !n->prefix || !n->dest || !n->event || !n->subject || !n->body ||
	    (unsigned)n->status >= ZL_NOTICE_NSTATUS)
		return zl_err_set(err, ZL_EINVAL, "a notification needs a batch, prefix, destination, event, subject,"
		                  " body and status");
	if ((ret = dyn_next_ids(d, 1, &id, err)))
		return ret;
	ret = dyn_call(d, "PutItem",
	               json_pack("{s:s,s:o,s:s}", "TableName", d->t_batches, "Item", item_of(id, n), "ConditionExpression",
	                         "attribute_not_exists(batchId)"),
	               NULL, NULL, err);
	if (ret == DYN_CONDITION) /* the sequence is behind the outbox: an item was written under a taken id */
		ret = zl_err_set(err, ZL_ESTATE, "notification id %lld is taken already", (long long)id);
	return ret;
}

int dyn_notices_forget(dyn_state *d, const char *batch_id, zl_err *err)
{
	json_t *items = NULL, *it;
	size_t i;
	int ret = outbox_query(d, 1, "zloadBatch = :b AND zloadStatus <> :pending",
	                       json_pack("{s:o,s:o}", ":b", dyn_S(batch_id), ":pending", dyn_S("pending")), &items, err);
	json_array_foreach(items, i, it) {
		if (ret)
			break;
		/* one queued again meanwhile stays */
		ret = dyn_call(d, "DeleteItem",
		               json_pack("{s:s,s:o,s:s,s:{s:o}}", "TableName", d->t_batches, "Key", dyn_notice_key(item_id(it)),
		                         "ConditionExpression", "zloadStatus <> :pending", "ExpressionAttributeValues",
		                         ":pending", dyn_S("pending")),
		               NULL, NULL, err);
		if (ret == DYN_CONDITION)
			ret = 0;
	}
	json_decref(items);
	return ret;
}
