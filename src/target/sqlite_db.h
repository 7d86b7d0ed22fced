/* Error handling shared by the SQLite target's files (target_sqlite.c, sqlite_ledger.c). */
#ifndef ZL_SQLITE_DB_H
#define ZL_SQLITE_DB_H

#include <sqlite3.h>

#include "util/err.h"

/* Sets err from db's last error, "prefix: message" (or just the message): ZL_ETRANSIENT for a
 * busy or locked database, else ZL_ELOAD. Returns the code. */
int zl_sqlite_fail(sqlite3 *db, int rc, const char *prefix, zl_err *err);
/* Runs sql (one or more statements); 0 or zl_sqlite_fail's code. */
int zl_sqlite_exec(sqlite3 *db, const char *sql, const char *prefix, zl_err *err);
/* Whether an SQLite result code is worth a retry (busy, locked). */
int zl_sqlite_transient(int rc);

#endif
