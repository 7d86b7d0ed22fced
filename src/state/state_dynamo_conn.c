/* The DynamoDB state's connection: the URL, the tables (checked at open, created by
 * `zload state init`), one call with its retries, and attribute values. */
#include "state/state_dynamo_int.h"
#include "util/http.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_TABLES "LambdaVertica"
#define DEFAULT_RETRY_MS 60000

/* ---- attribute values ---- */

json_t *dyn_S(const char *v) { return json_pack("{s:s}", "S", v ? v : ""); }

json_t *dyn_N(int64_t v)
{
	char t[32];
	snprintf(t, sizeof t, "%" PRId64, v);
	return json_pack("{s:s}", "N", t);
}

json_t *dyn_secs(int64_t ms)
{
	char t[40];
	snprintf(t, sizeof t, "%" PRId64 ".%03d", ms / 1000, (int)(ms % 1000));
	return json_pack("{s:s}", "N", t);
}

json_t *dyn_key(const char *hash_name, const char *hash, const char *range_name, const char *range)
{
	json_t *k = json_pack("{s:o}", hash_name, dyn_S(hash));
	if (k && range_name)
		json_object_set_new(k, range_name, dyn_S(range));
	return k;
}

const char *dyn_get_s(const json_t *item, const char *name)
{
	return json_string_value(json_object_get(json_object_get(item, name), "S"));
}

/* The text of an N, or of an S (the Redshift loader stores some numbers as S). */
static const char *number_text(const json_t *item, const char *name)
{
	const json_t *av = json_object_get(item, name);
	const char *t = json_string_value(json_object_get(av, "N"));
	return t ? t : json_string_value(json_object_get(av, "S"));
}

int64_t dyn_get_n(const json_t *item, const char *name, int64_t dflt)
{
	const char *t = number_text(item, name);
	if (!t || !*t)
		return dflt;
	char *end;
	errno = 0;
	long long v = strtoll(t, &end, 10);
	if (errno || (*end && *end != '.' && *end != 'e' && *end != 'E'))
		return dflt;
	if (*end) /* a decimal: its integer part */
		return (int64_t)strtod(t, NULL);
	return v;
}

int64_t dyn_get_secs_ms(const json_t *item, const char *name, int64_t dflt)
{
	const char *t = number_text(item, name);
	if (!t || !*t)
		return dflt;
	char *end;
	double s = strtod(t, &end);
	return *end ? dflt : (int64_t)(s * 1000.0 + (s >= 0 ? 0.5 : -0.5));
}

char *dyn_dup_s(const json_t *item, const char *name, int *oom)
{
	const char *v = dyn_get_s(item, name);
	char *c = v ? strdup(v) : NULL;
	if (v && !c)
		*oom = 1;
	return c;
}

/* ---- calls ---- */

static const char *error_type(const json_t *fault)
{
	const char *t = json_string_value(json_object_get(fault, "__type"));
	const char *hash = t ? strrchr(t, '#') : NULL;
	return hash ? hash + 1 : t ? t : "";
}

/* Errors that say "not now": retried, never taken for an answer. */
static int is_throttle(const char *type)
{
	static const char *const again[] = {
		"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
		"TransactionConflictException", "TransactionInProgressException", "InternalServerError",
		"ServiceUnavailable", "LimitExceededException",
	};
	for (size_t i = 0; i < sizeof again / sizeof *again; i++)
		if (strcmp(type, again[i]) == 0)
			return 1;
	return 0;
}

int dyn_canceled_at(const json_t *fault, size_t i)
{
	const char *code = json_string_value(json_object_get(json_array_get(json_object_get(fault, "CancellationReasons"), i), "Code"));
	return code && strcmp(code, "ConditionalCheckFailed") == 0;
}

/* For a canceled transaction: whether a reason is a failed condition (1), or every reason is one
 * to retry (TransactionConflict, throttling) (0), or something else (-1). */
