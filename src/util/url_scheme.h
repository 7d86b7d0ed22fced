/* Choosing a backend by the scheme of a "SCHEME:TARGET" URL, shared by the registries. */
#ifndef ZL_URL_SCHEME_H
#define ZL_URL_SCHEME_H

#include <stddef.h>

#include "util/err.h"

/* Returns the index of url's scheme among the n schemes and sets *target to what follows the
 * colon (a bare scheme name, "s3", has an empty target); else ZL_EINVAL with a message naming the
 * URL (what: "state URL") and the known schemes, or for a bare path the example's scheme as a
 * hint ("did you mean dir:/srv/landing?"). */
int zl_url_pick_scheme(const char *url, const char *const *schemes, size_t n, const char *what,
                       const char *example, const char **target, zl_err *err);

#endif
