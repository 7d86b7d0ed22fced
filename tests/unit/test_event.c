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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_decode),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_test_event_and_empty),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_envelopes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
