/* One call of an AWS JSON protocol (SQS, KMS, DynamoDB...): a POST of a JSON body with
 * X-Amz-Target, signed with SigV4, answered with JSON. */
#ifndef ZL_AWS_JSON_H
#define ZL_AWS_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "util/aws.h"
#include "util/buf.h"
#include "util/err.h"

typedef struct zl_aws_json_req {
	const char *url;            /* the service endpoint */
	const char *region;
	const char *service;        /* SigV4 service name: "sqs", "kms" */
	const char *target;         /* X-Amz-Target prefix: "AmazonSQS", "TrentService" */
	const char *json_version;   /* "1.0" or "1.1": Content-Type application/x-amz-json-VERSION */
	zl_aws_provider *creds;
	long timeout_ms;            /* 0: 30000 */
	size_t body_cap;            /* reply cap; 0: 1 MiB */
	const volatile int *cancel; /* may be NULL */
	json_t **fault;             /* when set, gets the parsed body of a reply that is not 2xx (caller
	                             * decrefs; NULL when it is not JSON), for callers that tell AWS's
	                             * error types apart */
} zl_aws_json_req;

/* Calls action with body; *reply is the parsed answer (caller decrefs). The request's text and
 * the reply's bytes are wiped once used (either may carry a secret). Errors start with
 * "SERVICE ACTION: " and give the HTTP status and AWS's error type and message; 5xx and 429 are
 * ZL_ETRANSIENT, other statuses ZL_EINVAL. */
int zl_aws_json_call(const zl_aws_json_req *req, const char *action, const json_t *body, json_t **reply,
                     zl_err *err);

/* The answer of zl_aws_json_call from an HTTP status and body: *reply (caller decrefs) or the
 * error, as zl_aws_json_call gives them (rq->fault set likewise); rq's service names the
 * service in errors. */
int zl_aws_json_reply(const zl_aws_json_req *rq, const char *action, long status, const zl_buf *body,
                      json_t **reply, zl_err *err);

#endif
