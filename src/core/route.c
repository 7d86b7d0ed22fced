#include "core/route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int segment_matches(const char *p, size_t plen, const char *d, size_t dlen)
{
	if (plen == 1 && p[0] == '*')
		return 1;
	if (plen >= 2 && p[plen - 1] == '*' && p[plen - 2] == '=') /* hive "name=*" */
		return dlen >= plen - 1 && memcmp(p, d, plen - 1) == 0;
	return plen == dlen && memcmp(p, d, plen) == 0;
}

long zl_prefix_score(const char *pattern, const char *dir)
{
	long matched = 0, literal = 0;
	const char *p = pattern, *d = dir;
	for (;;) {
		const char *pe = strchr(p, '/'), *de = strchr(d, '/');
		size_t plen = pe ? (size_t)(pe - p) : strlen(p);
		size_t dlen = de ? (size_t)(de - d) : strlen(d);
		if (!segment_matches(p, plen, d, dlen))
			return 0;
		matched++;
		literal += memchr(p, '*', plen) == NULL;
		if (!pe) /* pattern used up: exact when dir is too */
			return (de ? 0 : 1000000) + matched * 1000 + literal;
		if (!de)
			return 0; /* pattern is longer than dir */
		p = pe + 1;
		d = de + 1;
	}
}

char *zl_prefix_normalised(const char *prefix)
{
	while (*prefix == '/')
		prefix++;
	size_t n = strlen(prefix);
	while (n && prefix[n - 1] == '/')
		n--;
	return strndup(prefix, n);
}

const char *zl_key_basename(const char *key)
{
	const char *slash = strrchr(key, '/');
	return slash ? slash + 1 : key;
}

const zl_config *zl_route(zl_config *const *configs, size_t n, const char *bucket, const char *key)
{
	const char *base = zl_key_basename(key);
	size_t dlen = strlen(bucket) + 1 + (size_t)(base - key);
	char stackbuf[512];
	char *dir = dlen < sizeof stackbuf ? stackbuf : malloc(dlen + 1);
	if (!dir)
		return NULL;
	/* bucket, then "/" and the key's directory when it has one */
	size_t blen = strlen(bucket), klen = base > key ? (size_t)(base - key - 1) : 0;
	memcpy(dir, bucket, blen);
	if (base > key) {
		dir[blen] = '/';
		memcpy(dir + blen + 1, key, klen);
		blen += 1 + klen;
	}
	dir[blen] = '\0';

	const zl_config *best = NULL;
	long best_score = 0;
	for (size_t i = 0; i < n; i++) {
		long s = zl_prefix_score(configs[i]->prefix, dir);
		if (s > best_score) {
			best_score = s;
			best = configs[i];
		}
	}
	if (dir != stackbuf)
		free(dir);
	return best;
}
