/* Time parsing and formatting, capped buffers, identifiers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lazy/lazy.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/lines.h"
#include "util/log.h"
#include "util/prefetch.h"
#include "util/timeutil.h"
#include "util/uuid.h"

static void test_time_parse(void **state)
{
	int64_t ms;
	assert_int_equal(zl_time_parse("1764107018", &ms), 0);
	assert_int_equal(ms, 1764107018000);
	assert_int_equal(zl_time_parse("2026-11-25", &ms), 0);
	assert_int_equal(ms, 1795564800000);
	assert_int_equal(zl_time_parse("2026-11-25T21:43:38Z", &ms), 0);
	assert_int_equal(ms, 1795643018000);
	assert_int_equal(zl_time_parse("2026-11-25T22:43:38.250+01:00", &ms), 0);
	assert_int_equal(ms, 1795643018250);
	assert_int_equal(zl_time_parse("2026-13-01", &ms), ZL_EINVAL);
	/* found by fuzz_s3_xml: seconds beyond any date overflowed int64 milliseconds */
	assert_int_equal(zl_time_parse("444444444444444444", &ms), ZL_EINVAL);
	assert_int_equal(zl_time_parse("253402300799", &ms), 0);
	assert_int_equal(ms, 253402300799000LL);
	assert_int_equal(zl_time_parse("yesterday", &ms), ZL_EINVAL);
	assert_int_equal(zl_time_parse("", &ms), ZL_EINVAL);
	char buf[40];
	assert_string_equal(zl_time_format(1795643018250, buf, sizeof buf), "2026-11-25T21:43:38.250Z");
}

static void test_err_sqlstate(void **state)
{
	zl_err err;
	zl_err_set(&err, ZL_ELOAD, "duplicate key");
	assert_string_equal(err.sqlstate, "");
	zl_err_set_sqlstate(&err, "23505");
	assert_string_equal(err.sqlstate, "23505");
	zl_err_prefix(&err, "ledger");
	assert_string_equal(err.msg, "ledger: duplicate key");
	assert_string_equal(err.sqlstate, "23505");
	zl_err_set(&err, ZL_ELOAD, "another error");
	assert_string_equal(err.sqlstate, "");
	zl_err_set_sqlstate(&err, "235");  /* not an SQLSTATE */
	assert_string_equal(err.sqlstate, "");
	zl_err_set_sqlstate(&err, "42501");
	zl_err_set_sqlstate(&err, NULL);
	assert_string_equal(err.sqlstate, "");
	zl_err_set_sqlstate(&err, "42501");
	zl_err_clear(&err);
	assert_string_equal(err.sqlstate, "");
	assert_int_equal(err.code, 0);
	zl_err_set_sqlstate(NULL, "42501");
}

