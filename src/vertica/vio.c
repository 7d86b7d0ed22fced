/* Buffered reads and writes of protocol messages over the socket or TLS, with the connect
 * deadline, and the asynchronous messages (notices, parameter changes) handled in passing. */
#include "vertica/vconn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/err.h>

#include "util/log.h"
#include "vertica/vproto.h"

#define WRITE_NAME_CAP 4096 /* longest WriteFile name read when its content is skipped */

int64_t zl_vcio_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int zl_vcio_fail(zl_vc *c, int code, zl_err *err, const char *fmt, ...)
{
	char msg[sizeof c->broken_msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!c->broken) {
		c->broken = code;
		snprintf(c->broken_msg, sizeof c->broken_msg, "%s", msg);
	}
	return zl_err_set(err, code, "%s: %s", c->peer, msg);
}

int zl_vcio_fail_err(zl_vc *c, zl_err *err)
{
	if (!c->broken) {
		c->broken = err->code;
		snprintf(c->broken_msg, sizeof c->broken_msg, "%.300s", err->msg);
	}
	return zl_err_prefix(err, "%s", c->peer);
}

/* Waits until fd is ready for events or the connect deadline passes. */
static int wait_ready(zl_vc *c, short events, zl_err *err)
{
	if (!c->deadline_ms)
		return 0;
	for (;;) {
		int64_t left = c->deadline_ms - zl_vcio_now_ms();
		struct pollfd pfd = { .fd = c->fd, .events = events };
		int n = left > 0 ? poll(&pfd, 1, (int)(left > 60000 ? 60000 : left)) : 0;
		if (n > 0)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && left > 60000)
			continue;
		return zl_vcio_fail(c, ZL_ETRANSIENT, err, "timed out waiting for the server");
	}
}

static int io_error(zl_vc *c, const char *what, int saved_errno, zl_err *err)
{
	if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)
		return zl_vcio_fail(c, ZL_ETRANSIENT, err, "connection lost: %s timed out", what);
	if (saved_errno == 0)
		return zl_vcio_fail(c, ZL_ETRANSIENT, err, "connection lost: the server closed the connection");
	return zl_vcio_fail(c, ZL_ETRANSIENT, err, "connection lost: %s: %s", what, strerror(saved_errno));
}

int zl_vcio_write2(zl_vc *c, const void *head, size_t nhead, const void *body, size_t nbody, zl_err *err)
{
	if (c->broken || c->ssl) /* TLS writes records: two writes cost a small record, no copy */
		return zl_vcio_write(c, head, nhead, err) ? err->code : zl_vcio_write(c, body, nbody, err);
	struct iovec iov[2] = { { (void *)head, nhead }, { (void *)body, nbody } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	while (iov[0].iov_len + iov[1].iov_len > 0) {
		if (wait_ready(c, POLLOUT, err))
			return err->code;
		ssize_t sent = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent <= 0)
			return io_error(c, "write", sent < 0 ? errno : EPIPE, err);
		for (int i = 0; i < 2 && sent > 0; i++) { /* skip what went out */
			size_t k = (size_t)sent < iov[i].iov_len ? (size_t)sent : iov[i].iov_len;
			iov[i].iov_base = (char *)iov[i].iov_base + k;
			iov[i].iov_len -= k;
			sent -= (ssize_t)k;
		}
		if (iov[0].iov_len == 0) {
			m.msg_iov = &iov[1];
			m.msg_iovlen = 1;
		}
	}
	return 0;
}

