/* Notifications without services: the message (the original's SNS fields and zload's), its
 * subject, the notices of a finish (destinations, secrets scrubbed), the HMAC signature, the
 * checks of destination URLs at config put, the mail rendering, the exec destination, the
 * display of URLs and the back-off. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/notice.h"
#include "core/policy.h"
#include "notify/mail.h"
#include "notify/notify.h"
#include "util/hmac.h"
#include "util/timeutil.h"

#define T0 ((int64_t)1764107018000) /* 2025-11-25T21:43:38.000Z */
#define BATCH "01a214bf-98c7-7e1d-bc71-0034bac0c60c"

static zl_config *parse(const char *text)
{
	zl_config *c = NULL;
	zl_err err = { 0 };
	if (zl_config_parse(text, &c, &err))
		fail_msg("%s: %s", text, err.msg);
	return c;
}

/* The error zl_config_parse gives for text (which must fail). */
static const char *config_error(const char *text)
{
	static zl_err err;
	zl_config *c = NULL;
	memset(&err, 0, sizeof err);
	assert_int_equal(zl_config_parse(text, &c, &err), ZL_EINVAL);
	assert_null(c);
	return err.msg;
}

#define TARGETS \
	"\"targets\": [{\"name\": \"wh\", \"type\": \"sqlite\", \"path\": \"/tmp/wh.db\", \"targetTable\": \"t\"," \
	" \"preLoadStatement\": \"DELETE FROM t\", \"postLoadStatement\": \"ANALYZE\"}," \
	" {\"name\": \"pg\", \"type\": \"postgres\", \"conninfo\": \"host=db password='Conn-Pw-1' dbname=dw\"," \
	" \"password\": \"Db-Secret-42\", \"targetTable\": \"public.t\"}]"

static const char *const config_text =
	"{\"s3Prefix\": \"bkt/in\", " TARGETS ", \"successTopicARN\": \"arn:aws:sns:us-east-1:123456789012:ok\","
	" \"failureTopicARN\": \"arn:aws:sns:eu-west-1:123456789012:fail\", \"maxNotifyAttempts\": 4,"
	" \"notify\": {\"success\": [\"https://hooks.example/ok\"], \"failure\": [\"mailto:ops@example.com\","
	" \"exec:/bin/true\"], \"webhookSecret\": \"Hook-Secret-7\","
	" \"smtp\": {\"url\": \"smtps://mail.example:465\", \"from\": \"zload <zload@example.com>\","
	" \"user\": \"zl\", \"password\": \"Smtp-Pw-99\"}}}";

/* A locked batch of two files, the way batch_get returns it. */
static zl_batch two_files(zl_file_rec files[2])
{
	zl_batch b = { 0 };
	strcpy(b.id, BATCH);
	b.prefix = (char *)"bkt/in";
	b.status = ZL_BATCH_LOCKED;
	b.created_at = T0 - 60000;
	b.locked_at = T0 - 1500;
	b.attempts = 2;
	files[0] = (zl_file_rec){ .bucket = (char *)"bkt", .key = (char *)"in/a.csv" };
	files[1] = (zl_file_rec){ .bucket = (char *)"bkt", .key = (char *)"in/b c.csv" };
	b.files = files;
	b.nfiles = 2;
	return b;
}

/* The result load.c records: wh loaded both files, pg failed its COPY. */
static const char *const result_text =
	"{\"attempt\": 2, \"targets\": ["
	"{\"name\": \"wh\", \"type\": \"sqlite\", \"status\": \"complete\", \"rows\": 5, \"ms\": 3, \"objects\": [],"
	" \"statements\": [\"DELETE FROM t\", \"load bkt/in/a.csv\", \"load bkt/in/b c.csv\", \"ANALYZE\"]},"
	"{\"name\": \"pg\", \"type\": \"postgres\", \"status\": \"retry\", \"rows\": 0, \"ms\": 9, \"objects\": [],"
	" \"statements\": [\"COPY public.t FROM STDIN -- bkt/in/a.csv\"],"
	" \"error\": \"connection to db failed: password authentication failed (password Db-Secret-42)\"}], \"ms\": 12}";

static char *dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

static void test_subject(void **state)
{
	char s[128];
	zl_notice_subject(BATCH, ZL_BATCH_COMPLETE, s, sizeof s);
	assert_string_equal(s, "Lambda Vertica Batch Load " BATCH " OK");
	zl_notice_subject(BATCH, ZL_BATCH_ERROR, s, sizeof s);
	assert_string_equal(s, "Lambda Vertica Batch Load " BATCH " Failure");
}

