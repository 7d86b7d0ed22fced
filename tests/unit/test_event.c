/* S3 event parsing: encoded keys, several records, ignored kinds, malformed input; the streaming
 * walk (zl_event_each): nothing delivered from a malformed body, stopping, memory. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/event.h"
#include "util/buf.h"

static int parse(const char *text, zl_event_record **r, size_t *n, zl_err *err)
{
	return zl_event_parse(text, strlen(text), r, n, err);
}

static void test_url_decode(void **state)
{
	char *s = zl_url_decode_key("dt%3D2026-11-25/my+file%20%2B%C3%A9.csv");
	assert_string_equal(s, "dt=2026-11-25/my file +\xc3\xa9.csv");
	free(s);
	s = zl_url_decode_key("a%2Fb%2fc");
	assert_string_equal(s, "a/b/c");
	free(s);
	assert_null(zl_url_decode_key("bad%zz"));
	assert_null(zl_url_decode_key("trunc%4"));
	assert_null(zl_url_decode_key("nul%00byte"));
}

static void test_records(void **state)
{
	const char *ev =
		"{\"Records\":["
		"{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"land\"},"
		"\"object\":{\"key\":\"logs/dt%3D2026-11-25/a+b.csv\",\"size\":42,\"eTag\":\"abc\"}}},"
		"{\"eventName\":\"ObjectRemoved:Delete\",\"s3\":{\"bucket\":{\"name\":\"land\"},\"object\":{\"key\":\"x\"}}},"
		"{\"eventName\":\"ObjectCreated:CompleteMultipartUpload\",\"s3\":{\"bucket\":{\"name\":\"land\"},"
		"\"object\":{\"key\":\"y.csv\"}}},"
		"{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"land\"},\"object\":{}}}"
		"]}";
	zl_event_record *r;
	size_t n;
	zl_err err;
	assert_int_equal(parse(ev, &r, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_int_equal(r[0].kind, ZL_REC_CREATED);
	assert_string_equal(r[0].obj.bucket, "land");
	assert_string_equal(r[0].obj.key, "logs/dt=2026-11-25/a b.csv");
	assert_int_equal(r[0].obj.size, 42);
	assert_string_equal(r[0].obj.etag, "abc");
	assert_int_equal(r[1].kind, ZL_REC_IGNORED);
	assert_int_equal(r[2].kind, ZL_REC_CREATED);
	assert_int_equal(r[2].obj.size, -1);
	assert_null(r[2].obj.etag);
	assert_int_equal(r[3].kind, ZL_REC_MALFORMED);
	assert_string_equal(r[3].error, "Records[3].s3.object.key: missing");
	zl_event_records_free(r, n);
}

static void test_test_event_and_empty(void **state)
{
	zl_event_record *r;
	size_t n;
	zl_err err;
	/* s3:TestEvent: AWS sends it when a notification is set up; it holds no object. */
	assert_int_equal(parse("{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\"}", &r, &n, &err), 0);
	assert_int_equal(n, 0);
	zl_event_records_free(r, n);
	assert_int_equal(parse("{\"hello\":1}", &r, &n, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "event: no \"Records\" array (not an S3, SNS, SQS, EventBridge or MinIO event)");
	assert_int_equal(parse("{\"Records\":[]}", &r, &n, &err), 0);
	assert_int_equal(n, 0);
	zl_event_records_free(r, n);
}

