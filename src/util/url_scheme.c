#include "util/url_scheme.h"
#include "util/buf.h"

#include <string.h>

/* The scheme of the example ("dir" of "dir:/srv/landing"), the one that takes a path. */
static size_t example_scheme(const char *example)
{
	const char *colon = strchr(example, ':');
	return colon ? (size_t)(colon - example) : 0;
}

int zl_url_pick_scheme(const char *url, const char *const *schemes, size_t n, const char *what,
                       const char *example, const char **target, zl_err *err)
{
	const char *colon = url ? strchr(url, ':') : NULL;
	size_t len = colon ? (size_t)(colon - url) : url ? strlen(url) : 0;
	for (size_t i = 0; url && i < n; i++)
		if (strlen(schemes[i]) == len && strncmp(url, schemes[i], len) == 0) {
			*target = colon ? colon + 1 : url + len; /* a bare scheme ("s3") has an empty target */
			return (int)i;
		}
	if (!colon && url && (url[0] == '/' || url[0] == '.' || url[0] == '~'))
		return zl_err_set(err, ZL_EINVAL, "%s \"%s\": expected SCHEME:TARGET; did you mean %.*s:%s?", what, url,
		                  (int)example_scheme(example), example, url);
	if (!colon)
		return zl_err_set(err, ZL_EINVAL, "%s \"%s\": expected SCHEME:TARGET, e.g. %s", what, url ? url : "",
		                  example);
	zl_buf known;
	zl_buf_init(&known, 256);
	for (size_t i = 0; i < n; i++)
		zl_buf_printf(&known, "%s%s", i ? ", " : "", schemes[i]);
	zl_err_set(err, ZL_EINVAL, "%s \"%s\": unknown scheme \"%.*s\" (known: %s)", what, url, (int)len, url,
	           zl_buf_str(&known));
	zl_buf_release(&known);
	return ZL_EINVAL;
}