static void test_message_fields(void **state)
{
	zl_config *c = parse(config_text);
	zl_file_rec files[2];
	zl_batch b = two_files(files);
	json_t *result = json_loads(result_text, JSON_PRESERVE_ORDER, NULL);
	assert_non_null(result);

	json_t *m = zl_notice_message(c, &b, ZL_BATCH_ERROR, T0, result, "target pg: connection to db failed");
	char *text = dump(m);
	assert_string_equal(text,
		"{\"error\":\"target pg: connection to db failed\",\"status\":\"error\",\"batchId\":\"" BATCH "\","
		"\"s3Prefix\":\"bkt/in\",\"loadStatements\":{"
		"\"wh\":{\"preLoadStmt\":\"Success: DELETE FROM t\","
		"\"loadStmt\":\"Success: load bkt/in/a.csv\\nload bkt/in/b c.csv\",\"postLoadStmt\":\"Success: ANALYZE\"},"
		"\"pg\":{\"preLoadStmt\":\"\",\"loadStmt\":\"Failed: COPY public.t FROM STDIN -- bkt/in/a.csv\","
		"\"postLoadStmt\":\"\"}},"
		"\"files\":[{\"bucket\":\"bkt\",\"key\":\"in/a.csv\"},{\"bucket\":\"bkt\",\"key\":\"in/b c.csv\"}],"
		"\"targets\":[{\"name\":\"wh\",\"type\":\"sqlite\",\"status\":\"complete\",\"rows\":5,\"rejected\":0,"
		"\"error\":null},{\"name\":\"pg\",\"type\":\"postgres\",\"status\":\"error\",\"rows\":0,\"rejected\":0,"
		"\"error\":\"connection to db failed: password authentication failed (password Db-Secret-42)\"}],"
		"\"attempts\":2,\"createdAt\":\"2025-11-25T21:42:38.000Z\",\"finishedAt\":\"2025-11-25T21:43:38.000Z\","
		"\"durationMs\":1500}");
	free(text);
	json_decref(m);

	/* a batch that completes: error null, status ok; without a result (no attempt ran) no targets */
	m = zl_notice_message(c, &b, ZL_BATCH_COMPLETE, T0, NULL, NULL);
	text = dump(m);
	assert_non_null(strstr(text, "{\"error\":null,\"status\":\"ok\",\"batchId\":\"" BATCH "\",\"s3Prefix\":\"bkt/in\","
	                             "\"loadStatements\":{},\"files\":["));
	assert_non_null(strstr(text, "\"targets\":[],\"attempts\":2,"));
	free(text);
	json_decref(m);
	json_decref(result);
	zl_config_free(c);
}

static void test_message_caps_files(void **state)
{
	zl_config *c = parse(config_text);
	zl_batch b = { 0 };
	strcpy(b.id, BATCH);
	b.prefix = (char *)"bkt/in";
	b.nfiles = ZL_NOTICE_MAX_FILES + 5;
	b.files = calloc(b.nfiles, sizeof *b.files);
	for (size_t i = 0; i < b.nfiles; i++)
		b.files[i] = (zl_file_rec){ .bucket = (char *)"bkt", .key = (char *)"k" };
	json_t *m = zl_notice_message(c, &b, ZL_BATCH_COMPLETE, T0, NULL, NULL);
	assert_int_equal(json_array_size(json_object_get(m, "files")), ZL_NOTICE_MAX_FILES);
	assert_int_equal(json_integer_value(json_object_get(m, "filesOmitted")), 5);
	json_decref(m);
	free(b.files);
	zl_config_free(c);
}