int zl_vcio_write(zl_vc *c, const void *data, size_t n, zl_err *err)
{
	const uint8_t *p = data;
	if (c->broken)
		return zl_err_set(err, c->broken, "%s: connection unusable: %s", c->peer, c->broken_msg);
	while (n > 0) {
		if (wait_ready(c, POLLOUT, err))
			return err->code;
		if (c->ssl) {
			size_t sent = 0;
			zl_vnet_sigpipe g;
			zl_vnet_sigpipe_block(&g);
			errno = 0;
			int ok = SSL_write_ex(c->ssl, p, n, &sent);
			int saved = errno;
			zl_vnet_sigpipe_restore(&g, saved == EPIPE);
			if (!ok) {
				ERR_clear_error();
				return io_error(c, "write", saved == 0 ? EPIPE : saved, err);
			}
			p += sent, n -= sent;
		} else {
			ssize_t sent = send(c->fd, p, n, MSG_NOSIGNAL);
			if (sent < 0 && errno == EINTR)
				continue;
			if (sent <= 0)
				return io_error(c, "write", sent < 0 ? errno : EPIPE, err);
			p += sent, n -= (size_t)sent;
		}
	}
	return 0;
}

int zl_vcio_flush(zl_vc *c, zl_err *err)
{
	int rc = zl_vcio_write(c, c->out.data, c->out.len, err);
	zl_buf_reset(&c->out);
	return rc;
}

