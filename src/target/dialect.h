/* SQL text for loading, per database dialect: pure string building, no connection, so the exact
 * text is unit-tested. Output is appended to a caller's zl_buf. */
#ifndef ZL_DIALECT_H
#define ZL_DIALECT_H

#include <stddef.h>

#include "format/format.h"
#include "target/sql.h"
#include "util/buf.h"

typedef struct zl_copy_spec {
	const char *table;              /* "table" or "schema.table": each dotted part is quoted */
	const char *const *columns;     /* optional column list; each is one identifier, dots and all */
	size_t ncolumns;
	const zl_format *format;
	const char *options;            /* copyOptions, appended inside WITH (...), or NULL */
} zl_copy_spec;

/* The ledger holds one row per (batch_id, target) committed in its database. A row whose target
 * is this marker was migrated from the older layout keyed by batch_id alone: some target of the
 * batch committed it there, so it counts for every target. */
#define ZL_LEDGER_ANY_TARGET "*"

/* PostgreSQL: 'text' with quotes doubled, or E'...' when it holds control characters or
 * backslashes. */
int zl_sql_literal(zl_buf *out, const char *s);

/* PostgreSQL: COPY table [(columns)] FROM STDIN WITH (FORMAT ..., ...) for CSV and text. */
int zl_dialect_pg_copy(zl_buf *out, const zl_copy_spec *spec);
/* PostgreSQL, JSON lines: the staging table, the COPY of whole lines into it, and the INSERT
 * that maps each document's keys onto the target's columns (unknown keys ignored, missing NULL). */
extern const char zl_dialect_pg_json_stage_create[];
extern const char zl_dialect_pg_json_stage_copy[];
extern const char zl_dialect_pg_json_stage_clear[];
int zl_dialect_pg_json_insert(zl_buf *out, const zl_copy_spec *spec);
/* PostgreSQL ledger; ledger is quoted like a table name. */
int zl_dialect_pg_ledger_create(zl_buf *out, const char *ledger);
/* One row about the ledger table named by $1 (quoted, as zl_sql_ident writes it): whether it
 * exists, whether it has the target column (this layout), whether it has the part column (loads
 * in parts), the name of its primary key (or NULL). */
extern const char zl_dialect_pg_ledger_layout[];
/* The part of every row of a batch and target: $1 = batch id, $2 = target. */
int zl_dialect_pg_ledger_select(zl_buf *out, const char *ledger);
int zl_dialect_pg_ledger_insert(zl_buf *out, const char *ledger);  /* $1 = batch id, $2 = target, $3 = prefix */
/* The same with $4 = part, for a ledger with the part column. */
int zl_dialect_pg_ledger_insert_part(zl_buf *out, const char *ledger);
/* The statements, separated by "; ", that turn a ledger of the older layout into this one in
 * place (old rows get target '*'); to run in one transaction. pkey is the name of the old
 * primary key constraint, or NULL when the table has none. */
int zl_dialect_pg_ledger_migrate(zl_buf *out, const char *ledger, const char *pkey);
/* The statements that add the part column to a ledger of the (batch_id, target) layout and key it
 * by (batch_id, target, part), for a target with parallelism above 1; old rows get part 0. */
int zl_dialect_pg_ledger_migrate_parts(zl_buf *out, const char *ledger, const char *pkey);

/* SQLite: INSERT INTO table(columns) VALUES(?, ...). */
int zl_dialect_sqlite_insert(zl_buf *out, const char *table, const char *const *columns, size_t ncolumns);
/* SQLite ledger, same layout; ledger is quoted like a table name. */
int zl_dialect_sqlite_ledger_create(zl_buf *out, const char *ledger);
int zl_dialect_sqlite_ledger_select(zl_buf *out, const char *ledger);  /* ?1 = batch id, ?2 = target */
int zl_dialect_sqlite_ledger_insert(zl_buf *out, const char *ledger);  /* ?1 = batch id, ?2 = target, ?3 = prefix */
/* The statements, separated by "; ", that rebuild a ledger of the older layout in this one (rename,
 * create, copy with target '*', drop); to run in one transaction. */
int zl_dialect_sqlite_ledger_migrate(zl_buf *out, const char *ledger);

#endif
