/* One-line structured logging to stderr: key=value text or JSON. Thread-safe. */
#ifndef ZL_LOG_H
#define ZL_LOG_H

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

#endif
