#include "format/format.h"

#include <bzlib.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define DZ_BUFSZ ((size_t)64 << 10)
#define DZ_MAGIC_MAX 4  /* the longest magic of any codec */

enum { DZ_MORE = 0, DZ_END = 1 };          /* step results */
enum { MAGIC_NO = 0, MAGIC_PREFIX, MAGIC_YES }; /* magic check results */

typedef struct dz_reader dz_reader;

/* One compression format. step decompresses from d->in[in_pos, in_len) into d->out[out_pos,
 * out_len), advancing both, and returns DZ_MORE, DZ_END when a member, frame or stream ended
 * (another may follow), or a negative code with err set. reset readies the state for the next
 * member; when NULL, end and init are used. */
typedef struct dz_codec {
	const char *name;
	zl_compression comp;
	const char *suffixes[3];
	/* MAGIC_YES when p starts with the magic, MAGIC_PREFIX when p (shorter) could begin it. */
	int (*magic)(const unsigned char *p, size_t n);
	int (*init)(dz_reader *d, zl_err *err);
	int (*reset)(dz_reader *d, zl_err *err);
	int (*step)(dz_reader *d, zl_err *err);
	void (*end)(dz_reader *d);
} dz_codec;

struct dz_reader {
	zl_reader base;
	zl_reader *inner;
	char *name;
	const dz_codec *codec; /* NULL: pass-through */
	unsigned char *in;
	size_t in_pos, in_len;  /* unread input is in[in_pos, in_len) */
	unsigned char *out;     /* the caller's buffer during a read */
	size_t out_pos, out_len;
	union {
		z_stream zs;
		ZSTD_DStream *zds;
		bz_stream bz;
	} u;
	int ready;        /* u holds an initialised codec state */
	int in_eof;
	int member_end;   /* a member just ended; more may follow */
	int done;
	int seen_input;   /* any compressed byte read at all */
};

/* gzip (zlib) */

static int gz_init(dz_reader *d, zl_err *err)
{
	memset(&d->u.zs, 0, sizeof d->u.zs);
	if (inflateInit2(&d->u.zs, 15 + 16) != Z_OK)
		return zl_err_set(err, ZL_ENOMEM, "%s: cannot initialise gzip decoder", d->name);
	return 0;
}

static int gz_reset(dz_reader *d, zl_err *err)
{
	if (inflateReset(&d->u.zs) != Z_OK)
		return zl_err_set(err, ZL_EINVAL, "%s: corrupt gzip data (reset failed)", d->name);
	return 0;
}

static int gz_step(dz_reader *d, zl_err *err)
{
	z_stream *zs = &d->u.zs;
	size_t room = d->out_len - d->out_pos;
	uInt in = (uInt)(d->in_len - d->in_pos), out = room > UINT_MAX ? UINT_MAX : (uInt)room;
	zs->next_in = d->in + d->in_pos;
	zs->avail_in = in;
	zs->next_out = d->out + d->out_pos;
	zs->avail_out = out;
	int rc = inflate(zs, Z_NO_FLUSH);
	d->in_pos += in - zs->avail_in;
	d->out_pos += out - zs->avail_out;
	if (rc == Z_STREAM_END)
		return DZ_END;
	if (rc == Z_OK || rc == Z_BUF_ERROR)
		return DZ_MORE;
	if (rc == Z_MEM_ERROR)
		return zl_err_set(err, ZL_ENOMEM, "%s: out of memory decompressing gzip data", d->name);
	return zl_err_set(err, ZL_EINVAL, "%s: corrupt gzip data (%s)", d->name,
	                  zs->msg ? zs->msg : "invalid stream");
}

static void gz_end(dz_reader *d)
{
	inflateEnd(&d->u.zs);
}

/* zstd */

static int zstd_init(dz_reader *d, zl_err *err)
{
	if (!(d->u.zds = ZSTD_createDStream()))
		return zl_err_set(err, ZL_ENOMEM, "%s: cannot initialise zstd decoder", d->name);
	return 0;
}

static int zstd_reset(dz_reader *d, zl_err *err)
{
	if (ZSTD_isError(ZSTD_DCtx_reset(d->u.zds, ZSTD_reset_session_only)))
		return zl_err_set(err, ZL_EINVAL, "%s: corrupt zstd data (reset failed)", d->name);
	return 0;
}

