#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bzlib.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "format/format.h"
#include "util/buf.h"

/* A reader over a byte array that returns at most chunk bytes per call. */
typedef struct mem_reader {
	zl_reader base;
	const char *data;
	size_t len, pos, chunk;
	int fail;   /* return ZL_EIO instead of data */
} mem_reader;

static ssize_t mem_read(zl_reader *r, void *buf, size_t n, zl_err *err)
{
	mem_reader *m = (mem_reader *)r;
	if (m->fail)
		return zl_err_set(err, ZL_EIO, "%s: read failed", r->name);
	size_t k = m->len - m->pos;
	if (k > n)
		k = n;
	if (k > m->chunk)
		k = m->chunk;
	memcpy(buf, m->data + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

static void mem_close(zl_reader *r) { free(r); }

static zl_reader *mem_new(const void *data, size_t len, size_t chunk)
{
	mem_reader *m = calloc(1, sizeof *m);
	assert_non_null(m);
	m->base.read = mem_read;
	m->base.close = mem_close;
	m->base.name = "mem";
	m->data = data;
	m->len = len;
	m->chunk = chunk;
	return &m->base;
}

/* A reader over a file descriptor. */
typedef struct fd_reader {
	zl_reader base;
	int fd;
} fd_reader;

static ssize_t fd_read(zl_reader *r, void *buf, size_t n, zl_err *err)
{
	ssize_t k = read(((fd_reader *)r)->fd, buf, n);
	return k < 0 ? zl_err_set(err, ZL_EIO, "%s: read failed", r->name) : k;
}

static void fd_close(zl_reader *r)
{
	close(((fd_reader *)r)->fd);
	free(r);
}

static zl_reader *fd_new(const char *path)
{
	fd_reader *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->fd = open(path, O_RDONLY);
	assert_true(f->fd >= 0);
	f->base.read = fd_read;
	f->base.close = fd_close;
	f->base.name = path;
	return &f->base;
}

static const size_t chunks[] = {1, 3, 7, 1 << 20};
#define NCHUNKS (sizeof chunks / sizeof chunks[0])

static void render_row(zl_buf *out, const zl_row *row)
{
	zl_buf_printf(out, "%lld:", (long long)row->line);
	for (size_t i = 0; i < row->n; i++) {
		if (i)
			zl_buf_addc(out, '|');
		if (row->names)
			zl_buf_printf(out, "%s=", row->names[i]);
		if (row->values[i]) {
			assert_int_equal(strlen(row->values[i]), row->lens[i]);
			zl_buf_printf(out, "[%s]", row->values[i]);
		} else {
			zl_buf_adds(out, "NULL");
			assert_int_equal(row->lens[i], 0);
		}
	}
	zl_buf_addc(out, '\n');
}

/* Parses all of r; renders rows as "LINE:[v]|NULL|...\n" into out. Returns the last status. */
static int parse_reader(zl_reader *r, const zl_format *fmt, const char *name, zl_buf *out, zl_err *err)
{
	zl_rows *rows = NULL;
	int rc = zl_rows_open(r, fmt, name, &rows, err);
	if (rc < 0)
		return rc;
	const char *const *hdr;
	size_t nh;
	zl_rows_header(rows, &hdr, &nh);
	if (fmt->header) {
		zl_buf_adds(out, "H:");
		for (size_t i = 0; i < nh; i++)
			zl_buf_printf(out, "%s%s", i ? "|" : "", hdr[i]);
		zl_buf_addc(out, '\n');
	} else {
		assert_int_equal(nh, 0);
	}
	zl_row row;
	while ((rc = zl_rows_next(rows, &row, err)) == 1)
		render_row(out, &row);
	zl_rows_free(rows);
	return rc;
}

static int parse_chunked(const char *data, size_t len, const zl_format *fmt, size_t chunk, zl_buf *out,
                         zl_err *err)
{
	zl_reader *r = mem_new(data, len, chunk);
	int rc = parse_reader(r, fmt, "t.csv", out, err);
	zl_reader_close(r);
	return rc;
}

/* Asserts that data parses to want with every chunk size. */
static void expect_rows(const zl_format *fmt, const char *data, const char *want)
{
	for (size_t c = 0; c < NCHUNKS; c++) {
		zl_buf out;
		zl_err err = {0};
		zl_buf_init(&out, 0);
		int rc = parse_chunked(data, strlen(data), fmt, chunks[c], &out, &err);
		if (rc != 0)
			fail_msg("chunk %zu: %s", chunks[c], err.msg);
		assert_string_equal(zl_buf_str(&out), want);
		zl_buf_release(&out);
	}
}

/* Asserts that data fails with message msg with every chunk size. */
static void expect_error(const zl_format *fmt, const char *data, int code, const char *msg)
{
	for (size_t c = 0; c < NCHUNKS; c++) {
		zl_buf out;
		zl_err err = {0};
		zl_buf_init(&out, 0);
		int rc = parse_chunked(data, strlen(data), fmt, chunks[c], &out, &err);
		assert_int_equal(rc, code);
		assert_int_equal(err.code, code);
		assert_string_equal(err.msg, msg);
		zl_buf_release(&out);
	}
}

static zl_format csv(void)
{
	zl_format f;
	zl_format_defaults(&f);
	return f;
}

static zl_format jsonl(void)
{
	zl_format f;
	zl_format_defaults(&f);
	f.type = ZL_FMT_JSONL;
	return f;
}

static void test_defaults(void **state)
{
	zl_format f;
	memset(&f, 0x55, sizeof f);
	zl_format_defaults(&f);
	assert_int_equal(f.type, ZL_FMT_CSV);
	assert_int_equal(f.delimiter, ',');
	assert_int_equal(f.quote, '"');
	assert_int_equal(f.escape, 0);
	assert_null(f.null_string);
	assert_int_equal(f.header, 0);
	assert_int_equal(f.compression, ZL_COMP_AUTO);
}

static void test_csv_simple(void **state)
{
	zl_format f = csv();
	expect_rows(&f, "a,b,c\n1,2,3\n", "1:[a]|[b]|[c]\n2:[1]|[2]|[3]\n");
	expect_rows(&f, "a,b,c\n1,2,3", "1:[a]|[b]|[c]\n2:[1]|[2]|[3]\n");
	expect_rows(&f, "x\n", "1:[x]\n");
	expect_rows(&f, "", "");
}

static void test_csv_quotes(void **state)
{
	zl_format f = csv();
	expect_rows(&f, "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",plain\nnext,\"\"\"\",x\"y,z\n",
	            "1:[a,b]|[say \"hi\"]|[two\nlines]|[plain]\n3:[next]|[\"]|[x\"y]|[z]\n");
	expect_rows(&f, "\"multi\n\nline\"\n\"end\"", "1:[multi\n\nline]\n4:[end]\n");
}

static void test_csv_crlf(void **state)
{
	zl_format f = csv();
	expect_rows(&f, "a,b\r\nc,d\r\n", "1:[a]|[b]\n2:[c]|[d]\n");
	expect_rows(&f, "\"a\",\"b\"\r\n\"q\r\nr\",d\r\ne,f", "1:[a]|[b]\n2:[q\r\nr]|[d]\n4:[e]|[f]\n");
	expect_rows(&f, "a\r\n\r\n\r\nb\r\n", "1:[a]\n4:[b]\n");
}

static void test_csv_null_vs_empty(void **state)
{
	zl_format f = csv();
	expect_rows(&f, ",\"\",x\na,\n\"\",\n,", "1:NULL|[]|[x]\n2:[a]|NULL\n3:[]|NULL\n4:NULL|NULL\n");
}

static void test_csv_custom_delimiter_quote(void **state)
{
	zl_format f = csv();
	f.delimiter = '|';
	f.quote = '\'';
	f.escape = 0; /* 0: the quote escapes itself */
	expect_rows(&f, "a|'b|c'|'it''s'|\"q\"\n'x\ny'||z\n",
	            "1:[a]|[b|c]|[it's]|[\"q\"]\n2:[x\ny]|NULL|[z]\n");
	f.delimiter = '\t';
	expect_rows(&f, "a\tb,c\t\n", "1:[a]|[b,c]|NULL\n");
}

static void test_csv_header(void **state)
{
	zl_format f = csv();
	f.header = 1;
	expect_rows(&f, "id,\"full name\",score\n1,Ann,3.5\n2,\"Bob, Jr\",\n",
	            "H:id|full name|score\n2:[1]|[Ann]|[3.5]\n3:[2]|[Bob, Jr]|NULL\n");
	expect_rows(&f, "", "H:\n");
	expect_rows(&f, "\n\n", "H:\n");
	expect_rows(&f, "a,b\n", "H:a|b\n");
	expect_rows(&f, "\xEF\xBB\xBFid,name\n1,x\n", "H:id|name\n2:[1]|[x]\n");
}

static void test_csv_blank_lines(void **state)
{
	zl_format f = csv();
	expect_rows(&f, "\n\na,b\n\n\nc,d\n\n", "3:[a]|[b]\n6:[c]|[d]\n");
}

static void test_csv_errors(void **state)
{
	zl_format f = csv();
	expect_error(&f, "a,b\n\"c\nd,e\n", ZL_EINVAL, "t.csv line 2: unterminated quoted field");
	expect_error(&f, "a,b\n\n\"x\"y,z\n", ZL_EINVAL, "t.csv line 3: unexpected character after closing quote");
	expect_error(&f, "\"a\" ,b\n", ZL_EINVAL, "t.csv line 1: unexpected character after closing quote");
}

static void test_csv_large(void **state)
{
	size_t n = 20000;
	zl_buf in, out;
	zl_buf_init(&in, 0);
	zl_buf_init(&out, 0);
	for (size_t i = 0; i < n; i++)
		zl_buf_printf(&in, "%zu,\"row %zu\nsecond\",%zu\n", i, i, i * 2);
	char *big = malloc(200000);
	memset(big, 'x', 199999);
	big[199999] = '\0';
	zl_buf_printf(&in, "last,\"%s\",%s\n", big, big);
	zl_format f = csv();
	zl_reader *r = mem_new(in.data, in.len, 5000);
	zl_rows *rows = NULL;
	zl_err err = {0};
	assert_int_equal(zl_rows_open(r, &f, "big.csv", &rows, &err), 0);
	zl_row row;
	size_t count = 0;
	char want[64];
	while (zl_rows_next(rows, &row, &err) == 1) {
		if (count < n) {
			assert_int_equal(row.n, 3);
			assert_int_equal(row.line, (int64_t)count * 2 + 1);
			snprintf(want, sizeof want, "row %zu\nsecond", count);
			assert_string_equal(row.values[1], want);
			snprintf(want, sizeof want, "%zu", count * 2);
			assert_string_equal(row.values[2], want);
		} else {
			assert_int_equal(row.line, (int64_t)n * 2 + 1);
			assert_string_equal(row.values[0], "last");
			assert_int_equal(row.lens[1], 199999);
			assert_string_equal(row.values[1], big);
			assert_string_equal(row.values[2], big);
		}
		count++;
	}
	assert_int_equal(count, n + 1);
	zl_rows_free(rows);
	zl_reader_close(r);
	free(big);
	zl_buf_release(&in);
	zl_buf_release(&out);
}

static void test_jsonl_types(void **state)
{
	zl_format f = jsonl();
	expect_rows(&f,
	            "{\"s\":\"x y\",\"i\":-42,\"r\":1.5,\"r2\":0.1,\"e\":1e300,\"t\":true,\"f\":false,\"n\":null,"
	            "\"a\":[1,\"b\"],\"o\":{\"k\":{}},\"u\":\"\\u00e9\\n\"}\n",
	            "1:s=[x y]|i=[-42]|r=[1.5]|r2=[0.1]|e=[1e+300]|t=[1]|f=[0]|n=NULL|a=[[1,\"b\"]]|"
	            "o=[{\"k\":{}}]|u=[\xc3\xa9\n]\n");
	expect_rows(&f, "{}\n{\"big\":9223372036854775807}", "1:\n2:big=[9223372036854775807]\n");
}

static void test_jsonl_blank_crlf(void **state)
{
	zl_format f = jsonl();
	expect_rows(&f, "\n  \n{\"a\":1}\r\n\t\r\n{\"a\":\"2\"}\r\n\n", "3:a=[1]\n5:a=[2]\n");
	expect_rows(&f, "{\"a\":1}", "1:a=[1]\n");
	expect_rows(&f, "  ", "");
}

static void test_jsonl_errors(void **state)
{
	zl_format f = jsonl();
	expect_error(&f, "{\"a\":1}\n\n{\"a\":\n", ZL_EINVAL,
	             "t.csv line 3: invalid JSON: unexpected token near end of file");
	expect_error(&f, "{\"a\":1}\n{\"a\" 2}\n", ZL_EINVAL,
	             "t.csv line 2: invalid JSON: ':' expected near '2'");
	expect_error(&f, "{\"a\":1} x\n", ZL_EINVAL, "t.csv line 1: invalid JSON: end of file expected near 'x'");
	expect_error(&f, "{\"a\":1}\n[1,2]\n", ZL_EINVAL, "t.csv line 2: expected a JSON object");
	expect_error(&f, "42\n", ZL_EINVAL, "t.csv line 1: expected a JSON object");
	expect_error(&f, "\"s\"", ZL_EINVAL, "t.csv line 1: expected a JSON object");
}

/* The raw line of each accepted row, "LINE:text\n" per row, for every chunk size. */
static void expect_lines(const zl_format *fmt, const char *data, const char *want)
{
	for (size_t c = 0; c < NCHUNKS; c++) {
		zl_reader *r = mem_new(data, strlen(data), chunks[c]);
		zl_rows *rows = NULL;
		zl_err err = {0};
		zl_buf out;
		zl_buf_init(&out, 0);
		assert_int_equal(zl_rows_open(r, fmt, "t.jsonl", &rows, &err), 0);
		zl_row row;
		int rc;
		while ((rc = zl_rows_next(rows, &row, &err)) == 1) {
			const char *text;
			size_t len;
			zl_rows_line(rows, &text, &len);
			zl_buf_printf(&out, "%lld:", (long long)row.line);
			zl_buf_add(&out, text, len);
			zl_buf_addc(&out, '\n');
		}
		assert_int_equal(rc, 0);
		assert_string_equal(zl_buf_str(&out), want);
		zl_rows_free(rows);
		zl_reader_close(r);
		zl_buf_release(&out);
	}
}

static void test_jsonl_raw_lines(void **state)
{
	zl_format f = jsonl();
	/* blank and whitespace-only lines are skipped; a BOM is not part of the first line */
	expect_lines(&f, "\xEF\xBB\xBF{\"a\":1}\n \t\n\n{\"b\": 2.50}\r\n{\"c\":\"x\"}",
	             "1:{\"a\":1}\n4:{\"b\": 2.50}\r\n5:{\"c\":\"x\"}\n");
	zl_format t;
	zl_format_defaults(&t);
	t.type = ZL_FMT_TEXT;
	expect_lines(&t, "1\ta\\tb\n2\tc\n", "1:1\ta\\tb\n2:2\tc\n");
	zl_format c = csv();
	expect_lines(&c, "1,2\n", "1:\n");
}

static void test_jsonl_invalid_utf8(void **state)
{
	zl_format f = jsonl();
	expect_error(&f, "{\"a\":\"ok\"}\n\n{\"a\":\"\xff\"}\n", ZL_EINVAL,
	             "t.csv line 3: invalid JSON: unable to decode byte 0xff near '\"'");
}

static void test_jsonl_long_line(void **state)
{
	size_t n = ((size_t)16 << 20) + 10;
	char *data = malloc(n + 20);
	memcpy(data, "{}\n{\"a\":\"", 9);
	memset(data + 9, 'x', n);
	strcpy(data + 9 + n, "\"}\n");
	zl_format f = jsonl();
	zl_buf out;
	zl_err err = {0};
	zl_buf_init(&out, 0);
	assert_int_equal(parse_chunked(data, strlen(data), &f, 1 << 16, &out, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "t.csv line 2: line longer than 16 MiB");
	assert_string_equal(zl_buf_str(&out), "1:\n");
	zl_buf_release(&out);
	free(data);
}

static void test_csv_long_row(void **state)
{
	size_t n = ((size_t)16 << 20) + 10;
	char *data = malloc(n + 20);
	memcpy(data, "a\n\"", 3);
	memset(data + 3, 'x', n);
	strcpy(data + 3 + n, "\"\n");
	zl_format f = csv();
	zl_buf out;
	zl_err err = {0};
	zl_buf_init(&out, 0);
	assert_int_equal(parse_chunked(data, strlen(data), &f, 1 << 16, &out, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "t.csv line 2: row longer than 16 MiB");
	assert_string_equal(zl_buf_str(&out), "1:[a]\n");
	zl_buf_release(&out);
	free(data);
}

static zl_format text(void)
{
	zl_format f;
	zl_format_defaults(&f);
	f.type = ZL_FMT_TEXT;
	f.delimiter = '\t';
	return f;
}

static void test_csv_escape_backslash(void **state)
{
	zl_format f = csv();
	f.escape = '\\';
	expect_rows(&f, "\"a\\\"b\",\"c\\\\d\",\"e\\f\",x\\\"y,\"\\\"\",\"\\\\\",\"\"\n",
	            "1:[a\"b]|[c\\d]|[e\\f]|[x\\\"y]|[\"]|[\\]|[]\n");
	expect_rows(&f, "\"one\\\"\ntwo\",\"a\\\nb\"\nnext\n", "1:[one\"\ntwo]|[a\\\nb]\n4:[next]\n");
	expect_rows(&f, "\"q\\\"\\\\\\\"\"\r\n\"\\\\\"", "1:[q\"\\\"]\n2:[\\]\n");
	expect_error(&f, "a\n\"b\\\"\n", ZL_EINVAL, "t.csv line 2: unterminated quoted field");
	expect_error(&f, "\"b\\", ZL_EINVAL, "t.csv line 1: unterminated quoted field");
	expect_error(&f, "\"a\"\"b\"\n", ZL_EINVAL, "t.csv line 1: unexpected character after closing quote");
	f.quote = '\'';
	f.escape = '"';
	expect_rows(&f, "'it\"'s','\"\"','\"x'\n", "1:[it's]|[\"]|[\"x]\n");
}

static void test_csv_escape_zero_is_quote(void **state)
{
	zl_format f = csv();
	f.escape = 0;
	expect_rows(&f, "\"say \"\"hi\"\"\",\"a\\\"\n", "1:[say \"hi\"]|[a\\]\n");
}

static void test_csv_null_string(void **state)
{
	zl_format f = csv();
	f.null_string = "NA";
	expect_rows(&f, "NA,\"NA\",,\"\",NAN,xNA\nNA\n", "1:NULL|[NA]|[]|[]|[NAN]|[xNA]\n2:NULL\n");
	f.null_string = "\\N";
	f.escape = '\\';
	expect_rows(&f, "\\N,\"\\N\",\"\\\\N\",a\n", "1:NULL|[\\N]|[\\N]|[a]\n");
	f.null_string = "";
	expect_rows(&f, ",\"\"\n", "1:NULL|[]\n");
	f.null_string = "NA";
	f.header = 1;
	expect_rows(&f, "id,NA,\nNA,1,\n", "H:id|NA|\n2:NULL|[1]|[]\n");
}

static void test_text_basic(void **state)
{
	zl_format f = text();
	expect_rows(&f, "a\tb\tc\n1\t\\N\t\n", "1:[a]|[b]|[c]\n2:[1]|NULL|[]\n");
	expect_rows(&f, "x y,z\t\"q\"\n", "1:[x y,z]|[\"q\"]\n");
	expect_rows(&f, "last\tno newline", "1:[last]|[no newline]\n");
	expect_rows(&f, "", "");
	expect_rows(&f, "\n", "1:[]\n");
	expect_rows(&f, "a\tb\r\n\r\nc\r\n", "1:[a]|[b]\n2:[]\n3:[c]\n");
	expect_rows(&f, "\t\t\n", "1:[]|[]|[]\n");
	f.delimiter = 0; /* 0: tab */
	expect_rows(&f, "a\tb\n", "1:[a]|[b]\n");
	f.header = 1;    /* no header in text format */
	zl_buf out;
	zl_err err = {0};
	zl_buf_init(&out, 0);
	assert_int_equal(parse_chunked("h\tx\n1\t2\n", 8, &f, 3, &out, &err), 0);
	assert_string_equal(zl_buf_str(&out), "H:\n1:[h]|[x]\n2:[1]|[2]\n");
	zl_buf_release(&out);
}

static void test_text_escapes(void **state)
{
	zl_format f = text();
	expect_rows(&f, "\\b\\f\\n\\r\\t\\v\\\\\t\\\t|\\a\\q\\.\\N\n",
	            "1:[\b\f\n\r\t\v\\]|[\t|aq.N]\n");
	expect_rows(&f, "\\101\\0618\\7\\60\t\\x41\\x4a4\\x7\\xg\\X41\t\\\\N\t\\N\\N\n",
	            "1:[A18\a0]|[AJ4\axgX41]|[\\N]|[NN]\n");
	expect_rows(&f, "\\377\\777\\x\\x4A\n", "1:[\xff\xffxJ]\n");
	f.delimiter = '|';
	expect_rows(&f, "a\\|b|c\\\\|\\N|d\\\te\n", "1:[a|b]|[c\\]|NULL|[d\te]\n");

	zl_reader *r = mem_new("a\\0b\t\\x00\t\\400\n", 15, 1);
	zl_rows *rows = NULL;
	zl_err err = {0};
	zl_row row;
	assert_int_equal(zl_rows_open(r, &f, "nul.txt", &rows, &err), 0);
	assert_int_equal(zl_rows_next(rows, &row, &err), 1);
	assert_int_equal(row.n, 1);
	assert_int_equal(row.lens[0], 7);
	assert_memory_equal(row.values[0], "a\0b\t\0\t\0", 8);
	zl_rows_free(rows);
	zl_reader_close(r);
	f.delimiter = '\t';
	r = mem_new("a\\0b\t\\x00\t\\400\n", 15, 1);
	assert_int_equal(zl_rows_open(r, &f, "nul.txt", &rows, &err), 0);
	assert_int_equal(zl_rows_next(rows, &row, &err), 1);
	assert_int_equal(row.n, 3);
	assert_int_equal(row.lens[0], 3);
	assert_memory_equal(row.values[0], "a\0b", 4);
	assert_int_equal(row.lens[1], 1);
	assert_memory_equal(row.values[1], "\0", 2);
	assert_int_equal(row.lens[2], 1);
	assert_memory_equal(row.values[2], "\0", 2);
	assert_int_equal(zl_rows_next(rows, &row, &err), 0);
	zl_rows_free(rows);
	zl_reader_close(r);
}

static void test_text_null_string(void **state)
{
	zl_format f = text();
	f.delimiter = ',';
	f.null_string = "NA";
	expect_rows(&f, "NA,\\N,,N\\A,NAN\n", "1:NULL|[N]|[]|[NA]|[NAN]\n");
	f.null_string = "";
	expect_rows(&f, ",\\N,x\n\n", "1:NULL|[N]|[x]\n2:NULL\n");
	f.null_string = "\\\\N";
	expect_rows(&f, "\\\\N,\\N\n", "1:NULL|[N]\n");
}

static void test_text_end_marker(void **state)
{
	zl_format f = text();
	expect_rows(&f, "a\tb\n\\.\nignored\t\\\n", "1:[a]|[b]\n");
	expect_rows(&f, "a\r\n\\.\r\nmore\r\n", "1:[a]\n");
	expect_rows(&f, "a\n\\.", "1:[a]\n");
	expect_rows(&f, "\\.\n", "");
	expect_rows(&f, "\\.x\na\\.\n\\\\.\n \\.\n", "1:[.x]\n2:[a.]\n3:[\\.]\n4:[ .]\n");

	zl_reader *r = mem_new("1\n\\.\n2\n", 7, 1);
	zl_rows *rows = NULL;
	zl_err err = {0};
	zl_row row;
	assert_int_equal(zl_rows_open(r, &f, "end.txt", &rows, &err), 0);
	assert_int_equal(zl_rows_next(rows, &row, &err), 1);
	assert_int_equal(zl_rows_next(rows, &row, &err), 0);
	assert_int_equal(zl_rows_next(rows, &row, &err), 0);
	zl_rows_free(rows);
	zl_reader_close(r);
}

static void test_text_errors(void **state)
{
	zl_format f = text();
	expect_error(&f, "ok\n\n1\ta\\\n", ZL_EINVAL, "t.csv line 3: backslash at end of line");
	expect_error(&f, "a\\\\\\", ZL_EINVAL, "t.csv line 1: backslash at end of line");
	expect_error(&f, "\\\r\n", ZL_EINVAL, "t.csv line 1: backslash at end of line");
	expect_error(&f, "\\\n\\.\n", ZL_EINVAL, "t.csv line 1: backslash at end of line");

	const char bad[] = {'\\', '.', 'n', '0', '\n', '\r'};
	for (size_t i = 0; i < sizeof bad; i++) {
		f.delimiter = bad[i];
		zl_reader *r = mem_new("a\n", 2, 1);
		zl_rows *rows = (zl_rows *)1;
		zl_err err = {0};
		assert_int_equal(zl_rows_open(r, &f, "d.txt", &rows, &err), ZL_EINVAL);
		assert_null(rows);
		assert_string_equal(err.msg, "d.txt: invalid delimiter for text format");
		zl_reader_close(r);
	}
}

static void test_text_long_line(void **state)
{
	size_t n = ((size_t)16 << 20) + 10;
	char *data = malloc(n + 20);
	memcpy(data, "a\n", 2);
	memset(data + 2, 'x', n);
	strcpy(data + 2 + n, "\n");
	zl_format f = text();
	zl_buf out;
	zl_err err = {0};
	zl_buf_init(&out, 0);
	assert_int_equal(parse_chunked(data, strlen(data), &f, 1 << 16, &out, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "t.csv line 2: line longer than 16 MiB");
	assert_string_equal(zl_buf_str(&out), "1:[a]\n");
	zl_buf_release(&out);
	free(data);
}

/* gzip-compresses data into a fresh buffer (one member). */
static unsigned char *gz(const char *data, size_t len, size_t *outlen)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	size_t cap = deflateBound(&zs, len);
	unsigned char *out = malloc(cap);
	zs.next_in = (unsigned char *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*outlen = zs.total_out;
	deflateEnd(&zs);
	return out;
}

/* Reads all of r (with reads of at most n bytes) into out; returns the last status. */
static int slurp(zl_reader *r, size_t n, zl_buf *out, zl_err *err)
{
	char buf[4096];
	ssize_t k;
	while ((k = zl_reader_read(r, buf, n < sizeof buf ? n : sizeof buf, err)) > 0)
		zl_buf_add(out, buf, (size_t)k);
	return (int)k;
}

/* Decompresses data with comp and name; asserts the output is want. */
static void expect_plain(const void *data, size_t len, zl_compression comp, const char *name,
                         const char *want, size_t wantlen)
{
	for (size_t c = 0; c < NCHUNKS; c++) {
		zl_reader *r = NULL;
		zl_err err = {0};
		zl_buf out;
		zl_buf_init(&out, 0);
		assert_int_equal(zl_decompress_open(mem_new(data, len, chunks[c]), comp, name, &r, &err), 0);
		if (slurp(r, chunks[c] < 4096 ? chunks[c] : 4096, &out, &err) != 0)
			fail_msg("%s", err.msg);
		assert_int_equal(out.len, wantlen);
		assert_memory_equal(zl_buf_str(&out), want, wantlen);
		zl_reader_close(r);
		zl_buf_release(&out);
	}
}

static void expect_dz_error(const void *data, size_t len, zl_compression comp, const char *name,
                            const char *msg)
{
	for (size_t c = 0; c < NCHUNKS; c++) {
		zl_reader *r = NULL;
		zl_err err = {0};
		zl_buf out;
		zl_buf_init(&out, 0);
		assert_int_equal(zl_decompress_open(mem_new(data, len, chunks[c]), comp, name, &r, &err), 0);
		assert_int_equal(slurp(r, 4096, &out, &err), ZL_EINVAL);
		assert_int_equal(err.code, ZL_EINVAL);
		assert_string_equal(err.msg, msg);
		zl_reader_close(r);
		zl_buf_release(&out);
	}
}

static void test_gzip_single(void **state)
{
	const char *text = "id,name\n1,alpha\n2,beta\n";
	size_t n;
	unsigned char *z = gz(text, strlen(text), &n);
	expect_plain(z, n, ZL_COMP_GZIP, "a.csv", text, strlen(text));
	expect_plain(z, n, ZL_COMP_AUTO, "a.csv", text, strlen(text));
	expect_plain(z, n, ZL_COMP_AUTO, "a.csv.gz", text, strlen(text));
	expect_plain(z, n, ZL_COMP_NONE, "a.csv.gz", (const char *)z, n);
	free(z);
}

static void test_gzip_concatenated(void **state)
{
	size_t n1, n2, n3;
	unsigned char *z1 = gz("first\n", 6, &n1), *z2 = gz("", 0, &n2), *z3 = gz("second\n", 7, &n3);
	unsigned char *all = malloc(n1 + n2 + n3);
	memcpy(all, z1, n1);
	memcpy(all + n1, z2, n2);
	memcpy(all + n1 + n2, z3, n3);
	expect_plain(all, n1 + n2 + n3, ZL_COMP_GZIP, "c.gz", "first\nsecond\n", 13);
	expect_plain(all, n1 + n2 + n3, ZL_COMP_AUTO, "c", "first\nsecond\n", 13);
	free(all);
	free(z1);
	free(z2);
	free(z3);
}

static void test_gzip_large(void **state)
{
	size_t len = 1 << 20, n;
	char *text = malloc(len);
	for (size_t i = 0; i < len; i++)
		text[i] = (char)('a' + (i * 7919 % 26));
	unsigned char *z = gz(text, len, &n);
	zl_reader *r = NULL;
	zl_err err = {0};
	zl_buf out;
	zl_buf_init(&out, 0);
	assert_int_equal(zl_decompress_open(mem_new(z, n, 1000), ZL_COMP_AUTO, "big", &r, &err), 0);
	assert_int_equal(slurp(r, 4096, &out, &err), 0);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.data, text, len);
	zl_reader_close(r);
	zl_buf_release(&out);
	free(z);
	free(text);
}

static void test_auto_plain(void **state)
{
	const char *text = "plain text, not gzip\n";
	expect_plain(text, strlen(text), ZL_COMP_AUTO, "p.csv", text, strlen(text));
	expect_plain("\x1f", 1, ZL_COMP_AUTO, "one", "\x1f", 1);
	expect_plain("", 0, ZL_COMP_AUTO, "empty.csv", "", 0);
	expect_plain("", 0, ZL_COMP_AUTO, "empty.csv.gz", "", 0);
}

static void test_none_returns_inner(void **state)
{
	zl_reader *inner = mem_new("x", 1, 1), *r = NULL;
	zl_err err = {0};
	assert_int_equal(zl_decompress_open(inner, ZL_COMP_NONE, "x.gz", &r, &err), 0);
	assert_ptr_equal(r, inner);
	zl_reader_close(r);
}

static void test_gzip_corrupt(void **state)
{
	const char *text = "some text that compresses some text that compresses\n";
	size_t n;
	unsigned char *z = gz(text, strlen(text), &n);
	expect_dz_error("not gzip at all", 15, ZL_COMP_GZIP, "b/k.csv", "b/k.csv: corrupt gzip data (incorrect header check)");
	expect_dz_error("plain,text\n", 11, ZL_COMP_GZIP, "b/k.csv.gz", "b/k.csv.gz: corrupt gzip data (incorrect header check)");
	expect_dz_error("\x1f", 1, ZL_COMP_AUTO, "b/k.gz", "b/k.gz: truncated gzip data");
	z[n - 8] ^= 0xff;
	expect_dz_error(z, n, ZL_COMP_AUTO, "b/k.gz", "b/k.gz: corrupt gzip data (incorrect data check)");
	z[n - 8] ^= 0xff;
	expect_dz_error(z, n - 5, ZL_COMP_AUTO, "b/k.gz", "b/k.gz: truncated gzip data");
	expect_dz_error(z, 12, ZL_COMP_AUTO, "b/k.gz", "b/k.gz: truncated gzip data");
	unsigned char *junk = malloc(n + 4);
	memcpy(junk, z, n);
	memcpy(junk + n, "junk", 4);
	expect_dz_error(junk, n + 4, ZL_COMP_GZIP, "j.gz", "j.gz: corrupt gzip data (incorrect header check)");
	free(junk);
	free(z);
}

static void test_decompress_inner_error(void **state)
{
	zl_reader *inner = mem_new("abc", 3, 1), *r = (zl_reader *)1;
	((mem_reader *)inner)->fail = 1;
	zl_err err = {0};
	assert_int_equal(zl_decompress_open(inner, ZL_COMP_AUTO, "f.csv", &r, &err), ZL_EIO);
	assert_null(r);
	assert_string_equal(err.msg, "mem: read failed");
}

/* zstd-compresses data into a fresh buffer (one frame, optionally with a content checksum). */
static unsigned char *zst(const char *data, size_t len, int checksum, size_t *outlen)
{
	size_t cap = ZSTD_compressBound(len), n;
	unsigned char *out = malloc(cap);
	assert_non_null(out);
	if (checksum) {
		ZSTD_CCtx *cc = ZSTD_createCCtx();
		assert_non_null(cc);
		assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1)));
		n = ZSTD_compress2(cc, out, cap, data, len);
		ZSTD_freeCCtx(cc);
	} else {
		n = ZSTD_compress(out, cap, data, len, 3);
	}
	assert_false(ZSTD_isError(n));
	*outlen = n;
	return out;
}

/* bzip2-compresses data into a fresh buffer (one stream). */
static unsigned char *bz(const char *data, size_t len, size_t *outlen)
{
	unsigned cap = (unsigned)(len + len / 100 + 600);
	char *out = malloc(cap);
	assert_non_null(out);
	assert_int_equal(BZ2_bzBuffToBuffCompress(out, &cap, (char *)data, (unsigned)len, 9, 0, 0), BZ_OK);
	*outlen = cap;
	return (unsigned char *)out;
}

typedef unsigned char *(*compress_fn)(const char *data, size_t len, size_t *outlen);

static unsigned char *gz_c(const char *data, size_t len, size_t *outlen) { return gz(data, len, outlen); }
static unsigned char *zst_c(const char *data, size_t len, size_t *outlen) { return zst(data, len, 0, outlen); }

/* Compresses three pieces separately with fn and concatenates the results. */
static unsigned char *concat3(compress_fn fn, const char *a, const char *b, const char *c, size_t *outlen)
{
	const char *parts[] = {a, b, c};
	unsigned char *all = NULL;
	size_t n = 0;
	for (size_t i = 0; i < 3; i++) {
		size_t k;
		unsigned char *z = fn(parts[i], strlen(parts[i]), &k);
		all = realloc(all, n + k);
		assert_non_null(all);
		memcpy(all + n, z, k);
		n += k;
		free(z);
	}
	*outlen = n;
	return all;
}

static void test_zstd_single(void **state)
{
	const char *text = "id,name\n1,alpha\n2,beta\n";
	size_t n;
	unsigned char *z = zst(text, strlen(text), 0, &n);
	expect_plain(z, n, ZL_COMP_ZSTD, "a.csv", text, strlen(text));
	expect_plain(z, n, ZL_COMP_AUTO, "a.csv", text, strlen(text));
	expect_plain(z, n, ZL_COMP_AUTO, "a.csv.zst", text, strlen(text));
	expect_plain(z, n, ZL_COMP_AUTO, "A.CSV.ZSTD", text, strlen(text));
	expect_plain(z, n, ZL_COMP_NONE, "a.csv.zst", (const char *)z, n);
	free(z);
	z = zst(text, strlen(text), 1, &n);
	expect_plain(z, n, ZL_COMP_AUTO, "c.zst", text, strlen(text));
	free(z);
	expect_plain("", 0, ZL_COMP_ZSTD, "empty.zst", "", 0);
}

static void test_zstd_concatenated(void **state)
{
	size_t n;
	unsigned char *all = concat3(zst_c, "first\n", "", "second\n", &n);
	expect_plain(all, n, ZL_COMP_ZSTD, "c.zst", "first\nsecond\n", 13);
	expect_plain(all, n, ZL_COMP_AUTO, "c", "first\nsecond\n", 13);
	free(all);
}

static void test_bzip2_single(void **state)
{
	const char *text = "id,name\n1,alpha\n2,beta\n";
	size_t n;
	unsigned char *z = bz(text, strlen(text), &n);
	assert_memory_equal(z, "BZh9", 4);
	expect_plain(z, n, ZL_COMP_BZIP2, "a.csv", text, strlen(text));
	expect_plain(z, n, ZL_COMP_AUTO, "a.csv", text, strlen(text));
	expect_plain(z, n, ZL_COMP_AUTO, "a.csv.bz2", text, strlen(text));
	expect_plain(z, n, ZL_COMP_NONE, "a.csv.bz2", (const char *)z, n);
	free(z);
	expect_plain("", 0, ZL_COMP_BZIP2, "empty.bz2", "", 0);
}

static void test_bzip2_concatenated(void **state)
{
	size_t n;
	unsigned char *all = concat3(bz, "first\n", "", "second\n", &n);
	expect_plain(all, n, ZL_COMP_BZIP2, "c.bz2", "first\nsecond\n", 13);
	expect_plain(all, n, ZL_COMP_AUTO, "c", "first\nsecond\n", 13);
	free(all);
}

static void test_decompress_large_all(void **state)
{
	const compress_fn fns[] = {gz_c, zst_c, bz};
	const size_t sizes[] = {1, 3, 1000, 70000};
	size_t len = 1 << 20;
	char *text = malloc(len);
	for (size_t i = 0; i < len; i++)
		text[i] = (char)('a' + (i * 7919 % 26));
	for (size_t f = 0; f < 3; f++) {
		size_t n;
		unsigned char *z = fns[f](text, len, &n);
		for (size_t s = 0; s < 4; s++) {
			zl_reader *r = NULL;
			zl_err err = {0};
			zl_buf out;
			zl_buf_init(&out, 0);
			assert_int_equal(zl_decompress_open(mem_new(z, n, sizes[s]), ZL_COMP_AUTO, "big", &r, &err), 0);
			if (slurp(r, sizes[3 - s] < 4096 ? sizes[3 - s] : 4096, &out, &err) != 0)
				fail_msg("codec %zu size %zu: %s", f, sizes[s], err.msg);
			assert_int_equal(out.len, len);
			assert_memory_equal(out.data, text, len);
			zl_reader_close(r);
			zl_buf_release(&out);
		}
		free(z);
	}
	free(text);
}

/* AUTO: magic bytes beat a misleading name; the name decides only input too short to tell. */
static void test_auto_magic_beats_name(void **state)
{
	const char *text = "plain text, not compressed\n";
	size_t len = strlen(text), ng, nz, nb;
	unsigned char *g = gz(text, len, &ng), *z = zst(text, len, 0, &nz), *b = bz(text, len, &nb);
	expect_plain(text, len, ZL_COMP_AUTO, "x.csv.gz", text, len);
	expect_plain(text, len, ZL_COMP_AUTO, "x.csv.zst", text, len);
	expect_plain(text, len, ZL_COMP_AUTO, "x.csv.bz2", text, len);
	expect_plain(z, nz, ZL_COMP_AUTO, "x.csv.gz", text, len);
	expect_plain(b, nb, ZL_COMP_AUTO, "x.csv.zst", text, len);
	expect_plain(g, ng, ZL_COMP_AUTO, "x.csv.bz2", text, len);
	expect_plain("BZh0abc", 7, ZL_COMP_AUTO, "x.bz2", "BZh0abc", 7);
	expect_plain("BZhx", 4, ZL_COMP_AUTO, "x.bz2", "BZhx", 4);
	expect_plain("\x28\xb5\x2f\xfe", 4, ZL_COMP_AUTO, "x.zst", "\x28\xb5\x2f\xfe", 4);
	expect_plain("\x28\xb5\x2f", 3, ZL_COMP_AUTO, "x.csv", "\x28\xb5\x2f", 3);
	expect_plain("BZ", 2, ZL_COMP_AUTO, "y.csv", "BZ", 2);
	expect_plain("\x28", 1, ZL_COMP_AUTO, "a.gz", "\x28", 1);
	expect_plain("", 0, ZL_COMP_AUTO, "e.zst", "", 0);
	expect_plain("", 0, ZL_COMP_AUTO, "e.bz2", "", 0);
	expect_dz_error("\x28\xb5\x2f", 3, ZL_COMP_AUTO, "x.zst", "x.zst: truncated zstd data");
	expect_dz_error("BZh", 3, ZL_COMP_AUTO, "y.bz2", "y.bz2: truncated bzip2 data");
	expect_dz_error("B", 1, ZL_COMP_AUTO, "y.bz2", "y.bz2: truncated bzip2 data");
	free(g);
	free(z);
	free(b);
}

static void test_zstd_corrupt(void **state)
{
	const char *text = "some text that compresses some text that compresses\n";
	size_t n;
	unsigned char *z = zst(text, strlen(text), 1, &n);
	expect_dz_error("not zstd at all", 15, ZL_COMP_ZSTD, "b/k.csv", "b/k.csv: corrupt zstd data (Unknown frame descriptor)");
	expect_dz_error("x", 1, ZL_COMP_ZSTD, "b/k.zst", "b/k.zst: corrupt zstd data (Unknown frame descriptor)");
	expect_dz_error("\x28\xb5", 2, ZL_COMP_ZSTD, "b/k", "b/k: truncated zstd data");
	z[n - 1] ^= 0xff;
	expect_dz_error(z, n, ZL_COMP_AUTO, "b/k.zst", "b/k.zst: corrupt zstd data (Restored data doesn't match checksum)");
	z[n - 1] ^= 0xff;
	expect_dz_error(z, n - 3, ZL_COMP_AUTO, "b/k.zst", "b/k.zst: truncated zstd data");
	expect_dz_error(z, 6, ZL_COMP_AUTO, "b/k.zst", "b/k.zst: truncated zstd data");
	unsigned char *junk = malloc(n + 4);
	memcpy(junk, z, n);
	memcpy(junk + n, "junk", 4);
	expect_dz_error(junk, n + 4, ZL_COMP_ZSTD, "j.zst", "j.zst: corrupt zstd data (Unknown frame descriptor)");
	free(junk);
	free(z);
}

static void test_bzip2_corrupt(void **state)
{
	const char *text = "some text that compresses some text that compresses\n";
	size_t n;
	unsigned char *z = bz(text, strlen(text), &n);
	expect_dz_error("not bzip2 at all", 16, ZL_COMP_BZIP2, "b/k.csv", "b/k.csv: corrupt bzip2 data (bad stream header)");
	expect_dz_error("BZ", 2, ZL_COMP_BZIP2, "b/k.bz2", "b/k.bz2: truncated bzip2 data");
	z[n / 2] ^= 0xff;
	expect_dz_error(z, n, ZL_COMP_AUTO, "b/k.bz2", "b/k.bz2: corrupt bzip2 data (data integrity error)");
	z[n / 2] ^= 0xff;
	expect_dz_error(z, n - 5, ZL_COMP_AUTO, "b/k.bz2", "b/k.bz2: truncated bzip2 data");
	expect_dz_error(z, 12, ZL_COMP_AUTO, "b/k.bz2", "b/k.bz2: truncated bzip2 data");
	unsigned char *junk = malloc(n + 4);
	memcpy(junk, z, n);
	memcpy(junk + n, "junk", 4);
	expect_dz_error(junk, n + 4, ZL_COMP_BZIP2, "j.bz2", "j.bz2: corrupt bzip2 data (bad stream header)");
	free(junk);
	free(z);
}

static void test_decompress_forced_inner_error(void **state)
{
	const zl_compression comps[] = {ZL_COMP_GZIP, ZL_COMP_ZSTD, ZL_COMP_BZIP2};
	for (size_t i = 0; i < 3; i++) {
		zl_reader *inner = mem_new("abc", 3, 1), *r = NULL;
		((mem_reader *)inner)->fail = 1;
		zl_err err = {0};
		char buf[16];
		assert_int_equal(zl_decompress_open(inner, comps[i], "f.csv", &r, &err), 0);
		assert_int_equal(zl_reader_read(r, buf, sizeof buf, &err), ZL_EIO);
		assert_string_equal(err.msg, "mem: read failed");
		zl_reader_close(r);
	}
}

static void test_compressed_rows(void **state)
{
	const char *csvtext = "id,note\n1,\"say \\\"hi\\\"\"\n2,NA\n";
	const char *texttext = "1\tone\\ttab\n2\t\\N\n\\.\n";
	size_t nz, nb;
	unsigned char *z = zst(csvtext, strlen(csvtext), 0, &nz), *b = bz(texttext, strlen(texttext), &nb);
	zl_format f = csv();
	f.header = 1;
	f.escape = '\\';
	f.null_string = "NA";
	zl_reader *r = NULL;
	zl_err err = {0};
	zl_buf out;
	zl_buf_init(&out, 0);
	assert_int_equal(zl_decompress_open(mem_new(z, nz, 3), ZL_COMP_AUTO, "b/x.csv.zst", &r, &err), 0);
	assert_int_equal(parse_reader(r, &f, "b/x.csv.zst", &out, &err), 0);
	assert_string_equal(zl_buf_str(&out), "H:id|note\n2:[1]|[say \"hi\"]\n3:[2]|NULL\n");
	zl_reader_close(r);
	zl_buf_reset(&out);
	f = text();
	assert_int_equal(zl_decompress_open(mem_new(b, nb, 1), ZL_COMP_AUTO, "b/x.txt.bz2", &r, &err), 0);
	assert_int_equal(parse_reader(r, &f, "b/x.txt.bz2", &out, &err), 0);
	assert_string_equal(zl_buf_str(&out), "1:[1]|[one\ttab]\n2:[2]|NULL\n");
	zl_reader_close(r);
	zl_buf_release(&out);
	free(z);
	free(b);
}

static void test_gzip_file_rows(void **state)
{
	char path[] = "/tmp/zl_test_format_XXXXXX.csv.gz";
	int fd = mkstemps(path, 7);
	assert_true(fd >= 0);
	gzFile g = gzdopen(fd, "wb");
	assert_non_null(g);
	gzputs(g, "id,name\n1,\"a\"\"b\"\n");
	gzclose(g);
	g = gzopen(path, "ab");
	gzputs(g, "2,\n\"3\",\"\"\n");
	gzclose(g);

	zl_format f = csv();
	f.header = 1;
	zl_reader *r = NULL;
	zl_err err = {0};
	zl_buf out;
	zl_buf_init(&out, 0);
	assert_int_equal(zl_decompress_open(fd_new(path), ZL_COMP_AUTO, NULL, &r, &err), 0);
	assert_int_equal(parse_reader(r, &f, "f.csv.gz", &out, &err), 0);
	assert_string_equal(zl_buf_str(&out), "H:id|name\n2:[1]|[a\"b]\n3:[2]|NULL\n4:[3]|[]\n");
	zl_reader_close(r);
	zl_buf_release(&out);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_csv_simple),
		cmocka_unit_test(test_csv_quotes),
		cmocka_unit_test(test_csv_crlf),
		cmocka_unit_test(test_csv_null_vs_empty),
		cmocka_unit_test(test_csv_custom_delimiter_quote),
		cmocka_unit_test(test_csv_header),
		cmocka_unit_test(test_csv_blank_lines),
		cmocka_unit_test(test_csv_errors),
		cmocka_unit_test(test_csv_large),
		cmocka_unit_test(test_jsonl_types),
		cmocka_unit_test(test_jsonl_blank_crlf),
		cmocka_unit_test(test_jsonl_errors),
		cmocka_unit_test(test_jsonl_long_line),
		cmocka_unit_test(test_jsonl_raw_lines),
		cmocka_unit_test(test_jsonl_invalid_utf8),
		cmocka_unit_test(test_csv_long_row),
		cmocka_unit_test(test_gzip_single),
		cmocka_unit_test(test_gzip_concatenated),
		cmocka_unit_test(test_gzip_large),
		cmocka_unit_test(test_auto_plain),
		cmocka_unit_test(test_none_returns_inner),
		cmocka_unit_test(test_gzip_corrupt),
		cmocka_unit_test(test_decompress_inner_error),
		cmocka_unit_test(test_gzip_file_rows),
		cmocka_unit_test(test_csv_escape_backslash),
		cmocka_unit_test(test_csv_escape_zero_is_quote),
		cmocka_unit_test(test_csv_null_string),
		cmocka_unit_test(test_text_basic),
		cmocka_unit_test(test_text_escapes),
		cmocka_unit_test(test_text_null_string),
		cmocka_unit_test(test_text_end_marker),
		cmocka_unit_test(test_text_errors),
		cmocka_unit_test(test_text_long_line),
		cmocka_unit_test(test_zstd_single),
		cmocka_unit_test(test_zstd_concatenated),
		cmocka_unit_test(test_bzip2_single),
		cmocka_unit_test(test_bzip2_concatenated),
		cmocka_unit_test(test_decompress_large_all),
		cmocka_unit_test(test_auto_magic_beats_name),
		cmocka_unit_test(test_zstd_corrupt),
		cmocka_unit_test(test_bzip2_corrupt),
		cmocka_unit_test(test_decompress_forced_inner_error),
		cmocka_unit_test(test_compressed_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
