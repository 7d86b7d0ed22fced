/* zload setup without a terminal: the check of each answer, which questions each target type
 * asks, the configuration built from the answers (valid for zl_config_parse), the summary's
 * masking, and the question a validation message sends back to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/setup_questions.h"
#include "core/config.h"
#include "target/target.h"

static size_t question(const char *field)
{
	for (size_t i = 0; i < zl_setup_nquestions; i++)
		if (strcmp(zl_setup_questions[i].field, field) == 0)
			return i;
	fail_msg("no question for %s", field);
	return 0;
}

/* The answer to field's question is refused, with a message that contains want. */
static void refused(zl_setup_answers *a, const char *field, const char *line, const char *want)
{
	zl_err why = { 0 };
	size_t i = question(field);
	char *before = a->v[i] ? strdup(a->v[i]) : NULL;
	int rc = zl_setup_answer(a, i, line, &why);
	if (rc != ZL_EINVAL || !strstr(why.msg, want))
		fail_msg("%s = [%s]: expected refusal with [%s], got %d [%s]", field, line, want, rc, why.msg);
	if (before)
		assert_string_equal(a->v[i], before); /* a refused answer leaves the last accepted one */
	else
		assert_null(a->v[i]);
	free(before);
}

/* The answer is taken, as want. */
static void taken(zl_setup_answers *a, const char *field, const char *line, const char *want)
{
	zl_err why = { 0 };
	size_t i = question(field);
	int rc = zl_setup_answer(a, i, line, &why);
	if (rc)
		fail_msg("%s = [%s]: refused: %s", field, line, why.msg);
	assert_string_equal(a->v[i], want);
}

static void test_checks(void **state)
{
	zl_setup_answers a;
	zl_setup_answers_init(&a, 0);
	refused(&a, "s3Prefix", "", "an answer is required");
	refused(&a, "s3Prefix", "   ", "an answer is required");
	refused(&a, "s3Prefix", "/", "must name at least a bucket");
	refused(&a, "s3Prefix", "my bucket/in", "a bucket name has no blanks");
	taken(&a, "s3Prefix", "  /landing/in dir/  ", "/landing/in dir/"); /* stored normalised by the config */
	refused(&a, "filenameFilterRegex", "(bad", "not a valid regular expression: missing closing parenthesis at offset 4");
	taken(&a, "filenameFilterRegex", "", ".*\\.csv");
	taken(&a, "filenameFilterRegex", "^f[0-9]+\\.csv$", "^f[0-9]+\\.csv$");
	refused(&a, "targets[].type", "oracle", "\"oracle\" is not one of vertica, postgres, sqlite");
	taken(&a, "targets[].type", "", "vertica");
	refused(&a, "targets[].clusterEndpoint", "", "an answer is required");
	refused(&a, "targets[].clusterEndpoint", "a host", "a host name has no blanks");
	taken(&a, "targets[].clusterEndpoint", "v1.example", "v1.example");
	refused(&a, "targets[].clusterPort", "54x", "\"54x\" is not a whole number");
	refused(&a, "targets[].clusterPort", "-1", "\"-1\" is not a whole number");
	refused(&a, "targets[].clusterPort", "0", "must be between 1 and 65535");
	refused(&a, "targets[].clusterPort", "65536", "must be between 1 and 65535");
	refused(&a, "targets[].clusterPort", "99999999999999999999", "is not a whole number");
	taken(&a, "targets[].clusterPort", "", "5433");
	taken(&a, "targets[].clusterPort", " 5444 ", "5444");
	taken(&a, "targets[].clusterDB", "", ""); /* optional, no default */
	taken(&a, "targets[].connectPassword", " pass word ", " pass word "); /* a secret is kept as typed */
	refused(&a, "targets[].targetTable", "my table", "not a table name");
	refused(&a, "targets[].targetTable", "t; DROP TABLE x", "not a table name");
	refused(&a, "targets[].targetTable", "\"open", "a double quote is not closed");
	taken(&a, "targets[].targetTable", "\"My Schema\".\"My Table\"", "\"My Schema\".\"My Table\"");
	refused(&a, "targets[].loadMode", "local", "\"local\" is not one of stream, mount, s3");
	taken(&a, "targets[].loadMode", "mount", "mount");
	refused(&a, "targets[].s3MountDir", "mnt/s3", "must be an absolute path");
	taken(&a, "targets[].s3MountDir", "", "/mnt/s3/");
	refused(&a, "targets[].preLoadStatement", "a\001b", "control characters are not allowed");
	refused(&a, "targets[].preLoadStatement", "caf\xe9", "not valid UTF-8 text");
	taken(&a, "targets[].preLoadStatement", "DELETE FROM t\tWHERE x = 'é'", "DELETE FROM t\tWHERE x = 'é'");
	refused(&a, "batchSize", "ten", "\"ten\" is not a whole number");
	taken(&a, "batchSize", "", "1");
	taken(&a, "batchTimeoutSecs", "0", "0"); /* a size limit is there */
	taken(&a, "batchSize", "0", "0");
	refused(&a, "batchTimeoutSecs", "0", "with a batch size of 0, a timeout of 0 would never load");
	taken(&a, "batchTimeoutSecs", "", "30");
	refused(&a, "successTopicARN", "my-topic", "not an SNS topic ARN");
	refused(&a, "successTopicARN", "arn:aws:sqs:us-east-1:123456789012:q", "not an SNS topic ARN");
	refused(&a, "successTopicARN", "arn:aws:sns:us-east-1:123456789012:", "not an SNS topic ARN");
	refused(&a, "successTopicARN", "arn:aws:sns:us-east-1:1:a:b", "not an SNS topic ARN");
	taken(&a, "successTopicARN", "arn:aws:sns:us-east-1:123456789012:loads-ok", "arn:aws:sns:us-east-1:123456789012:loads-ok");
	taken(&a, "failureTopicARN", "", "");
	zl_setup_answers_release(&a);
	for (size_t i = 0; i < zl_setup_nquestions; i++)
		assert_null(a.v[i]);
}

