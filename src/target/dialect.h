/* SQL text for loading, per database dialect: pure string building, no connection, so the exact
 * text is unit-tested. Output is appended to a caller's zl_buf. */
#ifndef ZL_DIALECT_H
#define ZL_DIALECT_H

#include <stddef.h>

#include "format/format.h"
#include "util/buf.h"

typedef struct zl_copy_spec {
	const char *table;              /* "table" or "schema.table": each dotted part is quoted */
	const char *const *columns;     /* optional column list */
	size_t ncolumns;
	const zl_format *format;
	const char *options;            /* copyOptions, appended inside WITH (...), or NULL */
} zl_copy_spec;

/* "name" with embedded quotes doubled; "a.b" becomes "a"."b". */
int zl_sql_ident(zl_buf *out, const char *name);
/* 'text' with quotes doubled, or E'...' when it holds control characters or backslashes. */
int zl_sql_literal(zl_buf *out, const char *s);

/* PostgreSQL: COPY table [(columns)] FROM STDIN WITH (FORMAT ..., ...) for CSV and text. */
int zl_dialect_pg_copy(zl_buf *out, const zl_copy_spec *spec);
/* PostgreSQL, JSON lines: the staging table, the COPY of whole lines into it, and the INSERT
 * that maps each document's keys onto the target's columns (unknown keys ignored, missing NULL). */
extern const char zl_dialect_pg_json_stage_create[];
extern const char zl_dialect_pg_json_stage_copy[];
extern const char zl_dialect_pg_json_stage_clear[];
int zl_dialect_pg_json_insert(zl_buf *out, const zl_copy_spec *spec);
/* The ledger table and its statements; ledger is quoted like a table name. */
int zl_dialect_pg_ledger_create(zl_buf *out, const char *ledger);
int zl_dialect_pg_ledger_select(zl_buf *out, const char *ledger);  /* $1 = batch id */
int zl_dialect_pg_ledger_insert(zl_buf *out, const char *ledger);  /* $1 = batch id, $2 = prefix */

#endif