static void test_buf_cap(void **state)
{
	zl_buf b;
	zl_buf_init(&b, 8);
	assert_int_equal(zl_buf_adds(&b, "12345678"), 0);
	assert_int_equal(zl_buf_addc(&b, '9'), ZL_ENOMEM);
	assert_string_equal(zl_buf_str(&b), "12345678");
	zl_buf_reset(&b);
	assert_int_equal(zl_buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_string_equal(zl_buf_str(&b), "42-x");
	zl_buf_release(&b);
}

static void test_uuid_order(void **state)
{
	char a[ZL_UUID_LEN], b[ZL_UUID_LEN];
	zl_uuid_v7(1000, a);
	zl_uuid_v7(2000, b);
	assert_int_equal(strlen(a), 36);
	assert_true(strcmp(a, b) < 0);
	assert_int_equal(a[14], '7');
	/* ids of one millisecond sort in the order they were made */
	char prev[ZL_UUID_LEN], next[ZL_UUID_LEN];
	zl_uuid_v7(3000, prev);
	for (int i = 0; i < 2000; i++) {
		zl_uuid_v7(3000, next);
		assert_true(strcmp(prev, next) < 0);
		assert_int_equal(strncmp(prev, next, 13), 0); /* the same time */
		assert_int_equal(next[14], '7');
		assert_true(strchr("89ab", next[19]) != NULL);
		memcpy(prev, next, sizeof prev);
	}
}

/* A reader over a counting pattern, at most `step` bytes a call, failing after `fail_at` bytes. */
typedef struct pattern_reader {
	zl_reader base;
	size_t total, pos, step, fail_at;
	int *closed;
} pattern_reader;

static ssize_t pattern_read(zl_reader *r, void *buf, size_t n, zl_err *err)
{
	pattern_reader *p = (pattern_reader *)r;
	if (p->fail_at && p->pos >= p->fail_at)
		return zl_err_set(err, ZL_ETRANSIENT, "pattern: connection reset at %zu", p->pos);
	size_t k = p->total - p->pos;
	k = k < n ? k : n;
	k = k < p->step ? k : p->step;
	for (size_t i = 0; i < k; i++)
		((unsigned char *)buf)[i] = (unsigned char)((p->pos + i) % 251);
	p->pos += k;
	return (ssize_t)k;
}

static void pattern_close(zl_reader *r)
{
	*((pattern_reader *)r)->closed += 1;
	free(r);
}

static zl_reader *pattern(size_t total, size_t step, size_t fail_at, int *closed)
{
	pattern_reader *p = calloc(1, sizeof *p);
	p->base.read = pattern_read;
	p->base.close = pattern_close;
	p->base.name = "pattern";
	p->total = total;
	p->step = step;
	p->fail_at = fail_at;
	p->closed = closed;
	return &p->base;
}

static void test_prefetch(void **state)
{
	int closed = 0;
	zl_reader *r;
	zl_err err;
	/* every byte arrives, in order, whatever the chunk and read sizes */
	assert_int_equal(zl_reader_prefetch(pattern(100003, 13, 0, &closed), 4096, 3, &r, &err), 0);
	unsigned char buf[777];
	size_t seen = 0;
	ssize_t n;
	while ((n = zl_reader_read(r, buf, sizeof buf, &err)) > 0)
		for (ssize_t i = 0; i < n; i++, seen++)
			assert_int_equal(buf[i], seen % 251);
	assert_int_equal(n, 0);
	assert_int_equal(seen, 100003);
	zl_reader_close(r);
	assert_int_equal(closed, 1);
	/* an error comes after the bytes read before it */
	assert_int_equal(zl_reader_prefetch(pattern(100000, 1000, 5000, &closed), 4000, 2, &r, &err), 0);
	seen = 0;
	while ((n = zl_reader_read(r, buf, sizeof buf, &err)) > 0)
		seen += (size_t)n;
	assert_int_equal(seen, 5000);
	assert_int_equal(n, ZL_ETRANSIENT);
	assert_string_equal(err.msg, "pattern: connection reset at 5000");
	zl_reader_close(r);
	assert_int_equal(closed, 2);
	/* borrowing (in place) and reading mix, in order, each at most what was asked */
	assert_int_equal(zl_reader_prefetch(pattern(100003, 13, 0, &closed), 4096, 3, &r, &err), 0);
	seen = 0;
	for (int turn = 0;; turn++) {
		const void *p;
		n = turn % 3 ? zl_reader_next(r, buf, turn % 2 ? 1000 : 5000, &p, &err) : zl_reader_read(r, buf, 100, &err);
		if (turn % 3 == 0)
			p = buf;
		if (n <= 0)
			break;
		assert_true(n <= (turn % 3 ? (turn % 2 ? 1000 : 5000) : 100));
		assert_true(turn % 3 == 0 || p != buf); /* lent, not copied */
		for (ssize_t i = 0; i < n; i++, seen++)
			assert_int_equal(((const unsigned char *)p)[i], seen % 251);
	}
	assert_int_equal(n, 0);
	assert_int_equal(seen, 100003);
	zl_reader_close(r);
	assert_int_equal(closed, 3);
	/* a reader that cannot lend reads into the caller's buffer */
	zl_reader *plain = pattern(10, 10, 0, &closed);
	const void *p;
	assert_int_equal(zl_reader_next(plain, buf, sizeof buf, &p, &err), 10);
	assert_ptr_equal(p, buf);
	zl_reader_close(plain);
	assert_int_equal(closed, 4);
	/* closing early stops the reading thread */
	assert_int_equal(zl_reader_prefetch(pattern(1 << 30, 65536, 0, &closed), 65536, 2, &r, &err), 0);
	assert_int_equal(zl_reader_read(r, buf, sizeof buf, &err), (ssize_t)sizeof buf);
	zl_reader_close(r);
	assert_int_equal(closed, 5);
}

/* Runs fn with stderr going to a file; returns what it wrote (caller frees). */
static char *capture_stderr(void (*fn)(void))
{
	fflush(stderr);
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	int saved = dup(STDERR_FILENO);
	dup2(fileno(tmp), STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	off_t n = lseek(fileno(tmp), 0, SEEK_END);
	assert_true(n >= 0);
	char *out = calloc(1, (size_t)n + 1);
	assert_int_equal(pread(fileno(tmp), out, (size_t)n, 0), (ssize_t)n);
	fclose(tmp);
	return out;
}

static void cli_lines(void)
{
	zl_log_cli(ZL_ERROR, "zload", "no batch \"%s\"", "12\n34");
	zl_log_cli(ZL_WARN, "zload encrypt", "a value given as an argument");
	zl_log_cli_hint(ZL_ERROR, "zload batches show", "Try 'zload batches show --help'.", "expected ID");
	zl_log_cli(ZL_ERROR, "zload", "not UTF-8: \xff\xfe end");
}

static void live_lines(void)
{
	zl_log_live("loading 1 batch");
	zl_log_cli(ZL_ERROR, "zload", "in between");
	zl_log_live_hide(1);
	zl_log_live("hidden");
	zl_log_live_hide(0);
	zl_log_live(NULL);
}

/* A command's own lines: the text form exactly, one JSON object per line, the live line taken
 * off and drawn again around a log line. */
static void test_log_cli(void **state)
{
	(void)state;
	zl_log_setup(ZL_INFO, 0);
	char *text = capture_stderr(cli_lines);
	assert_string_equal(text, "zload: no batch \"12\\n34\"\n"
	                          "zload encrypt: warning: a value given as an argument\n"
	                          "zload batches show: expected ID\nTry 'zload batches show --help'.\n"
	                          "zload: not UTF-8: \xff\xfe end\n");
	free(text);
	char *live = capture_stderr(live_lines);
	assert_string_equal(live, "\r\033[Kloading 1 batch\r\033[Kzload: in between\nloading 1 batch"
	                          "\r\033[Khidden\r\033[K");
	free(live);

	zl_log_setup(ZL_INFO, 1);
	char *js = capture_stderr(cli_lines);
	zl_log_setup(ZL_INFO, 0);
	const char *want[][4] = { { "error", "no batch \"12\n34\"", "zload", NULL },
	                          { "warn", "a value given as an argument", "zload encrypt", NULL },
	                          { "error", "expected ID", "zload batches show", "Try 'zload batches show --help'." },
	                          { "error", "not UTF-8: \xef\xbf\xbd\xef\xbf\xbd end", "zload", NULL } };
	char *line = js;
	for (size_t i = 0; i < 4; i++) {
		char *nl = strchr(line, '\n');
		assert_non_null(nl);
		*nl = '\0';
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		assert_non_null(o);
		assert_non_null(json_string_value(json_object_get(o, "ts")));
		assert_string_equal(json_string_value(json_object_get(o, "level")), want[i][0]);
		assert_string_equal(json_string_value(json_object_get(o, "msg")), want[i][1]);
		assert_string_equal(json_string_value(json_object_get(o, "prog")), want[i][2]);
		if (want[i][3])
			assert_string_equal(json_string_value(json_object_get(o, "hint")), want[i][3]);
		else
			assert_null(json_object_get(o, "hint"));
		json_decref(o);
		line = nl + 1;
	}
	assert_string_equal(line, "");
	free(js);
}

/* zl_count_newlines against a byte loop: every alignment and length, runs of newlines past 255
 * (a lane's limit), and none. */
static void test_count_newlines(void **state)
{
	static unsigned char b[70000];
	srand(7);
	for (int t = 0; t < 3000; t++) {
		size_t off = (size_t)rand() % 64, n = (size_t)rand() % (t < 2000 ? 600 : sizeof b - 64);
		int density = 1 + rand() % 8;
		for (size_t i = 0; i < off + n; i++)
			b[i] = rand() % density == 0 ? '\n' : (unsigned char)(rand() % 256);
		int64_t want = 0;
		for (size_t i = off; i < off + n; i++)
			want += b[i] == '\n';
		assert_int_equal(zl_count_newlines(b + off, n), want);
	}
	memset(b, '\n', sizeof b);
	assert_int_equal(zl_count_newlines(b, sizeof b), (int64_t)sizeof b);
	memset(b, '\n' ^ 0x80, sizeof b);
	assert_int_equal(zl_count_newlines(b, sizeof b), 0);
	assert_int_equal(zl_count_newlines(b, 0), 0);
}

/* The loader of src/lazy: a library that is not installed, and one without a symbol asked of it,
 * fail with the message zload prints, naming the soname and its Debian package; once. */
static void test_lazy_open(void **state)
{
	zl_err err = { 0 };
	zl_lazy_lib missing = ZL_LAZY_LIB("libzload-missing.so.7", "libzload-missing7", (zl_lazy_sym[]){ { 0 } });
	missing.nsyms = 0;
	assert_int_equal(zl_lazy_open(&missing, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "this command needs libzload-missing.so.7 (Debian package libzload-missing7): "
	                             "libzload-missing.so.7: cannot open shared object file: No such file or directory");
	zl_err_clear(&err);
	assert_int_equal(zl_lazy_open(&missing, &err), ZL_EINVAL); /* the first answer, not a second dlopen */
	assert_string_equal(err.msg, "this command needs libzload-missing.so.7 (Debian package libzload-missing7): "
	                             "libzload-missing.so.7: cannot open shared object file: No such file or directory");

	struct { void *crc32, *nope; } z = { 0 };
	const zl_lazy_sym zsyms[] = { ZL_LAZY_SYM(z, crc32), ZL_LAZY_SYM(z, nope) };
	zl_lazy_lib partial = ZL_LAZY_LIB("libz.so.1", "zlib1g", zsyms);
	assert_int_equal(zl_lazy_open(&partial, &err), ZL_EINVAL);
	assert_non_null(z.crc32);
	assert_non_null(strstr(err.msg, "this command needs libz.so.1 (Debian package zlib1g): "));
	assert_non_null(strstr(err.msg, "undefined symbol: nope"));

	const zl_lazy_sym zsyms1[] = { ZL_LAZY_SYM(z, crc32) };
	zl_lazy_lib whole = ZL_LAZY_LIB("libz.so.1", "zlib1g", zsyms1);
	assert_int_equal(zl_lazy_open(&whole, &err), 0);
	assert_non_null(z.crc32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_err_sqlstate),
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_uuid_order),
		cmocka_unit_test(test_prefetch),
		cmocka_unit_test(test_count_newlines),
		cmocka_unit_test(test_log_cli),
		cmocka_unit_test(test_lazy_open),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
