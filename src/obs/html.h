/* Small HTML writers for the status pages: escaping of data, times (ISO-8601 UTC and relative),
 * sizes and durations, and the document's head. Everything is appended to a caller's zl_buf
 * (which owns it); a failed add (the buffer's cap) drops the text, as every zl_buf add does. */
#ifndef ZL_HTML_H
#define ZL_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef enum {
	ZL_HTML_TEXT,  /* element content: control characters shown as <span class="ctl">\n</span> */
	ZL_HTML_ATTR,  /* a quoted attribute value: control characters written as the text \n, \001 */
	ZL_HTML_PRE,   /* inside <pre>: newlines kept, other control characters as in TEXT */
} zl_html_mode;

/* s (NULL: nothing) with & < > " ' as character references and control characters and DEL made
 * visible (\n, \r, \t, else \ooo in octal); other bytes unchanged. */
void zl_html_esc(zl_buf *out, const char *s, zl_html_mode mode);

/* "12 s", "3 min", "5 h", "2 d" for a span of ms (sign ignored) into n (at least 32 bytes). */
char *zl_html_span(int64_t ms, char *n, size_t size);
/* t relative to now: "now", "12 s ago", "in 3 min". */
void zl_html_rel(zl_buf *out, int64_t t, int64_t now);
/* <time datetime="ISO">ISO</time> <span class="rel">(12 s ago)</span>; "&mdash;" when t is 0. */
void zl_html_when(zl_buf *out, int64_t t, int64_t now);
/* A duration: "350 ms", "4.2 s", "3.5 min"; "&mdash;" when negative (unknown). */
void zl_html_dur(zl_buf *out, int64_t ms);
/* A size: "512 B", "1.5 KiB", "3.0 MiB", "1.2 GiB". */
void zl_html_bytes(zl_buf *out, int64_t n);

/* <!DOCTYPE html> up to and including <body>: charset, title (escaped), the inline style, and
 * when refresh > 0 <meta http-equiv="refresh" content="refresh">. */
void zl_html_head(zl_buf *out, const char *title, int refresh);
/* </body></html> */
void zl_html_foot(zl_buf *out);

#endif
