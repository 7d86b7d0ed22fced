/* libcrypto (OpenSSL), loaded on first use (lazy.h): SigV4, sealed secrets, Vertica's TLS. */
#include "lazy/lazy.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#define CRYPTO_SYMS(X) X(CRYPTO_memcmp) X(ERR_clear_error) X(ERR_error_string_n) X(ERR_get_error) \
	X(EVP_CIPHER_CTX_ctrl) X(EVP_CIPHER_CTX_free) X(EVP_CIPHER_CTX_new) X(EVP_DecodeBlock) X(EVP_DecryptFinal_ex) \
	X(EVP_DecryptInit_ex) X(EVP_DecryptUpdate) X(EVP_Digest) X(EVP_DigestFinal_ex) X(EVP_DigestInit_ex) \
	X(EVP_DigestUpdate) X(EVP_EncodeBlock) X(EVP_EncryptFinal_ex) X(EVP_EncryptInit_ex) X(EVP_EncryptUpdate) \
	X(EVP_MD_CTX_free) X(EVP_MD_CTX_new) X(EVP_aes_256_gcm) X(EVP_md5) X(EVP_sha256) X(EVP_sha512) X(HMAC) \
	X(OPENSSL_cleanse) X(RAND_bytes) X(X509_VERIFY_PARAM_set1_host) X(X509_VERIFY_PARAM_set1_ip_asc) \
	X(X509_VERIFY_PARAM_set_hostflags) X(X509_verify_cert_error_string)

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* HMAC() is deprecated in OpenSSL 3, and used */
#define FIELD(name) __typeof__(name) *name;
static struct { CRYPTO_SYMS(FIELD) } cr;
#pragma GCC diagnostic pop
#define ENTRY(name) ZL_LAZY_SYM(cr, name),
static const zl_lazy_sym syms[] = { CRYPTO_SYMS(ENTRY) };
static zl_lazy_lib lib = ZL_LAZY_LIB("libcrypto.so.3", "libssl3", syms);
#define K (zl_lazy_need(&lib), cr)

int CRYPTO_memcmp(const void *in_a, const void *in_b, size_t len) { return K.CRYPTO_memcmp(in_a, in_b, len); }
void ERR_clear_error(void) { K.ERR_clear_error(); }
void ERR_error_string_n(unsigned long e, char *buf, size_t len) { K.ERR_error_string_n(e, buf, len); }
unsigned long ERR_get_error(void) { return K.ERR_get_error(); }
int EVP_CIPHER_CTX_ctrl(EVP_CIPHER_CTX *ctx, int type, int arg, void *ptr)
{
	return K.EVP_CIPHER_CTX_ctrl(ctx, type, arg, ptr);
}
void EVP_CIPHER_CTX_free(EVP_CIPHER_CTX *c) { K.EVP_CIPHER_CTX_free(c); }
EVP_CIPHER_CTX *EVP_CIPHER_CTX_new(void) { return K.EVP_CIPHER_CTX_new(); }
int EVP_DecodeBlock(unsigned char *t, const unsigned char *f, int n) { return K.EVP_DecodeBlock(t, f, n); }
int EVP_DecryptFinal_ex(EVP_CIPHER_CTX *ctx, unsigned char *outm, int *outl)
{
	return K.EVP_DecryptFinal_ex(ctx, outm, outl);
}
int EVP_DecryptInit_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, ENGINE *impl, const unsigned char *key,
                       const unsigned char *iv)
{
	return K.EVP_DecryptInit_ex(ctx, cipher, impl, key, iv);
}
int EVP_DecryptUpdate(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl, const unsigned char *in, int inl)
{
	return K.EVP_DecryptUpdate(ctx, out, outl, in, inl);
}
int EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size, const EVP_MD *type,
               ENGINE *impl)
{
	return K.EVP_Digest(data, count, md, size, type, impl);
}
int EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *s) { return K.EVP_DigestFinal_ex(ctx, md, s); }
int EVP_DigestInit_ex(EVP_MD_CTX *ctx, const EVP_MD *type, ENGINE *impl) { return K.EVP_DigestInit_ex(ctx, type, impl); }
int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *d, size_t cnt) { return K.EVP_DigestUpdate(ctx, d, cnt); }
int EVP_EncodeBlock(unsigned char *t, const unsigned char *f, int n) { return K.EVP_EncodeBlock(t, f, n); }
int EVP_EncryptFinal_ex(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl)
{
	return K.EVP_EncryptFinal_ex(ctx, out, outl);
}
int EVP_EncryptInit_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, ENGINE *impl, const unsigned char *key,
                       const unsigned char *iv)
{
	return K.EVP_EncryptInit_ex(ctx, cipher, impl, key, iv);
}
int EVP_EncryptUpdate(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl, const unsigned char *in, int inl)
{
	return K.EVP_EncryptUpdate(ctx, out, outl, in, inl);
}
void EVP_MD_CTX_free(EVP_MD_CTX *ctx) { K.EVP_MD_CTX_free(ctx); }
EVP_MD_CTX *EVP_MD_CTX_new(void) { return K.EVP_MD_CTX_new(); }
const EVP_CIPHER *EVP_aes_256_gcm(void) { return K.EVP_aes_256_gcm(); }
const EVP_MD *EVP_md5(void) { return K.EVP_md5(); }
const EVP_MD *EVP_sha256(void) { return K.EVP_sha256(); }
const EVP_MD *EVP_sha512(void) { return K.EVP_sha512(); }
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len, const unsigned char *data, size_t data_len,
                    unsigned char *md, unsigned int *md_len)
{
	return K.HMAC(evp_md, key, key_len, data, data_len, md, md_len);
}
void OPENSSL_cleanse(void *ptr, size_t len) { K.OPENSSL_cleanse(ptr, len); }
int RAND_bytes(unsigned char *buf, int num) { return K.RAND_bytes(buf, num); }
int X509_VERIFY_PARAM_set1_host(X509_VERIFY_PARAM *param, const char *name, size_t namelen)
{
	return K.X509_VERIFY_PARAM_set1_host(param, name, namelen);
}
int X509_VERIFY_PARAM_set1_ip_asc(X509_VERIFY_PARAM *param, const char *ipasc)
{
	return K.X509_VERIFY_PARAM_set1_ip_asc(param, ipasc);
}
void X509_VERIFY_PARAM_set_hostflags(X509_VERIFY_PARAM *param, unsigned int flags)
{
	K.X509_VERIFY_PARAM_set_hostflags(param, flags);
}
const char *X509_verify_cert_error_string(long n) { return K.X509_verify_cert_error_string(n); }
