/* S3 event parsing: encoded keys, several records, ignored kinds, malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"

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
	/* s3:TestEvent has no Records array: AWS sends it when a notification is set up. */
	assert_int_equal(parse("{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\"}", &r, &n, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "event: no \"Records\" array");
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_decode),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_test_event_and_empty),
		cmocka_unit_test(test_bad_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
