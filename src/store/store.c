/* The object store registry: the only place that knows every store backend. */
#include "store/store.h"

#include <string.h>

extern const zl_store_ops zl_store_dir_ops;
extern const zl_store_ops zl_store_s3_ops;

static const zl_store_ops *const backends[] = {
	&zl_store_dir_ops,
	&zl_store_s3_ops,
};

int zl_store_open(const char *url, zl_store **out, zl_err *err)
{
	*out = NULL;
	const char *colon = url ? strchr(url, ':') : NULL;
	if (!colon)
		return zl_err_set(err, ZL_EINVAL, "store URL \"%s\": expected SCHEME:TARGET, e.g. dir:/srv/landing",
		                  url ? url : "");
	size_t n = (size_t)(colon - url);
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
		if (strlen(backends[i]->scheme) == n && strncmp(url, backends[i]->scheme, n) == 0)
			return backends[i]->open(colon + 1, out, err);
	return zl_err_set(err, ZL_EINVAL, "store URL \"%s\": unknown scheme \"%.*s\" (known: dir, s3)", url,
	                  (int)n, url);
}

void zl_store_close(zl_store *s)
{
	if (s)
		s->ops->close(s);
}