/* Answers each question zl_setup_next asks with the next line; the fields asked, space-separated. */
static char *feed(zl_setup_answers *a, const char *const *lines)
{
	static char asked[2048];
	asked[0] = '\0';
	int i;
	while ((i = zl_setup_next(a)) >= 0) {
		if (!*lines)
			fail_msg("out of answers at %s (asked: %s)", zl_setup_questions[i].field, asked);
		zl_err why;
		if (zl_setup_answer(a, (size_t)i, *lines, &why))
			fail_msg("%s = [%s]: refused: %s", zl_setup_questions[i].field, *lines, why.msg);
		strcat(asked, *asked ? " " : "");
		strcat(asked, zl_setup_questions[i].field);
		lines++;
	}
	assert_null(*lines); /* every answer given was asked for */
	return asked;
}

static char *build_text(const zl_setup_answers *a)
{
	json_t *j = NULL;
	zl_err err;
	if (zl_setup_build(a, &j, &err))
		fail_msg("build: %s", err.msg);
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	return s;
}

#define VERTICA_ANSWERS "b/in", "", "", "v1.example", "", "dw", "loader", "s3cr3t pw", "public.events"

static void test_vertica(void **state)
{
	zl_setup_answers a;
	zl_setup_answers_init(&a, 0);
	const char *const lines[] = { VERTICA_ANSWERS, "", "ON ANY NODE", "", "SELECT 1", "10", "", "", "", NULL };
	assert_string_equal(feed(&a, lines),
	                    "s3Prefix filenameFilterRegex targets[].type targets[].clusterEndpoint targets[].clusterPort "
	                    "targets[].clusterDB targets[].connectUser targets[].connectPassword targets[].targetTable "
	                    "targets[].loadMode targets[].copyOptions targets[].preLoadStatement targets[].postLoadStatement "
	                    "batchSize batchTimeoutSecs successTopicARN failureTopicARN");
	char *text = build_text(&a);
	assert_string_equal(text,
	                    "{\"s3Prefix\":\"b/in\",\"filenameFilterRegex\":\".*\\\\.csv\",\"targets\":[{\"type\":\"vertica\","
	                    "\"clusterEndpoint\":\"v1.example\",\"clusterPort\":5433,\"clusterDB\":\"dw\",\"connectUser\":\"loader\","
	                    "\"connectPassword\":\"s3cr3t pw\",\"targetTable\":\"public.events\",\"loadMode\":\"stream\","
	                    "\"copyOptions\":\"ON ANY NODE\",\"postLoadStatement\":\"SELECT 1\"}],\"batchSize\":10,"
	                    "\"batchTimeoutSecs\":30}");
	zl_config *c = NULL;
	zl_err err;
	if (zl_config_parse(text, &c, &err))
		fail_msg("the built configuration does not validate: %s", err.msg);
	assert_int_equal(c->batch_size, 10);
	assert_int_equal(c->batch_timeout_ms, 30000);
	assert_string_equal(c->targets[0].ops->type, "vertica");
	assert_string_equal(c->targets[0].post_sql, "SELECT 1");
	char *masked = zl_config_dump_masked(c);
	assert_null(strstr(masked, "s3cr3t"));
	free(masked);
	zl_config_free(c);

	zl_buf b;
	zl_buf_init(&b, 0);
	zl_setup_summary(&a, &b);
	assert_non_null(strstr(zl_buf_str(&b), "  password           ********\n"));
	assert_non_null(strstr(zl_buf_str(&b), "  database           dw\n"));
	assert_non_null(strstr(zl_buf_str(&b), "  pre-load SQL       (none)\n"));
	assert_null(strstr(zl_buf_str(&b), "s3cr3t"));
	assert_null(strstr(zl_buf_str(&b), "mount directory")); /* not asked in stream mode */
	zl_buf_release(&b);
	free(text);
	zl_setup_answers_release(&a);
}