static void test_notices_destinations_and_secrets(void **state)
{
	zl_config *c = parse(config_text);
	zl_file_rec files[2];
	zl_batch b = two_files(files);
	json_t *result = json_loads(result_text, JSON_PRESERVE_ORDER, NULL);
	zl_notices n;
	zl_err err = { 0 };

	/* failure: the topic first, then notify.failure in order */
	assert_int_equal(zl_notices_build(c, &b, ZL_BATCH_ERROR, T0, result,
	                                  "target pg: password=Db-Secret-42 rejected; postgres://u:Conn-Pw-1@db/dw", &n, &err),
	                 0);
	assert_int_equal(n.n, 3);
	assert_string_equal(n.v[0].dest, "sns:arn:aws:sns:eu-west-1:123456789012:fail");
	assert_string_equal(n.v[1].dest, "mailto:ops@example.com");
	assert_string_equal(n.v[2].dest, "exec:/bin/true");
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(n.v[i].event, "failure");
		assert_string_equal(n.v[i].subject, "Lambda Vertica Batch Load " BATCH " Failure");
		assert_int_equal(n.v[i].max_attempts, 4);
		assert_ptr_equal(n.v[i].body, n.v[0].body);
	}
	/* no secret of the configuration survives in the message, whatever quoted it */
	static const char *const secrets[] = { "Db-Secret-42", "Conn-Pw-1", "Hook-Secret-7", "Smtp-Pw-99" };
	for (size_t i = 0; i < 4; i++)
		assert_null(strstr(n.v[0].body, secrets[i]));
	json_t *m = json_loads(n.v[0].body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(m, "error")),
	                    "target pg: password=******** rejected; postgres://u:********@db/dw");
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(m, "targets"), 1), "error")),
	                    "connection to db failed: password authentication failed (password ********)");
	json_decref(m);
	zl_notices_release(&n);

	/* success: the topic, then notify.success */
	assert_int_equal(zl_notices_build(c, &b, ZL_BATCH_COMPLETE, T0, NULL, NULL, &n, &err), 0);
	assert_int_equal(n.n, 2);
	assert_string_equal(n.v[0].dest, "sns:arn:aws:sns:us-east-1:123456789012:ok");
	assert_string_equal(n.v[1].dest, "https://hooks.example/ok");
	assert_string_equal(n.v[1].event, "success");
	zl_notices_release(&n);

	/* no configuration, or none for the outcome: nothing */
	assert_int_equal(zl_notices_build(NULL, &b, ZL_BATCH_ERROR, T0, NULL, "x", &n, &err), 0);
	assert_int_equal(n.n, 0);
	zl_config *bare = parse("{\"s3Prefix\": \"bkt/in\", " TARGETS ", \"notify\": {\"failure\": [\"exec:/bin/true\"]}}");
	assert_int_equal(zl_notices_build(bare, &b, ZL_BATCH_COMPLETE, T0, NULL, NULL, &n, &err), 0);
	assert_int_equal(n.n, 0);
	assert_null(n.body);
	zl_config_free(bare);
	json_decref(result);
	zl_config_free(c);
}

