/* Vertica's SQL for loading: COPY in its three modes, the ledger, session settings for S3, and
 * the look-ups of accepted and rejected rows. Pure string building (the exact text is
 * unit-tested); output is appended to a caller's zl_buf. Identifiers and literals are quoted as
 * PostgreSQL quotes them (Vertica runs with standard_conforming_strings on). */
#ifndef ZL_DIALECT_VERTICA_H
#define ZL_DIALECT_VERTICA_H

#include <stddef.h>

#include "format/format.h"
#include "util/buf.h"

typedef enum {
	ZL_VMODE_STREAM = 0,   /* COPY ... FROM LOCAL STDIN: zload streams each object */
	ZL_VMODE_MOUNT,        /* COPY ... FROM '/mnt/s3/bucket/key', ...: the nodes read a mount */
	ZL_VMODE_S3,           /* COPY ... FROM 's3://bucket/key', ...: the nodes read S3 */
} zl_vmode;

typedef struct zl_vcopy_spec {
	const char *table;               /* "table" or "schema.table" */
	const char *const *columns;      /* optional column list */
	size_t ncolumns;
	const zl_format *format;         /* mapped to Vertica's clauses unless options is set */
	const char *options;             /* copyOptions: passed as they are, in place of the format's
	                                  * clauses (a Flex parser, ON ANY NODE, DIRECT, ...) */
	const char *rejected_table;      /* REJECTED DATA AS TABLE, or NULL */
	zl_vmode mode;
	const char *const *sources;      /* MOUNT: file paths; S3: s3:// URLs (not used by STREAM) */
	size_t nsources;
} zl_vcopy_spec;

/* COPY table [(columns)] FROM LOCAL STDIN | 'source' [GZIP|BZIP], ... clauses [REJECTED DATA AS
 * TABLE r] NO COMMIT. In MOUNT and S3 mode each source's compression comes from the format (or,
 * with compression auto, from its name: .gz GZIP, .bz2 BZIP, .zst ZSTD). */
int zl_dialect_vertica_copy(zl_buf *out, const zl_vcopy_spec *spec);

/* The ledger: one row per (batch_id, target), its key declared ENABLED so Vertica enforces it. */
int zl_dialect_vertica_ledger_create(zl_buf *out, const char *ledger);
/* Whether the table exists (one row, a count), from v_catalog (needs no privilege on it). */
int zl_dialect_vertica_table_exists(zl_buf *out, const char *table);
int zl_dialect_vertica_ledger_select(zl_buf *out, const char *ledger, const char *batch_id, const char *target);
int zl_dialect_vertica_ledger_insert(zl_buf *out, const char *ledger, const char *batch_id, const char *target,
                                     const char *prefix);

/* ALTER SESSION SET name = 'value'. */
int zl_dialect_vertica_session_set(zl_buf *out, const char *name, const char *value);
/* TRUNCATE TABLE table (it commits, in Vertica: run it first). */
int zl_dialect_vertica_truncate(zl_buf *out, const char *table);
/* Rows accepted and rejected by the last COPY of the session. */
extern const char zl_dialect_vertica_copy_counts[];
/* The first `limit` rejected rows (row_number, rejected_reason) of the last COPY of this
 * transaction, from the rejects table. */
int zl_dialect_vertica_rejects(zl_buf *out, const char *rejected_table, int limit);

#endif
