#include "core/event.h"
#include "util/json_walk.h"

#include <ctype.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
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

/* ZL_REC_CREATED once every string of the object was copied; MALFORMED when memory ran out. */
static zl_rec_kind record_complete(zl_event_record *rec, const char *etag)
{
	if (rec->obj.bucket && rec->obj.key && (!etag || !*etag || rec->obj.etag))
		return ZL_REC_CREATED;
	snprintf(rec->error, sizeof rec->error, "out of memory");
	return ZL_REC_MALFORMED;
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
		rec->kind = record_complete(rec, etag);
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
		rec->kind = record_complete(rec, etag);
	}
}

/* ---- walking a body: a validating pass over the whole text, then a delivering pass */

#define MAX_DEPTH 4
#define NO_RECORDS ((size_t)-1)

typedef struct walker {
	zl_event_cb cb;
	void *ud;
	int stopped; /* cb returned non-zero: its value travels up unchanged */
} walker;

#define KEPT_MAX_BYTES (4 << 20) /* what the validating pass keeps of the records it parsed */

/* An element of the Records array as the validating pass saw it: where it starts, and when it
 * was a plain S3 record, what it said (so it is decoded once). */
typedef struct kept {
	size_t at;
	int parsed;
	char *event_name;
	zl_object obj;
} kept;

/* What the validating pass keeps of a top-level object: the small fields the forms are told
 * apart by, where its Records array starts, and its first elements (up to KEPT_MAX_BYTES; the
 * delivering pass decodes the rest again from resume_at). */
typedef struct top {
	json_t *fields;
	size_t records_at;
	kept *v;
	size_t n, alloc, bytes;
	int all_kept;
	size_t resume_at;
} top;

static void kept_release(top *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].event_name);
		zl_object_release(&t->v[i].obj);
	}
	free(t->v);
	t->v = NULL;
	t->n = t->alloc = t->bytes = 0;
}

static size_t str_bytes(const char *s) { return s ? strlen(s) + 1 + 16 : 0; } /* with malloc's overhead */

/* Room for one more in t->v; -1 when out of memory. */
static int grow_kept(top *t)
{
	size_t n = t->alloc ? 2 * t->alloc : 64;
	kept *v = realloc(t->v, n * sizeof *v);
	if (!v)
		return -1;
	t->v = v;
	t->alloc = n;
	return 0;
}

/* One element of the Records array in the validating pass: decoded, and kept while there is room. */
static int scan_record(zl_json_walk *j, size_t i, void *ud)
{
	top *t = ud;
	size_t at = j->pos;
	json_t *r = NULL;
	int rc = zl_json_walk_decode(j, &r);
	if (rc || !t->all_kept)
		goto out;
	if (t->bytes >= KEPT_MAX_BYTES || (t->n == t->alloc && grow_kept(t))) {
		t->all_kept = 0;
		t->resume_at = at;
		goto out;
	}
	kept *k = &t->v[t->n++];
	memset(k, 0, sizeof *k);
	k->at = at;
	t->bytes += sizeof *k;
	/* envelopes (Sns, SQS body) and records that are not plain creations are decoded again */
	if (!json_is_object(r) || json_object_get(r, "Sns") || json_object_get(r, "body"))
		goto out;
	zl_event_record rec = { 0 };
	parse_s3_record(r, i, &rec);
	if (rec.kind == ZL_REC_CREATED) {
		k->parsed = 1;
		k->event_name = rec.event_name;
		k->obj = rec.obj;
		t->bytes += str_bytes(rec.event_name) + str_bytes(rec.obj.bucket) + str_bytes(rec.obj.key) +
		            str_bytes(rec.obj.etag);
	} else {
		free(rec.event_name);
		zl_object_release(&rec.obj);
	}
out:
	json_decref(r);
	return rc;
}

static const char *const top_fields[] = { "Type", "Message", "Event", "source", "detail-type", "detail", NULL };

/* One Records array being delivered. */
typedef struct records {
	walker *wk;
	int depth;
	zl_err *err;
	int explained; /* err already says why the walk stopped */
} records;

static int walk_text(walker *wk, const char *text, size_t len, const char *what, int depth, zl_err *err);

static int deliver(walker *wk, zl_event_record *rec)
{
	int rc = wk->cb(wk->ud, rec);
	free(rec->event_name);
	zl_object_release(&rec->obj);
	if (rc)
		wk->stopped = 1;
	return rc;
}

