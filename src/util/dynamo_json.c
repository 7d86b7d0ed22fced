#include "util/dynamo_json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *bad(zl_err *err, const char *path, const char *why)
{
	zl_err_set(err, ZL_EINVAL, "DynamoDB attribute %s: %s", path && *path ? path : "(item)", why);
	return NULL;
}

/* A DynamoDB number ("5", "-1.5", "1432228609.686", "1E3"): an integer when it is one. */
static json_t *number(const char *s, const char *path, zl_err *err)
{
	char *end;
	if (!s || !*s)
		return bad(err, path, "N is empty");
	errno = 0;
	long long i = strtoll(s, &end, 10);
	if (*end == '\0' && errno == 0)
		return json_integer(i);
	errno = 0;
	double d = strtod(s, &end);
	if (*end != '\0' || errno == ERANGE || !isfinite(d))
		return bad(err, path, "N is not a number");
	if (d == floor(d) && fabs(d) < 9.0e15)
		return json_integer((json_int_t)d);
	return json_real(d);
}

static json_t *array_of(const json_t *v, const char *type, const char *path, zl_err *err)
{
	if (!json_is_array(v))
		return bad(err, path, "a set must be an array");
	json_t *out = json_array();
	size_t i;
	json_t *x;
	json_array_foreach (v, i, x) {
		json_t *e = NULL;
		if (!json_is_string(x)) {
			json_decref(out);
			return bad(err, path, "a set's members must be strings");
		}
		e = strcmp(type, "NS") == 0 ? number(json_string_value(x), path, err) : json_string(json_string_value(x));
		if (!e) {
			json_decref(out);
			return NULL;
		}
		json_array_append_new(out, e);
	}
	return out;
}

json_t *zl_ddb_to_json(const json_t *av, const char *path, zl_err *err)
{
	char sub[512];
	if (!json_is_object(av) || json_object_size(av) != 1)
		return bad(err, path, "expected an object with one type key (S, N, L, M, ...)");
	const char *type = json_object_iter_key(json_object_iter((json_t *)av));
	const json_t *v = json_object_get(av, type);
	if (strcmp(type, "S") == 0 || strcmp(type, "B") == 0)
		return json_is_string(v) ? json_string(json_string_value(v)) : bad(err, path, "S and B hold a string");
	if (strcmp(type, "N") == 0)
		return json_is_string(v) ? number(json_string_value(v), path, err) : bad(err, path, "N holds a string");
	if (strcmp(type, "BOOL") == 0)
		return json_is_boolean(v) ? json_boolean(json_is_true(v)) : bad(err, path, "BOOL holds true or false");
	if (strcmp(type, "NULL") == 0)
		return json_is_true(v) ? json_null() : bad(err, path, "NULL holds true");
	if (strcmp(type, "SS") == 0 || strcmp(type, "NS") == 0 || strcmp(type, "BS") == 0)
		return array_of(v, type, path, err);
	if (strcmp(type, "L") == 0) {
		if (!json_is_array(v))
			return bad(err, path, "L holds an array");
		json_t *out = json_array();
		size_t i;
		json_t *x;
		json_array_foreach (v, i, x) {
			snprintf(sub, sizeof sub, "%s[%zu]", path ? path : "", i);
			json_t *e = zl_ddb_to_json(x, sub, err);
			if (!e) {
				json_decref(out);
				return NULL;
			}
			json_array_append_new(out, e);
		}
		return out;
	}
	if (strcmp(type, "M") == 0) {
		if (!json_is_object(v))
			return bad(err, path, "M holds an object");
		json_t *out = json_object();
		const char *k;
		json_t *x;
		json_object_foreach ((json_t *)v, k, x) {
			snprintf(sub, sizeof sub, "%s%s%s", path && *path ? path : "", path && *path ? "." : "", k);
			json_t *e = zl_ddb_to_json(x, sub, err);
			if (!e) {
				json_decref(out);
				return NULL;
			}
			json_object_set_new(out, k, e);
		}
		return out;
	}
	snprintf(sub, sizeof sub, "unknown type \"%s\"", type);
	return bad(err, path, sub);
}

json_t *zl_ddb_item_to_json(const json_t *item, zl_err *err)
{
	if (!json_is_object(item))
		return bad(err, NULL, "an item is an object of attribute values");
	json_t *m = json_pack("{s:O}", "M", item);
	json_t *out = zl_ddb_to_json(m, "", err);
	json_decref(m);
	return out;
}

/* The shortest decimal text that reads back as d. */
static json_t *real_number(double d)
{
	char s[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(s, sizeof s, "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	return json_pack("{s:s}", "N", s);
}

json_t *zl_ddb_from_json(const json_t *v)
{
	char s[32];
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_pack("{s:s}", "S", json_string_value(v));
	case JSON_INTEGER:
		snprintf(s, sizeof s, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return json_pack("{s:s}", "N", s);
	case JSON_REAL:
		return real_number(json_real_value(v));
	case JSON_TRUE:
	case JSON_FALSE:
		return json_pack("{s:b}", "BOOL", json_is_true(v));
	case JSON_NULL:
		return json_pack("{s:b}", "NULL", 1);
	case JSON_ARRAY: {
		json_t *l = json_array();
		size_t i;
		json_t *x;
		json_array_foreach (v, i, x)
			json_array_append_new(l, zl_ddb_from_json(x));
		return json_pack("{s:o}", "L", l);
	}
	case JSON_OBJECT:
		return json_pack("{s:o}", "M", zl_ddb_item_from_json(v));
	}
	return NULL;
}

json_t *zl_ddb_item_from_json(const json_t *obj)
{
	json_t *m = json_object();
	const char *k;
	json_t *x;
	json_object_foreach ((json_t *)obj, k, x)
		json_object_set_new(m, k, zl_ddb_from_json(x));
	return m;
}
