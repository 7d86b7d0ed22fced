/* Secrets: the stored forms, references, and sealing or revealing the secret fields of a JSON
 * object; the providers do the cryptography (secret_local.c, secret_kms.c). */
#include "secret/secret_int.h"
#include "util/secret_file.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCAL_PREFIX "enc:local:v1:"

char *zl_b64_encode(const unsigned char *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

unsigned char *zl_b64_decode(const char *s, size_t *n)
{
	size_t len = strlen(s);
	if (len == 0 || len % 4 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != len)
		return NULL;
	unsigned char *out = malloc(len / 4 * 3 + 1);
	int k = out ? EVP_DecodeBlock(out, (const unsigned char *)s, (int)len) : -1;
	if (k < 0) {
		free(out);
		return NULL;
	}
	size_t pad = (s[len - 1] == '=') + (len > 1 && s[len - 2] == '=');
	*n = (size_t)k - pad;
	return out;
}

/* The original loader's KMS ciphertext: "[1,2,2,0,120,...]". Returns the bytes, or NULL. */
static unsigned char *byte_array(const char *s, size_t *n)
{
	size_t len = strlen(s), cap = len / 2 + 1, k = 0;
	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return NULL;
	unsigned char *out = malloc(cap);
	for (const char *p = s + 1; out && *p != ']';) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || v < 0 || v > 255 || k == cap || (*end != ',' && *end != ']')) {
			free(out);
			return NULL;
		}
		out[k++] = (unsigned char)v;
		p = *end == ',' ? end + 1 : end;
	}
	*n = k;
	return out;
}

/* An AWS KMS ciphertext blob starts with these bytes (a version and the key's ARN follow). */
static int kms_header(const unsigned char *p, size_t n)
{
	return n > 16 && p[0] == 1 && p[1] == 2 && p[2] == 2 && p[3] == 0;
}

/* The KMS blob a stored value holds, NULL when it holds none: any byte array of at least 16
 * bytes (no password looks like one), or base64 that decodes to KMS's header (a plain password
 * may well be base64). */
static unsigned char *kms_form(const char *stored, size_t *n)
{
	unsigned char *b = byte_array(stored, n);
	if (b && *n >= 16)
		return b;
	free(b);
	if ((b = zl_b64_decode(stored, n)) && kms_header(b, *n))
		return b;
	free(b);
	return NULL;
}

int zl_secret_is_protected(const char *stored)
{
	size_t n;
	if (!stored || strncmp(stored, LOCAL_PREFIX, strlen(LOCAL_PREFIX)) == 0 || strncmp(stored, "env:", 4) == 0 ||
	    strncmp(stored, "file:", 5) == 0)
		return 1;
	unsigned char *b = kms_form(stored, &n);
	free(b);
	return b != NULL;
}

