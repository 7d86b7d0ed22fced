/* One-line structured logging to stderr: key=value text or JSON. Thread-safe. */
#ifndef ZL_LOG_H
#define ZL_LOG_H

#include <stdarg.h>
#include <stdint.h>

typedef enum { ZL_DEBUG = 0, ZL_INFO, ZL_WARN, ZL_ERROR } zl_log_level;

typedef struct zl_kv {
	const char *key;   /* NULL ends a list */
	const char *str;   /* used when is_int == 0 */
	long long num;
	int is_int;
} zl_kv;

#define ZL_S(k, v) ((zl_kv){ .key = (k), .str = (v) })
#define ZL_I(k, v) ((zl_kv){ .key = (k), .num = (long long)(v), .is_int = 1 })
/* ZL_LOG(ZL_INFO, "batch loaded", ZL_S("batch", id), ZL_I("rows", n)); */
#define ZL_LOG(level, msg, ...) zl_log_kv((level), (msg), (const zl_kv[]){ __VA_ARGS__, { 0 } })

void zl_log_setup(zl_log_level min_level, int json);
int zl_log_enabled(zl_log_level level);
/* Whether lines go out as JSON (then stderr carries nothing else). */
int zl_log_json(void);
void zl_log_kv(zl_log_level level, const char *msg, const zl_kv *kvs);

/* A command's own words on stderr (its final error, a warning, a usage error); every one goes
 * through here, so that in JSON mode stderr holds nothing but JSON lines. Text: "PROG: MSG"
 * ("PROG: warning: MSG" at ZL_WARN), control characters escaped, then the hint on a line of its
 * own when there is one. JSON: {"ts","level","msg","prog"[,"hint"]}. Written whatever the
 * minimum level. */
void zl_log_cli(zl_log_level level, const char *prog, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void zl_log_cli_hint(zl_log_level level, const char *prog, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void zl_log_cliv(zl_log_level level, const char *prog, const char *hint, const char *fmt, va_list ap);

/* The live line of a terminal (a progress line redrawn in place, see cli/live_line.h): shows text
 * on the line below the log, "\r\033[K" + text, and remembers it; every log line written while
 * it is shown takes it off first and draws it again after. NULL or "" takes it away for good.
 * Only for a terminal's stderr in text mode: the caller decides. */
void zl_log_live(const char *text);
/* hide: takes the live line off the terminal and keeps it off (zl_log_live only remembers the
 * text) until called with 0, which draws it again; for output to stdout that shares the terminal. */
void zl_log_live_hide(int hide);

#endif