static void test_bad_json(void **state)
{
	zl_event_record *r;
	size_t n;
	zl_err err;
	assert_int_equal(parse("{\"Records\": [\n{oops}]}", &r, &n, &err), ZL_EINVAL);
	assert_non_null(strstr(err.msg, "event: invalid JSON at line 2"));
	assert_int_equal(parse("{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{},"
	                       "\"object\":{\"key\":\"k\"}}}, 7]}", &r, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(r[0].error, "Records[0].s3.bucket.name: missing");
	assert_int_equal(r[1].kind, ZL_REC_MALFORMED);
	assert_string_equal(r[1].error, "Records[1]: expected a JSON object");
	zl_event_records_free(r, n);
}

#define S3REC(key) "{\\\"eventName\\\":\\\"ObjectCreated:Put\\\",\\\"s3\\\":{\\\"bucket\\\":{\\\"name\\\":\\\"b\\\"},\\\"object\\\":{\\\"key\\\":\\\"" key "\\\"}}}"

static void test_envelopes(void **state)
{
	zl_event_record *r;
	size_t n;
	zl_err err;
	/* SNS envelope: Message holds the S3 event as text */
	assert_int_equal(parse("{\"Type\":\"Notification\",\"Message\":\"{\\\"Records\\\":[" S3REC("a%2Fb+c.csv") "]}\"}",
	                       &r, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].obj.key, "a/b c.csv");
	zl_event_records_free(r, n);
	/* Lambda SQS batch: each body an SNS envelope or an S3 event; a bad body is one malformed record */
	assert_int_equal(parse("{\"Records\":[{\"eventSource\":\"aws:sqs\",\"body\":\"{\\\"Records\\\":[" S3REC("x.csv") "]}\"},"
	                       "{\"eventSource\":\"aws:sqs\",\"body\":\"not json\"}]}", &r, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(r[0].obj.key, "x.csv");
	assert_int_equal(r[1].kind, ZL_REC_MALFORMED);
	assert_string_equal(r[1].error, "Records[1]: event: SQS body is not JSON: '[' or '{' expected near 'not'");
	zl_event_records_free(r, n);
	/* Lambda SNS batch */
	assert_int_equal(parse("{\"Records\":[{\"EventSource\":\"aws:sns\",\"Sns\":{\"Message\":\"{\\\"Records\\\":[" S3REC("y.csv") "]}\"}}]}",
	                       &r, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].obj.key, "y.csv");
	zl_event_records_free(r, n);
	/* EventBridge: keys are not URL-encoded */
	assert_int_equal(parse("{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":{\"bucket\":{\"name\":\"b\"},"
	                       "\"object\":{\"key\":\"raw/2023-08-08T14:03:40+x.csv\",\"size\":9,\"etag\":\"e1\"}}}", &r, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].kind, ZL_REC_CREATED);
	assert_string_equal(r[0].obj.key, "raw/2023-08-08T14:03:40+x.csv");
	assert_int_equal(r[0].obj.size, 9);
	assert_string_equal(r[0].obj.etag, "e1");
	zl_event_records_free(r, n);
	assert_int_equal(parse("{\"source\":\"aws.s3\",\"detail-type\":\"Object Deleted\",\"detail\":{}}", &r, &n, &err), 0);
	assert_int_equal(r[0].kind, ZL_REC_IGNORED);
	zl_event_records_free(r, n);
	/* MinIO webhook body: "s3:"-prefixed event names */
	assert_int_equal(parse("{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"b/k.csv\",\"Records\":[{\"eventName\":"
	                       "\"s3:ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"k.csv\",\"size\":3}}},"
	                       "{\"eventName\":\"s3:ObjectRemoved:Delete\",\"s3\":{}}]}", &r, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].kind, ZL_REC_CREATED);
	assert_string_equal(r[0].obj.key, "k.csv");
	assert_int_equal(r[1].kind, ZL_REC_IGNORED);
	zl_event_records_free(r, n);
}

/* Counts what zl_event_each delivers; stops with stop_rc after stop_after records (0: never). */
typedef struct counter {
	size_t n, created, malformed, stop_after;
	int stop_rc;
	char last_key[64];
} counter;

static int count_record(void *ud, const zl_event_record *rec)
{
	counter *c = ud;
	c->n++;
	c->created += rec->kind == ZL_REC_CREATED;
	c->malformed += rec->kind == ZL_REC_MALFORMED;
	if (rec->obj.key)
		snprintf(c->last_key, sizeof c->last_key, "%s", rec->obj.key);
	return c->stop_after && c->n == c->stop_after ? c->stop_rc : 0;
}

static int each(const char *text, counter *c, zl_err *err)
{
	memset(c, 0, sizeof *c);
	return zl_event_each(text, strlen(text), count_record, c, err);
}

#define REC(key) "{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"" key "\"}}}"

/* Every form, through the walk: the records and their order. */
static void test_each_forms(void **state)
{
	counter c;
	zl_err err;
	assert_int_equal(each("{\"Records\":[" REC("a") "," REC("b") ",{\"eventName\":\"ObjectRemoved:Delete\"}]}", &c, &err), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.created, 2);
	assert_string_equal(c.last_key, "b");
	assert_int_equal(each("  {\"Type\":\"Notification\",\"Message\":\"{\\\"Records\\\":[" S3REC("sns") "]}\"}\n", &c, &err), 0);
	assert_int_equal(c.created, 1);
	assert_string_equal(c.last_key, "sns");
	assert_int_equal(each("{\"Records\":[{\"body\":\"{\\\"Records\\\":[" S3REC("q1") "," S3REC("q2") "]}\"},"
	                      "{\"Sns\":{\"Message\":\"{\\\"Records\\\":[" S3REC("s1") "]}\"}},{\"body\":\"[\"}]}", &c, &err), 0);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.created, 3);
	assert_int_equal(c.malformed, 1);
	assert_string_equal(c.last_key, "s1");
	assert_int_equal(each("{\"detail\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"eb\"}},"
	                      "\"detail-type\":\"Object Created\",\"source\":\"aws.s3\"}", &c, &err), 0);
	assert_int_equal(c.created, 1);
	assert_string_equal(c.last_key, "eb");
	assert_int_equal(each("{\"Event\":\"s3:TestEvent\",\"Records\":5}", &c, &err), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(each("{\"Type\":\"SubscriptionConfirmation\",\"SubscribeURL\":[1,{\"x\":[2]}]}", &c, &err), 0);
	assert_int_equal(c.n, 0);
	/* a repeated key: the last one counts, as jansson's tree had it */
	assert_int_equal(each("{\"Records\":[" REC("first") "],\"Records\":[" REC("second") "]}", &c, &err), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.last_key, "second");
	assert_int_equal(each("{\"Records\":[" REC("first") "],\"Records\":{}}", &c, &err), ZL_EINVAL);
	assert_int_equal(c.n, 0);
	assert_string_equal(err.msg, "event: no \"Records\" array (not an S3, SNS, SQS, EventBridge or MinIO event)");
	/* envelopes nested past four levels */
	const char *deep = "{\"Type\":\"Notification\",\"Message\":\"{\\\"Type\\\":\\\"Notification\\\",\\\"Message\\\":"
	                   "\\\"{\\\\\\\"Type\\\\\\\":\\\\\\\"Notification\\\\\\\"}\\\"}\"}";
	assert_int_equal(each(deep, &c, &err), ZL_EINVAL);
}

/* The callback's non-zero value stops the walk and comes back unchanged. */
static void test_each_stops(void **state)
{
	counter c;
	zl_err err;
	const char *ev = "{\"Records\":[" REC("a") "," REC("b") "," REC("c") "]}";
	memset(&c, 0, sizeof c);
	c.stop_after = 2;
	c.stop_rc = 42;
	assert_int_equal(zl_event_each(ev, strlen(ev), count_record, &c, &err), 42);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.last_key, "b");
	/* inside an envelope too, and a callback's ZL_EINVAL is not taken for a bad envelope */
	const char *lambda = "{\"Records\":[{\"body\":\"{\\\"Records\\\":[" S3REC("x") "," S3REC("y") "]}\"}," REC("z") "]}";
	memset(&c, 0, sizeof c);
	c.stop_after = 1;
	c.stop_rc = ZL_EINVAL;
	assert_int_equal(zl_event_each(lambda, strlen(lambda), count_record, &c, &err), ZL_EINVAL);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.malformed, 0);
}

/* A malformed body delivers nothing, however many good records come before the fault, and the
 * message gives the line and column jansson gives for the whole text. */
static void test_each_malformed_delivers_nothing(void **state)
{
	static const char *const faults[] = {
		"]",                       /* truncated: no closing brace */
		"]} x",                    /* trailing garbage */
		"," REC("y") " " REC("z") "]}", /* a missing comma */
		",]}",                     /* a trailing comma */
		",{\"eventName\" 1}]}",     /* a missing colon inside an element */
		",{\"eventName\":\"x}]}",   /* an unterminated string */
		",\n  {\"s3\": tru}]}",      /* a bad literal on another line */
		"], \"Type\": }",           /* a bad top-level member after the array */
		"] \"more\": 1}",           /* a missing comma at the top level */
		"], 7: 1}",                 /* a key that is not a string */
	};
	for (size_t i = 0; i < sizeof faults / sizeof *faults; i++) {
		zl_buf b;
		zl_buf_init(&b, 0);
		zl_buf_adds(&b, "{\"Records\": [\n");
		for (int k = 0; k < 50; k++)
			zl_buf_printf(&b, "%s" REC("k%d"), k ? "," : "", k);
		zl_buf_adds(&b, faults[i]);
		counter c;
		zl_err err;
		assert_int_equal(each(zl_buf_str(&b), &c, &err), ZL_EINVAL);
		assert_int_equal(c.n, 0);
		json_error_t je;
		json_t *whole = json_loads(zl_buf_str(&b), 0, &je);
		assert_null(whole);
		char want[1024];
		snprintf(want, sizeof want, "event: invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
		assert_string_equal(err.msg, want);
		zl_buf_release(&b);
	}
	counter c;
	zl_err err;
	/* an SNS envelope whose Message is not JSON is the whole body's fault */
	assert_int_equal(each("{\"Type\":\"Notification\",\"Message\":\"{\\\"Records\\\":[" S3REC("a") ",}\"}", &c, &err), ZL_EINVAL);
	assert_int_equal(c.n, 0);
	assert_string_equal(err.msg, "event: SNS Message is not JSON: unexpected token near '}'");
	assert_int_equal(each("", &c, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "event: invalid JSON at line 1, column 0: '[' or '{' expected near end of file");
	assert_int_equal(each("not json", &c, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "event: invalid JSON at line 1, column 3: '[' or '{' expected near 'not'");
	assert_int_equal(each("[1, {\"a\": [2]}]", &c, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "event: expected a JSON object");
	assert_int_equal(each("[1, {\"a\": [2]}", &c, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "event: invalid JSON at line 1, column 14: ']' expected near end of file");
}

/* Peak memory of walking a big body, in a child so the measure is its own: the high-water mark of
 * resident memory (VmHWM) before and after. Returns the growth in KiB, or -1. */
static long vm_hwm_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kib = atol(line + 6);
	if (f)
		fclose(f);
	return kib;
}

#define BIG_BODY ((size_t)63 << 20)

/* The child's side: builds a ~63 MiB {"Records":[...]} body, walks it, writes growth KiB, records
 * and body bytes to fd. */
static int memory_child(int fd)
{
	long out[3] = { -1, -1, -1 };
	char *body = malloc(BIG_BODY + 4096);
	size_t len = 0, n = 0;
	if (body) {
		len += (size_t)sprintf(body, "{\"Records\":[");
		for (; len < BIG_BODY; n++)
			len += (size_t)sprintf(body + len, "%s{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\","
			                       "\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
			                       "\"object\":{\"key\":\"in/f%07zu.csv\",\"size\":100}}}", n ? "," : "", n);
		len += (size_t)sprintf(body + len, "]}");
		counter c = { 0 };
		zl_err err;
		long before = vm_hwm_kib();
		int rc = zl_event_each(body, len, count_record, &c, &err);
		long after = vm_hwm_kib();
		if (rc == 0 && c.created == n && before > 0)
			out[0] = after - before;
		out[1] = (long)c.created;
		out[2] = (long)len;
	}
	free(body);
	return write(fd, out, sizeof out) == (ssize_t)sizeof out ? 0 : 1;
}

/* The child runs this binary again so that AddressSanitizer's quarantine (which holds freed
 * memory back, 256 MiB by default) can be switched off: it would be counted as growth. */
static void test_each_memory(void **state)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char fd[16], opts[512];
		const char *asan = getenv("ASAN_OPTIONS");
		snprintf(fd, sizeof fd, "%d", fds[1]);
		snprintf(opts, sizeof opts, "%s%squarantine_size_mb=0:thread_local_quarantine_size_kb=0", asan ? asan : "",
		         asan && *asan ? ":" : "");
		setenv("ASAN_OPTIONS", opts, 1);
		execl("/proc/self/exe", "test_event", "--memory-child", fd, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	long got[3] = { -1, -1, -1 };
	assert_int_equal(read(fds[0], got, sizeof got), sizeof got);
	close(fds[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	print_message("zl_event_each: %ld records, %ld MiB body, peak RSS growth %ld KiB\n", got[1], got[2] >> 20, got[0]);
	assert_true(got[1] > 400000);
	assert_true(got[0] >= 0);
	assert_true(got[0] < 3 * (got[2] >> 10));
	/* a small multiple is the spec; one record's tree at a time is the design */
	assert_true(got[0] < (16 << 10));
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--memory-child") == 0)
		return memory_child(atoi(argv[2]));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_decode),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_test_event_and_empty),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_envelopes),
		cmocka_unit_test(test_each_forms),
		cmocka_unit_test(test_each_stops),
		cmocka_unit_test(test_each_malformed_delivers_nothing),
		cmocka_unit_test(test_each_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
