/* libFuzzer target over the row parser (format/rows.c): CSV (with and without a header line),
 * PostgreSQL text and JSON lines, read from a zl_reader over the input in chunks of varying size.
 * The first 4 bytes choose the format (see pick()), the rest is the object. Every row's values
 * must be NUL-terminated at their length, JSON lines rows named; errors are ZL_EINVAL with
 * "NAME line N: ..." and end the parse. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "util/err.h"
#include "mem_reader.h"

static const char delims[] = { ',', '\t', '|', ';', ' ', '\x01', 'x', '"' };
static const char quotes[] = { '"', '\'', '`', '|' };
static const char escapes[] = { 0, '\\', '"', '\'' };
static const char *const nulls[] = { NULL, "", "\\N", "NULL" };

/* byte 0: type (bits 0-1), header (bit 2), null string (bits 3-4), chunked reads (bits 5-7);
 * byte 1: delimiter; byte 2: quote; byte 3: escape. */
static int pick(const uint8_t *d, zl_format *f, unsigned *chunk)
{
	zl_format_defaults(f);
	f->type = (zl_format_type)((d[0] & 3) % 3);
	f->header = (d[0] >> 2) & 1;
	f->null_string = nulls[(d[0] >> 3) & 3];
	*chunk = d[0] >> 5 ? (unsigned)(d[0] >> 5) * 5 : 0;
	if (f->type == ZL_FMT_TEXT)
		f->delimiter = '\t';
	if (d[1] & 0x80)
		f->delimiter = delims[d[1] & 7];
	f->quote = quotes[d[2] & 3];
	f->escape = escapes[d[3] & 3];
	if (f->type == ZL_FMT_CSV && f->delimiter == f->quote) /* what config validation refuses */
		return -1;
	return 0;
}

static void check_error(int rc, const zl_err *err, const char *name)
{
	if (rc != ZL_EINVAL && rc != ZL_ENOMEM)
		abort();
	if (strncmp(err->msg, name, strlen(name)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	zl_format f;
	unsigned chunk;
	if (size < 4 || pick(data, &f, &chunk))
		return 0;
	/* an exact copy: ASan sees every read past the end */
	uint8_t *body = malloc(size - 4 ? size - 4 : 1);
	if (!body)
		return 0;
	memcpy(body, data + 4, size - 4);
	mem_reader m = { .r = { .read = mem_read, .close = mem_close, .name = "b/k" }, .p = body, .left = size - 4,
		             .chunk = chunk };
	zl_rows *rs = NULL;
	zl_err err;
	int rc = zl_rows_open(&m.r, &f, "b/obj.csv", &rs, &err);
	if (rc) {
		check_error(rc, &err, "b/obj.csv");
		goto out;
	}
	const char *const *hdr;
	size_t nh;
	zl_rows_header(rs, &hdr, &nh);
	if (nh && (f.type != ZL_FMT_CSV || !f.header))
		abort();
	for (size_t i = 0; i < nh; i++)
		if (!hdr[i])
			abort();
	zl_row row;
	int64_t last = 0;
	size_t sum = 0;
	while ((rc = zl_rows_next(rs, &row, &err)) == 1) {
		if (row.line < last || row.line < 1)
			abort();
		last = row.line;
		if (f.type == ZL_FMT_JSONL && row.n && !row.names)
			abort();
		for (size_t i = 0; i < row.n; i++) {
			if (f.type == ZL_FMT_JSONL && !row.names[i])
				abort();
			if (row.values[i]) {
				if (row.values[i][row.lens[i]] != '\0')
					abort();
				for (size_t j = 0; j < row.lens[i]; j++) /* every byte readable */
					sum += (unsigned char)row.values[i][j];
			}
		}
		const char *text;
		size_t len;
		zl_rows_line(rs, &text, &len);
		if (f.type == ZL_FMT_CSV && len)
			abort();
		for (size_t j = 0; j < len; j++)
			sum += (unsigned char)text[j];
	}
	(void)sum;
	if (rc < 0)
		check_error(rc, &err, "b/obj.csv");
	else if (rc != 0)
		abort();
	zl_rows_free(rs);
out:
	free(body);
	return 0;
}
