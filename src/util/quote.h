/* Text made safe for line-oriented output: an object key may hold newlines and control
 * characters (legal in S3), and one record must stay one line. Output goes to a caller's zl_buf. */
#ifndef ZL_QUOTE_H
#define ZL_QUOTE_H

#include "util/buf.h"

/* Whether s needs quoting: a control character, DEL, a double quote or a backslash. */
int zl_quote_needed(const char *s);
/* As git quotes paths: s itself when zl_quote_needed says no, else "..." with \n \t \r \" \\ and
 * \ooo (octal) escapes. Unambiguous: a quoted name never reads as an unquoted one. */
int zl_quote_c(zl_buf *out, const char *s);
/* s with control characters and DEL written as \n, \r, \t or \ooo; the rest unchanged (messages). */
int zl_escape_ctl(zl_buf *out, const char *s);

#endif
