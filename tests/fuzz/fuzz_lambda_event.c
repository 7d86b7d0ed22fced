/* libFuzzer target over a Lambda invocation's event (runtime/lambda_event.c): classification
 * (Scheduled Event, SQS batch, any other body) and the reply built from it. The runtime is stubbed
 * here: zl_rt_submit_body parses the body with zl_event_each, as the real one does, and fails the
 * records whose key starts with "fail" (a state that did not record them). The reply must be an
 * error with a type and a message, or a JSON body. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "runtime/lambda.h"
#include "util/err.h"
#include "util/log.h"

void zl_log_kv(zl_log_level level, const char *msg, const zl_kv *kvs)
{
	(void)level, (void)msg, (void)kvs;
}

int zl_log_enabled(zl_log_level level)
{
	(void)level;
	return 0;
}

static int count(void *ud, const zl_event_record *rec)
{
	zl_body_summary *s = ud;
	s->records++;
	if (rec->kind == ZL_REC_IGNORED)
		s->ignored++;
	else if (rec->kind == ZL_REC_MALFORMED)
		s->malformed++;
	else if (strncmp(rec->obj.key, "fail", 4) == 0)
		s->failed++;
	else
		s->queued++;
	return 0;
}

int zl_rt_submit_body(zl_rt *rt, const char *intake, const char *body, size_t len, zl_record_cb cb, void *ud,
                      zl_body_summary *sum, zl_err *err)
{
	memset(sum, 0, sizeof *sum);
	int rc = zl_event_each(body, len, count, sum, err);
	if (rc == 0 && sum->failed)
		rc = zl_err_set(err, ZL_ETRANSIENT, "state: not recorded");
	return rc;
}

int zl_rt_sweep(zl_rt *rt, zl_err *err)
{
	return 0;
}

size_t zl_rt_drain_until(zl_rt *rt, int64_t until_ms, zl_rt_drain_stats *st)
{
	if (st)
		memset(st, 0, sizeof *st);
	return 0;
}

size_t zl_rt_notify_due(zl_rt *rt, int64_t until_ms)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	zl_lambda_reply out;
	int rc = zl_lambda_handle(NULL, text, size, 0, 0, &out);
	if (rc != 0 && rc != ZL_ENOMEM)
		abort();
	if (rc == 0 && out.is_error && (!out.type[0] || !out.msg[0]))
		abort();
	if (rc == 0 && !out.is_error) {
		json_error_t je;
		json_t *j = out.body ? json_loads(out.body, 0, &je) : NULL;
		if (!json_is_object(j))
			abort();
		json_decref(j);
	}
	zl_lambda_reply_release(&out);
	free(text);
	return 0;
}
