/* The DynamoDB state's configurations: items of <P>BatchLoadConfig as the original's setup.js
 * writes them, plus zload's exact text, and the version in the "zload:meta" item. */
#include "state/state_dynamo_int.h"
#include "util/dynamo_json.h"
#include "util/timeutil.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TRIES 32

/* Attributes of a configuration item that are bookkeeping, not configuration. */
static int is_bookkeeping(const char *name)
{
	return strcmp(name, "currentBatch") == 0 || strcmp(name, "lastBatchRotation") == 0 ||
	       strcmp(name, "lastUpdate") == 0 || strncmp(name, "zload", 5) == 0;
}

static void strip_bookkeeping(json_t *obj)
{
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(obj, tmp, k, v) {
		if (is_bookkeeping(k))
			json_object_del(obj, k);
	}
}

/* The Redshift loader's scripts store some numbers as S ("30"): the original's numeric fields read
 * as numbers whatever their type (other strings stay strings: a password may be all digits). */
static void coerce_number(json_t *obj, const char *name)
{
	const char *v = json_string_value(json_object_get(obj, name));
	char *end;
	if (!v || !*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 18)
		return;
	json_object_set_new(obj, name, json_integer(strtoll(v, &end, 10)));
}

static void coerce_numbers(json_t *cfg)
{
	static const char *const top[] = { "batchSize", "batchTimeoutSecs", "batchSizeBytes" };
	size_t i;
	json_t *c;
	for (i = 0; i < sizeof top / sizeof *top; i++)
		coerce_number(cfg, top[i]);
	json_array_foreach(json_object_get(cfg, "loadClusters"), i, c) {
		coerce_number(c, "clusterPort");
	}
}

/* Whether an item is a configuration (not a bare holder of currentBatch, nor zload's meta). */
static int is_config(const json_t *item)
{
	const char *p = dyn_get_s(item, "s3Prefix");
	return item && p && strncmp(p, "zload:", 6) != 0 && !json_object_get(item, "zloadBare");
}

/* The configuration's text: zload's own text while the attributes still say the same (no other
 * tool edited the item), else the attributes as JSON. NULL on a malformed item or no memory. */
