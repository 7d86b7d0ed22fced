/* Counting newlines fast: the rows a load has sent so far, for its progress. */
#ifndef ZL_LINES_H
#define ZL_LINES_H

#include <stddef.h>
#include <stdint.h>

/* The '\n' bytes in p[0..n). */
int64_t zl_count_newlines(const void *p, size_t n);

#endif
