/* The AWS Lambda custom runtime: one warm process asks the Runtime API for invocations (next),
 * handles each on one runtime (zl_rt, no workers) and answers it (response or error) before its
 * deadline. zl_lambda_handle's reply belongs to the caller (zl_lambda_reply_release). */
#ifndef ZL_LAMBDA_H
#define ZL_LAMBDA_H

#include <stdint.h>

#include "runtime/runtime.h"

#define ZL_LAMBDA_MARGIN_MS 10000   /* default: no load starts with less than this left */
#define ZL_EMF_NAMESPACE "zload"    /* of the metrics each invocation logs (env ZLOAD_EMF_NAMESPACE) */

typedef struct zl_lambda_opts {
	const char *api;            /* AWS_LAMBDA_RUNTIME_API: host:port */
	int64_t margin_ms;          /* no batch's load starts with less than this left before the deadline */
} zl_lambda_opts;

/* What one invocation is answered: a JSON response body, or an error (type and message). */
typedef struct zl_lambda_reply {
	int is_error;
	char *body;                 /* the response's JSON text (owned) when !is_error */
	char type[64];              /* errorType when is_error */
	char msg[1024];             /* errorMessage when is_error */
} zl_lambda_reply;

void zl_lambda_reply_release(zl_lambda_reply *r);

/* Handles one event: S3 notifications, SNS-wrapped ones, SQS batches (a reply with
 * batchItemFailures) and EventBridge Scheduled Events (the sweeper). Loads what fell due, starting
 * no load after deadline_ms - margin_ms. Returns 0 (out says the answer) or ZL_ENOMEM. */
int zl_lambda_handle(zl_rt *rt, const char *event, size_t len, int64_t deadline_ms, int64_t margin_ms,
                     zl_lambda_reply *out);

/* Posts /runtime/init/error (a failure before the loop). */
int zl_lambda_init_error(const char *api, const char *type, const char *msg, zl_err *err);

/* next -> handle -> response or error, forever. Returns only when the Runtime API fails (err). */
int zl_lambda_run(zl_rt *rt, const zl_lambda_opts *o, zl_err *err);

#endif
