#include "util/log.h"
#include "util/buf.h"
#include "util/quote.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static zl_log_level min_level = ZL_INFO;
static int as_json;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

/* The live line: its text (NULL when none), whether it is on the terminal now, whether hidden. */
static char *live_text;
static int live_shown, live_hidden;
#define LIVE_CLEAR "\r\033[K"

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

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0. */
static size_t utf8_seq(const unsigned char *p)
{
	size_t n = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
	if (n == 0 || (n == 2 && p[0] < 0xC2) || (n == 4 && p[0] > 0xF4))
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	if ((n == 3 && p[0] == 0xE0 && p[1] < 0xA0) || (n == 3 && p[0] == 0xED && p[1] >= 0xA0) ||
	    (n == 4 && p[0] == 0xF0 && p[1] < 0x90) || (n == 4 && p[0] == 0xF4 && p[1] >= 0x90))
		return 0;
	return n;
}

/* A JSON string of s; a byte that is not UTF-8 becomes U+FFFD, so no value goes missing. */
static json_t *json_text(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	zl_buf b;
	zl_buf_init(&b, 0);
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_seq(p);
		if (n) {
			zl_buf_add(&b, p, n);
			p += n;
		} else {
			zl_buf_adds(&b, "\xEF\xBF\xBD");
			p++;
		}
	}
	j = json_string(zl_buf_str(&b));
	zl_buf_release(&b);
	return j ? j : json_string("");
}

/* Writes one line, the live line taken off before and drawn again after. */
static void write_line(const zl_buf *b)
{
	pthread_mutex_lock(&log_lock);
	if (live_shown)
		fputs(LIVE_CLEAR, stderr);
	fwrite(b->data, 1, b->len, stderr);
	if (live_shown)
		fputs(live_text, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

/* The JSON text of o, to b (o is consumed). */
static void add_json(zl_buf *b, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	zl_buf_adds(b, s ? s : "{}");
	free(s);
	json_decref(o);
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
		json_object_set_new(o, "msg", json_text(msg));
		for (const zl_kv *kv = kvs; kv && kv->key; kv++)
			json_object_set_new(o, kv->key, kv->is_int ? json_integer(kv->num)
			                                           : json_text(kv->str ? kv->str : ""));
		add_json(&b, o);
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
	write_line(&b);
	zl_buf_release(&b);
}

void zl_log_cliv(zl_log_level level, const char *prog, const char *hint, const char *fmt, va_list ap)
{
	zl_buf msg, b;
	zl_buf_init(&msg, 1 << 20);
	zl_buf_init(&b, 1 << 20);
	zl_buf_vprintf(&msg, fmt, ap);
	if (as_json) {
		char ts[40];
		zl_time_format(zl_now_ms(), ts, sizeof ts);
		json_t *o = json_object();
		json_object_set_new(o, "ts", json_string(ts));
		json_object_set_new(o, "level", json_string(level_names[level]));
		json_object_set_new(o, "msg", json_text(zl_buf_str(&msg)));
		json_object_set_new(o, "prog", json_text(prog));
		if (hint)
			json_object_set_new(o, "hint", json_text(hint));
		add_json(&b, o);
	} else {
		zl_buf_printf(&b, "%s: %s", prog, level == ZL_WARN ? "warning: " : "");
		zl_escape_ctl(&b, zl_buf_str(&msg)); /* one message, one line */
		if (hint)
			zl_buf_printf(&b, "\n%s", hint);
	}
	zl_buf_addc(&b, '\n');
	write_line(&b);
	zl_buf_release(&b);
	zl_buf_release(&msg);
}

void zl_log_cli(zl_log_level level, const char *prog, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	zl_log_cliv(level, prog, NULL, fmt, ap);
	va_end(ap);
}

void zl_log_cli_hint(zl_log_level level, const char *prog, const char *hint, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	zl_log_cliv(level, prog, hint, fmt, ap);
	va_end(ap);
}

void zl_log_live(const char *text)
{
	if (as_json)
		return; /* stderr carries JSON lines only */
	pthread_mutex_lock(&log_lock);
	char *copy = text && *text ? strdup(text) : NULL;
	if (live_shown || (copy && !live_hidden))
		fputs(LIVE_CLEAR, stderr); /* every draw starts at the line's start */
	live_shown = 0;
	free(live_text);
	live_text = copy;
	if (live_text && !live_hidden) {
		fputs(live_text, stderr);
		live_shown = 1;
	}
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

void zl_log_live_hide(int hide)
{
	pthread_mutex_lock(&log_lock);
	live_hidden = hide;
	if (hide && live_shown) {
		fputs(LIVE_CLEAR, stderr);
		live_shown = 0;
	} else if (!hide && live_text && !live_shown) {
		fputs(live_text, stderr);
		live_shown = 1;
	}
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}
