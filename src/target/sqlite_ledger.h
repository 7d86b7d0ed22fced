/* The SQLite target's ledger table (layout and statements in dialect_sqlite.c): created, or
 * migrated from the older layout keyed by batch_id alone, when the target connects. */
#ifndef ZL_SQLITE_LEDGER_H
#define ZL_SQLITE_LEDGER_H

#include <sqlite3.h>

#include "target/target.h"

/* Creates the ledger unless it exists; rebuilds one of the older layout in one transaction,
 * its rows kept with target '*'. ledger is "table" or "schema.table". */
int zl_sqlite_ledger_ensure(sqlite3 *db, const char *ledger, zl_err *err);
/* Sets *has when the ledger holds (batch, target) or (batch, '*'). */
int zl_sqlite_ledger_has(sqlite3 *db, const char *ledger, const zl_ledger_key *k, int *has, zl_err *err);
/* ZL_EEXIST when the ledger already holds (batch, target). */
int zl_sqlite_ledger_insert(sqlite3 *db, const char *ledger, const zl_ledger_key *k, zl_err *err);

#endif