static void test_vertica_mount(void **state)
{
	zl_setup_answers a;
	zl_setup_answers_init(&a, 0);
	const char *const lines[] = { VERTICA_ANSWERS, "mount", "", "", "", "", "", "", "", "", NULL };
	char *asked = feed(&a, lines);
	assert_non_null(strstr(asked, "targets[].loadMode targets[].s3MountDir targets[].copyOptions"));
	char *text = build_text(&a);
	assert_non_null(strstr(text, "\"loadMode\":\"mount\",\"s3MountDir\":\"/mnt/s3/\""));
	free(text);
	zl_setup_answers_release(&a);
}

static void test_postgres(void **state)
{
	zl_setup_answers a;
	zl_setup_answers_init(&a, 0);
	const char *const lines[] = { "b/pg/", "", "postgres", "127.0.0.1", "", "dw", "loader", "pw", "t", "", "", "", "2", "0",
	                              "arn:aws:sns:eu-west-1:123456789012:ok", "arn:aws:sns:eu-west-1:123456789012:bad", NULL };
	assert_string_equal(feed(&a, lines),
	                    "s3Prefix filenameFilterRegex targets[].type targets[].host targets[].port targets[].database "
	                    "targets[].user targets[].password targets[].targetTable targets[].copyOptions "
	                    "targets[].preLoadStatement targets[].postLoadStatement batchSize batchTimeoutSecs "
	                    "successTopicARN failureTopicARN");
	char *text = build_text(&a);
	assert_string_equal(text,
	                    "{\"s3Prefix\":\"b/pg/\",\"filenameFilterRegex\":\".*\\\\.csv\",\"targets\":[{\"type\":\"postgres\","
	                    "\"host\":\"127.0.0.1\",\"port\":5432,\"database\":\"dw\",\"user\":\"loader\",\"password\":\"pw\","
	                    "\"targetTable\":\"t\"}],\"batchSize\":2,\"batchTimeoutSecs\":0,"
	                    "\"successTopicARN\":\"arn:aws:sns:eu-west-1:123456789012:ok\","
	                    "\"failureTopicARN\":\"arn:aws:sns:eu-west-1:123456789012:bad\"}");
	zl_config *c = NULL;
	zl_err err;
	if (zl_config_parse(text, &c, &err))
		fail_msg("the built configuration does not validate: %s", err.msg);
	assert_string_equal(c->prefix, "b/pg");
	zl_config_free(c);
	free(text);

	/* Another type, answered again: the questions of the first type drop out of the result. */
	zl_setup_forget(&a, question("targets[].type"));
	const char *const sqlite_lines[] = { "sqlite", "/tmp/wh.db", NULL };
	assert_string_equal(feed(&a, sqlite_lines), "targets[].type targets[].path");
	text = build_text(&a);
	assert_non_null(strstr(text, "\"targets\":[{\"type\":\"sqlite\",\"path\":\"/tmp/wh.db\",\"targetTable\":\"t\"}]"));
	assert_null(strstr(text, "\"host\""));
	assert_null(strstr(text, "\"password\""));
	free(text);
	zl_setup_answers_release(&a);
}