int zl_secrets_open(const char *spec, zl_secrets **out, zl_err *err)
{
	*out = NULL;
	if (!spec || !*spec)
		spec = getenv("ZLOAD_SECRETS");
	if (!spec || !*spec)
		spec = "local";
	zl_secrets *s = calloc(1, sizeof *s);
	if (!s)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	/* Every handle knows the local key file and can call KMS: values sealed by the other
	 * provider still open (a rotation moves them from one to the other). */
	const char *file = strncmp(spec, "local:", 6) == 0 && spec[6] ? spec + 6 : getenv("ZLOAD_MASTER_KEY_FILE");
	char path[4096];
	if (!file || !*file) {
		const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
		if (xdg && *xdg)
			snprintf(path, sizeof path, "%s/zload/master.key", xdg);
		else
			snprintf(path, sizeof path, "%s/.config/zload/master.key", home && *home ? home : ".");
		file = path;
	}
	s->key_file = strdup(file);
	if (strcmp(spec, "kms") == 0 || strncmp(spec, "kms:", 4) == 0) {
		s->kind = ZL_SECRETS_KMS;
		s->kms_key = strdup(spec[3] == ':' && spec[4] ? spec + 4 : ZL_KMS_DEFAULT_KEY);
		snprintf(s->name, sizeof s->name, "kms:%s", s->kms_key ? s->kms_key : "");
	} else if (strcmp(spec, "local") == 0 || strncmp(spec, "local:", 6) == 0) {
		snprintf(s->name, sizeof s->name, "local");
	} else {
		zl_secrets_close(s);
		return zl_err_set(err, ZL_EINVAL, "--secrets \"%s\": expected local, local:KEYFILE, kms or kms:ALIAS_OR_ARN",
		                  spec);
	}
	if ((s->kind == ZL_SECRETS_KMS && !s->kms_key) || !s->key_file) {
		zl_secrets_close(s);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	zl_aws_region(NULL, s->region, sizeof s->region);
	*out = s;
	return 0;
}

void zl_secrets_close(zl_secrets *s)
{
	if (!s)
		return;
	zl_local_release(s);
	zl_aws_provider_free(s->aws);
	free(s->kms_key);
	free(s->key_file);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

const char *zl_secrets_name(const zl_secrets *s) { return s->name; }

void zl_secret_free(char *plain)
{
	if (plain) {
		explicit_bzero(plain, strlen(plain));
		free(plain);
	}
}

/* The associated data of a local seal: the value belongs to this field of this configuration. */
static int field_aad(zl_buf *aad, const char *prefix, const char *path)
{
	int rc = zl_buf_adds(aad, "zload:v1");
	rc = rc ? rc : zl_buf_addc(aad, '\0');
	rc = rc ? rc : zl_buf_adds(aad, prefix ? prefix : "");
	rc = rc ? rc : zl_buf_addc(aad, '\0');
	return rc ? rc : zl_buf_adds(aad, path ? path : "");
}

int zl_secret_seal(zl_secrets *s, const char *prefix, const char *path, const char *plain, char **out, zl_err *err)
{
	*out = NULL;
	zl_buf aad;
	zl_buf_init(&aad, 0);
	int rc = s->kind == ZL_SECRETS_KMS ? zl_kms_seal(s, plain, out, err)
	         : field_aad(&aad, prefix, path) ? zl_err_set(err, ZL_ENOMEM, "out of memory")
	                                         : zl_local_seal(s, &aad, plain, out, err);
	zl_buf_release(&aad);
	return rc ? zl_err_prefix(err, "%s", path) : 0;
}

/* env:NAME and file:/path. */
static int reveal_reference(const char *path, const char *stored, char **out, zl_err *err)
{
	if (strncmp(stored, "env:", 4) == 0) {
		const char *v = getenv(stored + 4);
		if (!v || !*v)
			return zl_err_set(err, ZL_EINVAL, "%s: environment variable %s is not set", path, stored + 4);
		return (*out = strdup(v)) ? 0 : zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	int rc = zl_secret_file_read(stored + 5, out, err);
	return rc ? zl_err_prefix(err, "%s", path) : 0;
}

int zl_secret_reveal(zl_secrets *s, const char *prefix, const char *path, const char *stored, char **out,
                     zl_err *err)
{
	size_t n;
	unsigned char *blob;
	int rc;
	*out = NULL;
	if (strncmp(stored, "env:", 4) == 0 || strncmp(stored, "file:", 5) == 0)
		return reveal_reference(path, stored, out, err);
	if (strncmp(stored, LOCAL_PREFIX, strlen(LOCAL_PREFIX)) == 0) {
		if (!s)
			return zl_err_set(err, ZL_EINVAL, "%s: the value is sealed, and no secrets provider is open", path);
		zl_buf aad;
		zl_buf_init(&aad, 0);
		rc = field_aad(&aad, prefix, path) ? zl_err_set(err, ZL_ENOMEM, "out of memory")
		                                   : zl_local_open(s, &aad, stored + strlen(LOCAL_PREFIX), out, err);
		zl_buf_release(&aad);
		return rc ? zl_err_prefix(err, "%s", path) : 0;
	}
	if ((blob = kms_form(stored, &n))) {
		rc = s ? zl_kms_open(s, blob, n, out, err)
		       : zl_err_set(err, ZL_EINVAL, "the value is a KMS ciphertext, and no secrets provider is open");
		free(blob);
		return rc ? zl_err_prefix(err, "%s", path) : 0;
	}
	return (*out = strdup(stored)) ? 0 : zl_err_set(err, ZL_ENOMEM, "out of memory"); /* plain, as stored */
}

int zl_secret_reseal(zl_secrets *s, const char *prefix, const char *path, const char *stored, char **out,
                     zl_err *err)
{
	char *plain = NULL;
	*out = NULL;
	if (strncmp(stored, "env:", 4) == 0 || strncmp(stored, "file:", 5) == 0) /* references stay references */
		return (*out = strdup(stored)) ? 0 : zl_err_set(err, ZL_ENOMEM, "out of memory");
	int rc = zl_secret_reveal(s, prefix, path, stored, &plain, err);
	rc = rc ? rc : zl_secret_seal(s, prefix, path, plain, out, err);
	zl_secret_free(plain);
	return rc;
}

static void field_path(char *out, size_t n, const char *where, const char *key)
{
	snprintf(out, n, "%s%s%s", where && *where ? where : "", where && *where ? "." : "", key);
}

/* Seals (or with reseal, seals anew under the current key) every secret field of obj. */
static int seal_fields(zl_secrets *s, const char *prefix, const char *where, json_t *obj, const zl_field *fields,
                       int reseal, int *count, zl_err *err)
{
	const char *key;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(obj, tmp, key, v) {
		const char *name = zl_fields_secret_name(fields, key);
		const char *stored = json_string_value(v);
		if (!name || !stored || (!reseal && zl_secret_is_protected(stored)) ||
		    (reseal && (strncmp(stored, "env:", 4) == 0 || strncmp(stored, "file:", 5) == 0)))
			continue;
		char path[512], *out = NULL;
		field_path(path, sizeof path, where, name);
		int rc = reseal ? zl_secret_reseal(s, prefix, path, stored, &out, err)
		                : zl_secret_seal(s, prefix, path, stored, &out, err);
		if (rc)
			return rc;
		zl_secrets_wipe_json(v, NULL);
		json_object_set_new(obj, key, json_string(out));
		free(out);
		(*count)++;
	}
	return 0;
}

int zl_secrets_seal_json(zl_secrets *s, const char *prefix, const char *where, json_t *obj, const zl_field *fields,
                         int *sealed, zl_err *err)
{
	return seal_fields(s, prefix, where, obj, fields, 0, sealed, err);
}

int zl_secrets_reseal_json(zl_secrets *s, const char *prefix, const char *where, json_t *obj,
                           const zl_field *fields, int *resealed, zl_err *err)
{
	return seal_fields(s, prefix, where, obj, fields, 1, resealed, err);
}

int zl_secrets_reveal_json(zl_secrets *s, const char *prefix, const char *where, const json_t *obj,
                           const zl_field *fields, json_t **out, zl_err *err)
{
	json_t *copy = json_deep_copy(obj);
	const char *key;
	json_t *v;
	void *tmp;
	*out = NULL;
	if (!copy)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	json_object_foreach_safe(copy, tmp, key, v) {
		const char *name = zl_fields_secret_name(fields, key);
		if (!name || !json_is_string(v))
			continue;
		char path[512], *plain = NULL;
		field_path(path, sizeof path, where, name);
		int rc = zl_secret_reveal(s, prefix, path, json_string_value(v), &plain, err);
		if (rc) {
			zl_secrets_wipe_json(copy, fields);
			json_decref(copy);
			return rc;
		}
		json_object_set_new(copy, key, json_string(plain));
		zl_secret_free(plain);
	}
	*out = copy;
	return 0;
}

/* Overwrites a JSON string's bytes (jansson keeps its own copy: it is wiped where it lives). */
static void wipe_string(json_t *v)
{
	if (json_is_string(v))
		explicit_bzero((char *)json_string_value(v), json_string_length(v));
}

void zl_secrets_wipe_json(json_t *obj, const zl_field *fields)
{
	if (!fields) {
		wipe_string(obj);
		return;
	}
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
		if (zl_fields_secret_name(fields, key))
			wipe_string(v);
}

int zl_secrets_new_key(zl_secrets *s, zl_err *err)
{
	return s->kind == ZL_SECRETS_LOCAL ? zl_local_new_key(s, err) : 0;
}

int zl_secrets_drop_old_keys(zl_secrets *s, zl_err *err)
{
	return s->kind == ZL_SECRETS_LOCAL ? zl_local_drop_old_keys(s, err) : 0;
}