static int scan_member(zl_json_walk *j, const char *key, void *ud)
{
	top *t = ud;
	if (strcmp(key, "Records") == 0) { /* a repeated key: the last one counts, as in jansson's tree */
		kept_release(t);
		t->records_at = zl_json_walk_peek(j) == '[' ? j->pos : NO_RECORDS;
		if (t->records_at == NO_RECORDS)
			return zl_json_walk_skip(j, 1);
		t->all_kept = 1;
		return zl_json_walk_array(j, scan_record, t);
	}
	for (const char *const *f = top_fields; *f; f++) {
		if (strcmp(key, *f) != 0)
			continue;
		json_t *v = NULL;
		int rc = zl_json_walk_decode(j, &v);
		if (rc == 0 && json_object_set_new(t->fields, key, v) != 0)
			rc = ZL_ENOMEM;
		return rc;
	}
	return zl_json_walk_skip(j, 1);
}

/* The validating pass: checks the whole text, holding one element of the top level's arrays at a
 * time. ZL_EINVAL with j->error for bad JSON. */
static int scan_top(zl_json_walk *j, top *t, int *is_object)
{
	int c = zl_json_walk_peek(j), rc;
	*is_object = c == '{';
	if (c == '{')
		rc = zl_json_walk_object(j, scan_member, t);
	else if (c == '[')
		rc = zl_json_walk_skip(j, 2);
	else
		rc = zl_json_walk_fail(j, "'[' or '{'");
	return rc ? rc : zl_json_walk_end(j);
}

/* An envelope field holding another event as JSON text (SNS Message, SQS body). */
static int deliver_embedded(records *rs, size_t i, json_t *text, const char *what)
{
	zl_err inner;
	int rc = walk_text(rs->wk, json_string_value(text), json_string_length(text), what, rs->depth + 1, &inner);
	if (rc != ZL_EINVAL || rs->wk->stopped) {
		if (rc && !rs->wk->stopped) {
			zl_err_set(rs->err, rc, "%s", inner.msg);
			rs->explained = 1;
		}
		return rc;
	}
	/* one bad envelope does not spoil the others */
	zl_event_record rec = { .kind = ZL_REC_MALFORMED };
	snprintf(rec.error, sizeof rec.error, "Records[%zu]: %.200s", i, inner.msg);
	return deliver(rs->wk, &rec);
}

static int deliver_element(zl_json_walk *j, size_t i, void *ud)
{
	records *rs = ud;
	json_t *r = NULL;
	int rc = zl_json_walk_decode(j, &r);
	if (rc)
		return rc;
	json_t *sns = json_object_get(r, "Sns");
	json_t *sns_message = json_object_get(sns, "Message");
	json_t *body = json_object_get(r, "body");
	if (json_is_object(sns) && json_is_string(sns_message)) {
		rc = deliver_embedded(rs, i, sns_message, "Sns.Message");
	} else if (json_is_string(body)) {
		rc = deliver_embedded(rs, i, body, "SQS body");
	} else {
		zl_event_record rec = { 0 };
		if (json_is_object(r)) {
			parse_s3_record(r, i, &rec);
		} else {
			rec.kind = ZL_REC_MALFORMED;
			snprintf(rec.error, sizeof rec.error, "Records[%zu]: expected a JSON object", i);
		}
		rc = deliver(rs->wk, &rec);
	}
	json_decref(r);
	return rc;
}

/* Delivers the elements the validating pass kept: what it parsed as is, the others decoded again
 * from where they start. */
static int deliver_kept(zl_json_walk *j, top *t, records *rs)
{
	int rc = 0;
	size_t i = 0;
	for (; rc == 0 && i < t->n; i++) {
		kept *k = &t->v[i];
		if (!k->parsed) {
			j->pos = k->at;
			rc = deliver_element(j, i, rs);
			continue;
		}
		zl_event_record rec = { .kind = ZL_REC_CREATED, .event_name = k->event_name, .obj = k->obj };
		k->event_name = NULL; /* deliver frees them */
		memset(&k->obj, 0, sizeof k->obj);
		rc = deliver(rs->wk, &rec);
	}
	return rc;
}

