#include "util/strvec.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

void zl_strvec_init(zl_strvec *sv)
{
	sv->v = NULL;
	sv->n = sv->alloc = 0;
}

void zl_strvec_release(zl_strvec *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	zl_strvec_init(sv);
}

int zl_strvec_push_take(zl_strvec *sv, char *s)
{
	if (!s)
		return ZL_ENOMEM;
	if (sv->n == sv->alloc) {
		size_t n = sv->alloc ? sv->alloc * 2 : 8;
		char **p = realloc(sv->v, n * sizeof *p);
		if (!p) {
			free(s);
			return ZL_ENOMEM;
		}
		sv->v = p;
		sv->alloc = n;
	}
	sv->v[sv->n++] = s;
	return 0;
}

int zl_strvec_push(zl_strvec *sv, const char *s) { return zl_strvec_push_take(sv, strdup(s)); }

void zl_strvec_truncate(zl_strvec *sv, size_t n)
{
	while (sv->n > n)
		free(sv->v[--sv->n]);
}