/* Reads what is available (at least one byte) into dst. */
static int read_some(zl_vc *c, void *dst, size_t n, size_t *got, zl_err *err)
{
	for (;;) {
		if (!(c->ssl && SSL_pending(c->ssl)) && wait_ready(c, POLLIN, err))
			return err->code;
		if (c->ssl) {
			errno = 0;
			if (SSL_read_ex(c->ssl, dst, n, got))
				return 0;
			int e = SSL_get_error(c->ssl, 0), saved = errno;
			ERR_clear_error();
			if (e == SSL_ERROR_ZERO_RETURN)
				return io_error(c, "read", 0, err);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				continue;
			if (e == SSL_ERROR_SYSCALL)
				return io_error(c, "read", saved, err);
			return zl_vcio_fail(c, ZL_ETRANSIENT, err, "connection lost: TLS error while reading");
		}
		ssize_t r = recv(c->fd, dst, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return io_error(c, "read", r < 0 ? errno : 0, err);
		*got = (size_t)r;
		return 0;
	}
}

int zl_vcio_read_exact(zl_vc *c, void *dst, size_t n, zl_err *err)
{
	uint8_t *d = dst;
	if (c->broken)
		return zl_err_set(err, c->broken, "%s: connection unusable: %s", c->peer, c->broken_msg);
	while (n > 0) {
		if (c->rpos < c->rlen) {
			size_t k = c->rlen - c->rpos < n ? c->rlen - c->rpos : n;
			memcpy(d, c->rbuf + c->rpos, k);
			c->rpos += k, d += k, n -= k;
			continue;
		}
		size_t got = 0;
		if (n >= sizeof c->rbuf) { /* large bodies go straight to their buffer */
			if (read_some(c, d, n, &got, err))
				return err->code;
			d += got, n -= got;
		} else {
			if (read_some(c, c->rbuf, sizeof c->rbuf, &got, err))
				return err->code;
			c->rpos = 0, c->rlen = got;
		}
	}
	return 0;
}

static int skip(zl_vc *c, size_t n, zl_err *err)
{
	uint8_t sink[4096];
	while (n > 0) {
		size_t k = n < sizeof sink ? n : sizeof sink;
		if (zl_vcio_read_exact(c, sink, k, err))
			return err->code;
		n -= k;
	}
	return 0;
}

int zl_vcio_readable(zl_vc *c)
{
	if (c->rpos < c->rlen)
		return 1;
	if (c->broken)
		return 0;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	if (!(c->ssl && SSL_pending(c->ssl)) && poll(&pfd, 1, 0) <= 0)
		return 0;
	/* Bytes arrived, but over TLS they may be only a session ticket: read them without blocking
	 * and say yes only for application data (or an end or error the next read will report). */
	c->rpos = c->rlen = 0;
	if (!c->ssl) {
		ssize_t r = recv(c->fd, c->rbuf, sizeof c->rbuf, MSG_DONTWAIT);
		if (r > 0)
			c->rlen = (size_t)r;
		return r >= 0 || !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
	}
	int flags = fcntl(c->fd, F_GETFL);
	size_t got = 0;
	fcntl(c->fd, F_SETFL, flags | O_NONBLOCK);
	int ok = SSL_read_ex(c->ssl, c->rbuf, sizeof c->rbuf, &got);
	int e = ok ? SSL_ERROR_NONE : SSL_get_error(c->ssl, 0);
	fcntl(c->fd, F_SETFL, flags);
	if (!ok)
		ERR_clear_error();
	c->rlen = got;
	return ok || (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE);
}

static int body_reserve(zl_vc *c, size_t n, zl_err *err)
{
	if (n + 1 <= c->body_alloc)
		return 0;
	uint8_t *grown = realloc(c->body, n + 1);
	if (!grown)
		return zl_vcio_fail(c, ZL_ENOMEM, err, "out of memory reading a message of %zu bytes", n);
	c->body = grown;
	c->body_alloc = n + 1;
	return 0;
}

void zl_vcio_shrink(zl_vc *c)
{
	if (c->body_alloc > ((size_t)1 << 20)) {
		free(c->body);
		c->body = NULL;
		c->body_alloc = c->body_len = 0;
	}
}

/* A WriteFile too large to hold: read its name and declared length, skip a named file's content
 * (we do not keep rejected-data files) and leave body = name + length 0. Row numbers this many
 * are refused. */
static int read_oversized_write_file(zl_vc *c, size_t body_len, zl_err *err)
{
	size_t name_len = 0;
	if (body_reserve(c, WRITE_NAME_CAP + 4, err))
		return err->code;
	for (;; name_len++) {
		if (name_len == WRITE_NAME_CAP || name_len >= body_len)
			return zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: WriteFile name is not terminated");
		if (zl_vcio_read_exact(c, c->body + name_len, 1, err))
			return err->code;
		if (!c->body[name_len])
			break;
	}
	uint8_t be[4];
	if (name_len + 5 > body_len)
		return zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: WriteFile truncated at the file length");
	if (zl_vcio_read_exact(c, be, 4, err))
		return err->code;
	uint32_t declared = (uint32_t)be[0] << 24 | (uint32_t)be[1] << 16 | (uint32_t)be[2] << 8 | be[3];
	if ((size_t)declared != body_len - name_len - 5)
		return zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: WriteFile declares %u bytes in a %zu-byte message",
		                    declared, body_len);
	if (name_len == 0)
		return zl_vcio_fail(c, ZL_ELOAD, err, "protocol error: %u bytes of rejected row numbers exceed the %zu-byte cap",
		                    declared, ZL_VP_MSG_CAP);
	if (skip(c, declared, err))
		return err->code;
	ZL_LOG(ZL_WARN, "vertica rejected-data file content too large to keep: skipped", ZL_S("peer", c->peer),
	       ZL_S("file", (const char *)c->body), ZL_I("bytes", declared));
	memset(c->body + name_len + 1, 0, 4);
	c->body_len = name_len + 5;
	c->body[c->body_len] = 0;
	return 0;
}

static void keep_param(zl_vc *c, const char *name, const char *value)
{
	size_t i = 0;
	while (i < c->nparams && strcmp(c->params[i].name, name) != 0)
		i++;
	if (i == ZL_VC_MAX_PARAMS)
		return;
	char *v = strndup(value, ZL_VC_PARAM_CAP);
	char *n = i == c->nparams ? strdup(name) : NULL;
	if (!v || (i == c->nparams && !n)) {
		free(v);
		free(n);
		return;
	}
	if (i == c->nparams) {
		c->params[i].name = n;
		c->nparams++;
	} else {
		free(c->params[i].value);
	}
	c->params[i].value = v;
}

static int on_param_status(zl_vc *c, zl_err *err)
{
	const char *name, *value;
	if (zl_vp_param_status(c->body, c->body_len, &name, &value, err))
		return zl_vcio_fail_err(c, err);
	if (strcmp(name, "protocol_version") == 0) {
		uint32_t v;
		if (zl_vp_protocol_parse(value, &v, err))
			return zl_vcio_fail_err(c, err);
		c->protocol = v;
	}
	keep_param(c, name, value);
	return 0;
}

