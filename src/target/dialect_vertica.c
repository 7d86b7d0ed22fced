#include "target/dialect_vertica.h"
#include "target/dialect.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Vertica's identifiers are case-insensitive, quoted or not: they are sent in lower case, so
 * what zload names and what it creates always agree. */
static int folded(zl_buf *out, const char *name, int (*quote)(zl_buf *, const char *))
{
	char *low = strdup(name);
	if (!low)
		return ZL_ENOMEM;
	for (char *p = low; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	int rc = quote(out, low);
	free(low);
	return rc;
}

static int vident(zl_buf *out, const char *table) { return folded(out, table, zl_sql_ident); }
static int vname(zl_buf *out, const char *column) { return folded(out, column, zl_sql_name); }

static int literal_char(zl_buf *out, char c)
{
	char s[2] = { c, '\0' };
	return zl_sql_literal(out, s);
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The compression keyword of one server-side source, or NULL. */
static const char *source_compression(const zl_format *f, const char *source)
{
	switch (f->compression) {
	case ZL_COMP_GZIP: return "GZIP";
	case ZL_COMP_BZIP2: return "BZIP";
	case ZL_COMP_ZSTD: return "ZSTD";
	case ZL_COMP_NONE: return NULL;
	case ZL_COMP_AUTO: break;
	}
	return has_suffix(source, ".gz") ? "GZIP" : has_suffix(source, ".bz2") ? "BZIP"
	     : has_suffix(source, ".zst") ? "ZSTD" : NULL;
}

static int format_clauses(zl_buf *out, const zl_format *f)
{
	int rc = 0;
	if (f->type == ZL_FMT_JSONL)
		return zl_buf_adds(out, " PARSER FJSONPARSER()");
	rc = zl_buf_adds(out, " DELIMITER ");
	rc = rc ? rc : literal_char(out, f->delimiter);
	if (f->type == ZL_FMT_TEXT) { /* backslash escapes, as PostgreSQL's text format */
		rc = rc ? rc : zl_buf_adds(out, " NULL ");
		return rc ? rc : zl_sql_literal(out, f->null_string ? f->null_string : "\\N");
	}
	rc = rc ? rc : zl_buf_adds(out, " ENCLOSED BY ");
	rc = rc ? rc : literal_char(out, f->quote);
	if (f->escape && f->escape != f->quote) {
		rc = rc ? rc : zl_buf_adds(out, " ESCAPE AS ");
		rc = rc ? rc : literal_char(out, f->escape);
	} else { /* CSV doubles a quote inside quotes; a backslash is data */
		rc = rc ? rc : zl_buf_adds(out, " NO ESCAPE");
	}
	rc = rc ? rc : zl_buf_adds(out, " NULL ");
	rc = rc ? rc : zl_sql_literal(out, f->null_string ? f->null_string : "");
	return rc ? rc : f->header ? zl_buf_adds(out, " SKIP 1") : 0;
}

/* Where "ON ANY NODE" stands in copyOptions (any case), or NULL. */
static const char *on_any_node(const char *options)
{
	static const char needle[] = "ON ANY NODE";
	for (const char *p = options; p && *p; p++)
		if (strncasecmp(p, needle, sizeof needle - 1) == 0)
			return p;
	return NULL;
}

static int sources(zl_buf *out, const zl_vcopy_spec *spec, int any_node)
{
	int rc = 0;
	if (spec->mode == ZL_VMODE_STREAM)
		return zl_buf_adds(out, " FROM LOCAL STDIN");
	rc = zl_buf_adds(out, " FROM ");
	for (size_t i = 0; i < spec->nsources && rc == 0; i++) {
		const char *comp = source_compression(spec->format, spec->sources[i]);
		rc = i ? zl_buf_adds(out, ", ") : 0;
		rc = rc ? rc : zl_sql_literal(out, spec->sources[i]);
		if (any_node && rc == 0)
			rc = zl_buf_adds(out, " ON ANY NODE");
		if (comp && rc == 0)
			rc = zl_buf_printf(out, " %s", comp);
	}
	return rc;
}

/* copyOptions without the first "ON ANY NODE" (it belongs after each source), spaces tidied. */
static int options_without_node(zl_buf *out, const char *options, const char *at)
{
	size_t before = (size_t)(at - options);
	while (before && options[before - 1] == ' ')
		before--;
	const char *after = at + strlen("ON ANY NODE");
	while (*after == ' ')
		after++;
	int rc = zl_buf_add(out, options, before);
	if (rc == 0 && before && *after)
		rc = zl_buf_addc(out, ' ');
	return rc ? rc : zl_buf_adds(out, after);
}

int zl_dialect_vertica_copy(zl_buf *out, const zl_vcopy_spec *spec)
{
	int rc = zl_buf_adds(out, "COPY ");
	rc = rc ? rc : vident(out, spec->table);
	if (spec->ncolumns) {
		rc = rc ? rc : zl_buf_adds(out, " (");
		for (size_t i = 0; i < spec->ncolumns && rc == 0; i++) {
			rc = i ? zl_buf_adds(out, ", ") : 0;
			rc = rc ? rc : vname(out, spec->columns[i]);
		}
		rc = rc ? rc : zl_buf_addc(out, ')');
	}
	/* ON ANY NODE names where each server-side source is read: Vertica wants it after each path */
	const char *node = spec->mode == ZL_VMODE_MOUNT ? on_any_node(spec->options) : NULL;
	rc = rc ? rc : sources(out, spec, node != NULL);
	if (spec->options && *spec->options) {
		zl_buf opts;
		zl_buf_init(&opts, 0);
		rc = rc ? rc : node ? options_without_node(&opts, spec->options, node) : zl_buf_adds(&opts, spec->options);
		if (rc == 0 && opts.len)
			rc = zl_buf_addc(out, ' ') || zl_buf_adds(out, zl_buf_str(&opts));
		zl_buf_release(&opts);
	} else {
		rc = rc ? rc : format_clauses(out, spec->format);
	}
	if (spec->rejected_table) {
		rc = rc ? rc : zl_buf_adds(out, " REJECTED DATA AS TABLE ");
		rc = rc ? rc : vident(out, spec->rejected_table);
	}
	/* Without NO COMMIT each COPY commits at once and the batch is no longer one transaction. */
	return rc ? rc : zl_buf_adds(out, " NO COMMIT");
}

int zl_dialect_vertica_ledger_create(zl_buf *out, const char *ledger)
{
	int rc = zl_buf_adds(out, "CREATE TABLE IF NOT EXISTS ");
	rc = rc ? rc : vident(out, ledger);
	return rc ? rc : zl_buf_adds(out, " (batch_id varchar(64) NOT NULL, target varchar(512) NOT NULL, "
	                                  "prefix varchar(4096) NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now(), "
	                                  "PRIMARY KEY (batch_id, target) ENABLED)");
}

int zl_dialect_vertica_table_exists(zl_buf *out, const char *table)
{
	const char *dot = strchr(table, '.');
	int rc = zl_buf_adds(out, "SELECT count(*) FROM v_catalog.tables WHERE table_schema = ");
	if (dot) {
		zl_buf schema;
		zl_buf_init(&schema, 0);
		rc = rc ? rc : zl_buf_add(&schema, table, (size_t)(dot - table));
		rc = rc ? rc : folded(out, zl_buf_str(&schema), zl_sql_literal);
		zl_buf_release(&schema);
	} else {
		rc = rc ? rc : zl_buf_adds(out, "CURRENT_SCHEMA()");
	}
	rc = rc ? rc : zl_buf_adds(out, " AND table_name = ");
	return rc ? rc : folded(out, dot ? dot + 1 : table, zl_sql_literal);
}

int zl_dialect_vertica_ledger_select(zl_buf *out, const char *ledger, const char *batch_id, const char *target)
{
	int rc = zl_buf_adds(out, "SELECT 1 FROM ");
	rc = rc ? rc : vident(out, ledger);
	rc = rc ? rc : zl_buf_adds(out, " WHERE batch_id = ");
	rc = rc ? rc : zl_sql_literal(out, batch_id);
	rc = rc ? rc : zl_buf_adds(out, " AND target IN (");
	rc = rc ? rc : zl_sql_literal(out, target);
	return rc ? rc : zl_buf_adds(out, ", '" ZL_LEDGER_ANY_TARGET "')");
}

int zl_dialect_vertica_ledger_insert(zl_buf *out, const char *ledger, const char *batch_id, const char *target,
                                     const char *prefix)
{
	int rc = zl_buf_adds(out, "INSERT INTO ");
	rc = rc ? rc : vident(out, ledger);
	rc = rc ? rc : zl_buf_adds(out, " (batch_id, target, prefix) VALUES (");
	rc = rc ? rc : zl_sql_literal(out, batch_id);
	rc = rc ? rc : zl_buf_adds(out, ", ");
	rc = rc ? rc : zl_sql_literal(out, target);
	rc = rc ? rc : zl_buf_adds(out, ", ");
	rc = rc ? rc : zl_sql_literal(out, prefix ? prefix : "");
	return rc ? rc : zl_buf_addc(out, ')');
}

int zl_dialect_vertica_session_set(zl_buf *out, const char *name, const char *value)
{
	int rc = zl_buf_printf(out, "ALTER SESSION SET %s = ", name);
	return rc ? rc : zl_sql_literal(out, value);
}

int zl_dialect_vertica_truncate(zl_buf *out, const char *table)
{
	int rc = zl_buf_adds(out, "TRUNCATE TABLE ");
	return rc ? rc : vident(out, table);
}

const char zl_dialect_vertica_copy_counts[] = "SELECT GET_NUM_ACCEPTED_ROWS(), GET_NUM_REJECTED_ROWS()";

int zl_dialect_vertica_rejects(zl_buf *out, const char *rejected_table, int limit)
{
	zl_buf t;
	zl_buf_init(&t, 0);
	int rc = vident(&t, rejected_table);
	rc = rc ? rc : zl_buf_printf(out, "SELECT row_number, rejected_reason FROM %s WHERE transaction_id = "
	                                  "CURRENT_TRANS_ID() AND statement_id = (SELECT max(statement_id) FROM %s "
	                                  "WHERE transaction_id = CURRENT_TRANS_ID()) ORDER BY row_number LIMIT %d",
	                             zl_buf_str(&t), zl_buf_str(&t), limit);
	zl_buf_release(&t);
	return rc;
}
