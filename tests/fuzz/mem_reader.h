/* The fuzz targets' zl_reader over the input: short reads of varying size (with chunk set) cut
 * rows, escapes and compressed frames anywhere; closing it twice aborts. */
#ifndef ZL_FUZZ_MEM_READER_H
#define ZL_FUZZ_MEM_READER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/reader.h"

typedef struct mem_reader {
	zl_reader r;
	const uint8_t *p;
	size_t left;
	unsigned chunk; /* 0: as much as asked */
	unsigned step;
	int closed;
} mem_reader;

static ssize_t mem_read(zl_reader *r, void *buf, size_t n, zl_err *err)
{
	mem_reader *m = (mem_reader *)r;
	if (m->closed)
		abort();
	size_t k = m->left < n ? m->left : n;
	if (m->chunk) {
		size_t c = 1 + (m->step++ * 13 + m->chunk) % (m->chunk * 7);
		if (k > c)
			k = c;
	}
	memcpy(buf, m->p, k);
	m->p += k;
	m->left -= k;
	return (ssize_t)k;
}

static void mem_close(zl_reader *r)
{
	mem_reader *m = (mem_reader *)r;
	if (m->closed++)
		abort();
}

#endif
