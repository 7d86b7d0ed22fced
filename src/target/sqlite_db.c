#include "target/sqlite_db.h"

#include <stddef.h>

int zl_sqlite_transient(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

int zl_sqlite_fail(sqlite3 *db, int rc, const char *prefix, zl_err *err)
{
	int code = zl_sqlite_transient(rc) ? ZL_ETRANSIENT : ZL_ELOAD;
	if (prefix)
		return zl_err_set(err, code, "%s: %s", prefix, sqlite3_errmsg(db));
	return zl_err_set(err, code, "%s", sqlite3_errmsg(db));
}

int zl_sqlite_exec(sqlite3 *db, const char *sql, const char *prefix, zl_err *err)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : zl_sqlite_fail(db, rc, prefix, err);
}
