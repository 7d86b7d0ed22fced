/* The state backend registry: the only place that knows every backend. */
#include "state/state.h"
#include "util/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const zl_state_ops zl_state_sqlite_ops;

static const zl_state_ops *const backends[] = {
	&zl_state_sqlite_ops,
};

int zl_state_open(const char *url, zl_state **out, zl_err *err)
{
	*out = NULL;
	const char *colon = url ? strchr(url, ':') : NULL;
	if (!colon)
		return zl_err_set(err, ZL_EINVAL, "state URL \"%s\": expected SCHEME:TARGET, e.g. sqlite:/var/lib/zload/state.db",
		                  url ? url : "");
	size_t n = (size_t)(colon - url);
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
		if (strlen(backends[i]->scheme) == n && strncmp(url, backends[i]->scheme, n) == 0)
			return backends[i]->open(colon + 1, out, err);
	return zl_err_set(err, ZL_EINVAL, "state URL \"%s\": unknown scheme \"%.*s\" (known: sqlite)", url,
	                  (int)n, url);
}

void zl_state_close(zl_state *st)
{
	if (st)
		st->ops->close(st);
}

char *zl_state_default_url(void)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char path[4096];
	if (xdg && *xdg)
		snprintf(path, sizeof path, "%s/zload/state.db", xdg);
	else
		snprintf(path, sizeof path, "%s/.local/state/zload/state.db", home && *home ? home : ".");
	zl_mkdirs_for(path, 0700); /* on failure, opening the database reports the real problem */
	char *url = malloc(strlen(path) + 8);
	if (url)
		sprintf(url, "sqlite:%s", path);
	return url;
}
