/* TCP sockets with connect timeouts and keepalive, and the TLS handshake. */
#include "vertica/vconn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

/* A silent peer is probed after 60 s, every 10 s, and given up after 6 unanswered probes. */
static void set_keepalive(int fd)
{
	int on = 1, idle = 60, intvl = 10, cnt = 6;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

void zl_vnet_set_io_timeout(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* One address: a non-blocking connect waited for until deadline. fd, or -1 with errno set. */
static int connect_one(const struct addrinfo *ai, int64_t deadline)
{
	int saved, fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS)
			goto out;
		for (;;) {
			int64_t left = deadline - zl_vcio_now_ms();
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int n = left > 0 ? poll(&pfd, 1, (int)left) : 0;
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				errno = n == 0 ? ETIMEDOUT : errno;
				goto out;
			}
			int soerr = 0;
			socklen_t len = sizeof soerr;
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
				goto out;
			if (soerr) {
				errno = soerr;
				goto out;
			}
			break;
		}
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		goto out;
	set_keepalive(fd);
	return fd;
out:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int zl_vnet_connect(const char *host, int port, int timeout_ms, char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ais = NULL;
	char service[16];
	snprintf(service, sizeof service, "%d", port);
	int64_t deadline = zl_vcio_now_ms() + timeout_ms;
	int fd = -1, gai = getaddrinfo(host, service, &hints, &ais);
	if (gai) {
		snprintf(why, whylen, "cannot resolve host: %s", gai_strerror(gai));
		goto out;
	}
	int last = 0;
	for (const struct addrinfo *ai = ais; ai && fd < 0; ai = ai->ai_next) {
		fd = connect_one(ai, deadline);
		if (fd < 0)
			last = errno;
		if (fd < 0 && last == ETIMEDOUT)
			break;
	}
	if (fd < 0 && last == ETIMEDOUT)
		snprintf(why, whylen, "connect timed out after %d ms", timeout_ms);
	else if (fd < 0)
		snprintf(why, whylen, "connect: %s", strerror(last));
out:
	if (ais)
		freeaddrinfo(ais);
	return fd;
}

static void openssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "%s", errno ? strerror(errno) : "connection closed during the handshake");
	ERR_clear_error();
}

static int is_ip_literal(const char *host)
{
	unsigned char addr[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

int zl_vnet_tls_handshake(zl_vc *c, zl_vc_tls mode, const char *root_cert, const char *host, zl_err *err)
{
	int verify = mode == ZL_VC_TLS_VERIFY_CA || mode == ZL_VC_TLS_VERIFY_FULL;
	char reason[256];
	ERR_clear_error();
	c->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ssl_ctx || !SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION)) {
		openssl_reason(reason, sizeof reason);
		return zl_vcio_fail(c, ZL_ELOAD, err, "TLS setup: %s", reason);
	}
	SSL_CTX_set_verify(c->ssl_ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if (verify) {
		int loaded = root_cert ? SSL_CTX_load_verify_locations(c->ssl_ctx, root_cert, NULL)
		                       : SSL_CTX_set_default_verify_paths(c->ssl_ctx);
		if (!loaded) {
			openssl_reason(reason, sizeof reason);
			return zl_vcio_fail(c, ZL_ELOAD, err, "TLS: cannot load root certificates from %s: %s",
			                    root_cert ? root_cert : "the system store", reason);
		}
	}
	c->ssl = SSL_new(c->ssl_ctx);
	if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)) {
		openssl_reason(reason, sizeof reason);
		return zl_vcio_fail(c, ZL_ELOAD, err, "TLS setup: %s", reason);
	}
	int ip = is_ip_literal(host);
	if (!ip)
		SSL_set_tlsext_host_name(c->ssl, host);
	if (mode == ZL_VC_TLS_VERIFY_FULL) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (!(ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) : X509_VERIFY_PARAM_set1_host(vp, host, 0)))
			return zl_vcio_fail(c, ZL_ELOAD, err, "TLS: cannot check the certificate against host \"%s\"", host);
	}
	zl_vnet_sigpipe g;
	zl_vnet_sigpipe_block(&g);
	errno = 0;
	int connected = SSL_connect(c->ssl) == 1;
	zl_vnet_sigpipe_restore(&g, errno == EPIPE);
	if (!connected) {
		long vr = SSL_get_verify_result(c->ssl);
		if (verify && vr != X509_V_OK) {
			ERR_clear_error();
			return zl_vcio_fail(c, ZL_ELOAD, err, "TLS: server certificate does not verify (%s): %s",
			                    mode == ZL_VC_TLS_VERIFY_FULL ? "verify-full" : "verify-ca",
			                    X509_verify_cert_error_string(vr));
		}
		openssl_reason(reason, sizeof reason);
		return zl_vcio_fail(c, ZL_ETRANSIENT, err, "TLS handshake failed: %s", reason);
	}
	return 0;
}

void zl_vnet_sigpipe_block(zl_vnet_sigpipe *g)
{
	sigset_t pipe_only, pending;
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_only, &g->old);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE) == 1;
}

void zl_vnet_sigpipe_restore(zl_vnet_sigpipe *g, int got_epipe)
{
	if (got_epipe && !g->was_pending) {
		sigset_t pipe_only;
		sigemptyset(&pipe_only);
		sigaddset(&pipe_only, SIGPIPE);
		struct timespec none = { 0, 0 };
		while (sigtimedwait(&pipe_only, NULL, &none) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

void zl_vnet_close(zl_vc *c)
{
	if (c->ssl) {
		zl_vnet_sigpipe g;
		zl_vnet_sigpipe_block(&g);
		SSL_set_quiet_shutdown(c->ssl, c->broken != 0); /* close_notify only on a sound link */
		errno = 0;
		SSL_shutdown(c->ssl);
		zl_vnet_sigpipe_restore(&g, errno == EPIPE);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	SSL_CTX_free(c->ssl_ctx);
	c->ssl_ctx = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
