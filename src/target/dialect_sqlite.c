/* SQLite's SQL text: the row INSERT and the ledger. */
#include "target/dialect.h"

#include <string.h>

#define LEDGER_COLUMNS                                                                             \
	"(batch_id TEXT NOT NULL, target TEXT NOT NULL, prefix TEXT NOT NULL, "                      \
	"loaded_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (batch_id, target))"

/* The older layout's table is renamed to this name (plus suffix) while it is copied. */
#define OLD_LAYOUT_SUFFIX "_old_layout"

int zl_dialect_sqlite_insert(zl_buf *out, const char *table, const char *const *columns, size_t ncolumns)
{
	int rc = zl_buf_adds(out, "INSERT INTO ");
	rc = rc ? rc : zl_sql_ident(out, table);
	rc = rc ? rc : zl_buf_addc(out, '(');
	for (size_t i = 0; i < ncolumns && rc == 0; i++) {
		rc = i ? zl_buf_adds(out, ", ") : 0;
		rc = rc ? rc : zl_sql_name(out, columns[i]);
	}
	rc = rc ? rc : zl_buf_adds(out, ") VALUES(");
	for (size_t i = 0; i < ncolumns && rc == 0; i++)
		rc = zl_buf_adds(out, i ? ", ?" : "?");
	return rc ? rc : zl_buf_addc(out, ')');
}

int zl_dialect_sqlite_ledger_create(zl_buf *out, const char *ledger)
{
	int rc = zl_buf_adds(out, "CREATE TABLE IF NOT EXISTS ");
	rc = rc ? rc : zl_sql_ident(out, ledger);
	return rc ? rc : zl_buf_adds(out, LEDGER_COLUMNS);
}

int zl_dialect_sqlite_ledger_select(zl_buf *out, const char *ledger)
{
	int rc = zl_buf_adds(out, "SELECT 1 FROM ");
	rc = rc ? rc : zl_sql_ident(out, ledger);
	return rc ? rc : zl_buf_adds(out, " WHERE batch_id = ?1 AND target IN (?2, '" ZL_LEDGER_ANY_TARGET "')");
}

int zl_dialect_sqlite_ledger_insert(zl_buf *out, const char *ledger)
{
	int rc = zl_buf_adds(out, "INSERT INTO ");
	rc = rc ? rc : zl_sql_ident(out, ledger);
	return rc ? rc : zl_buf_adds(out, "(batch_id, target, prefix) VALUES(?1, ?2, ?3)");
}

/* ALTER TABLE ... RENAME TO takes an unqualified name: the table stays in its schema. */
int zl_dialect_sqlite_ledger_migrate(zl_buf *out, const char *ledger)
{
	const char *dot = strchr(ledger, '.');
	zl_buf old;
	zl_buf_init(&old, 0);
	int rc = zl_buf_printf(&old, "%s" OLD_LAYOUT_SUFFIX, ledger);
	rc = rc ? rc : zl_buf_adds(out, "ALTER TABLE ");
	rc = rc ? rc : zl_sql_ident(out, ledger);
	rc = rc ? rc : zl_buf_adds(out, " RENAME TO ");
	rc = rc ? rc : zl_sql_name(out, zl_buf_str(&old) + (dot ? (size_t)(dot - ledger) + 1 : 0));
	rc = rc ? rc : zl_buf_adds(out, "; CREATE TABLE ");
	rc = rc ? rc : zl_sql_ident(out, ledger);
	rc = rc ? rc : zl_buf_adds(out, LEDGER_COLUMNS "; INSERT INTO ");
	rc = rc ? rc : zl_sql_ident(out, ledger);
	rc = rc ? rc : zl_buf_adds(out, "(batch_id, target, prefix, loaded_at) SELECT batch_id, '" ZL_LEDGER_ANY_TARGET
	                                "', prefix, loaded_at FROM ");
	rc = rc ? rc : zl_sql_ident(out, zl_buf_str(&old));
	rc = rc ? rc : zl_buf_adds(out, "; DROP TABLE ");
	rc = rc ? rc : zl_sql_ident(out, zl_buf_str(&old));
	zl_buf_release(&old);
	return rc;
}
