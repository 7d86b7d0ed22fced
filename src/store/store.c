/* The object store registry: the only place that knows every store backend. */
#include "store/store.h"

#include "util/url_scheme.h"

extern const zl_store_ops zl_store_dir_ops;
extern const zl_store_ops zl_store_s3_ops;

static const zl_store_ops *const backends[] = {
	&zl_store_dir_ops,
	&zl_store_s3_ops,
};

#define NBACKENDS (sizeof backends / sizeof backends[0])

int zl_store_open(const char *url, zl_store **out, zl_err *err)
{
	const char *schemes[NBACKENDS], *target;
	*out = NULL;
	for (size_t i = 0; i < NBACKENDS; i++)
		schemes[i] = backends[i]->scheme;
	int i = zl_url_pick_scheme(url, schemes, NBACKENDS, "store URL", "dir:/srv/landing", &target, err);
	return i < 0 ? i : backends[i]->open(target, out, err);
}

void zl_store_close(zl_store *s)
{
	if (s)
		s->ops->close(s);
}
