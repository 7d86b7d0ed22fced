#include "util/log.h"
#include "util/buf.h"
#include "util/quote.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static zl_log_level min_level = ZL_INFO;
static int as_json;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void zl_log_setup(zl_log_level level, int json)
{
	min_level = level;
	as_json = json;
}

int zl_log_enabled(zl_log_level level) { return level >= min_level; }

int zl_log_json(void) { return as_json; }

/* A value as it is when that is unambiguous, else quoted with every control character escaped,
 * so a key holding a newline cannot forge a log line. */
static void add_text_value(zl_buf *b, const char *v)
{
	if (v[0] && !strpbrk(v, " =") && !zl_quote_needed(v)) {
		zl_buf_adds(b, v);
		return;
	}
	zl_buf_addc(b, '"');
	for (; *v; v++) {
		if (*v == '"' || *v == '\\') {
			zl_buf_addc(b, '\\');
			zl_buf_addc(b, *v);
		} else {
			char c[2] = { *v, 0 };
			zl_escape_ctl(b, c);
		}
	}
	zl_buf_addc(b, '"');
}

void zl_log_kv(zl_log_level level, const char *msg, const zl_kv *kvs)
{
	if (level < min_level)
		return;
	char ts[40];
	zl_time_format(zl_now_ms(), ts, sizeof ts);
	zl_buf b;
	zl_buf_init(&b, 1 << 20);
	if (as_json) {
		json_t *o = json_object();
		json_object_set_new(o, "ts", json_string(ts));
		json_object_set_new(o, "level", json_string(level_names[level]));
		json_object_set_new(o, "msg", json_string(msg));
		for (const zl_kv *kv = kvs; kv && kv->key; kv++)
			json_object_set_new(o, kv->key, kv->is_int ? json_integer(kv->num)
			                                           : json_string(kv->str ? kv->str : ""));
		char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		zl_buf_adds(&b, s ? s : "{}");
		free(s);
		json_decref(o);
	} else {
		zl_buf_printf(&b, "ts=%s level=%s msg=", ts, level_names[level]);
		add_text_value(&b, msg);
		for (const zl_kv *kv = kvs; kv && kv->key; kv++) {
			zl_buf_printf(&b, " %s=", kv->key);
			if (kv->is_int)
				zl_buf_printf(&b, "%lld", kv->num);
			else
				add_text_value(&b, kv->str ? kv->str : "");
		}
	}
	zl_buf_addc(&b, '\n');
	pthread_mutex_lock(&log_lock);
	fwrite(b.data, 1, b.len, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
	zl_buf_release(&b);
}
