#include "core/event.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

char *zl_url_decode_key(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%') {
			int hi = i + 2 < n + 1 ? hexval((unsigned char)s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval((unsigned char)s[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* Accepts "ObjectCreated:Put" (AWS) and "s3:ObjectCreated:Put" (MinIO). */
static int is_created(const char *name)
{
	if (strncmp(name, "s3:", 3) == 0)
		name += 3;
	return strncmp(name, "ObjectCreated:", 14) == 0;
}

static void parse_s3_record(json_t *r, size_t i, zl_event_record *rec)
{
	json_t *name = json_object_get(r, "eventName");
	if (json_is_string(name))
		rec->event_name = strdup(json_string_value(name));
	if (rec->event_name && !is_created(rec->event_name)) {
		rec->kind = ZL_REC_IGNORED;
		return;
	}
	rec->kind = ZL_REC_MALFORMED;
	json_t *s3 = json_object_get(r, "s3");
	const char *bucket = json_string_value(json_object_get(json_object_get(s3, "bucket"), "name"));
	json_t *object = json_object_get(s3, "object");
	const char *key = json_string_value(json_object_get(object, "key"));
	if (!rec->event_name) {
		snprintf(rec->error, sizeof rec->error, "Records[%zu].eventName: missing", i);
	} else if (!bucket || !*bucket) {
		snprintf(rec->error, sizeof rec->error, "Records[%zu].s3.bucket.name: missing", i);
	} else if (!key || !*key) {
		snprintf(rec->error, sizeof rec->error, "Records[%zu].s3.object.key: missing", i);
	} else if (!(rec->obj.key = zl_url_decode_key(key))) {
		snprintf(rec->error, sizeof rec->error, "Records[%zu].s3.object.key: bad %%-escape in \"%.80s\"", i, key);
	} else {
		rec->obj.bucket = strdup(bucket);
		json_t *size = json_object_get(object, "size");
		rec->obj.size = json_is_integer(size) ? json_integer_value(size) : -1;
		const char *etag = json_string_value(json_object_get(object, "eTag"));
		if (etag && *etag)
			rec->obj.etag = strdup(etag);
		rec->kind = ZL_REC_CREATED;
	}
}

/* EventBridge "Object Created": keys there are not URL-encoded. */
static void parse_eventbridge(json_t *root, zl_event_record *rec)
{
	const char *type = json_string_value(json_object_get(root, "detail-type"));
	rec->event_name = strdup(type ? type : "");
	if (!type || strcmp(type, "Object Created") != 0) {
		rec->kind = ZL_REC_IGNORED;
		return;
	}
	json_t *detail = json_object_get(root, "detail");
	const char *bucket = json_string_value(json_object_get(json_object_get(detail, "bucket"), "name"));
	json_t *object = json_object_get(detail, "object");
	const char *key = json_string_value(json_object_get(object, "key"));
	rec->kind = ZL_REC_MALFORMED;
	if (!bucket || !*bucket) {
		snprintf(rec->error, sizeof rec->error, "detail.bucket.name: missing");
	} else if (!key || !*key) {
		snprintf(rec->error, sizeof rec->error, "detail.object.key: missing");
	} else {
		rec->obj.bucket = strdup(bucket);
		rec->obj.key = strdup(key);
		json_t *size = json_object_get(object, "size");
		rec->obj.size = json_is_integer(size) ? json_integer_value(size) : -1;
		const char *etag = json_string_value(json_object_get(object, "etag"));
		if (etag && *etag)
			rec->obj.etag = strdup(etag);
		rec->kind = ZL_REC_CREATED;
	}
}

typedef struct rec_list {
	zl_event_record *v;
	size_t n, alloc;
} rec_list;

static zl_event_record *add_rec(rec_list *l)
{
	if (l->n == l->alloc) {
		size_t n = l->alloc ? l->alloc * 2 : 8;
		zl_event_record *p = realloc(l->v, n * sizeof *p);
		if (!p)
			return NULL;
		l->v = p;
		l->alloc = n;
	}
	memset(&l->v[l->n], 0, sizeof l->v[l->n]);
	return &l->v[l->n++];
}

#define MAX_DEPTH 4

static int parse_value(json_t *root, int depth, rec_list *out, zl_err *err);

/* An envelope field holding another event as JSON text (SNS Message, SQS body). */
static int parse_embedded(const char *text, const char *what, int depth, rec_list *out, zl_err *err)
{
	json_error_t je;
	json_t *inner = json_loads(text, 0, &je);
	if (!inner)
		return zl_err_set(err, ZL_EINVAL, "event: %s is not JSON: %s", what, je.text);
	int rc = parse_value(inner, depth + 1, out, err);
	json_decref(inner);
	return rc;
}

static int parse_value(json_t *root, int depth, rec_list *out, zl_err *err)
{
	if (depth > MAX_DEPTH)
		return zl_err_set(err, ZL_EINVAL, "event: envelopes nested too deeply");
	if (!json_is_object(root))
		return zl_err_set(err, ZL_EINVAL, "event: expected a JSON object");
	json_t *records = json_object_get(root, "Records");
	const char *type = json_string_value(json_object_get(root, "Type"));
	const char *message = json_string_value(json_object_get(root, "Message"));
	if (json_is_array(records)) { /* S3, MinIO, or Lambda's SNS/SQS batches */
		size_t i;
		json_t *r;
		json_array_foreach(records, i, r) {
			json_t *sns = json_object_get(r, "Sns");
			const char *body = json_string_value(json_object_get(r, "body"));
			int rc = 0;
			if (json_is_object(sns) && json_is_string(json_object_get(sns, "Message"))) {
				rc = parse_embedded(json_string_value(json_object_get(sns, "Message")), "Sns.Message", depth, out, err);
			} else if (body) {
				rc = parse_embedded(body, "SQS body", depth, out, err);
			} else {
				zl_event_record *rec = add_rec(out);
				if (!rec)
					return zl_err_set(err, ZL_ENOMEM, "out of memory");
				if (json_is_object(r))
					parse_s3_record(r, i, rec);
				else {
					rec->kind = ZL_REC_MALFORMED;
					snprintf(rec->error, sizeof rec->error, "Records[%zu]: expected a JSON object", i);
				}
			}
			if (rc == ZL_EINVAL) { /* one bad envelope does not spoil the others */
				zl_event_record *rec = add_rec(out);
				if (!rec)
					return zl_err_set(err, ZL_ENOMEM, "out of memory");
				rec->kind = ZL_REC_MALFORMED;
				snprintf(rec->error, sizeof rec->error, "Records[%zu]: %.200s", i, err->msg);
			} else if (rc) {
				return rc;
			}
		}
		return 0;
	}
	if (type && strcmp(type, "Notification") == 0 && message) /* SNS envelope */
		return parse_embedded(message, "SNS Message", depth, out, err);
	const char *event = json_string_value(json_object_get(root, "Event"));
	if (event && strcmp(event, "s3:TestEvent") == 0)
		return 0;
	if (type && strcmp(type, "SubscriptionConfirmation") == 0)
		return 0;
	const char *source = json_string_value(json_object_get(root, "source"));
	if (source && strcmp(source, "aws.s3") == 0 && json_object_get(root, "detail-type")) {
		zl_event_record *rec = add_rec(out);
		if (!rec)
			return zl_err_set(err, ZL_ENOMEM, "out of memory");
		parse_eventbridge(root, rec);
		return 0;
	}
	return zl_err_set(err, ZL_EINVAL, "event: no \"Records\" array (not an S3, SNS, SQS, EventBridge or MinIO event)");
}

int zl_event_parse(const char *text, size_t len, zl_event_record **recs, size_t *n, zl_err *err)
{
	json_error_t je;
	rec_list out = { 0 };
	*recs = NULL;
	*n = 0;
	json_t *root = json_loadb(text, len, 0, &je);
	if (!root)
		return zl_err_set(err, ZL_EINVAL, "event: invalid JSON at line %d, column %d: %s", je.line,
		                  je.column, je.text);
	int rc = parse_value(root, 0, &out, err);
	json_decref(root);
	if (rc) {
		zl_event_records_free(out.v, out.n);
		return rc;
	}
	*recs = out.v;
	*n = out.n;
	return 0;
}

void zl_event_records_free(zl_event_record *recs, size_t n)
{
	for (size_t i = 0; recs && i < n; i++) {
		free(recs[i].event_name);
		zl_object_release(&recs[i].obj);
	}
	free(recs);
}
