/* zl_lambda_handle over the in-memory state: what each kind of event is answered, and the deadline
 * rule (no load starts inside the margin; the batch goes back to open and a later call loads it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "engine_world.h"
#include "runtime/lambda.h"
#include "util/timeutil.h"

#define FAR (zl_now_ms() + 600000)

static const char *S3_EVENT =
	"{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
	"\"object\":{\"key\":\"in/%s\",\"size\":1}}}]}";

static zl_rt *open_rt(zl_world *w)
{
	zl_err err = { 0 };
	zl_rt *rt = NULL;
	zl_rt_opts o = { .state_url = w->state_url, .store = w->store };
	assert_int_equal(zl_rt_new(&o, &rt, &err), 0);
	return rt;
}

/* Handles text; returns the response parsed (asserting it is one), or NULL for an error (type). */
static json_t *handle(zl_rt *rt, const char *text, int64_t deadline, int64_t margin, char type[64])
{
	zl_lambda_reply r;
	assert_int_equal(zl_lambda_handle(rt, text, strlen(text), deadline, margin, &r), 0);
	json_t *j = NULL;
	if (r.is_error) {
		snprintf(type, 64, "%s", r.type);
		assert_null(r.body);
	} else {
		assert_non_null(r.body);
		j = json_loads(r.body, 0, NULL);
		assert_non_null(j);
	}
	zl_lambda_reply_release(&r);
	return j;
}

static long long num(json_t *j, const char *k) { return json_integer_value(json_object_get(j, k)); }

static void s3_event(char *out, size_t n, const char *name) { snprintf(out, n, S3_EVENT, name); }

static void test_invalid_events(void **state)
{
	zl_world *w = *state;
	zl_world_config_t1(w, "{\"batchSize\": 1}");
	zl_rt *rt = open_rt(w);
	char type[64] = "";
	assert_null(handle(rt, "{\"Records\": [", FAR, 1000, type));
	assert_string_equal(type, "InvalidEvent");
	type[0] = '\0';
	assert_null(handle(rt, "{\"hello\": 1}", FAR, 1000, type));
	assert_string_equal(type, "InvalidEvent");
	zl_rt_free(rt);
}

static void test_s3_sqs_and_scheduled(void **state)
{
	zl_world *w = *state;
	char ev[512], type[64] = "";
	zl_world_config_t1(w, "{\"batchSize\": 1}");
	zl_world_put_csv(w, "in/a.csv", 1, 2);
	zl_world_put_csv(w, "in/b.csv", 10, 3);
	zl_rt *rt = open_rt(w);

	s3_event(ev, sizeof ev, "a.csv");
	json_t *j = handle(rt, ev, FAR, 1000, type);
	assert_non_null(j);
	assert_int_equal(num(j, "records"), 1);
	assert_int_equal(num(j, "queued"), 1);
	assert_int_equal(num(j, "loads"), 1);
	assert_int_equal(num(j, "deferred"), 0);
	json_decref(j);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 2);

	/* an SQS batch: the first message a duplicate, the second new, a third not an event */
	char b_ev[512];
	s3_event(b_ev, sizeof b_ev, "b.csv");
	json_t *sqs = json_pack("{s[{ss ss ss}{ss ss ss}{ss ss ss}]}", "Records", "messageId", "m1", "eventSource",
	                        "aws:sqs", "body", ev, "messageId", "m2", "eventSource", "aws:sqs", "body", b_ev,
	                        "messageId", "m3", "eventSource", "aws:sqs", "body", "nope");
	char *text = json_dumps(sqs, JSON_COMPACT);
	json_decref(sqs);
	j = handle(rt, text, FAR, 1000, type);
	free(text);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 1);
	assert_int_equal(json_array_size(json_object_get(j, "batchItemFailures")), 0);
	json_decref(j);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 5);

	j = handle(rt, "{\"source\":\"aws.events\",\"detail-type\":\"Scheduled Event\",\"detail\":{}}", FAR, 1000, type);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "swept")));
	assert_int_equal(num(j, "loads"), 0);
	json_decref(j);
	zl_rt_free(rt);
}

static void test_deadline_defers(void **state)
{
	zl_world *w = *state;
	char ev[512], type[64] = "";
	zl_world_config_t1(w, "{\"batchSize\": 1}");
	zl_world_put_csv(w, "in/a.csv", 1, 2);
	zl_rt *rt = open_rt(w);
	s3_event(ev, sizeof ev, "a.csv");
	json_t *j = handle(rt, ev, zl_now_ms() + 500, 1000, type); /* inside the margin already */
	assert_non_null(j);
	assert_int_equal(num(j, "queued"), 1);
	assert_int_equal(num(j, "loads"), 0);
	assert_int_equal(num(j, "deferred"), 1);
	json_decref(j);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 0);

	zl_err err = { 0 };
	zl_batch *v = NULL;
	size_t n = 0;
	assert_int_equal(w->e.st->ops->batch_list(w->e.st, NULL, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].status, ZL_BATCH_OPEN);
	zl_batch_list_free(v, n);

	j = handle(rt, "{\"source\":\"aws.events\",\"detail-type\":\"Scheduled Event\"}", FAR, 1000, type);
	assert_non_null(j);
	assert_int_equal(num(j, "loads"), 1);
	assert_int_equal(num(j, "deferred"), 0);
	json_decref(j);
	assert_int_equal(zl_world_sql_int(w, "SELECT count(*) FROM t1"), 2);
	zl_rt_free(rt);
}

#define WORLD_TEST(f) cmocka_unit_test_setup_teardown(f, zl_world_setup, zl_world_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		WORLD_TEST(test_invalid_events),
		WORLD_TEST(test_s3_sqs_and_scheduled),
		WORLD_TEST(test_deadline_defers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
