#include "vertica/vauth.h"

#include <string.h>

#include <openssl/evp.h>

/* hex(digest(a || b)) into out (2 * digest size + 1 bytes). */
static int hex_digest(const EVP_MD *md, const void *a, size_t alen, const void *b, size_t blen, char *out)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	int rc = -1;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, md, NULL) || !EVP_DigestUpdate(ctx, a, alen) ||
	    !EVP_DigestUpdate(ctx, b, blen) || !EVP_DigestFinal_ex(ctx, d, &dlen))
		goto out;
	for (unsigned int i = 0; i < dlen; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * dlen] = '\0';
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* prefix + hex(md(hex(md(password || key)) || salt)). */
static int hash_twice(const EVP_MD *md, const char *prefix, const char *password, const void *key,
                      size_t keylen, const uint8_t salt[4], char out[ZL_VAUTH_MAX], zl_err *err)
{
	char inner[2 * EVP_MAX_MD_SIZE + 1];
	size_t plen = strlen(prefix);
	int rc = 0;
	if (hex_digest(md, password, strlen(password), key, keylen, inner) ||
	    hex_digest(md, inner, strlen(inner), salt, 4, out + plen))
		rc = zl_err_set(err, ZL_ELOAD, "cannot compute the %s password hash", prefix);
	else
		memcpy(out, prefix, plen);
	OPENSSL_cleanse(inner, sizeof inner);
	return rc;
}

int zl_vauth_md5(const char *user, const char *password, const uint8_t salt[4],
                 char out[ZL_VAUTH_MAX], zl_err *err)
{
	return hash_twice(EVP_md5(), "md5", password, user, strlen(user), salt, out, err);
}

int zl_vauth_sha512(const char *password, const uint8_t user_salt[16], const uint8_t salt[4],
                    char out[ZL_VAUTH_MAX], zl_err *err)
{
	return hash_twice(EVP_sha512(), "sha512", password, user_salt, 16, salt, out, err);
}