static void test_secrets_of_config(void **state)
{
	zl_config *c = parse(config_text);
	zl_strvec v;
	zl_strvec_init(&v);
	assert_int_equal(zl_config_secrets(c, &v), 0);
	const char *want[] = { "host=db password='Conn-Pw-1' dbname=dw", "Conn-Pw-1", "Db-Secret-42", "Hook-Secret-7",
	                       "Smtp-Pw-99" };
	assert_int_equal(v.n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(v.v[i], want[i]);
	zl_strvec_release(&v);
	zl_config_free(c);
}

static void test_hmac_vectors(void **state)
{
	char hex[65];
	/* RFC 4231, test cases 1 and 2 */
	unsigned char key1[20];
	memset(key1, 0x0b, sizeof key1);
	assert_int_equal(zl_hmac_sha256_hex(key1, sizeof key1, "Hi There", 8, hex), 0);
	assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	assert_int_equal(zl_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, hex), 0);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

#define WITH(n) "{\"s3Prefix\": \"b/in\", " TARGETS ", " n "}"

static void test_destination_checks(void **state)
{
	assert_string_equal(config_error(WITH("\"notify\": {\"success\": [\"https://h.example/x\", \"ftp://h/x\"]}")),
	                    "notify.success[1]: unknown scheme \"ftp\" (known: sns, https, http, mailto, exec)");
	assert_string_equal(config_error(WITH("\"notify\": {\"failure\": [\"hooks.example.com/x\"]}")),
	                    "notify.failure[0]: \"hooks.example.com/x\" is not a destination URL (schemes: sns, https, "
	                    "http, mailto, exec)");
	assert_string_equal(config_error(WITH("\"notify\": {\"failure\": [7]}")),
	                    "notify.failure[0]: expected a string (a destination URL)");
	assert_string_equal(config_error(WITH("\"notify\": {\"success\": \"https://h/x\"}")),
	                    "notify.success: expected a array");
	assert_string_equal(config_error(WITH("\"notify\": {\"succes\": []}")),
	                    "notify.succes: unknown field; did you mean \"success\"?");
	assert_string_equal(config_error(WITH("\"notify\": {\"success\": [\"sns:arn:aws:s3:::bkt\"]}")),
	                    "notify.success[0]: \"arn:aws:s3:::bkt\" is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC)");
	assert_string_equal(config_error(WITH("\"successTopicARN\": \"arn:aws:sns:us-east-1:12345:t\"")),
	                    "successTopicARN: \"arn:aws:sns:us-east-1:12345:t\" is not an SNS topic ARN "
	                    "(arn:aws:sns:REGION:ACCOUNT:TOPIC)");
	assert_string_equal(config_error(WITH("\"notify\": {\"success\": [\"https://\"]}")),
	                    "notify.success[0]: \"https://\" is not a URL with a host");
	assert_string_equal(config_error(WITH("\"notify\": {\"success\": [\"mailto:ops@example.com\"]}")),
	                    "notify.success[0]: mailto: destinations need notify.smtp (url and from)");
	assert_string_equal(
		config_error(WITH("\"notify\": {\"success\": [\"mailto:ops@example.com?subject=x\"], \"smtp\": {\"url\": "
		                  "\"smtp://m\", \"from\": \"z@example.com\"}}")),
		"notify.success[0]: \"mailto:ops@example.com?subject=x\" is not mailto:ADDRESS[,ADDRESS...] (at most 32, no ?query)");
	assert_string_equal(config_error(WITH("\"notify\": {\"failure\": [\"exec:bin/hook\"]}")),
	                    "notify.failure[0]: \"exec:bin/hook\": the program must be an absolute path (exec:/path/to/program)");
	assert_string_equal(config_error(WITH("\"notify\": {\"failure\": [\"exec:/nonexistent/hook\"]}")),
	                    "notify.failure[0]: /nonexistent/hook is not an executable file: No such file or directory");
	assert_string_equal(config_error(WITH("\"notify\": {\"smtp\": {\"url\": \"http://m\", \"from\": \"z@example.com\"}}")),
	                    "notify.smtp.url: \"http://m\" is not smtp://HOST[:PORT] or smtps://HOST[:PORT]");
	assert_string_equal(config_error(WITH("\"notify\": {\"smtp\": {\"url\": \"smtp://m\", \"from\": \"zload\"}}")),
	                    "notify.smtp.from: \"zload\" is not an address (ops@example.com or \"Name <ops@example.com>\")");
	assert_string_equal(config_error(WITH("\"notify\": {\"smtp\": {\"url\": \"smtp://m\", \"from\": \"z@example.com\","
	                                      " \"user\": \"u\", \"password\": \"pw\"}}")),
	                    "notify.smtp.password: would be sent in clear over smtp://; set \"starttls\": true or use smtps://");
	assert_string_equal(config_error(WITH("\"notify\": {\"smtp\": {\"from\": \"z@example.com\"}}")),
	                    "notify.smtp.url: missing required field");
	assert_string_equal(config_error(WITH("\"maxNotifyAttempts\": 0")), "maxNotifyAttempts: must be from 1 to 1000");
	assert_string_equal(config_error(WITH("\"notify\": {\"webhookSecret\": \"\"}")), "notify.webhookSecret: empty");

	/* every kind, accepted; secrets masked on display */
	zl_config *c = parse(WITH("\"notify\": {\"success\": [\"sns:arn:aws-cn:sns:cn-north-1:123456789012:t.fifo\","
	                          " \"http://127.0.0.1:8080/h?token=x\", \"mailto:a@example.com,b@example.com\","
	                          " \"exec:/bin/true\"], \"webhookSecret\": \"Hook-Secret-7\", \"smtp\": {\"url\":"
	                          " \"smtp://127.0.0.1:2525\", \"from\": \"a@example.com\", \"user\": \"u\","
	                          " \"password\": \"Smtp-Pw-99\", \"starttls\": true}}"));
	assert_int_equal(c->notify.success.n, 4);
	assert_int_equal(c->notify.max_attempts, 10);
	assert_int_equal(c->notify.smtp_starttls, 1);
	char *shown = zl_config_dump_masked(c);
	assert_null(strstr(shown, "Hook-Secret-7"));
	assert_null(strstr(shown, "Smtp-Pw-99"));
	assert_non_null(strstr(shown, "\"webhookSecret\": \"********\""));
	assert_non_null(strstr(shown, "\"password\": \"********\""));
	free(shown);
	zl_config_free(c);
}

static const char *const mail_json =
	"{\"error\":\"target pg: refused\",\"status\":\"error\",\"batchId\":\"" BATCH "\",\"s3Prefix\":\"bkt/in\","
	"\"loadStatements\":{\"pg\":{\"preLoadStmt\":\"\",\"loadStmt\":\"Failed: COPY t\",\"postLoadStmt\":\"\"}},"
	"\"files\":[{\"bucket\":\"bkt\",\"key\":\"in/a.csv\"}],\"filesOmitted\":2,"
	"\"targets\":[{\"name\":\"pg\",\"type\":\"postgres\",\"status\":\"error\",\"rows\":0,\"rejected\":0,"
	"\"error\":\"refused\"}],\"attempts\":3,\"createdAt\":\"2025-11-25T21:42:38.000Z\","
	"\"finishedAt\":\"2025-11-25T21:43:38.000Z\",\"durationMs\":1500}";

static void test_mail_text_and_compose(void **state)
{
	zl_buf text, msg;
	zl_buf_init(&text, 0);
	zl_buf_init(&msg, 0);
	assert_int_equal(zl_mail_text(mail_json, &text), 0);
	assert_string_equal(zl_buf_str(&text),
	                    "zload batch " BATCH " of bkt/in: FAILED\n"
	                    "\nError: target pg: refused\n"
	                    "\nTargets:\n  pg (postgres): error, 0 rows, 0 rejected: refused\n"
	                    "\nFiles (3):\n  bkt/in/a.csv\n  ... and 2 more\n"
	                    "\nAttempts: 3\nCreated:  2025-11-25T21:42:38.000Z\nFinished: 2025-11-25T21:43:38.000Z (1500 ms)\n"
	                    "\nStatements:\n  pg:\n    loadStmt      Failed: COPY t\n");
	assert_int_equal(zl_mail_text("[1]", &text), ZL_EINVAL);

	char line[1200];
	memset(line, 'x', 995);
	line[995] = '\0';
	char body[1300];
	snprintf(body, sizeof body, "one\n%s\n", line);
	zl_mail m = { .from = "zload <z@example.com>", .to = "a@example.com,b@example.com", .subject = "S",
	              .text = body, .message_id = "<1@zload>", .event = "failure", .batch_id = BATCH, .date_ms = T0 };
	assert_int_equal(zl_mail_compose(&m, &msg), 0);
	char want[2600];
	memset(line, 'x', 990);
	line[990] = '\0';
	snprintf(want, sizeof want,
	         "Date: Tue, 25 Nov 2025 21:43:38 +0000\r\nFrom: zload <z@example.com>\r\nTo: a@example.com,b@example.com\r\n"
	         "Subject: S\r\nMessage-ID: <1@zload>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	         "Content-Transfer-Encoding: 8bit\r\nX-Zload-Event: failure\r\nX-Zload-Batch: " BATCH "\r\n\r\n"
	         "one\r\n%s\r\nxxxxx\r\n", line);
	assert_string_equal(zl_buf_str(&msg), want);
	char addr[64];
	zl_mail_address("zload <z@example.com>", addr, sizeof addr);
	assert_string_equal(addr, "z@example.com");
	zl_mail_address("z@example.com", addr, sizeof addr);
	assert_string_equal(addr, "z@example.com");
	zl_buf_release(&text);
	zl_buf_release(&msg);
}

static void test_display(void **state)
{
	char out[256];
	assert_string_equal(zl_notify_display("https://u:pw@hooks.example:8443/p/q?token=abc#f", out, sizeof out),
	                    "https://hooks.example:8443/p/q?***");
	assert_string_equal(zl_notify_display("http://127.0.0.1:1/x", out, sizeof out), "http://127.0.0.1:1/x");
	assert_string_equal(zl_notify_display("mailto:ops@example.com", out, sizeof out), "mailto:ops@example.com");
	assert_string_equal(zl_notify_display("sns:arn:aws:sns:us-east-1:123456789012:t", out, sizeof out),
	                    "sns:arn:aws:sns:us-east-1:123456789012:t");
}

static void test_backoff(void **state)
{
	assert_int_equal(zl_notify_retry_delay_ms(1, 0), 500);
	assert_int_equal(zl_notify_retry_delay_ms(1, 500), 1000);
	assert_int_equal(zl_notify_retry_delay_ms(2, 0), 1000);
	assert_int_equal(zl_notify_retry_delay_ms(3, 2000), 4000);
	assert_int_equal(zl_notify_retry_delay_ms(10, 0), 256000);
	assert_int_equal(zl_notify_retry_delay_ms(11, 0), 300000);
	assert_int_equal(zl_notify_retry_delay_ms(50, 300000), 600000);
	for (uint32_t r = 0; r < 5000; r += 7) {
		int64_t d = zl_notify_retry_delay_ms(4, r);
		assert_true(d >= 4000 && d <= 8000);
	}
}

/* An executable script in dir with body text; its path into path. */
static void script(const char *dir, const char *name, const char *text, char *path, size_t n)
{
	snprintf(path, n, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", text);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
}

static void test_exec_destination(void **state)
{
	char dir[] = "/tmp/zl_notify_test_XXXXXX", path[256], url[300], cmd[300], got[512];
	assert_non_null(mkdtemp(dir));
	zl_notify_msg m = { .id = 7, .batch_id = BATCH, .event = "success", .subject = "Lambda Vertica Batch Load X OK",
	                    .body = "{\"status\":\"ok\"}", .body_len = 15 };
	zl_err err = { 0 };

	snprintf(cmd, sizeof cmd, "cat > %s/stdin; echo \"$ZLOAD_NOTIFY_EVENT $ZLOAD_NOTIFY_ID $ZLOAD_BATCH_ID $ZLOAD_NOTIFY_SUBJECT\" > %s/env",
	         dir, dir);
	script(dir, "ok.sh", cmd, path, sizeof path);
	snprintf(url, sizeof url, "exec:%s", path);
	assert_int_equal(zl_notify_check(url, "notify.success[0]", &err), 0);
	assert_int_equal(zl_notify_send(url, &m, NULL, 5000, &err), 0);
	snprintf(path, sizeof path, "%s/stdin", dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof got, f));
	fclose(f);
	assert_string_equal(got, "{\"status\":\"ok\"}");
	snprintf(path, sizeof path, "%s/env", dir);
	f = fopen(path, "r");
	assert_non_null(fgets(got, sizeof got, f));
	fclose(f);
	assert_string_equal(got, "success 7 " BATCH " Lambda Vertica Batch Load X OK\n");

	/* a non-zero exit fails, with the last line of stderr; a program that does not read stdin is fine */
	script(dir, "fail.sh", "echo first >&2; echo 'bad things' >&2; exit 3", path, sizeof path);
	snprintf(url, sizeof url, "exec:%s", path);
	assert_int_equal(zl_notify_send(url, &m, NULL, 5000, &err), ZL_ETRANSIENT);
	snprintf(got, sizeof got, "%s: exit status 3: bad things", path);
	assert_string_equal(err.msg, got);
	/* one that hangs is killed at the timeout */
	script(dir, "hang.sh", "exec sleep 30", path, sizeof path);
	snprintf(url, sizeof url, "exec:%s", path);
	int64_t t0 = zl_mono_ms();
	assert_int_equal(zl_notify_send(url, &m, NULL, 300, &err), ZL_ETRANSIENT);
	assert_true(zl_mono_ms() - t0 < 3000);
	snprintf(got, sizeof got, "%s: killed after 300 ms without exiting", path);
	assert_string_equal(err.msg, got);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_webhook_refused(void **state)
{
	zl_notify_msg m = { .id = 1, .batch_id = BATCH, .event = "success", .subject = "S", .body = "{}", .body_len = 2 };
	zl_err err = { 0 };
	assert_int_equal(zl_notify_send("http://127.0.0.1:1/hook", &m, NULL, 2000, &err), ZL_ETRANSIENT);
	assert_non_null(strstr(err.msg, "POST 127.0.0.1:1: "));
	assert_non_null(strstr(err.msg, "(1 attempt)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subject),
		cmocka_unit_test(test_message_fields),
		cmocka_unit_test(test_message_caps_files),
		cmocka_unit_test(test_notices_destinations_and_secrets),
		cmocka_unit_test(test_secrets_of_config),
		cmocka_unit_test(test_hmac_vectors),
		cmocka_unit_test(test_destination_checks),
		cmocka_unit_test(test_mail_text_and_compose),
		cmocka_unit_test(test_display),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_exec_destination),
		cmocka_unit_test(test_webhook_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
