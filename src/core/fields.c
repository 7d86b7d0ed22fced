#include "core/fields.h"

#include <string.h>
#include <strings.h>

static const char *const type_names[] = {
	"string", "string", "non-negative integer", "boolean", "one-character string", "string",
	"object", "array", "value",
};

static const zl_field *find(const zl_field *table, const char *name)
{
	for (const zl_field *f = table; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* The canonical field a name stands for. */
static const zl_field *canonical(const zl_field *table, const zl_field *f)
{
	return f->alias_of ? find(table, f->alias_of) : f;
}

static int choice_ok(const char *choices, const char *v)
{
	size_t n = strlen(v);
	for (const char *p = choices; p && *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, v, n) == 0)
			return 1;
		p = bar ? bar + 1 : NULL;
	}
	return 0;
}

static int type_ok(const zl_field *f, const json_t *v)
{
	switch (f->type) {
	case ZL_FT_STRING:
	case ZL_FT_SECRET:
	case ZL_FT_ENUM:
		return json_is_string(v);
	case ZL_FT_INT:
		return json_is_integer(v) && json_integer_value(v) >= 0;
	case ZL_FT_BOOL:
		return json_is_boolean(v);
	case ZL_FT_CHAR:
		return json_is_string(v) && json_string_length(v) == 1;
	case ZL_FT_OBJECT:
		return json_is_object(v);
	case ZL_FT_ARRAY:
		return json_is_array(v);
	case ZL_FT_ANY:
		return 1;
	}
	return 0;
}

/* Edit distance of a and b (insertions, deletions, substitutions; letter case ignored), capped
 * at 9: names are short. */
static int distance(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	int row[64];
	if (na >= 64 || nb >= 64)
		return 9;
	for (size_t j = 0; j <= nb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= na; i++) {
		int diag = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= nb; j++) {
			int up = row[j];
			int same = (a[i - 1] | 0x20) == (b[j - 1] | 0x20);
			int best = diag + !same;
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[nb] > 9 ? 9 : row[nb];
}

/* The known field nearest to an unknown name: same letters in another case, or at most two edits
 * (one for short names) away; NULL when none is that close. */
static const char *nearest(const zl_field *table, const char *name)
{
	const char *best = NULL;
	int best_d = strlen(name) <= 4 ? 2 : 3;
	for (const zl_field *f = table; f->name; f++) {
		int d = strcasecmp(f->name, name) == 0 ? 0 : distance(f->name, name);
		if (d < best_d) {
			best = f->name;
			best_d = d;
		}
	}
	return best;
}

int zl_fields_check(const zl_field *table, const json_t *obj, const char *where, zl_err *err)
{
	const char *dot = where && *where ? "." : "";
	where = where ? where : "";
	if (!json_is_object(obj))
		return zl_err_set(err, ZL_EINVAL, "%s: expected a JSON object", *where ? where : "configuration");
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		const zl_field *f = find(table, key);
		const char *hint = f ? NULL : nearest(table, key);
		if (!f && hint)
			return zl_err_set(err, ZL_EINVAL, "%s%s%s: unknown field; did you mean \"%s\"?", where, dot, key, hint);
		if (!f)
			return zl_err_set(err, ZL_EINVAL, "%s%s%s: unknown field", where, dot, key);
		const zl_field *c = canonical(table, f);
		if (f != c && json_object_get(obj, c->name))
			return zl_err_set(err, ZL_EINVAL, "%s%s%s: given together with its alias \"%s\"", where,
			                  dot, key, c->name);
		if (!type_ok(c, v))
			return zl_err_set(err, ZL_EINVAL, "%s%s%s: expected a %s", where, dot, key,
			                  type_names[c->type]);
		if (c->type == ZL_FT_ENUM && !choice_ok(c->choices, json_string_value(v)))
			return zl_err_set(err, ZL_EINVAL, "%s%s%s: \"%s\" is not one of %s", where, dot, key,
			                  json_string_value(v), c->choices);
	}
	for (const zl_field *f = table; f->name; f++)
		if (f->required && !f->alias_of && !zl_fields_get(table, obj, f->name))
			return zl_err_set(err, ZL_EINVAL, "%s%s%s: missing required field", where, dot, f->name);
	return 0;
}

json_t *zl_fields_get(const zl_field *table, const json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);
	if (v)
		return v;
	for (const zl_field *f = table; f->name; f++)
		if (f->alias_of && strcmp(f->alias_of, name) == 0 && (v = json_object_get(obj, f->name)))
			return v;
	return NULL;
}

void zl_fields_help(const zl_field *table, zl_buf *out)
{
	static const char *const short_names[] = { "string", "string", "integer", "boolean", "char",
	                                           "string", "object", "array", "any" };
	for (const zl_field *f = table; f->name; f++) {
		if (f->alias_of) {
			zl_buf_printf(out, "  %-22s alias of %s\n", f->name, f->alias_of);
			continue;
		}
		zl_buf_printf(out, "  %-22s %-12s %s%s%s%s\n", f->name,
		              f->type == ZL_FT_ENUM ? f->choices : short_names[f->type],
		              f->required ? "(required) " : "", f->help ? f->help : "",
		              f->type == ZL_FT_SECRET ? " (masked)" : "", "");
	}
}

const char *zl_fields_secret_name(const zl_field *table, const char *key)
{
	const zl_field *f = find(table, key);
	const zl_field *c = f ? canonical(table, f) : NULL;
	return c && c->type == ZL_FT_SECRET ? c->name : NULL;
}

json_t *zl_fields_mask(const zl_field *table, const json_t *obj)
{
	json_t *copy = json_deep_copy(obj);
	const char *key;
	json_t *v;
	json_object_foreach(copy, key, v) {
		const zl_field *f = find(table, key);
		if (f && canonical(table, f) && canonical(table, f)->type == ZL_FT_SECRET)
			json_object_set_new(copy, key, json_string("********"));
	}
	return copy;
}
