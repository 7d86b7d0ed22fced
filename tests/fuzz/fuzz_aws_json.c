/* libFuzzer target over AWS JSON protocol answers (util/aws_json.c) and what SQS and KMS read from
 * them (intake/sqs.c ReceiveMessage, secret/secret_kms.c Encrypt and Decrypt). Byte 0 chooses the
 * HTTP status (200, 400, 429, 500, 503) and whether the caller asks for the fault body; the rest
 * is the body. Errors name the service and action; every message's body_len bytes are its body. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "intake/sqs_int.h"
#include "secret/secret_int.h"
#include "util/aws_json.h"
#include "util/buf.h"
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

static void check_error(int rc, const zl_err *err, const char *prefix)
{
	if (rc != ZL_EINVAL && rc != ZL_ETRANSIENT && rc != ZL_ENOMEM)
		abort();
	if (rc != ZL_ENOMEM && strncmp(err->msg, prefix, strlen(prefix)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 400, 429, 500, 503 };
	if (size < 1)
		return 0;
	long status = statuses[(data[0] & 0x7f) % 5];
	zl_buf body;
	zl_buf_init(&body, 0);
	if (zl_buf_add(&body, data + 1, size - 1) < 0)
		return 0;
	json_t *fault = NULL, *reply = NULL;
	zl_aws_json_req rq = { .service = "sqs", .fault = data[0] & 0x80 ? &fault : NULL };
	zl_err err;
	int rc = zl_aws_json_reply(&rq, "ReceiveMessage", status, &body, &reply, &err);
	if (rc) {
		check_error(rc, &err, "sqs ReceiveMessage: ");
		if (reply)
			abort();
		if ((rc == ZL_ETRANSIENT) != (status >= 429 || status == 200))
			abort();
	} else {
		if (status != 200 || !reply || fault)
			abort();
		zl_sqs_msg *msgs;
		size_t n;
		rc = zl_sqs_receive_reply(reply, &msgs, &n, &err);
		if (rc && rc != ZL_ENOMEM)
			abort();
		size_t sum = 0;
		for (size_t i = 0; i < n; i++) {
			if (!msgs[i].id || !msgs[i].receipt || !msgs[i].body)
				abort();
			for (size_t j = 0; j < msgs[i].body_len; j++) /* what intake_sqs.c hands on */
				sum += (unsigned char)msgs[i].body[j];
		}
		(void)sum;
		zl_sqs_msgs_free(msgs, n);

		char *out = NULL;
		rc = zl_kms_encrypt_reply(reply, &out, &err);
		if (rc)
			check_error(rc, &err, "");
		else if (!out || out[0] != '[' || out[strlen(out) - 1] != ']')
			abort();
		free(out);
		out = NULL;
		rc = zl_kms_decrypt_reply(reply, &out, &err);
		if (rc)
			check_error(rc, &err, "");
		else if (!out)
			abort();
		free(out);
	}
	json_decref(reply);
	json_decref(fault);
	zl_buf_release(&body);
	return 0;
}
