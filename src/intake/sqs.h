/* An SQS queue as an event source (the JSON protocol, signed with SigV4): receive with long
 * polling, delete once handled. Messages returned belong to the caller. */
#ifndef ZL_SQS_H
#define ZL_SQS_H

#include <stddef.h>

#include "util/err.h"

typedef struct zl_sqs zl_sqs;

typedef struct zl_sqs_msg {
	char *id;
	char *receipt;
	char *body;
	size_t body_len;
} zl_sqs_msg;

/* queue_url: "https://sqs.REGION.amazonaws.com/ACCOUNT/NAME" or any endpoint ("http://127.0.0.1:PORT/ACCOUNT/NAME");
 * the region comes from an AWS host name, else the usual AWS settings. cancel (may be NULL) aborts a
 * long poll when it becomes non-zero. */
int zl_sqs_open(const char *queue_url, const volatile int *cancel, zl_sqs **out, zl_err *err);
/* Up to max (1-10) messages, waiting up to wait_secs (0-20) for the first. */
int zl_sqs_receive(zl_sqs *q, int wait_secs, int max, zl_sqs_msg **msgs, size_t *n, zl_err *err);
int zl_sqs_delete(zl_sqs *q, const char *receipt, zl_err *err);
void zl_sqs_msgs_free(zl_sqs_msg *msgs, size_t n);
void zl_sqs_close(zl_sqs *q);

#endif
