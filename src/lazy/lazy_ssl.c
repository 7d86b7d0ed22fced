/* libssl (OpenSSL), loaded on first use (lazy.h): Vertica's TLS. */
#include "lazy/lazy.h"

#include <openssl/ssl.h>

#define SSL_SYMS(X) X(SSL_CTX_ctrl) X(SSL_CTX_free) X(SSL_CTX_load_verify_locations) X(SSL_CTX_new) \
	X(SSL_CTX_set_default_verify_paths) X(SSL_CTX_set_verify) X(SSL_connect) X(SSL_ctrl) X(SSL_free) \
	X(SSL_get0_param) X(SSL_get_error) X(SSL_get_verify_result) X(SSL_new) X(SSL_pending) X(SSL_read_ex) \
	X(SSL_set_fd) X(SSL_set_quiet_shutdown) X(SSL_shutdown) X(SSL_write_ex) X(TLS_client_method)

#define FIELD(name) __typeof__(name) *name;
static struct { SSL_SYMS(FIELD) } ss;
#define ENTRY(name) ZL_LAZY_SYM(ss, name),
static const zl_lazy_sym syms[] = { SSL_SYMS(ENTRY) };
static zl_lazy_lib lib = ZL_LAZY_LIB("libssl.so.3", "libssl3", syms);
#define S (zl_lazy_need(&lib), ss)

long SSL_CTX_ctrl(SSL_CTX *ctx, int cmd, long larg, void *parg) { return S.SSL_CTX_ctrl(ctx, cmd, larg, parg); }
void SSL_CTX_free(SSL_CTX *ctx) { S.SSL_CTX_free(ctx); }
int SSL_CTX_load_verify_locations(SSL_CTX *ctx, const char *CAfile, const char *CApath)
{
	return S.SSL_CTX_load_verify_locations(ctx, CAfile, CApath);
}
SSL_CTX *SSL_CTX_new(const SSL_METHOD *meth) { return S.SSL_CTX_new(meth); }
int SSL_CTX_set_default_verify_paths(SSL_CTX *ctx) { return S.SSL_CTX_set_default_verify_paths(ctx); }
void SSL_CTX_set_verify(SSL_CTX *ctx, int mode, SSL_verify_cb callback) { S.SSL_CTX_set_verify(ctx, mode, callback); }
int SSL_connect(SSL *ssl) { return S.SSL_connect(ssl); }
long SSL_ctrl(SSL *ssl, int cmd, long larg, void *parg) { return S.SSL_ctrl(ssl, cmd, larg, parg); }
void SSL_free(SSL *ssl) { S.SSL_free(ssl); }
X509_VERIFY_PARAM *SSL_get0_param(SSL *ssl) { return S.SSL_get0_param(ssl); }
int SSL_get_error(const SSL *s, int ret_code) { return S.SSL_get_error(s, ret_code); }
long SSL_get_verify_result(const SSL *ssl) { return S.SSL_get_verify_result(ssl); }
SSL *SSL_new(SSL_CTX *ctx) { return S.SSL_new(ctx); }
int SSL_pending(const SSL *s) { return S.SSL_pending(s); }
int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes) { return S.SSL_read_ex(ssl, buf, num, readbytes); }
int SSL_set_fd(SSL *s, int fd) { return S.SSL_set_fd(s, fd); }
void SSL_set_quiet_shutdown(SSL *ssl, int mode) { S.SSL_set_quiet_shutdown(ssl, mode); }
int SSL_shutdown(SSL *s) { return S.SSL_shutdown(s); }
int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written) { return S.SSL_write_ex(s, buf, num, written); }
const SSL_METHOD *TLS_client_method(void) { return S.TLS_client_method(); }
