/* The secrets module's insides: the handle and the two providers, shared by src/secret/ only. */
#ifndef ZL_SECRET_INT_H
#define ZL_SECRET_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "secret/secret.h"
#include "util/aws.h"
#include "util/buf.h"

#define ZL_KEY_LEN 32
#define ZL_KEYID_LEN 9   /* 8 hex characters + NUL */
#define ZL_KMS_DEFAULT_KEY "alias/LambaVerticaLoaderKey"   /* sic: the original's spelling */
#define ZL_KMS_MODULE "AWSLambdaVerticaLoader"

typedef struct zl_master_key {
	char id[ZL_KEYID_LEN];
	unsigned char key[ZL_KEY_LEN];
} zl_master_key;

typedef enum { ZL_SECRETS_LOCAL = 0, ZL_SECRETS_KMS } zl_secrets_kind;

struct zl_secrets {
	zl_secrets_kind kind;        /* how new values are sealed */
	char name[320];
	pthread_mutex_t mu;          /* guards the keys and the AWS provider */
	char *key_file;              /* local */
	zl_master_key *keys;         /* newest first; loaded on first use */
	size_t nkeys;
	int keys_loaded;
	char *kms_key;               /* kms: alias or ARN */
	zl_aws_provider *aws;        /* made on the first KMS call (sealed values may be KMS's anyway) */
	char region[64];
};

/* local (secret_local.c) */
int zl_local_seal(zl_secrets *s, const zl_buf *aad, const char *plain, char **out, zl_err *err);
/* body: what follows "enc:local:v1:" (KEYID:BASE64). */
int zl_local_open(zl_secrets *s, const zl_buf *aad, const char *body, char **out, zl_err *err);
int zl_local_new_key(zl_secrets *s, zl_err *err);
int zl_local_drop_old_keys(zl_secrets *s, zl_err *err);
void zl_local_release(zl_secrets *s);

/* kms (secret_kms.c) */
int zl_kms_seal(zl_secrets *s, const char *plain, char **out, zl_err *err);
int zl_kms_open(zl_secrets *s, const unsigned char *blob, size_t n, char **out, zl_err *err);
/* The answers of KMS Encrypt (*out: the blob as the original stores it, "[1,2,...]") and Decrypt
 * (*out: the plain text); *out is the caller's. Errors as zl_kms_seal and zl_kms_open give them. */
int zl_kms_encrypt_reply(const json_t *reply, char **out, zl_err *err);
int zl_kms_decrypt_reply(const json_t *reply, char **out, zl_err *err);

/* base64 (standard alphabet, padded) */
char *zl_b64_encode(const unsigned char *p, size_t n);
/* Decodes s into a new buffer; NULL when s is not base64. */
unsigned char *zl_b64_decode(const char *s, size_t *n);

#endif
