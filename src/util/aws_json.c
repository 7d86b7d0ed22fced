#include "util/aws_json.h"
#include "util/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int zl_aws_json_reply(const zl_aws_json_req *rq, const char *action, long status, const zl_buf *body,
                      json_t **reply, zl_err *err)
{
	json_error_t je;
	json_t *j = body->len ? json_loadb(body->data, body->len, 0, &je) : json_object();
	*reply = NULL;
	if (status / 100 != 2) {
		const char *etype = json_string_value(json_object_get(j, "__type"));
		const char *msg = json_string_value(json_object_get(j, "message"));
		if (!msg)
			msg = json_string_value(json_object_get(j, "Message"));
		int rc = zl_err_set(err, status >= 500 || status == 429 ? ZL_ETRANSIENT : ZL_EINVAL, "%s %s: HTTP %ld %s%s%s",
		                    rq->service, action, status, etype ? etype : "", etype && msg ? ": " : "",
		                    msg ? msg : (etype ? "" : zl_buf_str(body)));
		if (rq->fault)
			*rq->fault = j;
		else
			json_decref(j);
		return rc;
	}
	if (!j)
		return zl_err_set(err, ZL_ETRANSIENT, "%s %s: the reply is not JSON: %s", rq->service, action, je.text);
	*reply = j;
	return 0;
}

int zl_aws_json_call(const zl_aws_json_req *rq, const char *action, const json_t *body, json_t **reply,
                     zl_err *err)
{
	zl_aws_creds creds = { 0 };
	zl_http_resp resp;
	zl_http_resp_init(&resp);
	char target[128], type[64];
	snprintf(target, sizeof target, "X-Amz-Target: %s.%s", rq->target, action);
	snprintf(type, sizeof type, "Content-Type: application/x-amz-json-%s", rq->json_version);
	const char *headers[] = { target, type, NULL };
	char *text = json_dumps(body, JSON_COMPACT);
	*reply = NULL;
	if (rq->fault)
		*rq->fault = NULL;
	int rc = text ? zl_aws_provider_get(rq->creds, &creds, err) : zl_err_set(err, ZL_ENOMEM, "out of memory");
	if (rc)
		goto out;
	zl_http_req req = {
		.method = "POST", .url = rq->url, .headers = headers, .body = text, .body_len = strlen(text),
		.service = rq->service, .region = rq->region, .access_key = creds.access_key,
		.secret_key = creds.secret_key, .session_token = creds.session_token,
		.timeout_ms = rq->timeout_ms ? rq->timeout_ms : 30000, .body_cap = rq->body_cap, .cancel = rq->cancel,
	};
	if ((rc = zl_http_perform(&req, &resp, err)))
		goto out;
	rc = zl_aws_json_reply(rq, action, resp.status, &resp.body, reply, err);
out:
	if (text)
		explicit_bzero(text, strlen(text));
	if (resp.body.data)
		explicit_bzero(resp.body.data, resp.body.len);
	free(text);
	zl_aws_creds_release(&creds);
	zl_http_resp_release(&resp);
	return rc;
}
