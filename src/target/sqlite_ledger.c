#include "target/sqlite_ledger.h"

#include <string.h>

#include "target/dialect.h"
#include "target/sqlite_db.h"

enum { LAYOUT_NONE, LAYOUT_OLD, LAYOUT_CURRENT };

/* Which layout the ledger table has: none (no table), old (no target column) or current. */
static int ledger_layout(sqlite3 *db, const char *ledger, int *layout, zl_err *err)
{
	const char *dot = strchr(ledger, '.');
	sqlite3_stmt *st = NULL;
	int rc = 0;
	int src = sqlite3_prepare_v2(db, "SELECT count(*), coalesce(sum(name = 'target'), 0) FROM pragma_table_info(?1, ?2)",
	                             -1, &st, NULL);
	if (src != SQLITE_OK) {
		rc = zl_sqlite_fail(db, src, "ledger", err);
		goto out;
	}
	sqlite3_bind_text(st, 1, dot ? dot + 1 : ledger, -1, SQLITE_STATIC);
	if (dot)
		sqlite3_bind_text(st, 2, ledger, (int)(dot - ledger), SQLITE_STATIC);
	if ((src = sqlite3_step(st)) != SQLITE_ROW) {
		rc = zl_sqlite_fail(db, src, "ledger", err);
		goto out;
	}
	*layout = sqlite3_column_int(st, 0) == 0 ? LAYOUT_NONE : sqlite3_column_int(st, 1) ? LAYOUT_CURRENT : LAYOUT_OLD;
out:
	sqlite3_finalize(st);
	return rc;
}

int zl_sqlite_ledger_ensure(sqlite3 *db, const char *ledger, zl_err *err)
{
	zl_buf sql, what;
	zl_buf_init(&sql, 0);
	zl_buf_init(&what, 0);
	int layout = LAYOUT_NONE, in_txn = 0;
	int rc = ledger_layout(db, ledger, &layout, err);
	if (rc || layout == LAYOUT_CURRENT)
		goto out;
	/* Under the write lock, look again: another loader may have done it meanwhile. */
	if ((rc = zl_sqlite_exec(db, "BEGIN IMMEDIATE", NULL, err)))
		goto out;
	in_txn = 1;
	if ((rc = ledger_layout(db, ledger, &layout, err)))
		goto out;
	if (layout == LAYOUT_NONE)
		rc = zl_dialect_sqlite_ledger_create(&sql, ledger);
	else if (layout == LAYOUT_OLD)
		rc = zl_dialect_sqlite_ledger_migrate(&sql, ledger);
	rc = rc ? rc : zl_buf_printf(&what, "ledger table \"%s\": %s", ledger,
	                             layout == LAYOUT_OLD ? "migrating from the older layout" : "creating it");
	if (rc) {
		rc = zl_err_set(err, ZL_ENOMEM, "sqlite target: out of memory");
		goto out;
	}
	if (sql.len && (rc = zl_sqlite_exec(db, zl_buf_str(&sql), zl_buf_str(&what), err)))
		goto out;
	if ((rc = zl_sqlite_exec(db, "COMMIT", NULL, err)))
		goto out;
	in_txn = 0;
out:
	if (in_txn)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	zl_buf_release(&sql);
	zl_buf_release(&what);
	return rc;
}

/* Prepares one of the ledger statements and binds the key: ?1 batch, ?2 target, ?3 prefix. */
static int prepare_key(sqlite3 *db, int (*text)(zl_buf *, const char *), const char *ledger,
                       const zl_ledger_key *k, sqlite3_stmt **st, zl_err *err)
{
	zl_buf sql;
	zl_buf_init(&sql, 0);
	int rc = text(&sql, ledger) ? zl_err_set(err, ZL_ENOMEM, "sqlite target: out of memory") : 0;
	if (rc)
		goto out;
	int src = sqlite3_prepare_v2(db, zl_buf_str(&sql), -1, st, NULL);
	if (src != SQLITE_OK) {
		rc = zl_sqlite_fail(db, src, "ledger", err);
		goto out;
	}
	int n = sqlite3_bind_parameter_count(*st);
	sqlite3_bind_text(*st, 1, k->batch_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(*st, 2, k->target, -1, SQLITE_STATIC);
	if (n >= 3)
		sqlite3_bind_text(*st, 3, k->prefix ? k->prefix : "", -1, SQLITE_STATIC);
out:
	zl_buf_release(&sql);
	return rc;
}

int zl_sqlite_ledger_has(sqlite3 *db, const char *ledger, const zl_ledger_key *k, int *has, zl_err *err)
{
	sqlite3_stmt *st = NULL;
	*has = 0;
	int rc = prepare_key(db, zl_dialect_sqlite_ledger_select, ledger, k, &st, err);
	if (rc)
		goto out;
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		*has = 1;
	else if (src != SQLITE_DONE)
		rc = zl_sqlite_fail(db, src, "ledger", err);
out:
	sqlite3_finalize(st);
	return rc;
}

int zl_sqlite_ledger_insert(sqlite3 *db, const char *ledger, const zl_ledger_key *k, zl_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare_key(db, zl_dialect_sqlite_ledger_insert, ledger, k, &st, err);
	if (rc)
		goto out;
	int src = sqlite3_step(st);
	if (src != SQLITE_DONE)
		rc = sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_PRIMARYKEY
		         ? zl_err_set(err, ZL_EEXIST, "batch %s is already in the ledger for target %s", k->batch_id, k->target)
		         : zl_sqlite_fail(db, src, "ledger", err);
out:
	sqlite3_finalize(st);
	return rc;
}
