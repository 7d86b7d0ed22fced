/* File formats: the format model, streaming decompression (gzip, zstd, bzip2) and a row parser
 * (CSV, PostgreSQL text, JSON lines).
 * Readers and row parsers are owned by the caller and freed by their close/free functions. */
#ifndef ZL_FORMAT_H
#define ZL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/reader.h"

typedef enum { ZL_FMT_CSV = 0, ZL_FMT_JSONL, ZL_FMT_TEXT } zl_format_type;
typedef enum { ZL_COMP_AUTO = 0, ZL_COMP_NONE, ZL_COMP_GZIP, ZL_COMP_ZSTD, ZL_COMP_BZIP2 } zl_compression;

typedef struct zl_format {
	zl_format_type type;
	char delimiter;          /* CSV: default ','; text: default '\t' */
	char quote;              /* CSV: default '"' */
	char escape;             /* CSV: escapes a quote inside a quoted field; 0: the quote itself */
	const char *null_string; /* a field equal to this (CSV: unquoted) is NULL; NULL means the
	                          * default: CSV "" (unquoted empty), text "\N". Borrowed. */
	int header;              /* CSV: first line holds column names (skipped in every file) */
	zl_compression compression;
} zl_format;

void zl_format_defaults(zl_format *f);

/* Wraps inner in a decompressing reader. Takes ownership of inner, even on failure.
 * ZL_COMP_AUTO decides by name (".gz", ".zst", ".bz2") or by magic bytes (gzip 1f 8b,
 * zstd 28 b5 2f fd, bzip2 "BZh"); the magic bytes win over a misleading name.
 * Corrupt input reads as ZL_EINVAL naming the object. */
int zl_decompress_open(zl_reader *inner, zl_compression comp, const char *name, zl_reader **out,
                       zl_err *err);

/* One parsed row. Pointers are valid until the next zl_rows_next or zl_rows_free. */
typedef struct zl_row {
	size_t n;
	const char *const *names;  /* JSON lines: each value's key; CSV: NULL */
	const char *const *values; /* NUL-terminated; NULL for SQL NULL */
	const size_t *lens;
	int64_t line;              /* 1-based line where the row starts */
} zl_row;

typedef struct zl_rows zl_rows;

/* Starts parsing r (not owned; must outlive the parser). name is used in messages.
 * For CSV with header, reads the header line now. */
int zl_rows_open(zl_reader *r, const zl_format *fmt, const char *name, zl_rows **out, zl_err *err);
/* CSV with header: the column names (valid until zl_rows_free). Otherwise n = 0. */
void zl_rows_header(const zl_rows *rows, const char *const **names, size_t *n);
/* Returns 1 with *row filled, 0 at end, or a negative code with err set to
 * "NAME line N: reason" (unterminated quote, invalid JSON, not an object, backslash at end
 * of line, ...). */
int zl_rows_next(zl_rows *rows, zl_row *row, zl_err *err);
/* JSON lines and text: the line the last row came from, as read (without its line break), for
 * a caller that passes accepted lines on; valid until the next zl_rows_next. Otherwise len = 0. */
void zl_rows_line(const zl_rows *rows, const char **text, size_t *len);
void zl_rows_free(zl_rows *rows);

#endif
