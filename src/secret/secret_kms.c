/* The KMS provider: AWS KMS Encrypt and Decrypt (JSON protocol through util/aws_json) with the
 * original loader's encryption context, so that ciphertexts pass between it and zload. */
#include "secret/secret_int.h"
#include "util/aws_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Wipes a JSON text that held a plain text before freeing it. */
static void free_wiped(char *text)
{
	if (text) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
}

static int kms_provider(zl_secrets *s, zl_err *err)
{
	pthread_mutex_lock(&s->mu);
	int rc = s->aws ? 0 : zl_aws_provider_new(NULL, &s->aws, err);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int kms_call(zl_secrets *s, const char *action, json_t *body, json_t **reply, zl_err *err)
{
	char url[512];
	int rc = kms_provider(s, err);
	rc = rc ? rc : zl_aws_endpoint("kms", s->region, NULL, url, sizeof url, err);
	if (rc)
		return rc;
	zl_aws_json_req req = { .url = url, .region = s->region, .service = "kms", .target = "TrentService",
	                        .json_version = "1.1", .creds = s->aws, .body_cap = 64 * 1024 };
	return zl_aws_json_call(&req, action, body, reply, err);
}

static json_t *context(const zl_secrets *s)
{
	return json_pack("{s:s, s:s}", "module", ZL_KMS_MODULE, "region", s->region);
}

/* The original's stored form: the blob as a JSON array of decimal bytes, "[1,2,2,0,...]". */
static char *byte_array_text(const unsigned char *p, size_t n)
{
	char *out = malloc(n * 4 + 3), *w = out;
	if (!out)
		return NULL;
	*w++ = '[';
	for (size_t i = 0; i < n; i++)
		w += sprintf(w, i ? ",%u" : "%u", p[i]);
	*w++ = ']';
	*w = '\0';
	return out;
}

int zl_kms_encrypt_reply(const json_t *reply, char **out, zl_err *err)
{
	unsigned char *blob = NULL;
	size_t n = 0;
	int rc = 0;
	const char *cb = json_string_value(json_object_get(reply, "CiphertextBlob"));
	if (!cb || !(blob = zl_b64_decode(cb, &n)))
		return zl_err_set(err, ZL_ETRANSIENT, "kms Encrypt: the reply has no CiphertextBlob");
	if (!(*out = byte_array_text(blob, n)))
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	free(blob);
	return rc;
}

int zl_kms_decrypt_reply(const json_t *reply, char **out, zl_err *err)
{
	unsigned char *plain = NULL;
	size_t len = 0;
	int rc = 0;
	json_t *pt = json_object_get(reply, "Plaintext");
	if (!json_is_string(pt) || !(plain = zl_b64_decode(json_string_value(pt), &len)))
		return zl_err_set(err, ZL_ETRANSIENT, "kms Decrypt: the reply has no Plaintext");
	if (memchr(plain, '\0', len) || !(*out = malloc(len + 1))) {
		rc = memchr(plain, '\0', len) ? zl_err_set(err, ZL_EINVAL, "kms Decrypt: the plain text holds a NUL byte")
		                              : zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(*out, plain, len);
	(*out)[len] = '\0';
out:
	explicit_bzero(plain, len);
	free(plain);
	return rc;
}

int zl_kms_seal(zl_secrets *s, const char *plain, char **out, zl_err *err)
{
	json_t *reply = NULL;
	char *b64 = zl_b64_encode((const unsigned char *)plain, strlen(plain));
	json_t *body = b64 ? json_pack("{s:s, s:s, s:o}", "KeyId", s->kms_key, "Plaintext", b64, "EncryptionContext",
	                               context(s))
	                   : NULL;
	int rc = body ? kms_call(s, "Encrypt", body, &reply, err) : zl_err_set(err, ZL_ENOMEM, "out of memory");
	if (rc)
		goto out;
	rc = zl_kms_encrypt_reply(reply, out, err);
out:
	if (body)
		zl_secrets_wipe_json(json_object_get(body, "Plaintext"), NULL);
	json_decref(body);
	json_decref(reply);
	free_wiped(b64);
	return rc;
}

int zl_kms_open(zl_secrets *s, const unsigned char *blob, size_t n, char **out, zl_err *err)
{
	json_t *reply = NULL;
	char *b64 = zl_b64_encode(blob, n);
	json_t *body = b64 ? json_pack("{s:s, s:o}", "CiphertextBlob", b64, "EncryptionContext", context(s)) : NULL;
	int rc = body ? kms_call(s, "Decrypt", body, &reply, err) : zl_err_set(err, ZL_ENOMEM, "out of memory");
	if (rc)
		goto out;
	rc = zl_kms_decrypt_reply(reply, out, err);
out:
	zl_secrets_wipe_json(json_object_get(reply, "Plaintext"), NULL);
	json_decref(body);
	json_decref(reply);
	free(b64);
	return rc;
}
