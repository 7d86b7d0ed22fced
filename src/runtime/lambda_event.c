/* One Lambda invocation's event: classified (Scheduled Event, SQS batch, or any body
 * zl_rt_submit_body takes), submitted, then the due batches loaded while the deadline allows. */
#include "runtime/lambda.h"
#include "obs/metrics.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef enum { EV_BODY, EV_SQS, EV_SCHEDULED } ev_kind;

void zl_lambda_reply_release(zl_lambda_reply *r)
{
	if (!r)
		return;
	free(r->body);
	r->body = NULL;
}

static int reply_error(zl_lambda_reply *out, const char *type, const char *msg)
{
	out->is_error = 1;
	snprintf(out->type, sizeof out->type, "%s", type);
	snprintf(out->msg, sizeof out->msg, "%s", msg);
	return 0;
}

static int reply_json(zl_lambda_reply *out, json_t *j)
{
	out->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return out->body ? 0 : ZL_ENOMEM;
}

static const char *str_of(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static ev_kind classify(json_t *root)
{
	if (json_is_object(root) && str_of(root, "source") && strcmp(str_of(root, "source"), "aws.events") == 0 &&
	    str_of(root, "detail-type") && strcmp(str_of(root, "detail-type"), "Scheduled Event") == 0)
		return EV_SCHEDULED;
	json_t *first = json_array_get(json_object_get(root, "Records"), 0);
	const char *src = str_of(first, "eventSource");
	return src && strcmp(src, "aws:sqs") == 0 ? EV_SQS : EV_BODY;
}

/* Sweeps, loads while the deadline allows, delivers due notifications; adds the counts to j. */
static void load_due(zl_rt *rt, int64_t deadline_ms, int64_t margin_ms, json_t *j)
{
	zl_err err;
	if (zl_rt_sweep(rt, &err))
		ZL_LOG(ZL_WARN, "lambda: sweep failed", ZL_S("error", err.msg));
	zl_rt_drain_stats st;
	zl_rt_drain_until(rt, deadline_ms - margin_ms, &st);
	if (st.deferred)
		ZL_LOG(ZL_WARN, "lambda: batches left for a later invocation: too little time before the deadline",
		       ZL_I("deferred", st.deferred), ZL_I("margin_ms", margin_ms));
	/* notifications get what is left of the margin's first half */
	size_t sent = zl_rt_notify_due(rt, deadline_ms - margin_ms / 2);
	json_object_set_new(j, "loads", json_integer((json_int_t)st.started));
	json_object_set_new(j, "incomplete", json_integer((json_int_t)(st.incomplete - st.deferred)));
	json_object_set_new(j, "deferred", json_integer((json_int_t)st.deferred));
	json_object_set_new(j, "notified", json_integer((json_int_t)sent));
}

static json_t *summary_json(const zl_body_summary *s)
{
	return json_pack("{sI sI sI sI sI sI sI sI}", "records", (json_int_t)s->records, "queued", (json_int_t)s->queued,
	                 "duplicate", (json_int_t)s->duplicate, "filtered", (json_int_t)s->filtered, "unrouted",
	                 (json_int_t)s->unrouted, "ignored", (json_int_t)s->ignored, "malformed",
	                 (json_int_t)s->malformed, "failed", (json_int_t)s->failed);
}

/* Each message's body is an event body of its own; a message with a record not recorded is a
 * batch item failure (SQS delivers it again). One that cannot be parsed is logged, not retried. */
static int handle_sqs(zl_rt *rt, json_t *root, int64_t deadline_ms, int64_t margin_ms, zl_lambda_reply *out)
{
	json_t *fails = json_array(), *recs = json_object_get(root, "Records"), *r;
	size_t i;
	json_array_foreach(recs, i, r) {
		const char *id = str_of(r, "messageId"), *body = str_of(r, "body");
		zl_body_summary sum;
		zl_err err;
		if (!id || !body) {
			ZL_LOG(ZL_ERROR, "lambda: SQS record without messageId or body skipped", ZL_I("record", i));
			continue;
		}
		int rc = zl_rt_submit_body(rt, ZL_INTAKE_LAMBDA, body, strlen(body), NULL, NULL, &sum, &err);
		if (rc == ZL_EINVAL) {
			ZL_LOG(ZL_ERROR, "lambda: SQS message cannot be parsed, dropped", ZL_S("message", id),
			       ZL_S("error", err.msg));
		} else if (rc) {
			ZL_LOG(ZL_WARN, "lambda: SQS message not recorded, reported as a batch item failure",
			       ZL_S("message", id), ZL_S("error", err.msg));
			json_array_append_new(fails, json_pack("{ss}", "itemIdentifier", id));
		} else {
			ZL_LOG(ZL_DEBUG, "lambda: SQS message handled", ZL_S("message", id), ZL_I("queued", sum.queued),
			       ZL_I("duplicate", sum.duplicate));
		}
	}
	json_t *counts = json_object();
	load_due(rt, deadline_ms, margin_ms, counts);
	ZL_LOG(ZL_INFO, "lambda: SQS batch handled", ZL_I("messages", json_array_size(recs)),
	       ZL_I("failures", json_array_size(fails)),
	       ZL_I("loads", json_integer_value(json_object_get(counts, "loads"))),
	       ZL_I("deferred", json_integer_value(json_object_get(counts, "deferred"))));
	json_decref(counts);
	return reply_json(out, json_pack("{so}", "batchItemFailures", fails));
}

static int handle_body(zl_rt *rt, const char *event, size_t len, int64_t deadline_ms, int64_t margin_ms,
                       zl_lambda_reply *out)
{
	zl_body_summary sum;
	zl_err err;
	int rc = zl_rt_submit_body(rt, ZL_INTAKE_LAMBDA, event, len, NULL, NULL, &sum, &err);
	if (rc == ZL_EINVAL) {
		ZL_LOG(ZL_ERROR, "lambda: malformed event", ZL_S("error", err.msg));
		return reply_error(out, "InvalidEvent", err.msg);
	}
	json_t *j = summary_json(&sum);
	load_due(rt, deadline_ms, margin_ms, j);
	ZL_LOG(ZL_INFO, "lambda: event handled", ZL_I("records", sum.records), ZL_I("queued", sum.queued),
	       ZL_I("duplicate", sum.duplicate), ZL_I("failed", sum.failed),
	       ZL_I("loads", json_integer_value(json_object_get(j, "loads"))),
	       ZL_I("deferred", json_integer_value(json_object_get(j, "deferred"))));
	if (rc) { /* some record was not recorded: the error makes Lambda invoke again */
		json_decref(j);
		char msg[1024];
		snprintf(msg, sizeof msg, "%zu record(s) not recorded: %.900s", sum.failed, err.msg);
		return reply_error(out, "RecordsNotRecorded", msg);
	}
	return reply_json(out, j);
}

int zl_lambda_handle(zl_rt *rt, const char *event, size_t len, int64_t deadline_ms, int64_t margin_ms,
                     zl_lambda_reply *out)
{
	memset(out, 0, sizeof *out);
	json_error_t jerr;
	json_t *root = json_loadb(event, len, 0, &jerr);
	int rc;
	if (!root) {
		char msg[512];
		snprintf(msg, sizeof msg, "event is not JSON: line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		ZL_LOG(ZL_ERROR, "lambda: malformed event", ZL_S("error", msg));
		return reply_error(out, "InvalidEvent", msg);
	}
	switch (classify(root)) {
	case EV_SCHEDULED: {
		json_t *j = json_pack("{sb}", "swept", 1);
		load_due(rt, deadline_ms, margin_ms, j);
		ZL_LOG(ZL_INFO, "lambda: scheduled sweep", ZL_I("loads", json_integer_value(json_object_get(j, "loads"))),
		       ZL_I("deferred", json_integer_value(json_object_get(j, "deferred"))));
		rc = reply_json(out, j);
		break;
	}
	case EV_SQS:
		rc = handle_sqs(rt, root, deadline_ms, margin_ms, out);
		break;
	default:
		rc = handle_body(rt, event, len, deadline_ms, margin_ms, out);
	}
	json_decref(root);
	return rc;
}