static int zstd_step(dz_reader *d, zl_err *err)
{
	ZSTD_inBuffer in = { d->in + d->in_pos, d->in_len - d->in_pos, 0 };
	ZSTD_outBuffer out = { d->out + d->out_pos, d->out_len - d->out_pos, 0 };
	size_t rc = ZSTD_decompressStream(d->u.zds, &out, &in);
	d->in_pos += in.pos;
	d->out_pos += out.pos;
	if (!ZSTD_isError(rc))
		return rc == 0 ? DZ_END : DZ_MORE;
	if (ZSTD_getErrorCode(rc) == ZSTD_error_memory_allocation)
		return zl_err_set(err, ZL_ENOMEM, "%s: out of memory decompressing zstd data", d->name);
	return zl_err_set(err, ZL_EINVAL, "%s: corrupt zstd data (%s)", d->name, ZSTD_getErrorName(rc));
}

static void zstd_end(dz_reader *d)
{
	ZSTD_freeDStream(d->u.zds);
	d->u.zds = NULL;
}

/* bzip2 */

static int bz2_init(dz_reader *d, zl_err *err)
{
	memset(&d->u.bz, 0, sizeof d->u.bz);
	if (BZ2_bzDecompressInit(&d->u.bz, 0, 0) != BZ_OK)
		return zl_err_set(err, ZL_ENOMEM, "%s: cannot initialise bzip2 decoder", d->name);
	return 0;
}

static int bz2_step(dz_reader *d, zl_err *err)
{
	bz_stream *bz = &d->u.bz;
	size_t room = d->out_len - d->out_pos;
	unsigned in = (unsigned)(d->in_len - d->in_pos), out = room > UINT_MAX ? UINT_MAX : (unsigned)room;
	bz->next_in = (char *)d->in + d->in_pos;
	bz->avail_in = in;
	bz->next_out = (char *)d->out + d->out_pos;
	bz->avail_out = out;
	int rc = BZ2_bzDecompress(bz);
	d->in_pos += in - bz->avail_in;
	d->out_pos += out - bz->avail_out;
	if (rc == BZ_STREAM_END)
		return DZ_END;
	if (rc == BZ_OK)
		return DZ_MORE;
	if (rc == BZ_MEM_ERROR)
		return zl_err_set(err, ZL_ENOMEM, "%s: out of memory decompressing bzip2 data", d->name);
	return zl_err_set(err, ZL_EINVAL, "%s: corrupt bzip2 data (%s)", d->name,
	                  rc == BZ_DATA_ERROR_MAGIC ? "bad stream header"
	                  : rc == BZ_DATA_ERROR ? "data integrity error" : "invalid stream");
}

static void bz2_end(dz_reader *d)
{
	BZ2_bzDecompressEnd(&d->u.bz);
}

/* Magic bytes */

static int magic_match(const unsigned char *p, size_t n, const char *magic, size_t len)
{
	if (memcmp(p, magic, n < len ? n : len) != 0)
		return MAGIC_NO;
	return n >= len ? MAGIC_YES : MAGIC_PREFIX;
}

static int gz_magic(const unsigned char *p, size_t n)
{
	return magic_match(p, n, "\x1f\x8b", 2);
}

static int zstd_magic(const unsigned char *p, size_t n)
{
	return magic_match(p, n, "\x28\xb5\x2f\xfd", 4);
}

/* "BZh" and a block size digit '1'..'9'. */
static int bz2_magic(const unsigned char *p, size_t n)
{
	int m = magic_match(p, n, "BZh", 3);
	if (m != MAGIC_YES)
		return m;
	if (n == 3)
		return MAGIC_PREFIX;
	return p[3] >= '1' && p[3] <= '9' ? MAGIC_YES : MAGIC_NO;
}

static const dz_codec codecs[] = {
	{ "gzip", ZL_COMP_GZIP, { ".gz" }, gz_magic, gz_init, gz_reset, gz_step, gz_end },
	{ "zstd", ZL_COMP_ZSTD, { ".zst", ".zstd" }, zstd_magic, zstd_init, zstd_reset, zstd_step, zstd_end },
	{ "bzip2", ZL_COMP_BZIP2, { ".bz2" }, bz2_magic, bz2_init, NULL, bz2_step, bz2_end },
};
#define NCODECS (sizeof codecs / sizeof codecs[0])

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

