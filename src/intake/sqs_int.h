/* The parser of SQS ReceiveMessage answers, shared by sqs.c and the fuzz targets. The messages
 * it returns belong to the caller (zl_sqs_msgs_free). */
#ifndef ZL_SQS_INT_H
#define ZL_SQS_INT_H

#include <jansson.h>
#include <stddef.h>

#include "intake/sqs.h"

/* The messages of a ReceiveMessage reply (its "Messages"; none when absent). Returns 0 or
 * ZL_ENOMEM; *msgs and *n hold what was read either way. */
int zl_sqs_receive_reply(const json_t *reply, zl_sqs_msg **msgs, size_t *n, zl_err *err);

#endif
