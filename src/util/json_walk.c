#include "util/json_walk.h"
#include "util/err.h"

#include <stdio.h>
#include <string.h>

#define NEAR_MAX 20 /* jansson quotes at most this much of the offending token */

void zl_json_walk_init(zl_json_walk *w, const char *text, size_t len)
{
	memset(w, 0, sizeof *w);
	w->text = text;
	w->len = len;
}

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int is_punct(int c) { return c && strchr("{}[]:,", c) != NULL; }

int zl_json_walk_peek(zl_json_walk *w)
{
	while (w->pos < w->len && is_space((unsigned char)w->text[w->pos]))
		w->pos++;
	return w->pos < w->len ? (unsigned char)w->text[w->pos] : -1;
}

/* Length of the token at p, for "near '...'": one punctuation byte, or a run up to the next. */
static size_t token_len(const char *p, size_t n)
{
	if (n && is_punct((unsigned char)p[0]))
		return 1;
	size_t i = 0;
	while (i < n && i < NEAR_MAX && !is_space((unsigned char)p[i]) && !is_punct((unsigned char)p[i]))
		i++;
	return i;
}

int zl_json_walk_fail(zl_json_walk *w, const char *expected)
{
	size_t n = token_len(w->text + w->pos, w->len - w->pos);
	if (n)
		snprintf(w->error, sizeof w->error, "%s expected near '%.*s'", expected, (int)n, w->text + w->pos);
	else
		snprintf(w->error, sizeof w->error, "%s expected near end of file", expected);
	w->error_at = w->pos + n;
	return ZL_EINVAL;
}

int zl_json_walk_decode(zl_json_walk *w, json_t **out)
{
	json_error_t je;
	*out = json_loadb(w->text + w->pos, w->len - w->pos, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &je);
	if (!*out) {
		if (json_error_code(&je) == json_error_out_of_memory)
			return ZL_ENOMEM;
		snprintf(w->error, sizeof w->error, "%s", je.text);
		w->error_at = w->pos + (je.position > 0 ? (size_t)je.position : 0);
		return ZL_EINVAL;
	}
	w->pos += (size_t)je.position; /* with JSON_DISABLE_EOF_CHECK: the bytes the value took */
	return 0;
}

int zl_json_walk_array(zl_json_walk *w, zl_json_elem_fn fn, void *ud)
{
	if (zl_json_walk_peek(w) != '[')
		return zl_json_walk_fail(w, "'['");
	w->pos++;
	if (zl_json_walk_peek(w) == ']') {
		w->pos++;
		return 0;
	}
	return zl_json_walk_array_from(w, 0, fn, ud);
}

int zl_json_walk_array_from(zl_json_walk *w, size_t index, zl_json_elem_fn fn, void *ud)
{
	for (size_t i = index;; i++) {
		int rc = fn(w, i, ud);
		if (rc)
			return rc;
		int c = zl_json_walk_peek(w);
		if (c == ']') {
			w->pos++;
			return 0;
		}
		if (c != ',')
			return zl_json_walk_fail(w, "']'");
		w->pos++;
	}
}

int zl_json_walk_object(zl_json_walk *w, zl_json_member_fn fn, void *ud)
{
	if (zl_json_walk_peek(w) != '{')
		return zl_json_walk_fail(w, "'{'");
	w->pos++;
	if (zl_json_walk_peek(w) == '}') {
		w->pos++;
		return 0;
	}
	for (;;) {
		json_t *key = NULL;
		if (zl_json_walk_peek(w) != '"')
			return zl_json_walk_fail(w, "string or '}'");
		int rc = zl_json_walk_decode(w, &key);
		if (rc)
			return rc;
		if (zl_json_walk_peek(w) != ':') {
			json_decref(key);
			return zl_json_walk_fail(w, "':'");
		}
		w->pos++;
		rc = fn(w, json_string_value(key), ud);
		json_decref(key);
		if (rc)
			return rc;
		int c = zl_json_walk_peek(w);
		if (c == '}') {
			w->pos++;
			return 0;
		}
		if (c != ',')
			return zl_json_walk_fail(w, "'}'");
		w->pos++;
	}
}

static int skip_elem(zl_json_walk *w, size_t index, void *ud) { return zl_json_walk_skip(w, *(int *)ud); }

static int skip_member(zl_json_walk *w, const char *key, void *ud) { return zl_json_walk_skip(w, *(int *)ud); }

int zl_json_walk_skip(zl_json_walk *w, int levels)
{
	int c = zl_json_walk_peek(w), below = levels - 1;
	if (levels > 0 && c == '[')
		return zl_json_walk_array(w, skip_elem, &below);
	if (levels > 0 && c == '{')
		return zl_json_walk_object(w, skip_member, &below);
	json_t *v = NULL;
	int rc = zl_json_walk_decode(w, &v);
	json_decref(v);
	return rc;
}

int zl_json_walk_end(zl_json_walk *w)
{
	return zl_json_walk_peek(w) < 0 ? 0 : zl_json_walk_fail(w, "end of file");
}

void zl_json_walk_where(const zl_json_walk *w, int *line, int *column)
{
	int l = 1, c = 0;
	for (size_t i = 0; i < w->error_at && i < w->len; i++) {
		unsigned char b = (unsigned char)w->text[i];
		if (b == '\n') {
			l++;
			c = 0;
		} else if ((b & 0xC0) != 0x80) { /* a character's first byte, as jansson counts columns */
			c++;
		}
	}
	*line = l;
	*column = c;
}
