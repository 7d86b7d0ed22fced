/* A reader that reads its inner reader on a thread of its own, a few chunks ahead, so that
 * decompression or network reads overlap with the consumer's work. Constant memory. */
#ifndef ZL_PREFETCH_H
#define ZL_PREFETCH_H

#include <stddef.h>

#include "util/reader.h"

/* Wraps inner (owned from now on, even on failure) with nchunks buffers of chunk bytes. */
int zl_reader_prefetch(zl_reader *inner, size_t chunk, int nchunks, zl_reader **out, zl_err *err);

#endif
