#include "core/scrub.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int push_secret(zl_strvec *out, const char *s, size_t n)
{
	if (!s || n < ZL_SCRUB_MIN)
		return 0;
	char *copy = strndup(s, n);
	return zl_strvec_push_take(out, copy);
}

int zl_scrub_add(zl_strvec *out, const char *s)
{
	int rc = push_secret(out, s, s ? strlen(s) : 0);
	const char *pw = s ? strstr(s, "password=") : NULL;
	if (rc == 0 && pw) {
		pw += strlen("password=");
		int quoted = *pw == '\'';
		pw += quoted;
		rc = push_secret(out, pw, strcspn(pw, quoted ? "'" : " \t"));
	}
	const char *sep = s ? strstr(s, "://") : NULL;
	if (rc == 0 && sep) {
		const char *auth = sep + 3, *at = strchr(auth, '@'), *colon = strchr(auth, ':');
		if (at && colon && colon < at && !memchr(auth, '/', (size_t)(at - auth)))
			rc = push_secret(out, colon + 1, (size_t)(at - colon - 1));
	}
	return rc;
}

/* s with every occurrence of secret replaced, or NULL when it holds none. Caller frees. */
static char *replace_all(const char *s, const char *secret)
{
	const char *hit = strstr(s, secret), *p = s;
	size_t n = strlen(secret);
	if (!hit)
		return NULL;
	zl_buf b;
	zl_buf_init(&b, 0);
	for (; hit; p = hit + n, hit = strstr(p, secret)) {
		zl_buf_add(&b, p, (size_t)(hit - p));
		zl_buf_adds(&b, ZL_SCRUB_MASK);
	}
	zl_buf_adds(&b, p);
	return zl_buf_take(&b);
}

char *zl_scrubbed(const char *s, const zl_strvec *secrets)
{
	char *cur = NULL;
	for (size_t i = 0; i < secrets->n; i++) {
		char *next = replace_all(cur ? cur : s, secrets->v[i]);
		if (next) {
			free(cur);
			cur = next;
		}
	}
	return cur;
}

char *zl_url_redacted(const char *url)
{
	zl_strvec pw;
	zl_strvec_init(&pw);
	char *out = NULL;
	if (url && zl_scrub_add(&pw, url) == 0 && pw.n > 1) {
		free(pw.v[0]); /* the URL itself: only the passwords inside it are masked */
		pw.v[0] = pw.v[--pw.n];
		out = zl_scrubbed(url, &pw);
	}
	zl_scrub_release(&pw);
	return out ? out : strdup(url ? url : "");
}

void zl_json_scrub(json_t *j, const zl_strvec *secrets)
{
	const char *key;
	json_t *v;
	size_t i;
	if (!secrets->n)
		return;
	if (json_is_object(j)) {
		json_object_foreach(j, key, v) {
			char *s = json_is_string(v) ? zl_scrubbed(json_string_value(v), secrets) : NULL;
			if (s)
				json_object_set_new(j, key, json_string(s));
			else
				zl_json_scrub(v, secrets);
			free(s);
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v) {
			char *s = json_is_string(v) ? zl_scrubbed(json_string_value(v), secrets) : NULL;
			if (s)
				json_array_set_new(j, i, json_string(s));
			else
				zl_json_scrub(v, secrets);
			free(s);
		}
	}
}

void zl_scrub_buf(char *s, size_t n, const zl_strvec *secrets)
{
	char *clean = zl_scrubbed(s, secrets);
	if (clean)
		snprintf(s, n, "%s", clean);
	free(clean);
}

void zl_scrub_release(zl_strvec *secrets)
{
	for (size_t i = 0; i < secrets->n; i++)
		explicit_bzero(secrets->v[i], strlen(secrets->v[i]));
	zl_strvec_release(secrets);
}
