/* Table-driven validation of JSON objects: configuration and target fields are declared once
 * in a zl_field table that also produces help text. */
#ifndef ZL_FIELDS_H
#define ZL_FIELDS_H

#include <jansson.h>

#include "util/buf.h"
#include "util/err.h"

typedef enum {
	ZL_FT_STRING = 0,
	ZL_FT_SECRET,   /* a string masked on display */
	ZL_FT_INT,      /* a non-negative integer */
	ZL_FT_BOOL,
	ZL_FT_CHAR,     /* a one-character string */
	ZL_FT_ENUM,     /* a string among choices */
	ZL_FT_OBJECT,
	ZL_FT_ARRAY,
	ZL_FT_ANY,      /* any JSON value, kept as it is */
} zl_field_type;

typedef struct zl_field {
	const char *name;      /* NULL ends a table */
	zl_field_type type;
	int required;
	const char *choices;   /* ZL_FT_ENUM: "a|b|c" */
	const char *alias_of;  /* this name is accepted for the field named here */
	const char *help;
} zl_field;

/* Checks obj against table: unknown fields, wrong types, missing required fields, values not
 * among the choices, a field given twice through an alias. Messages start with the field's
 * path: "<where>.<field>: ..." (where may be "" for the top level). */
int zl_fields_check(const zl_field *table, const json_t *obj, const char *where, zl_err *err);
/* The value of a field, by its canonical name or any alias; borrowed, NULL when absent. */
json_t *zl_fields_get(const zl_field *table, const json_t *obj, const char *name);
/* Appends one line per field ("  name  type  help") to out. */
void zl_fields_help(const zl_field *table, zl_buf *out);
/* The canonical name of the ZL_FT_SECRET field key names (directly or through an alias), or
 * NULL when key is not a secret field of table. */
const char *zl_fields_secret_name(const zl_field *table, const char *key);
/* A copy of obj with every ZL_FT_SECRET value replaced by "********". Caller decrefs. */
json_t *zl_fields_mask(const zl_field *table, const json_t *obj);

#endif
