#include "target/dialect.h"

#include <string.h>

int zl_sql_literal(zl_buf *out, const char *s)
{
	int escaped = 0;
	for (const char *p = s; *p; p++)
		escaped |= (unsigned char)*p < 0x20 || *p == '\\';
	int rc = zl_buf_adds(out, escaped ? "E'" : "'");
	for (const char *p = s; *p && rc == 0; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\'')
			rc = zl_buf_adds(out, "''");
		else if (escaped && c == '\\')
			rc = zl_buf_adds(out, "\\\\");
		else if (escaped && c == '\t')
			rc = zl_buf_adds(out, "\\t");
		else if (escaped && c < 0x20)
			rc = zl_buf_printf(out, "\\x%02x", c);
		else
			rc = zl_buf_addc(out, (char)c);
	}
	return rc ? rc : zl_buf_addc(out, '\'');
}

static int literal_char(zl_buf *out, char c)
{
	char s[2] = { c, '\0' };
	return zl_sql_literal(out, s);
}

static int table_and_columns(zl_buf *out, const zl_copy_spec *spec)
{
	int rc = zl_sql_ident(out, spec->table);
	if (spec->ncolumns) {
		rc = rc ? rc : zl_buf_adds(out, " (");
		for (size_t i = 0; i < spec->ncolumns && rc == 0; i++) {
			if (i)
				rc = zl_buf_adds(out, ", ");
			rc = rc ? rc : zl_sql_name(out, spec->columns[i]);
		}
		rc = rc ? rc : zl_buf_addc(out, ')');
	}
	return rc;
}

int zl_dialect_pg_copy(zl_buf *out, const zl_copy_spec *spec)
{
	const zl_format *f = spec->format;
	int rc = zl_buf_adds(out, "COPY ");
	rc = rc ? rc : table_and_columns(out, spec);
	if (f->type == ZL_FMT_TEXT) {
		rc = rc ? rc : zl_buf_adds(out, " FROM STDIN WITH (FORMAT text, DELIMITER ");
		rc = rc ? rc : literal_char(out, f->delimiter);
		rc = rc ? rc : zl_buf_adds(out, ", NULL ");
		rc = rc ? rc : zl_sql_literal(out, f->null_string ? f->null_string : "\\N");
	} else {
		rc = rc ? rc : zl_buf_adds(out, " FROM STDIN WITH (FORMAT csv, DELIMITER ");
		rc = rc ? rc : literal_char(out, f->delimiter);
		rc = rc ? rc : zl_buf_adds(out, ", QUOTE ");
		rc = rc ? rc : literal_char(out, f->quote);
		rc = rc ? rc : zl_buf_adds(out, ", ESCAPE ");
		rc = rc ? rc : literal_char(out, f->escape ? f->escape : f->quote);
		rc = rc ? rc : zl_buf_adds(out, ", NULL ");
		rc = rc ? rc : zl_sql_literal(out, f->null_string ? f->null_string : "");
		rc = rc ? rc : zl_buf_adds(out, f->header ? ", HEADER true" : ", HEADER false");
	}
	if (spec->options && *spec->options) {
		rc = rc ? rc : zl_buf_adds(out, ", ");
		rc = rc ? rc : zl_buf_adds(out, spec->options);
	}
	return rc ? rc : zl_buf_addc(out, ')');
}

/* Whole lines go into one jsonb column: \x01 and \x02 never occur unescaped in valid JSON, so
 * as CSV quote and delimiter they leave every line intact. */
const char zl_dialect_pg_json_stage_create[] =
	"CREATE TEMP TABLE IF NOT EXISTS zload_json_stage (doc jsonb)";
const char zl_dialect_pg_json_stage_copy[] =
	"COPY zload_json_stage (doc) FROM STDIN WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')";
const char zl_dialect_pg_json_stage_clear[] = "TRUNCATE zload_json_stage";

int zl_dialect_pg_json_insert(zl_buf *out, const zl_copy_spec *spec)
{
	int rc = zl_buf_adds(out, "INSERT INTO ");
	rc = rc ? rc : table_and_columns(out, spec);
	rc = rc ? rc : zl_buf_adds(out, " SELECT ");
	if (spec->ncolumns == 0)
		rc = rc ? rc : zl_buf_adds(out, "r.*");
	for (size_t i = 0; i < spec->ncolumns && rc == 0; i++) {
		rc = zl_buf_adds(out, i ? ", r." : "r.");
		rc = rc ? rc : zl_sql_name(out, spec->columns[i]);
	}
	rc = rc ? rc : zl_buf_adds(out, " FROM zload_json_stage s, jsonb_populate_record(NULL::");
	rc = rc ? rc : zl_sql_ident(out, spec->table);
	return rc ? rc : zl_buf_adds(out, ", s.doc) r WHERE s.doc IS NOT NULL");
}

