/* libFuzzer target over the decompressors (format/decompress.c): gzip, zstd, bzip2 and detection
 * by magic bytes or name, over a memory reader that returns short reads of varying size. Byte 0
 * chooses the compression and the name (see below), the rest is the object. The output is read
 * to the end, or 64 MiB, in reads of varying size; errors are ZL_EINVAL naming the object, and
 * the reader closes its inner reader exactly once. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "util/err.h"
#include "mem_reader.h"

#define OUT_CAP ((size_t)64 << 20)

static const zl_compression comps[] = { ZL_COMP_AUTO, ZL_COMP_GZIP, ZL_COMP_ZSTD, ZL_COMP_BZIP2 };
static const char *const names[] = { "b/k.csv", "b/k.csv.gz", "b/k.zst", "b/k.bz2" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* byte 0: compression (bits 0-1), name (bits 2-3), chunked inner reads (bits 4-5), read sizes (6-7) */
	zl_compression comp = comps[data[0] & 3];
	const char *name = names[(data[0] >> 2) & 3];
	unsigned chunk = (data[0] >> 4) & 3 ? ((data[0] >> 4) & 3) * 9 : 0;
	unsigned rsize = (data[0] >> 6) & 3;
	uint8_t *body = malloc(size - 1 ? size - 1 : 1);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	mem_reader m = { .r = { .read = mem_read, .close = mem_close, .name = name }, .p = body, .left = size - 1,
		             .chunk = chunk };
	zl_reader *r = NULL;
	zl_err err;
	int rc = zl_decompress_open(&m.r, comp, name, &r, &err);
	if (rc) {
		if (rc != ZL_EINVAL && rc != ZL_ENOMEM)
			abort();
		if (r || m.closed != 1) /* ownership taken, even on failure */
			abort();
		goto out;
	}
	static unsigned char buf[1 << 17];
	size_t total = 0;
	unsigned step = 0;
	for (;;) {
		size_t want = rsize == 0 ? sizeof buf : rsize == 1 ? 1 + step % 7 : rsize == 2 ? 4096 : 1 + (step * 7919) % sizeof buf;
		step++;
		ssize_t k = zl_reader_read(r, buf, want, &err);
		if (k < 0) {
			if (k != ZL_EINVAL && k != ZL_ENOMEM)
				abort();
			if (strncmp(err.msg, name, strlen(name)) != 0)
				abort();
			break;
		}
		if ((size_t)k > want)
			abort();
		if (k == 0) { /* the end stays the end */
			if (zl_reader_read(r, buf, sizeof buf, &err) != 0)
				abort();
			break;
		}
		total += (size_t)k;
		if (total >= OUT_CAP)
			break;
	}
	zl_reader_close(r);
	if (m.closed != 1)
		abort();
out:
	free(body);
	return 0;
}
