#include "format/format.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define DZ_BUFSZ ((size_t)64 << 10)

typedef struct dz_reader {
	zl_reader base;
	zl_reader *inner;
	char *name;
	unsigned char *in;
	size_t in_len;    /* pass-through: bytes sniffed into in; in_pos of them served */
	size_t in_pos;
	int gzip;
	z_stream zs;
	int zs_ready;
	int in_eof;
	int member_end;   /* a gzip member just ended; more may follow */
	int done;
	int seen_input;   /* any compressed byte read at all */
} dz_reader;

static void dz_close(zl_reader *r)
{
	dz_reader *d = (dz_reader *)r;
	if (!d)
		return;
	if (d->zs_ready)
		inflateEnd(&d->zs);
	zl_reader_close(d->inner);
	free(d->in);
	free(d->name);
	free(d);
}

static ssize_t pass_read(zl_reader *r, void *buf, size_t n, zl_err *err)
{
	dz_reader *d = (dz_reader *)r;
	if (d->in_pos < d->in_len) {
		size_t k = d->in_len - d->in_pos;
		if (k > n)
			k = n;
		memcpy(buf, d->in + d->in_pos, k);
		d->in_pos += k;
		return (ssize_t)k;
	}
	return zl_reader_read(d->inner, buf, n, err);
}

/* Refills the compressed input when it is used up; sets in_eof at the end of inner. */
static int gz_fill(dz_reader *d, zl_err *err)
{
	if (d->zs.avail_in > 0 || d->in_eof)
		return 0;
	ssize_t k = zl_reader_read(d->inner, d->in, DZ_BUFSZ, err);
	if (k < 0)
		return (int)k;
	if (k == 0)
		d->in_eof = 1;
	else
		d->seen_input = 1;
	d->zs.next_in = d->in;
	d->zs.avail_in = (uInt)k;
	return 0;
}

static ssize_t gz_read(zl_reader *r, void *buf, size_t n, zl_err *err)
{
	dz_reader *d = (dz_reader *)r;
	if (d->done || n == 0)
		return 0;
	uInt want = n > UINT_MAX ? UINT_MAX : (uInt)n;
	d->zs.next_out = buf;
	d->zs.avail_out = want;
	while (d->zs.avail_out == want) {
		int rc = gz_fill(d, err);
		if (rc < 0)
			return rc;
		if (d->member_end) {
			if (d->zs.avail_in == 0) {
				d->done = 1;
				break;
			}
			if (inflateReset(&d->zs) != Z_OK)
				return zl_err_set(err, ZL_EINVAL, "%s: corrupt gzip data (reset failed)", d->name);
			d->member_end = 0;
		}
		if (d->in_eof && d->zs.avail_in == 0 && !d->seen_input) {
			d->done = 1;
			break;
		}
		rc = inflate(&d->zs, Z_NO_FLUSH);
		if (rc == Z_STREAM_END) {
			d->member_end = 1;
		} else if (rc == Z_BUF_ERROR) {
			if (d->in_eof)
				return zl_err_set(err, ZL_EINVAL, "%s: truncated gzip data", d->name);
		} else if (rc == Z_MEM_ERROR) {
			return zl_err_set(err, ZL_ENOMEM, "%s: out of memory inflating gzip data", d->name);
		} else if (rc != Z_OK) {
			return zl_err_set(err, ZL_EINVAL, "%s: corrupt gzip data (%s)", d->name,
			                  d->zs.msg ? d->zs.msg : "invalid stream");
		}
	}
	return (ssize_t)(want - d->zs.avail_out);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

int zl_decompress_open(zl_reader *inner, zl_compression comp, const char *name, zl_reader **out,
                       zl_err *err)
{
	dz_reader *d = NULL;
	int rc = 0;
	*out = NULL;
	if (!name)
		name = inner->name ? inner->name : "object";
	if (comp == ZL_COMP_NONE) {
		*out = inner;
		return 0;
	}
	d = calloc(1, sizeof *d);
	if (!d || !(d->in = malloc(DZ_BUFSZ)) || !(d->name = strdup(name))) {
		rc = zl_err_set(err, ZL_ENOMEM, "%s: out of memory", name);
		goto out;
	}
	d->inner = inner;
	inner = NULL;
	d->base.close = dz_close;
	d->base.name = d->name;
	d->gzip = comp == ZL_COMP_GZIP || ends_with(name, ".gz");
	if (!d->gzip) {
		while (d->in_len < 2) {
			ssize_t k = zl_reader_read(d->inner, d->in + d->in_len, DZ_BUFSZ - d->in_len, err);
			if (k < 0) {
				rc = (int)k;
				goto out;
			}
			if (k == 0)
				break;
			d->in_len += (size_t)k;
		}
		d->gzip = d->in_len >= 2 && d->in[0] == 0x1f && d->in[1] == 0x8b;
	}
	if (!d->gzip) {
		d->base.read = pass_read;
		goto out;
	}
	d->base.read = gz_read;
	d->zs.next_in = d->in;
	d->zs.avail_in = (uInt)d->in_len;
	d->seen_input = d->in_len > 0;
	if (inflateInit2(&d->zs, 15 + 16) != Z_OK) {
		rc = zl_err_set(err, ZL_ENOMEM, "%s: cannot initialise zlib", name);
		goto out;
	}
	d->zs_ready = 1;
out:
	if (rc < 0) {
		zl_reader_close(inner);
		if (d)
			dz_close(&d->base);
		return rc;
	}
	*out = &d->base;
	return 0;
}