static void test_add_target(void **state)
{
	zl_setup_answers a;
	zl_setup_answers_init(&a, 1);
	const char *const lines[] = { "postgres", "db2", "6432", "dw2", "loader", "", "t2", "", "", "", NULL };
	assert_string_equal(feed(&a, lines),
	                    "targets[].type targets[].host targets[].port targets[].database targets[].user "
	                    "targets[].password targets[].targetTable targets[].copyOptions targets[].preLoadStatement "
	                    "targets[].postLoadStatement");
	char *text = build_text(&a);
	assert_string_equal(text, "{\"type\":\"postgres\",\"host\":\"db2\",\"port\":6432,\"database\":\"dw2\",\"user\":\"loader\","
	                          "\"targetTable\":\"t2\"}");
	free(text);
	zl_setup_answers_release(&a);
}

static void test_question_of_error(void **state)
{
	zl_setup_answers a;
	zl_setup_answers_init(&a, 0);
	const char *const lines[] = { "b/in", "", "sqlite", "/tmp/wh.db", "t", "", "", "", "", "", "", NULL };
	feed(&a, lines);
	assert_int_equal(zl_setup_question_of_error(&a, "targets[0].path: must be an absolute path", 0),
	                 (int)question("targets[].path"));
	assert_int_equal(zl_setup_question_of_error(&a, "s3Prefix: empty bucket name", 0), (int)question("s3Prefix"));
	assert_int_equal(zl_setup_question_of_error(&a, "batchSize: 0 with no batchSizeBytes", 0), (int)question("batchSize"));
	assert_int_equal(zl_setup_question_of_error(&a, "targets[1].path: x", 0), -1);   /* another target */
	assert_int_equal(zl_setup_question_of_error(&a, "targets[1].path: x", 1), (int)question("targets[].path"));
	assert_int_equal(zl_setup_question_of_error(&a, "targets[0].host: x", 0), -1);   /* not asked for sqlite */
	assert_int_equal(zl_setup_question_of_error(&a, "targets[0].pathx: x", 0), -1);
	assert_int_equal(zl_setup_question_of_error(&a, "format.type: x", 0), -1);
	assert_int_equal(zl_setup_question_of_error(&a, "line 1, column 2: x", 0), -1);
	zl_setup_answers_release(&a);
}

static void test_help(void **state)
{
	zl_buf b;
	zl_buf_init(&b, 0);
	zl_setup_help(&b);
	const char *h = zl_buf_str(&b);
	for (size_t i = 0; i < zl_setup_nquestions; i++)
		assert_non_null(strstr(h, zl_setup_questions[i].field));
	assert_non_null(strstr(h, "[.*\\.csv]"));
	assert_non_null(strstr(h, "Enter the Cluster Port [5433] (required) (vertica)\n"));
	assert_non_null(strstr(h, "[/mnt/s3/] (vertica, load mode mount)\n"));
	zl_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_vertica),
		cmocka_unit_test(test_vertica_mount),
		cmocka_unit_test(test_postgres),
		cmocka_unit_test(test_add_target),
		cmocka_unit_test(test_question_of_error),
		cmocka_unit_test(test_help),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
