/* The Lambda Runtime API client and loop: GET next (no timeout), handle, POST the answer. */
#include "runtime/lambda.h"
#include "obs/metrics.h"
#include "util/http.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define EVENT_CAP (8u << 20)   /* Lambda's payload limit is 6 MB */

static void api_url(char *out, size_t n, const char *api, const char *path)
{
	snprintf(out, n, "http://%s/2018-06-01/runtime/%s", api, path);
}

/* POSTs body to path; 0 when the Runtime API answered 202. */
static int post(const char *api, const char *path, const char *body, const char *err_type, zl_err *err)
{
	char url[1024], hdr[128];
	api_url(url, sizeof url, api, path);
	const char *headers[] = { "Content-Type: application/json", err_type ? hdr : NULL, NULL };
	if (err_type)
		snprintf(hdr, sizeof hdr, "Lambda-Runtime-Function-Error-Type: %s", err_type);
	zl_http_req req = { .method = "POST", .url = url, .headers = headers, .body = body, .body_len = strlen(body),
	                    .timeout_ms = 30000, .attempts = 3 };
	zl_http_resp resp;
	zl_http_resp_init(&resp);
	int rc = zl_http_perform(&req, &resp, err);
	if (rc == 0 && resp.status != 202)
		rc = zl_err_set(err, ZL_EINVAL, "Runtime API: POST %s: HTTP %ld: %.300s", path, resp.status,
		                zl_buf_str(&resp.body));
	zl_http_resp_release(&resp);
	return rc;
}

static char *error_body(const char *type, const char *msg)
{
	json_t *j = json_pack("{ss ss s[]}", "errorMessage", msg, "errorType", type, "stackTrace");
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

int zl_lambda_init_error(const char *api, const char *type, const char *msg, zl_err *err)
{
	char *body = error_body(type, msg);
	if (!body)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	int rc = post(api, "init/error", body, "Runtime.InitError", err);
	free(body);
	return rc;
}

typedef struct invocation {
	char id[256], trace[512];
	int64_t deadline_ms;
	zl_buf event;
} invocation;

/* GET next: blocks (no timeout) until Lambda hands over an invocation. */
static int next(const char *api, invocation *inv, zl_err *err)
{
	char url[1024], deadline[32];
	api_url(url, sizeof url, api, "invocation/next");
	zl_http_req req = { .url = url, .timeout_ms = -1, .attempts = 3, .body_cap = EVENT_CAP };
	zl_http_resp resp;
	zl_http_resp_init(&resp);
	int rc = zl_http_perform(&req, &resp, err);
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = zl_err_set(err, ZL_EINVAL, "Runtime API: GET next: HTTP %ld: %.300s", resp.status, zl_buf_str(&resp.body));
		goto out;
	}
	if (!zl_http_resp_header(&resp, "Lambda-Runtime-Aws-Request-Id", inv->id, sizeof inv->id) || !*inv->id) {
		rc = zl_err_set(err, ZL_EINVAL, "Runtime API: GET next: no Lambda-Runtime-Aws-Request-Id header");
		goto out;
	}
	char *end = NULL;
	if (!zl_http_resp_header(&resp, "Lambda-Runtime-Deadline-Ms", deadline, sizeof deadline) ||
	    (inv->deadline_ms = strtoll(deadline, &end, 10)) <= 0 || *end) {
		rc = zl_err_set(err, ZL_EINVAL, "Runtime API: GET next: no valid Lambda-Runtime-Deadline-Ms header");
		goto out;
	}
	if (!zl_http_resp_header(&resp, "Lambda-Runtime-Trace-Id", inv->trace, sizeof inv->trace))
		inv->trace[0] = '\0';
	zl_buf_release(&inv->event);
	inv->event = resp.body;
	zl_buf_init(&resp.body, 0);
out:
	zl_http_resp_release(&resp);
	return rc;
}

static int answer(const char *api, const invocation *inv, const zl_lambda_reply *r, zl_err *err)
{
	char path[512];
	char *body = r->is_error ? error_body(r->type, r->msg) : NULL;
	if (r->is_error && !body)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	snprintf(path, sizeof path, "invocation/%s/%s", inv->id, r->is_error ? "error" : "response");
	int rc = post(api, path, r->is_error ? body : r->body, r->is_error ? r->type : NULL, err);
	free(body);
	return rc;
}

/* What the invocation changed in the metrics, as CloudWatch Embedded Metric Format lines on stdout
 * (Lambda sends both streams to CloudWatch Logs, which turns these lines into metrics). Before the
 * answer: once answered, the process may be frozen before a later write goes out. */
static void emit_emf(void)
{
	const char *ns = getenv("ZLOAD_EMF_NAMESPACE");
	zl_buf b;
	zl_buf_init(&b, 0);
	zl_metrics_emf(&b, ns && *ns ? ns : ZL_EMF_NAMESPACE, zl_now_ms());
	if (b.len) {
		fwrite(b.data, 1, b.len, stdout);
		fflush(stdout);
	}
	zl_buf_release(&b);
}

int zl_lambda_run(zl_rt *rt, const zl_lambda_opts *o, zl_err *err)
{
	invocation inv = { 0 };
	zl_buf_init(&inv.event, 0);
	int rc;
	for (;;) {
		if ((rc = next(o->api, &inv, err)))
			break;
		if (*inv.trace)
			setenv("_X_AMZN_TRACE_ID", inv.trace, 1);
		else
			unsetenv("_X_AMZN_TRACE_ID");
		int64_t start = zl_now_ms();
		ZL_LOG(ZL_INFO, "lambda: invocation", ZL_S("request", inv.id), ZL_S("trace", inv.trace),
		       ZL_I("remaining_ms", inv.deadline_ms - start), ZL_I("bytes", inv.event.len));
		zl_lambda_reply r;
		if (zl_lambda_handle(rt, zl_buf_str(&inv.event), inv.event.len, inv.deadline_ms, o->margin_ms, &r)) {
			zl_lambda_reply_release(&r);
			memset(&r, 0, sizeof r);
			r.is_error = 1;
			snprintf(r.type, sizeof r.type, "OutOfMemory");
			snprintf(r.msg, sizeof r.msg, "out of memory");
		}
		emit_emf();
		zl_err aerr;
		if (answer(o->api, &inv, &r, &aerr)) /* Lambda times the invocation out; go on with the next */
			ZL_LOG(ZL_ERROR, "lambda: answer not accepted", ZL_S("request", inv.id), ZL_S("error", aerr.msg));
		else
			ZL_LOG(ZL_INFO, "lambda: answered", ZL_S("request", inv.id),
			       ZL_S("outcome", r.is_error ? r.type : "response"), ZL_I("ms", zl_now_ms() - start),
			       ZL_I("left_ms", inv.deadline_ms - zl_now_ms()));
		zl_lambda_reply_release(&r);
	}
	zl_buf_release(&inv.event);
	return rc;
}