static int on_notice(zl_vc *c, zl_err *err)
{
	zl_vp_notice n;
	if (zl_vp_notice_decode(c->body, c->body_len, &n, err))
		return zl_vcio_fail_err(c, err);
	ZL_LOG(ZL_DEBUG, "vertica notice", ZL_S("peer", c->peer), ZL_S("severity", n.severity ? n.severity : ""),
	       ZL_S("sqlstate", n.sqlstate ? n.sqlstate : ""), ZL_S("message", n.message ? n.message : ""));
	return 0;
}

int zl_vcio_next(zl_vc *c, zl_err *err)
{
	for (;;) {
		uint8_t hdr[5];
		size_t body_len;
		if (zl_vcio_read_exact(c, hdr, sizeof hdr, err))
			return err->code;
		if (hdr[0] == 'O' && zl_vp_frame(hdr, &c->type, &body_len, SIZE_MAX, err) == 0 && body_len > ZL_VP_MSG_CAP) {
			if (read_oversized_write_file(c, body_len, err))
				return err->code;
			return 0;
		}
		if (zl_vp_frame(hdr, &c->type, &body_len, ZL_VP_MSG_CAP, err))
			return zl_vcio_fail_err(c, err);
		if (body_reserve(c, body_len, err) || zl_vcio_read_exact(c, c->body, body_len, err))
			return err->code;
		c->body_len = body_len;
		c->body[body_len] = 0;
		if (c->type == 'S') {
			if (on_param_status(c, err))
				return err->code;
		} else if (c->type == 'N') {
			if (on_notice(c, err))
				return err->code;
		} else {
			return 0;
		}
	}
}

int zl_vcio_next_buffered(zl_vc *c, zl_err *err)
{
	size_t avail = c->rlen - c->rpos, body_len;
	uint8_t type;
	if (avail < 5)
		return 0;
	if (zl_vp_frame(c->rbuf + c->rpos, &type, &body_len, ZL_VP_MSG_CAP, err))
		return zl_vcio_fail_err(c, err);
	if (avail - 5 < body_len)
		return 0;
	if (body_reserve(c, body_len, err))
		return err->code;
	memcpy(c->body, c->rbuf + c->rpos + 5, body_len);
	c->rpos += 5 + body_len;
	c->type = type;
	c->body_len = body_len;
	c->body[body_len] = 0;
	if (type == 'S' && on_param_status(c, err))
		return err->code;
	if (type == 'N' && on_notice(c, err))
		return err->code;
	return 1;
}

int zl_vcio_refuse_copy(zl_vc *c, const char *why, zl_err *err)
{
	int rc = c->type == 'G' ? zl_vp_copy_fail(&c->out, why, err)
	                        : zl_vp_copy_error(&c->out, "STDIN", 0, "zload", why, err);
	return rc ? rc : zl_vcio_flush(c, err);
}

int zl_vcio_drain(zl_vc *c, zl_err *err)
{
	for (;;) {
		if (zl_vcio_next(c, err))
			return err->code;
		if (c->type == 'Z')
			break;
		if (c->type == 'E') {
			zl_vp_notice e;
			zl_err ignored;
			if (zl_vp_notice_decode(c->body, c->body_len, &e, &ignored) == 0)
				ZL_LOG(ZL_DEBUG, "vertica error while draining", ZL_S("peer", c->peer),
				       ZL_S("message", e.message ? e.message : ""));
		} else if ((c->type == 'G' || c->type == 'F') && zl_vcio_refuse_copy(c, "aborted by the client", err)) {
			return err->code;
		}
	}
	if (zl_vp_ready(c->body, c->body_len, &c->tx_status, err))
		return zl_vcio_fail_err(c, err);
	return 0;
}
