/* A pull stream of bytes: an object's body, possibly decompressed. The opener owns it; close frees it. */
#ifndef ZL_READER_H
#define ZL_READER_H

#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

typedef struct zl_reader zl_reader;
struct zl_reader {
	/* Reads up to n bytes into buf; returns the count, 0 at end, or a negative ZL_E* code with err set. */
	ssize_t (*read)(zl_reader *r, void *buf, size_t n, zl_err *err);
	void (*close)(zl_reader *r);
	const char *name; /* for error messages, e.g. "bucket/key" */
	/* Optional: up to n of the next bytes where the reader holds them, without a copy: sets *data
	 * and returns their count, 0 at end, or an error; they stay valid until the next call on r. */
	ssize_t (*borrow)(zl_reader *r, size_t n, const void **data, zl_err *err);
};

static inline ssize_t zl_reader_read(zl_reader *r, void *buf, size_t n, zl_err *err)
{
	return r->read(r, buf, n, err);
}

/* The next bytes: in place when the reader can lend them, else read into buf (n bytes at most);
 * *data points at them either way, until the next call on r. */
static inline ssize_t zl_reader_next(zl_reader *r, void *buf, size_t n, const void **data, zl_err *err)
{
	if (r->borrow)
		return r->borrow(r, n, data, err);
	*data = buf;
	return r->read(r, buf, n, err);
}
static inline void zl_reader_close(zl_reader *r)
{
	if (r)
		r->close(r);
}

#endif