static int named_for(const dz_codec *c, const char *name)
{
	for (size_t i = 0; i < sizeof c->suffixes / sizeof c->suffixes[0] && c->suffixes[i]; i++)
		if (ends_with(name, c->suffixes[i]))
			return 1;
	return 0;
}

/* AUTO: the codec whose magic starts p; else the codec the name suggests if p is too short
 * to tell (a truncated or empty file); else none (plain). Magic bytes beat the name. */
static const dz_codec *detect(const unsigned char *p, size_t n, const char *name)
{
	for (size_t i = 0; i < NCODECS; i++)
		if (codecs[i].magic(p, n) == MAGIC_YES)
			return &codecs[i];
	for (size_t i = 0; i < NCODECS; i++)
		if (named_for(&codecs[i], name) && codecs[i].magic(p, n) == MAGIC_PREFIX)
			return &codecs[i];
	return NULL;
}

static void dz_close(zl_reader *r)
{
	dz_reader *d = (dz_reader *)r;
	if (!d)
		return;
	if (d->ready)
		d->codec->end(d);
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
static int dz_fill(dz_reader *d, zl_err *err)
{
	if (d->in_pos < d->in_len || d->in_eof)
		return 0;
	ssize_t k = zl_reader_read(d->inner, d->in, DZ_BUFSZ, err);
	if (k < 0)
		return (int)k;
	d->in_pos = 0;
	d->in_len = (size_t)k;
	if (k == 0)
		d->in_eof = 1;
	else
		d->seen_input = 1;
	return 0;
}

static int dz_restart(dz_reader *d, zl_err *err)
{
	if (d->codec->reset)
		return d->codec->reset(d, err);
	d->codec->end(d);
	d->ready = 0;
	int rc = d->codec->init(d, err);
	if (rc == 0)
		d->ready = 1;
	return rc;
}

static ssize_t dz_read(zl_reader *r, void *buf, size_t n, zl_err *err)
{
	dz_reader *d = (dz_reader *)r;
	if (d->done || n == 0)
		return 0;
	d->out = buf;
	d->out_pos = 0;
	d->out_len = n;
	while (d->out_pos == 0) {
		int rc = dz_fill(d, err);
		if (rc < 0)
			return rc;
		if (d->in_pos == d->in_len && d->in_eof && (d->member_end || !d->seen_input)) {
			d->done = 1;
			break;
		}
		if (d->member_end) {
			if ((rc = dz_restart(d, err)) < 0)
				return rc;
			d->member_end = 0;
		}
		rc = d->codec->step(d, err);
		if (rc < 0)
			return rc;
		if (rc == DZ_END)
			d->member_end = 1;
		else if (d->in_eof && d->out_pos == 0)
			return zl_err_set(err, ZL_EINVAL, "%s: truncated %s data", d->name, d->codec->name);
	}
	d->out = NULL;
	return (ssize_t)d->out_pos;
}

/* Reads until DZ_MAGIC_MAX bytes are buffered or inner ends. */
static int sniff(dz_reader *d, zl_err *err)
{
	while (d->in_len < DZ_MAGIC_MAX) {
		ssize_t k = zl_reader_read(d->inner, d->in + d->in_len, DZ_BUFSZ - d->in_len, err);
		if (k < 0)
			return (int)k;
		if (k == 0)
			break;
		d->in_len += (size_t)k;
	}
	return 0;
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
	if (comp == ZL_COMP_AUTO) {
		if ((rc = sniff(d, err)) < 0)
			goto out;
		d->codec = detect(d->in, d->in_len, name);
	} else {
		for (size_t i = 0; i < NCODECS; i++)
			if (codecs[i].comp == comp)
				d->codec = &codecs[i];
		if (!d->codec) {
			rc = zl_err_set(err, ZL_EINVAL, "%s: unknown compression %d", name, (int)comp);
			goto out;
		}
	}
	if (!d->codec) {
		d->base.read = pass_read;
		goto out;
	}
	d->base.read = dz_read;
	d->seen_input = d->in_len > 0;
	if ((rc = d->codec->init(d, err)) < 0)
		goto out;
	d->ready = 1;
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
