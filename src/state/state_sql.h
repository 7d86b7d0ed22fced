/* SQL text shared by the SQL state backends (state_sqlite.c, state_pg.c). */
#ifndef ZL_STATE_SQL_H
#define ZL_STATE_SQL_H

#include "util/buf.h"

typedef enum { ZL_SQL_BATCH_STATUS, ZL_SQL_NOTICE_STATUS } zl_sql_status_kind;

/* Appends " AND status IN ('a', 'b')" for the batch or notice statuses of mask (a set of
 * ZL_STATUS_BIT()s), " AND false" when it names none, nothing when mask is 0. */
void zl_state_sql_status_in(zl_buf *sql, unsigned mask, zl_sql_status_kind kind);

#endif