static char *config_text(const json_t *item, zl_err *err)
{
	json_t *derived = zl_ddb_item_to_json(item, err);
	const char *text = dyn_get_s(item, "zloadConfig");
	char *out = NULL;
	if (!derived)
		return NULL;
	strip_bookkeeping(derived);
	coerce_numbers(derived);
	if (text) {
		json_t *parsed = json_loads(text, 0, NULL);
		if (json_is_object(parsed)) {
			strip_bookkeeping(parsed);
			json_object_set(parsed, "s3Prefix", json_object_get(derived, "s3Prefix"));
			if (json_equal(parsed, derived))
				out = strdup(text);
		}
		json_decref(parsed);
	}
	if (!out)
		out = json_dumps(derived, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(derived);
	if (!out)
		zl_err_set(err, ZL_ENOMEM, "out of memory");
	return out;
}

static json_t *config_key(const char *prefix) { return dyn_key("s3Prefix", prefix, NULL, NULL); }

static int not_found(const char *prefix, zl_err *err)
{
	return zl_err_set(err, ZL_ENOTFOUND, "no configuration for prefix \"%s\"", prefix);
}

static int changed(const char *prefix, zl_err *err)
{
	return zl_err_set(err, ZL_EBUSY, "the configuration for prefix \"%s\" changed meanwhile", prefix);
}

/* The condition that the item is still the one read (NULL: absent), with its values. */
static json_t *same_item_condition(const json_t *item, json_t *values, const char **expr)
{
	static char buf[160];
	if (!item) {
		*expr = "attribute_not_exists(s3Prefix)";
		return values;
	}
	const json_t *rev = json_object_get(item, "zloadConfigRev");
	const json_t *cb = json_object_get(item, "currentBatch");
	snprintf(buf, sizeof buf, "%s AND %s", rev ? "zloadConfigRev = :rev" : "attribute_not_exists(zloadConfigRev)",
	         cb ? "currentBatch = :cb" : "attribute_not_exists(currentBatch)");
	if (rev)
		json_object_set(values, ":rev", (json_t *)rev);
	if (cb)
		json_object_set(values, ":cb", (json_t *)cb);
	*expr = buf;
	return values;
}

static json_t *bump_version(dyn_state *d)
{
	return json_pack("{s:{s:s,s:o,s:s,s:{s:o}}}", "Update", "TableName", d->t_config, "Key", config_key(DYN_META),
	                 "UpdateExpression", "ADD zloadConfigVersion :one", "ExpressionAttributeValues", ":one",
	                 dyn_N(1));
}

/* The item that stores json for prefix over old (NULL when absent): the JSON's attributes, the
 * text, a new revision and old's currentBatch (or the JSON's, for a new item). */
static json_t *new_item(const char *prefix, const json_t *parsed, const char *json, const json_t *old, int64_t now)
{
	json_t *plain = json_deep_copy(parsed);
	if (!plain)
		return NULL;
	const char *cb_json = json_string_value(json_object_get(plain, "currentBatch"));
	char *cb = cb_json ? strdup(cb_json) : NULL;
	strip_bookkeeping(plain);
	json_t *item = zl_ddb_item_from_json(plain);
	json_decref(plain);
	if (!item) {
		free(cb);
		return NULL;
	}
	json_object_set_new(item, "s3Prefix", dyn_S(prefix));
	json_object_set_new(item, "zloadConfig", dyn_S(json));
	json_object_set_new(item, "zloadConfigRev", dyn_N(dyn_get_n(old, "zloadConfigRev", 0) + 1));
	json_object_set_new(item, "lastUpdate", dyn_secs(now));
	if (old && json_object_get(old, "currentBatch")) {
		json_object_set(item, "currentBatch", json_object_get(old, "currentBatch"));
		if (json_object_get(old, "lastBatchRotation"))
			json_object_set(item, "lastBatchRotation", json_object_get(old, "lastBatchRotation"));
	} else if (cb) {
		json_object_set_new(item, "currentBatch", dyn_S(cb));
	}
	free(cb);
	return item;
}

/* Stores json for prefix. With old_json, only over that text (ZL_EBUSY otherwise). */
static int store(dyn_state *d, const char *prefix, const char *old_json, const char *json, zl_err *err)
{
	json_error_t je;
	json_t *parsed = json_loads(json, 0, &je);
	int ret = 0;

	if (!json_is_object(parsed)) {
		json_decref(parsed);
		return zl_err_set(err, ZL_EINVAL, "the configuration for prefix \"%s\" is not a JSON object", prefix);
	}
	for (int tries = 0;; tries++) {
		json_t *old = NULL;
		if ((ret = dyn_get_item(d, d->t_config, config_key(prefix), &old, err)))
			break;
		if (old_json) {
			char *now_text = is_config(old) ? config_text(old, err) : NULL;
			int same = now_text && strcmp(now_text, old_json) == 0;
			free(now_text);
			if (!same) {
				json_decref(old);
				ret = changed(prefix, err);
				break;
			}
		}
		const char *cond;
		json_t *values = same_item_condition(old, json_object(), &cond);
		json_t *item = new_item(prefix, parsed, json, old, zl_now_ms());
		json_t *put = json_pack("{s:{s:s,s:o,s:s}}", "Put", "TableName", d->t_config, "Item", item,
		                        "ConditionExpression", cond);
		if (put && json_object_size(values))
			json_object_set_new(json_object_get(put, "Put"), "ExpressionAttributeValues", values);
		else
			json_decref(values);
		json_decref(old);
		ret = dyn_transact(d, json_pack("[o,o]", put, bump_version(d)), NULL, err);
		if (ret != DYN_CANCELED)
			break;
		if (old_json || tries == MAX_TRIES) {
			ret = changed(prefix, err);
			break;
		}
	}
	json_decref(parsed);
	return ret;
}

int dyn_config_put(zl_state *st, const char *prefix, const char *json, zl_err *err)
{
	if (!prefix || !json)
		return zl_err_set(err, ZL_EINVAL, "configuration needs a prefix and JSON text");
	if (strncmp(prefix, "zload:", 6) == 0)
		return zl_err_set(err, ZL_EINVAL, "prefix \"%s\": names starting with zload: are the state's own", prefix);
	return store((dyn_state *)st, prefix, NULL, json, err);
}

int dyn_config_replace(zl_state *st, const char *prefix, const char *old_json, const char *json, zl_err *err)
{
	if (!prefix || !old_json || !json)
		return zl_err_set(err, ZL_EINVAL, "configuration needs a prefix and JSON text");
	return store((dyn_state *)st, prefix, old_json, json, err);
}

int dyn_config_get(zl_state *st, const char *prefix, char **json, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	json_t *item = NULL;
	*json = NULL;
	int ret = dyn_get_item(d, d->t_config, config_key(prefix), &item, err);
	if (ret == 0 && !is_config(item))
		ret = not_found(prefix, err);
	if (ret == 0 && !(*json = config_text(item, err)))
		ret = err->code ? err->code : ZL_ENOMEM;
	json_decref(item);
	return ret;
}

static int cmp_prefix(const void *a, const void *b)
{
	return strcmp(dyn_get_s(*(json_t *const *)a, "s3Prefix"), dyn_get_s(*(json_t *const *)b, "s3Prefix"));
}

int dyn_config_list(zl_state *st, zl_strvec *prefixes, zl_strvec *jsons, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	json_t *items = NULL, *it;
	json_t **v = NULL;
	size_t n = 0, i, np = prefixes->n, nj = jsons->n;
	int ret = dyn_query_all(d, "Scan", json_pack("{s:s,s:b}", "TableName", d->t_config, "ConsistentRead", 1), &items,
	                        err);
	if (ret)
		goto out;
	if (!(v = calloc(json_array_size(items) + 1, sizeof *v))) {
		ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(items, i, it) {
		if (is_config(it))
			v[n++] = it;
	}
	qsort(v, n, sizeof *v, cmp_prefix);
	for (i = 0; i < n && !ret; i++) {
		char *text = config_text(v[i], err);
		if (!text || zl_strvec_push(prefixes, dyn_get_s(v[i], "s3Prefix")) || zl_strvec_push(jsons, text))
			ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		free(text);
	}
out:
	free(v);
	json_decref(items);
	if (ret) {
		zl_strvec_truncate(prefixes, np);
		zl_strvec_truncate(jsons, nj);
	}
	return ret;
}

int dyn_config_delete(zl_state *st, const char *prefix, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	int ret;
	for (int tries = 0;; tries++) {
		json_t *old = NULL;
		if ((ret = dyn_get_item(d, d->t_config, config_key(prefix), &old, err)))
			return ret;
		if (!is_config(old)) {
			json_decref(old);
			return not_found(prefix, err);
		}
		const char *cond;
		json_t *values = same_item_condition(old, json_object(), &cond);
		json_decref(old);
		json_t *del = json_pack("{s:{s:s,s:o,s:s}}", "Delete", "TableName", d->t_config, "Key", config_key(prefix),
		                        "ConditionExpression", cond);
		if (del && json_object_size(values))
			json_object_set_new(json_object_get(del, "Delete"), "ExpressionAttributeValues", values);
		else
			json_decref(values);
		ret = dyn_transact(d, json_pack("[o,o]", del, bump_version(d)), NULL, err);
		if (ret != DYN_CANCELED)
			return ret;
		if (tries == MAX_TRIES)
			return changed(prefix, err);
	}
}

int dyn_config_version(zl_state *st, int64_t *version, zl_err *err)
{
	dyn_state *d = (dyn_state *)st;
	json_t *item = NULL;
	int ret = dyn_get_item(d, d->t_config, config_key(DYN_META), &item, err);
	*version = ret ? 0 : dyn_get_n(item, "zloadConfigVersion", 0);
	json_decref(item);
	return ret;
}
