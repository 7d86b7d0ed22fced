/* Routing: which configuration an object belongs to (exact directory, hive wildcards, else the
 * longest parent prefix). Returns borrowed pointers into the router's configurations. */
#ifndef ZL_ROUTE_H
#define ZL_ROUTE_H

#include <stddef.h>

#include "core/config.h"

/* How well pattern (an s3Prefix) covers the directory dir ("bucket/a/b"): 0 when it does not,
 * otherwise a score that is higher for exact and longer, more literal matches. Pattern segments
 * "*" match any segment, "name=*" any "name=value" segment. */
long zl_prefix_score(const char *pattern, const char *dir);

/* The configuration for bucket/key, or NULL. configs is an array of n configurations. */
const zl_config *zl_route(zl_config *const *configs, size_t n, const char *bucket, const char *key);

/* An s3Prefix as stored: without the slashes around it ("/b/x/" -> "b/x"). Caller frees; NULL
 * when out of memory. */
char *zl_prefix_normalised(const char *prefix);

/* The file name part of a key (after the last '/'). */
const char *zl_key_basename(const char *key);

#endif
