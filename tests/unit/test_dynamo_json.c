/* DynamoDB attribute values to and from plain JSON; the original loader's configuration item,
 * as setup.js stored it, read as a zload configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "util/dynamo_json.h"

/* The original's item (seed-dynamodb-samples.json), its password in the original's KMS form. */
static const char original_item[] =
	"{\"s3Prefix\": {\"S\": \"myBucket/db_ingest\"},"
	" \"currentBatch\": {\"S\": \"0b9f3c3e-6a59-4a8e-9d3b-3f1a2c4d5e6f\"},"
	" \"version\": {\"S\": \"1.0.0\"}, \"s3MountDir\": {\"S\": \"/mnt/s3/\"},"
	" \"filenameFilterRegex\": {\"S\": \".*\\\\.csv\"},"
	" \"copyOptions\": {\"S\": \"parser fdelimitedparser(delimiter=',')\"},"
	" \"batchSize\": {\"N\": \"5\"}, \"batchTimeoutSecs\": {\"N\": \"30\"},"
	" \"successTopicARN\": {\"S\": \"arn:aws:sns:us-east-1:123456789012:LambdaDBLoadOK\"},"
	" \"failureTopicARN\": {\"S\": \"arn:aws:sns:us-east-1:123456789012:LambdaDBLoadFAIL\"},"
	" \"loadClusters\": {\"L\": [{\"M\": {"
	"   \"clusterEndpoint\": {\"S\": \"52.2.78.41\"}, \"clusterPort\": {\"N\": \"5433\"},"
	"   \"connectUser\": {\"S\": \"Elvis\"},"
	"   \"connectPassword\": {\"S\": \"[1,2,2,0,120,155,16,41,93,7,8,9,10,11,12,13,14,15,16,17]\"},"
	"   \"targetTable\": {\"S\": \"testTable\"},"
	"   \"preLoadStatement\": {\"S\": \"TRUNCATE TABLE testTable\"},"
	"   \"postLoadStatement\": {\"S\": \"SELECT COMPUTE_FLEXTABLE_KEYS_AND_BUILD_VIEW('testTable')\"}}}]},"
	" \"lastBatchRotation\": {\"N\": \"1432228609.686\"}, \"lastUpdate\": {\"N\": \"1432228000.123\"}}";

static json_t *load(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	assert_non_null(j);
	return j;
}

static void test_original_config_item(void **state)
{
	zl_err err = { 0 };
	json_t *item = load(original_item);
	json_t *plain = zl_ddb_item_to_json(item, &err);
	assert_non_null(plain);
	assert_int_equal(json_integer_value(json_object_get(plain, "batchSize")), 5);
	assert_true(json_is_real(json_object_get(plain, "lastBatchRotation")));
	json_t *c0 = json_array_get(json_object_get(plain, "loadClusters"), 0);
	assert_int_equal(json_integer_value(json_object_get(c0, "clusterPort")), 5433);
	assert_string_equal(json_string_value(json_object_get(c0, "connectUser")), "Elvis");

	zl_config *c = NULL;
	int rc = zl_config_from_json(plain, &c, &err);
	if (rc)
		fail_msg("the original's item is not a zload configuration: %s", err.msg);
	assert_string_equal(c->prefix, "myBucket/db_ingest");
	assert_int_equal(c->batch_size, 5);
	assert_int_equal(c->batch_timeout_ms, 30000);
	assert_int_equal(c->ntargets, 1);
	assert_true(zl_config_accepts(c, "a.csv"));
	assert_false(zl_config_accepts(c, "a.txt"));
	zl_config_free(c);

	/* and back: the same attribute values, numbers in their shortest form */
	json_t *again = zl_ddb_item_from_json(plain);
	assert_true(json_equal(again, item));
	json_decref(again);
	json_decref(plain);
	json_decref(item);
}

static void test_types(void **state)
{
	zl_err err = { 0 };
	json_t *av = load("{\"M\": {\"s\": {\"SS\": [\"a\", \"b\"]}, \"n\": {\"NS\": [\"1\", \"2.5\"]}, \"t\": {\"BOOL\": true},"
	                  " \"z\": {\"NULL\": true}, \"e\": {\"N\": \"1E3\"}, \"neg\": {\"N\": \"-7\"},"
	                  " \"big\": {\"N\": \"123456789012345678\"}, \"b\": {\"B\": \"AAEC\"}}}");
	json_t *j = zl_ddb_to_json(av, "", &err);
	assert_non_null(j);
	json_t *want = load("{\"s\": [\"a\", \"b\"], \"n\": [1, 2.5], \"t\": true, \"z\": null, \"e\": 1000,"
	                    " \"neg\": -7, \"big\": 123456789012345678, \"b\": \"AAEC\"}");
	assert_true(json_equal(j, want));
	json_decref(want);
	json_decref(j);
	json_decref(av);
}

static void test_malformed(void **state)
{
	static const struct {
		const char *av, *msg;
	} cases[] = {
		{ "{\"M\": {\"a\": {\"L\": [{\"N\": \"x1\"}]}}}", "DynamoDB attribute a[0]: N is not a number" },
		{ "{\"M\": {\"a\": {\"M\": {\"b\": {\"Q\": \"1\"}}}}}", "DynamoDB attribute a.b: unknown type \"Q\"" },
		{ "{\"M\": {\"a\": {\"S\": \"x\", \"N\": \"1\"}}}",
		  "DynamoDB attribute a: expected an object with one type key (S, N, L, M, ...)" },
		{ "{\"M\": {\"a\": {\"S\": 5}}}", "DynamoDB attribute a: S and B hold a string" },
		{ "{\"M\": {\"a\": {\"NULL\": false}}}", "DynamoDB attribute a: NULL holds true" },
		{ "{\"M\": {\"a\": {\"N\": \"\"}}}", "DynamoDB attribute a: N is empty" },
		{ "{\"M\": {\"a\": {\"SS\": [1]}}}", "DynamoDB attribute a: a set's members must be strings" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		zl_err err = { 0 };
		json_t *av = load(cases[i].av);
		assert_null(zl_ddb_to_json(av, "", &err));
		assert_int_equal(err.code, ZL_EINVAL);
		assert_string_equal(err.msg, cases[i].msg);
		json_decref(av);
	}
}

static void test_from_json_numbers(void **state)
{
	json_t *v = json_pack("[f, f, I, b, n]", 0.1, 1432228609.686, (json_int_t)-42, 1);
	json_t *av = zl_ddb_from_json(v);
	json_t *want = load("{\"L\": [{\"N\": \"0.1\"}, {\"N\": \"1432228609.686\"}, {\"N\": \"-42\"}, {\"BOOL\": true},"
	                    " {\"NULL\": true}]}");
	assert_true(json_equal(av, want));
	json_decref(want);
	json_decref(av);
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_original_config_item),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_from_json_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
