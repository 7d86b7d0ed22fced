#include "intake/sqs.h"
#include "intake/sqs_int.h"
#include "util/aws.h"
#include "util/aws_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQS_BODY_CAP (4u << 20) /* 10 messages of up to 256 KiB, with room */

struct zl_sqs {
	char *queue_url;
	char endpoint[512];   /* scheme://host[:port] of the queue URL */
	char region[64];
	zl_aws_provider *creds;
	const volatile int *cancel;
};

/* The region in an AWS host name: sqs.REGION.amazonaws.com (or REGION.queue.amazonaws.com). */
static int region_from_host(const char *host, size_t len, char *out, size_t n)
{
	if (len > 4 && strncmp(host, "sqs.", 4) == 0) {
		const char *dot = memchr(host + 4, '.', len - 4);
		if (dot && (size_t)(dot - host - 4) < n && strstr(host, ".amazonaws.com")) {
			snprintf(out, n, "%.*s", (int)(dot - host - 4), host + 4);
			return 1;
		}
	}
	return 0;
}

int zl_sqs_open(const char *queue_url, const volatile int *cancel, zl_sqs **out, zl_err *err)
{
	*out = NULL;
	const char *scheme = strstr(queue_url, "://");
	const char *path = scheme ? strchr(scheme + 3, '/') : NULL;
	if (!scheme || !path || !path[1])
		return zl_err_set(err, ZL_EINVAL, "--sqs \"%s\": expected a queue URL, e.g. https://sqs.us-east-1.amazonaws.com/123456789012/loads",
		                  queue_url);
	zl_sqs *q = calloc(1, sizeof *q);
	if (!q || !(q->queue_url = strdup(queue_url))) {
		free(q);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	q->cancel = cancel;
	snprintf(q->endpoint, sizeof q->endpoint, "%.*s", (int)(path - queue_url), queue_url);
	const char *host = scheme + 3;
	if (!region_from_host(host, (size_t)(path - host), q->region, sizeof q->region))
		zl_aws_region(NULL, q->region, sizeof q->region);
	int rc = zl_aws_provider_new(NULL, &q->creds, err);
	if (rc) {
		zl_sqs_close(q);
		return rc;
	}
	*out = q;
	return 0;
}

void zl_sqs_close(zl_sqs *q)
{
	if (!q)
		return;
	zl_aws_provider_free(q->creds);
	free(q->queue_url);
	free(q);
}

static int call(zl_sqs *q, const char *action, json_t *body, long timeout_ms, json_t **reply, zl_err *err)
{
	zl_aws_json_req req = { .url = q->endpoint, .region = q->region, .service = "sqs", .target = "AmazonSQS",
	                        .json_version = "1.0", .creds = q->creds, .timeout_ms = timeout_ms,
	                        .body_cap = SQS_BODY_CAP, .cancel = q->cancel };
	return zl_aws_json_call(&req, action, body, reply, err);
}

int zl_sqs_receive(zl_sqs *q, int wait_secs, int max, zl_sqs_msg **msgs, size_t *n, zl_err *err)
{
	*msgs = NULL;
	*n = 0;
	json_t *reply = NULL;
	json_t *body = json_pack("{s:s, s:i, s:i}", "QueueUrl", q->queue_url, "MaxNumberOfMessages", max,
	                         "WaitTimeSeconds", wait_secs);
	int rc = call(q, "ReceiveMessage", body, (wait_secs + 10) * 1000L, &reply, err);
	json_decref(body);
	if (rc)
		return rc;
	rc = zl_sqs_receive_reply(reply, msgs, n, err);
	json_decref(reply);
	return rc;
}

int zl_sqs_receive_reply(const json_t *reply, zl_sqs_msg **msgs, size_t *n, zl_err *err)
{
	int rc = 0;
	*msgs = NULL;
	*n = 0;
	json_t *arr = json_object_get(reply, "Messages");
	size_t count = json_array_size(arr);
	if (count && !(*msgs = calloc(count, sizeof **msgs)))
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < count; i++) {
		json_t *m = json_array_get(arr, i);
		const char *id = json_string_value(json_object_get(m, "MessageId"));
		const char *receipt = json_string_value(json_object_get(m, "ReceiptHandle"));
		json_t *b = json_object_get(m, "Body");
		(*msgs)[*n].id = strdup(id ? id : "");
		(*msgs)[*n].receipt = strdup(receipt ? receipt : "");
		(*msgs)[*n].body = strdup(json_is_string(b) ? json_string_value(b) : "");
		(*msgs)[*n].body_len = json_is_string(b) ? json_string_length(b) : 0;
		(*n)++;
	}
	return rc;
}

int zl_sqs_delete(zl_sqs *q, const char *receipt, zl_err *err)
{
	json_t *reply = NULL;
	json_t *body = json_pack("{s:s, s:s}", "QueueUrl", q->queue_url, "ReceiptHandle", receipt);
	int rc = call(q, "DeleteMessage", body, 30000, &reply, err);
	json_decref(body);
	json_decref(reply);
	return rc;
}

void zl_sqs_msgs_free(zl_sqs_msg *msgs, size_t n)
{
	for (size_t i = 0; msgs && i < n; i++) {
		free(msgs[i].id);
		free(msgs[i].receipt);
		free(msgs[i].body);
	}
	free(msgs);
}
