/* Identifier quoting shared by the SQL dialects zload speaks (PostgreSQL, SQLite): both quote
 * with double quotes. Output is appended to a caller's zl_buf. */
#ifndef ZL_SQL_H
#define ZL_SQL_H

#include "util/buf.h"

/* One identifier (a column, a constraint): "name" with embedded quotes doubled, dots kept. */
int zl_sql_name(zl_buf *out, const char *name);
/* A table name: "name" with embedded quotes doubled; "a.b" becomes "a"."b". */
int zl_sql_ident(zl_buf *out, const char *name);

#endif