/* The columns of the key are NOT NULL by being in it; spelt out to match the documented layout.
 * part keeps its default: a batch loaded whole is inserted without it, as by older zloads. */
int zl_dialect_pg_ledger_create(zl_buf *out, const char *ledger)
{
	int rc = zl_buf_adds(out, "CREATE TABLE IF NOT EXISTS ");
	rc = rc ? rc : zl_sql_ident(out, ledger);
	return rc ? rc : zl_buf_adds(out, " (batch_id text NOT NULL, target text NOT NULL, part integer NOT NULL DEFAULT 0, "
	                                  "prefix text NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now(), "
	                                  "PRIMARY KEY (batch_id, target, part))");
}

const char zl_dialect_pg_ledger_layout[] =
	"SELECT l.rel IS NOT NULL, "
	"EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = l.rel AND a.attname = 'target' AND NOT a.attisdropped), "
	"EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = l.rel AND a.attname = 'part' AND NOT a.attisdropped), "
	"(SELECT c.conname FROM pg_constraint c WHERE c.conrelid = l.rel AND c.contype = 'p') "
	"FROM (SELECT to_regclass($1) AS rel) l";

/* Every row of the batch and target, with its part: 0 in a ledger without the part column, which
 * to_jsonb reads the same way whether the column is there or not (a connection may have seen
 * the table before another one added it). */
int zl_dialect_pg_ledger_select(zl_buf *out, const char *ledger)
{
	int rc = zl_buf_adds(out, "SELECT COALESCE((to_jsonb(l) ->> 'part')::integer, 0) FROM ");
	rc = rc ? rc : zl_sql_ident(out, ledger);
	return rc ? rc : zl_buf_adds(out, " l WHERE l.batch_id = $1 AND l.target IN ($2, '" ZL_LEDGER_ANY_TARGET "')");
}

int zl_dialect_pg_ledger_insert(zl_buf *out, const char *ledger)
{
	int rc = zl_buf_adds(out, "INSERT INTO ");
	rc = rc ? rc : zl_sql_ident(out, ledger);
	return rc ? rc : zl_buf_adds(out, " (batch_id, target, prefix) VALUES ($1, $2, $3)");
}

int zl_dialect_pg_ledger_insert_part(zl_buf *out, const char *ledger)
{
	int rc = zl_buf_adds(out, "INSERT INTO ");
	rc = rc ? rc : zl_sql_ident(out, ledger);
	return rc ? rc : zl_buf_adds(out, " (batch_id, target, prefix, part) VALUES ($1, $2, $3, $4)");
}

/* Appends "ALTER TABLE ledger action", after "; " unless it is the first statement. */
static int alter(zl_buf *out, int first, const char *ledger, const char *action, const char *name)
{
	int rc = zl_buf_adds(out, first ? "ALTER TABLE " : "; ALTER TABLE ");
	rc = rc ? rc : zl_sql_ident(out, ledger);
	rc = rc ? rc : zl_buf_addc(out, ' ');
	rc = rc ? rc : zl_buf_adds(out, action);
	return rc || !name ? rc : zl_sql_name(out, name);
}

/* The default fills the old rows (without rewriting the table), then goes: every insert names
 * its target. */
int zl_dialect_pg_ledger_migrate(zl_buf *out, const char *ledger, const char *pkey)
{
	int rc = alter(out, 1, ledger, "ADD COLUMN target text NOT NULL DEFAULT '" ZL_LEDGER_ANY_TARGET "'", NULL);
	rc = rc ? rc : alter(out, 0, ledger, "ALTER COLUMN target DROP DEFAULT", NULL);
	if (pkey)
		rc = rc ? rc : alter(out, 0, ledger, "DROP CONSTRAINT ", pkey);
	return rc ? rc : alter(out, 0, ledger, "ADD PRIMARY KEY (batch_id, target)", NULL);
}

/* Existing rows get part 0 (whole batches); the key then takes part in. */
int zl_dialect_pg_ledger_migrate_parts(zl_buf *out, const char *ledger, const char *pkey)
{
	int rc = alter(out, 1, ledger, "ADD COLUMN part integer NOT NULL DEFAULT 0", NULL);
	if (pkey)
		rc = rc ? rc : alter(out, 0, ledger, "DROP CONSTRAINT ", pkey);
	return rc ? rc : alter(out, 0, ledger, "ADD PRIMARY KEY (batch_id, target, part)", NULL);
}
