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

/* Where url keeps passwords: offset and length of each (at most max), in order; returns how many. */
typedef struct url_span {
	size_t at, len;
} url_span;

static size_t url_passwords(const char *url, url_span *out, size_t max)
{
	const char *sep = strstr(url, "://"), *q = strchr(url, '?');
	size_t n = 0;

	if (sep && (!q || sep < q)) {
		/* the user information ends at the last '@' of the authority and path (a password may
		 * hold '/' or '@' unescaped) */
		const char *auth = sep + 3, *at = NULL;
		for (const char *p = auth; *p && *p != '?' && *p != '#'; p++)
			if (*p == '@')
				at = p;
		const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon && at > colon + 1)
			out[n++] = (url_span){ (size_t)(colon + 1 - url), (size_t)(at - colon - 1) };
	}
	/* password=PW as a URI parameter (?, &) or in a connection string ("scheme:host=h password=PW",
	 * the value maybe quoted: 'p w') */
	for (const char *p = strstr(url, "password="); p && n < max; p = strstr(p + 1, "password=")) {
		size_t at = (size_t)(p - url) + 9, len;
		if ((p > url && !strchr("?& \t:", p[-1])) || (n && at < out[n - 1].at + out[n - 1].len))
			continue;
		if (url[at] == '\'') {
			at++;
			for (len = 0; url[at + len] && url[at + len] != '\''; len++)
				if (url[at + len] == '\\' && url[at + len + 1])
					len++;
		} else {
			len = strcspn(url + at, "&# \t");
		}
		if (len)
			out[n++] = (url_span){ at, len };
	}
	return n;
}

#define MAX_URL_PASSWORDS 8

char *zl_url_redacted(const char *url)
{
	if (!url)
		return strdup("");
	url_span sp[MAX_URL_PASSWORDS];
	size_t n = url_passwords(url, sp, MAX_URL_PASSWORDS), from = 0;
	zl_buf b;
	int rc = 0;

	zl_buf_init(&b, 0);
	for (size_t i = 0; i < n; i++) {
		rc |= zl_buf_add(&b, url + from, sp[i].at - from);
		rc |= zl_buf_adds(&b, ZL_SCRUB_MASK);
		from = sp[i].at + sp[i].len;
	}
	rc |= zl_buf_adds(&b, url + from);
	if (rc) {
		zl_buf_release(&b);
		return NULL;
	}
	return zl_buf_take(&b);
}

int zl_scrub_add_url(zl_strvec *secrets, const char *url)
{
	url_span sp[MAX_URL_PASSWORDS];
	size_t n = url_passwords(url, sp, MAX_URL_PASSWORDS);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = push_secret(secrets, url + sp[i].at, sp[i].len);
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