static int cancel_kind(const json_t *fault)
{
	const json_t *reasons = json_object_get(fault, "CancellationReasons");
	size_t i;
	json_t *r;
	int retry = 0;
	json_array_foreach(reasons, i, r) {
		const char *code = json_string_value(json_object_get(r, "Code"));
		if (!code || strcmp(code, "None") == 0)
			continue;
		if (strcmp(code, "ConditionalCheckFailed") == 0)
			return 1;
		if (strcmp(code, "TransactionConflict") == 0 || strcmp(code, "ThrottlingError") == 0 ||
		    strcmp(code, "ProvisionedThroughputExceeded") == 0)
			retry = 1;
		else
			return -1;
	}
	return retry ? 0 : -1;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int dyn_call(dyn_state *d, const char *action, json_t *body, json_t **reply, json_t **fault, zl_err *err)
{
	int64_t start = zl_mono_ms();
	int delay = 25, ret;
	static int unreachable_logged; /* one line per outage, not per call */

	if (reply)
		*reply = NULL;
	if (fault)
		*fault = NULL;
	if (!body)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	for (;;) {
		json_t *f = NULL, *r = NULL;
		zl_aws_json_req rq = d->req;
		rq.fault = &f;
		ret = zl_aws_json_call(&rq, action, body, &r, err);
		if (ret == 0) {
			if (unreachable_logged) {
				unreachable_logged = 0;
				ZL_LOG(ZL_INFO, "state database reachable again", ZL_S("state", "dynamodb"));
			}
			if (reply)
				*reply = r;
			else
				json_decref(r);
			break;
		}
		const char *type = error_type(f);
		int again = ret == ZL_ETRANSIENT || is_throttle(type);
		if (strcmp(type, "ConditionalCheckFailedException") == 0) {
			ret = DYN_CONDITION;
		} else if (strcmp(type, "TransactionCanceledException") == 0) {
			int kind = cancel_kind(f);
			if (kind > 0)
				ret = DYN_CANCELED;
			again = kind == 0;
		} else if (strcmp(type, "ResourceNotFoundException") == 0) {
			ret = zl_err_prefix(err, "a table of %s* is missing in %s (create them with `zload state init`)",
			                    d->prefix, d->region);
		}
		if (ret == DYN_CONDITION || ret == DYN_CANCELED) {
			if (fault)
				*fault = f;
			else
				json_decref(f);
			break;
		}
		json_decref(f);
		if (!again)
			break;
		if (zl_mono_ms() - start >= d->retry_ms) {
			zl_err_prefix(err, "DynamoDB still failing after %d s", d->retry_ms / 1000);
			ret = err->code = ZL_ETRANSIENT;
			break;
		}
		if (!unreachable_logged && delay >= 400) {
			unreachable_logged = 1;
			ZL_LOG(ZL_WARN, "state database unreachable; retrying", ZL_S("state", "dynamodb"),
			       ZL_S("error", err->msg));
		}
		sleep_ms(delay / 2 + rand() % (delay / 2 + 1));
		delay = delay * 2 > 2000 ? 2000 : delay * 2;
	}
	json_decref(body);
	return ret;
}

int dyn_transact(dyn_state *d, json_t *items, json_t **fault, zl_err *err)
{
	char token[ZL_UUID_LEN];
	zl_uuid_v7(zl_now_ms(), token);
	return dyn_call(d, "TransactWriteItems", json_pack("{s:o,s:s}", "TransactItems", items, "ClientRequestToken", token),
	                NULL, fault, err);
}

int dyn_get_item(dyn_state *d, const char *table, json_t *key, json_t **item, zl_err *err)
{
	json_t *reply = NULL;
	*item = NULL;
	int ret = dyn_call(d, "GetItem", json_pack("{s:s,s:o,s:b}", "TableName", table, "Key", key, "ConsistentRead", 1),
	                   &reply, NULL, err);
	if (ret == 0) {
		json_t *it = json_object_get(reply, "Item");
		if (it)
			*item = json_incref(it);
	}
	json_decref(reply);
	return ret;
}

int dyn_query_all(dyn_state *d, const char *action, json_t *body, json_t **items, zl_err *err)
{
	int ret = 0;
	if (!*items && !(*items = json_array())) {
		json_decref(body);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	for (;;) {
		json_t *reply = NULL;
		if ((ret = dyn_call(d, action, json_deep_copy(body), &reply, NULL, err)))
			break;
		json_array_extend(*items, json_object_get(reply, "Items"));
		json_t *last = json_object_get(reply, "LastEvaluatedKey");
		if (!last || !json_object_size(last)) {
			json_decref(reply);
			break;
		}
		json_object_set(body, "ExclusiveStartKey", last);
		json_decref(reply);
	}
	json_decref(body);
	return ret;
}

int dyn_next_ids(dyn_state *d, int64_t n, int64_t *first, zl_err *err)
{
	json_t *reply = NULL;
	int ret = dyn_call(d, "UpdateItem",
	                   json_pack("{s:s,s:o,s:s,s:{s:o},s:s}", "TableName", d->t_config, "Key",
	                             dyn_key("s3Prefix", DYN_META, NULL, NULL), "UpdateExpression", "ADD zloadNoticeSeq :n",
	                             "ExpressionAttributeValues", ":n", dyn_N(n), "ReturnValues", "UPDATED_NEW"),
	                   &reply, NULL, err);
	if (ret == 0)
		*first = dyn_get_n(json_object_get(reply, "Attributes"), "zloadNoticeSeq", 0) - n + 1;
	json_decref(reply);
	return ret;
}

/* ---- the URL and the tables ---- */

static void dyn_close(zl_state *st)
{
	dyn_state *d = (dyn_state *)st;
	if (!d)
		return;
	zl_aws_provider_free(d->creds);
	for (size_t i = 0; i < sizeof d->pcache / sizeof *d->pcache; i++)
		free(d->pcache[i].prefix);
	for (size_t i = 0; i < sizeof d->ccache / sizeof *d->ccache; i++)
		free(d->ccache[i].prefix);
	for (size_t i = 0; i < d->nscan; i++)
		free(d->scan_keys[i]);
	free(d->scan_keys);
	free(d);
}

/* "//REGION?tables=P&endpoint=URL&retry=SECS" */
static int parse_url(dyn_state *d, const char *target, zl_err *err)
{
	const char *t = target ? target : "";
	char *endpoint = NULL, *copy = NULL, *save = NULL;
	int ret = 0;
	long retry_s = -1;

	if (strncmp(t, "//", 2) != 0)
		return zl_err_set(err, ZL_EINVAL,
		                  "state URL \"dynamodb:%s\": expected dynamodb://REGION?tables=PREFIX (REGION may be empty)",
		                  t);
	t += 2;
	size_t rl = strcspn(t, "?/");
	if (rl >= sizeof d->region)
		return zl_err_set(err, ZL_EINVAL, "state URL: the region is too long");
	memcpy(d->region, t, rl);
	d->region[rl] = '\0';
	t += rl;
	if (*t == '/')
		t++;
	if (*t && *t != '?')
		return zl_err_set(err, ZL_EINVAL, "state URL \"dynamodb:%s\": nothing may follow the region but ?PARAMETERS",
		                  target);
	snprintf(d->prefix, sizeof d->prefix, "%s", DEFAULT_TABLES);
	if (*t == '?' && !(copy = strdup(t + 1)))
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	for (char *kv = copy ? strtok_r(copy, "&", &save) : NULL; kv && !ret; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		char *val = eq ? eq + 1 : kv + strlen(kv);
		if (eq)
			*eq = '\0';
		if (zl_http_decode(val, 0)) {
			ret = zl_err_set(err, ZL_EINVAL, "dynamodb state URL: bad %%-escape in the value of \"%s\"", kv);
		} else if (strcmp(kv, "tables") == 0) {
			if (!*val || strlen(val) > 64 || strspn(val, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(val))
				ret = zl_err_set(err, ZL_EINVAL,
				                 "dynamodb state URL: tables=\"%s\" is not a table name prefix (letters, digits, _ . -; at most 64)",
				                 val);
			else
				snprintf(d->prefix, sizeof d->prefix, "%s", val);
		} else if (strcmp(kv, "endpoint") == 0) {
			free(endpoint);
			if (!(endpoint = strdup(val)))
				ret = zl_err_set(err, ZL_ENOMEM, "out of memory");
		} else if (strcmp(kv, "retry") == 0) {
			char *end;
			retry_s = strtol(val, &end, 10);
			if (*end || end == val || retry_s < 0 || retry_s > 86400)
				ret = zl_err_set(err, ZL_EINVAL, "dynamodb state URL: retry=\"%s\" is not a number of seconds", val);
		} else {
			ret = zl_err_set(err, ZL_EINVAL,
			                 "dynamodb state URL: unknown parameter \"%s\" (known: tables, endpoint, retry)", kv);
		}
	}
	free(copy);
	if (!ret) {
		if (!d->region[0])
			zl_aws_region(NULL, d->region, sizeof d->region);
		d->retry_ms = retry_s >= 0 ? (int)retry_s * 1000 : DEFAULT_RETRY_MS;
		if (endpoint && *endpoint)
			snprintf(d->endpoint, sizeof d->endpoint, "%s", endpoint);
		else
			ret = zl_aws_endpoint("dynamodb", d->region, NULL, d->endpoint, sizeof d->endpoint, err);
	}
	free(endpoint);
	return ret;
}

static int make_handle(const char *target, dyn_state **out, zl_err *err)
{
	dyn_state *d = calloc(1, sizeof *d);
	int ret;
	*out = NULL;
	if (!d)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	d->base.ops = &zl_state_dynamodb_ops;
	if ((ret = parse_url(d, target, err)) || (ret = zl_aws_provider_new(NULL, &d->creds, err))) {
		dyn_close(&d->base);
		return ret;
	}
	snprintf(d->t_config, sizeof d->t_config, "%sBatchLoadConfig", d->prefix);
	snprintf(d->t_batches, sizeof d->t_batches, "%sBatches", d->prefix);
	snprintf(d->t_files, sizeof d->t_files, "%sProcessedFiles", d->prefix);
	snprintf(d->gsi, sizeof d->gsi, "%sBatchStatus", d->prefix);
	d->req = (zl_aws_json_req){
		.url = d->endpoint, .region = d->region, .service = "dynamodb", .target = "DynamoDB_20120810",
		.json_version = "1.0", .creds = d->creds, .timeout_ms = 20000, .body_cap = 32u << 20,
	};
	*out = d;
	return 0;
}

/* The table's status ("ACTIVE", "CREATING"...), or "" when it does not exist. */
static int table_status(dyn_state *d, const char *table, char *status, size_t n, zl_err *err)
{
	json_t *reply = NULL, *fault = NULL;
	zl_aws_json_req rq = d->req;
	rq.fault = &fault;
	json_t *body = json_pack("{s:s}", "TableName", table);
	int ret = body ? zl_aws_json_call(&rq, "DescribeTable", body, &reply, err) : zl_err_set(err, ZL_ENOMEM, "out of memory");
	json_decref(body);
	status[0] = '\0';
	if (ret == 0) {
		const char *s = json_string_value(json_object_get(json_object_get(reply, "Table"), "TableStatus"));
		snprintf(status, n, "%s", s ? s : "ACTIVE");
	} else if (strcmp(error_type(fault), "ResourceNotFoundException") == 0) {
		ret = 0;
	}
	json_decref(reply);
	json_decref(fault);
	return ret;
}

static int check_tables(dyn_state *d, zl_err *err)
{
	const char *tables[] = { d->t_config, d->t_batches, d->t_files };
	char status[32];
	for (size_t i = 0; i < 3; i++) {
		int ret = table_status(d, tables[i], status, sizeof status, err);
		if (ret)
			return zl_err_prefix(err, "dynamodb state in %s", d->region);
		if (!status[0])
			return zl_err_set(err, ZL_EINVAL,
			                  "dynamodb state: table %s does not exist in %s (create the tables with `zload state init"
			                  " --state URL`)", tables[i], d->region);
	}
	return 0;
}

static int dyn_open(const char *target, zl_state **out, zl_err *err)
{
	dyn_state *d;
	int ret = make_handle(target, &d, err);
	*out = NULL;
	if (ret)
		return ret;
	if ((ret = check_tables(d, err))) {
		dyn_close(&d->base);
		return ret;
	}
	ZL_LOG(ZL_DEBUG, "dynamodb state opened", ZL_S("endpoint", d->endpoint), ZL_S("region", d->region),
	       ZL_S("tables", d->prefix));
	*out = &d->base;
	return 0;
}

static json_t *key_schema(const char *hash, const char *range)
{
	json_t *ks = json_pack("[{s:s,s:s}]", "AttributeName", hash, "KeyType", "HASH");
	if (range)
		json_array_append_new(ks, json_pack("{s:s,s:s}", "AttributeName", range, "KeyType", "RANGE"));
	return ks;
}

/* CreateTable of the original's schemas (common.js createTables), billed on demand. */
static json_t *table_definition(dyn_state *d, int which)
{
	switch (which) {
	case 0:
		return json_pack("{s:s,s:o,s:[{s:s,s:s}],s:s}", "TableName", d->t_config, "KeySchema",
		                 key_schema("s3Prefix", NULL), "AttributeDefinitions", "AttributeName", "s3Prefix",
		                 "AttributeType", "S", "BillingMode", "PAY_PER_REQUEST");
	case 1:
		return json_pack("{s:s,s:o,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}],s:[{s:s,s:o,s:{s:s}}],s:s}",
		                 "TableName", d->t_batches, "KeySchema", key_schema("s3Prefix", "batchId"),
		                 "AttributeDefinitions", "AttributeName", "s3Prefix", "AttributeType", "S", "AttributeName",
		                 "batchId", "AttributeType", "S", "AttributeName", "status", "AttributeType", "S",
		                 "AttributeName", "lastUpdate", "AttributeType", "N", "GlobalSecondaryIndexes", "IndexName",
		                 d->gsi, "KeySchema", key_schema("status", "lastUpdate"), "Projection", "ProjectionType", "ALL",
		                 "BillingMode", "PAY_PER_REQUEST");
	default:
		return json_pack("{s:s,s:o,s:[{s:s,s:s}],s:s}", "TableName", d->t_files, "KeySchema",
		                 key_schema("loadFile", NULL), "AttributeDefinitions", "AttributeName", "loadFile",
		                 "AttributeType", "S", "BillingMode", "PAY_PER_REQUEST");
	}
}

/* Creates the tables that are absent and waits until all are active; created counts them. */
static int create_tables(dyn_state *d, int *created, zl_err *err)
{
	const char *tables[] = { d->t_config, d->t_batches, d->t_files };
	char status[32];
	int ret = 0;
	*created = 0;
	for (int i = 0; i < 3 && !ret; i++) {
		if ((ret = table_status(d, tables[i], status, sizeof status, err)) || status[0])
			continue;
		json_t *reply = NULL, *body = table_definition(d, i);
		ret = body ? zl_aws_json_call(&d->req, "CreateTable", body, &reply, err) : zl_err_set(err, ZL_ENOMEM, "out of memory");
		json_decref(body);
		json_decref(reply);
		if (ret == 0) {
			(*created)++;
			ZL_LOG(ZL_INFO, "created DynamoDB table", ZL_S("table", tables[i]), ZL_S("region", d->region));
		}
	}
	for (int i = 0, waited = 0; i < 3 && !ret;) {
		if ((ret = table_status(d, tables[i], status, sizeof status, err)))
			break;
		if (strcmp(status, "ACTIVE") == 0) {
			i++;
		} else if (waited++ > 300) {
			ret = zl_err_set(err, ZL_ETRANSIENT, "table %s is still %s after 5 minutes", tables[i], status);
		} else {
			sleep_ms(1000);
		}
	}
	return ret;
}

static int dyn_init(const char *target, int *created, zl_err *err)
{
	dyn_state *d;
	int ret = make_handle(target, &d, err);
	if (ret)
		return ret;
	ret = create_tables(d, created, err);
	dyn_close(&d->base);
	return ret ? zl_err_prefix(err, "creating the dynamodb state's tables") : 0;
}

/* Deletes the tables of target (the conformance suite's cleanup). */
int zl_state_dynamodb_drop(const char *target, zl_err *err)
{
	dyn_state *d;
	int ret = make_handle(target, &d, err);
	if (ret)
		return ret;
	const char *tables[] = { d->t_config, d->t_batches, d->t_files };
	for (int i = 0; i < 3; i++) {
		json_t *reply = NULL, *body = json_pack("{s:s}", "TableName", tables[i]);
		zl_err e2 = { 0 };
		zl_aws_json_call(&d->req, "DeleteTable", body, &reply, &e2);
		json_decref(body);
		json_decref(reply);
	}
	dyn_close(&d->base);
	return 0;
}

/* Defined in state_dynamo.c. */
int dyn_claim_append(zl_state *st, const char *file_id, const char *prefix, const zl_object *obj, int64_t now,
                     const zl_claim_opts *opts, zl_append_result *res, zl_err *err);
int dyn_file_get(zl_state *st, const char *file_id, zl_file_rec *out, zl_err *err);
int dyn_file_delete(zl_state *st, const char *file_id, zl_err *err);
int dyn_batch_lock(zl_state *st, const char *batch_id, unsigned mask, const char *owner, int64_t now,
                   int64_t lease_until, zl_err *err);
int dyn_batch_renew(zl_state *st, const char *batch_id, const char *owner, int64_t lease_until, zl_err *err);
int dyn_batch_finish(zl_state *st, const char *batch_id, const char *owner, zl_batch_status status, int64_t now,
                     int64_t retry_at, const char *result, const char *error, const zl_notice *notices,
                     size_t nnotices, zl_err *err);
int dyn_batch_resolve(zl_state *st, const char *id_prefix, char out[ZL_UUID_LEN], zl_err *err);
int dyn_batch_get(zl_state *st, const char *batch_id, zl_batch *out, zl_err *err);
int dyn_batch_list(zl_state *st, const zl_batch_filter *f, zl_batch **out, size_t *n, zl_err *err);
int dyn_batch_unlock(zl_state *st, const char *batch_id, int64_t now, const char *owner, int force, zl_err *err);
int dyn_batch_delete(zl_state *st, const char *batch_id, zl_err *err);

const zl_state_ops zl_state_dynamodb_ops = {
	.scheme = "dynamodb",
	.open = dyn_open,
	.init = dyn_init,
	.close = dyn_close,
	.config_put = dyn_config_put,
	.config_get = dyn_config_get,
	.config_list = dyn_config_list,
	.config_delete = dyn_config_delete,
	.config_replace = dyn_config_replace,
	.config_version = dyn_config_version,
	.claim_append = dyn_claim_append,
	.file_get = dyn_file_get,
	.file_delete = dyn_file_delete,
	.batch_lock = dyn_batch_lock,
	.batch_renew = dyn_batch_renew,
	.batch_finish = dyn_batch_finish,
	.batch_resolve = dyn_batch_resolve,
	.batch_get = dyn_batch_get,
	.batch_list = dyn_batch_list,
	.batch_unlock = dyn_batch_unlock,
	.batch_delete = dyn_batch_delete,
	.notice_claim = dyn_notice_claim,
	.notice_settle = dyn_notice_settle,
	.notice_list = dyn_notice_list,
	.notice_requeue = dyn_notice_requeue,
	.file_scan = dyn_file_scan,
	.file_import = dyn_file_import,
	.batch_import = dyn_batch_import,
	.notice_import = dyn_notice_import,
};
