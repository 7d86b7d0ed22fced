/* The PostgreSQL target's ledger table (layout and statements in dialect_pg.c): created, or
 * migrated in place from the older layout keyed by batch_id alone, when the target connects. */
#ifndef ZL_PG_LEDGER_H
#define ZL_PG_LEDGER_H

#include <libpq-fe.h>

#include "target/target.h"

/* Creates the ledger unless it exists (checked first: CREATE TABLE IF NOT EXISTS needs CREATE on
 * the schema even when the table is there, which a least-privilege loader lacks); migrates one
 * of the older layout in one transaction, its rows kept with target '*'; with parts (a target
 * whose parallelism is above 1), adds the part column to one without it. A loader that may not
 * alter the table gets ZL_ELOAD with the statements its owner should run. */
int zl_pg_ledger_ensure(PGconn *conn, const char *ledger, int parts, zl_err *err);
/* The ZL_EEXIST error of a ledger insert that found its key there. */
int zl_pg_ledger_exists(const zl_ledger_key *k, zl_err *err);
/* ZL_EEXIST when the ledger already holds (batch, target, part). */
int zl_pg_ledger_insert(PGconn *conn, const char *ledger, const zl_ledger_key *k, zl_err *err);

#endif