/* The delivering pass, once the text is known to be good: tells the forms apart. */
static int deliver_top(walker *wk, zl_json_walk *j, top *t, int depth, zl_err *err)
{
	json_t *root = t->fields;
	const char *type = json_string_value(json_object_get(root, "Type"));
	json_t *message = json_object_get(root, "Message");
	if (t->records_at != NO_RECORDS) { /* S3, MinIO, or Lambda's SNS/SQS batches */
		records rs = { wk, depth, err, 0 };
		int rc = deliver_kept(j, t, &rs);
		if (rc == 0 && !t->all_kept) {
			j->pos = t->resume_at;
			rc = zl_json_walk_array_from(j, t->n, deliver_element, &rs);
		}
		if (rc && !wk->stopped && !rs.explained)
			rc = rc == ZL_ENOMEM ? zl_err_set(err, rc, "out of memory")
			                     : zl_err_set(err, rc, "event: %s", j->error);
		return rc;
	}
	if (type && strcmp(type, "Notification") == 0 && json_is_string(message)) /* SNS envelope */
		return walk_text(wk, json_string_value(message), json_string_length(message), "SNS Message", depth + 1, err);
	const char *event = json_string_value(json_object_get(root, "Event"));
	if (event && strcmp(event, "s3:TestEvent") == 0)
		return 0;
	if (type && strcmp(type, "SubscriptionConfirmation") == 0)
		return 0;
	const char *source = json_string_value(json_object_get(root, "source"));
	if (source && strcmp(source, "aws.s3") == 0 && json_object_get(root, "detail-type")) {
		zl_event_record rec = { 0 };
		parse_eventbridge(root, &rec);
		return deliver(wk, &rec);
	}
	return zl_err_set(err, ZL_EINVAL, "event: no \"Records\" array (not an S3, SNS, SQS, EventBridge or MinIO event)");
}

/* One event text: the body (what == NULL: errors give line and column) or an envelope's field. */
static int walk_text(walker *wk, const char *text, size_t len, const char *what, int depth, zl_err *err)
{
	zl_json_walk j;
	top t = { .fields = NULL, .records_at = NO_RECORDS };
	int is_object = 0, rc;
	if (depth > MAX_DEPTH)
		return zl_err_set(err, ZL_EINVAL, "event: envelopes nested too deeply");
	zl_err_clear(err);
	if (!(t.fields = json_object()))
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	zl_json_walk_init(&j, text, len);
	rc = scan_top(&j, &t, &is_object);
	if (rc == ZL_EINVAL && what) {
		rc = zl_err_set(err, rc, "event: %s is not JSON: %s", what, j.error);
	} else if (rc == ZL_EINVAL) {
		int line, column;
		zl_json_walk_where(&j, &line, &column);
		rc = zl_err_set(err, rc, "event: invalid JSON at line %d, column %d: %s", line, column, j.error);
	} else if (rc) {
		rc = zl_err_set(err, rc, "out of memory");
	} else if (!is_object) {
		rc = zl_err_set(err, ZL_EINVAL, "event: expected a JSON object");
	} else {
		rc = deliver_top(wk, &j, &t, depth, err);
	}
	kept_release(&t);
	json_decref(t.fields);
	return rc;
}

int zl_event_each(const char *text, size_t len, zl_event_cb cb, void *ud, zl_err *err)
{
	walker wk = { cb, ud, 0 };
	if (len > INT_MAX) /* jansson counts positions in an int */
		return zl_err_set(err, ZL_EINVAL, "event: body larger than %d bytes", INT_MAX);
	return walk_text(&wk, text, len, NULL, 0, err);
}

/* ---- zl_event_parse: every record in an array */

typedef struct rec_list {
	zl_event_record *v;
	size_t n, alloc;
} rec_list;

static int collect(void *ud, const zl_event_record *rec)
{
	rec_list *l = ud;
	if (l->n == l->alloc) {
		size_t n = l->alloc ? l->alloc * 2 : 8;
		zl_event_record *p = realloc(l->v, n * sizeof *p);
		if (!p)
			return ZL_ENOMEM;
		l->v = p;
		l->alloc = n;
	}
	zl_event_record *r = &l->v[l->n++];
	*r = *rec;
	r->event_name = rec->event_name ? strdup(rec->event_name) : NULL;
	r->obj.bucket = rec->obj.bucket ? strdup(rec->obj.bucket) : NULL;
	r->obj.key = rec->obj.key ? strdup(rec->obj.key) : NULL;
	r->obj.etag = rec->obj.etag ? strdup(rec->obj.etag) : NULL;
	if ((rec->event_name && !r->event_name) || (rec->obj.bucket && !r->obj.bucket) ||
	    (rec->obj.key && !r->obj.key) || (rec->obj.etag && !r->obj.etag))
		return ZL_ENOMEM;
	return 0;
}

int zl_event_parse(const char *text, size_t len, zl_event_record **recs, size_t *n, zl_err *err)
{
	rec_list out = { 0 };
	*recs = NULL;
	*n = 0;
	int rc = zl_event_each(text, len, collect, &out, err);
	if (rc) {
		if (rc == ZL_ENOMEM)
			zl_err_set(err, rc, "out of memory");
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
