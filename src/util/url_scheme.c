#include "util/url_scheme.h"
#include "util/buf.h"

#include <string.h>

int zl_url_pick_scheme(const char *url, const char *const *schemes, size_t n, const char *what,
                       const char *example, const char **target, zl_err *err)
{
	const char *colon = url ? strchr(url, ':') : NULL;
	if (!colon)
		return zl_err_set(err, ZL_EINVAL, "%s \"%s\": expected SCHEME:TARGET, e.g. %s", what, url ? url : "",
		                  example);
	size_t len = (size_t)(colon - url);
	for (size_t i = 0; i < n; i++)
		if (strlen(schemes[i]) == len && strncmp(url, schemes[i], len) == 0) {
			*target = colon + 1;
			return (int)i;
		}
	zl_buf known;
	zl_buf_init(&known, 256);
	for (size_t i = 0; i < n; i++)
		zl_buf_printf(&known, "%s%s", i ? ", " : "", schemes[i]);
	zl_err_set(err, ZL_EINVAL, "%s \"%s\": unknown scheme \"%.*s\" (known: %s)", what, url, (int)len, url,
	           zl_buf_str(&known));
	zl_buf_release(&known);
	return ZL_EINVAL;
}
