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

static void parse_record(json_t *r, size_t i, zl_event_record *rec)
{
	json_t *name = json_object_get(r, "eventName");
	if (json_is_string(name))
		rec->event_name = strdup(json_string_value(name));
	if (rec->event_name && strncmp(rec->event_name, "ObjectCreated:", 14) != 0) {
		rec->kind = ZL_REC_IGNORED;
		return;
	}
	rec->kind = ZL_REC_MALFORMED;
	json_t *s3 = json_object_get(r, "s3");
	const char *bucket = json_string_value(json_object_get(json_object_get(s3, "bucket"), "name"));
	json_t *object = json_object_get(s3, "object");
	const char *key = json_string_value(json_object_get(object, "key"));
	if (!json_is_object(r)) {
		snprintf(rec->error, sizeof rec->error, "Records[%zu]: expected a JSON object", i);
	} else if (!rec->event_name) {
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

int zl_event_parse(const char *text, size_t len, zl_event_record **recs, size_t *n, zl_err *err)
{
	json_error_t je;
	int rc = 0;
	*recs = NULL;
	*n = 0;
	json_t *root = json_loadb(text, len, 0, &je);
	if (!root)
		return zl_err_set(err, ZL_EINVAL, "event: invalid JSON at line %d, column %d: %s", je.line,
		                  je.column, je.text);
	json_t *records = json_object_get(root, "Records");
	if (!json_is_array(records)) {
		rc = zl_err_set(err, ZL_EINVAL, "event: no \"Records\" array");
		goto out;
	}
	size_t count = json_array_size(records);
	if (count) {
		*recs = calloc(count, sizeof **recs);
		if (!*recs) {
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < count; i++)
		parse_record(json_array_get(records, i), i, &(*recs)[i]);
	*n = count;
out:
	json_decref(root);
	return rc;
}

void zl_event_records_free(zl_event_record *recs, size_t n)
{
	for (size_t i = 0; recs && i < n; i++) {
		free(recs[i].event_name);
		zl_object_release(&recs[i].obj);
	}
	free(recs);
}
