/* libFuzzer target over a whole client session: the input is everything a server says (after an
 * implied AuthenticationOk and ReadyForQuery when it does not start with 'R'), fed through a
 * socketpair; the client
 * runs startup, a query, a COPY LOCAL STDIN of 600 KiB and another query. Every call must end
 * with 0 or a clean error, never hang, crash or leak; an unusable connection stays unusable. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"
#include "util/reader.h"
#include "vertica/vconn.h"
#include "vertica/vproto.h"

/* Logging is not under test: keep it quiet and cheap. */
void zl_log_kv(zl_log_level level, const char *msg, const zl_kv *kvs)
{
	(void)level, (void)msg, (void)kvs;
}

int zl_log_enabled(zl_log_level level)
{
	(void)level;
	return 0;
}

typedef struct server {
	int fd;
	const uint8_t *data;
	size_t size;
} server;

/* Writes the input, then reads and drops what the client sends until it hangs up. */
static void *serve(void *arg)
{
	server *s = arg;
	size_t sent = 0;
	int wr_open = 1;
	uint8_t sink[65536];
	for (;;) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN | (wr_open ? POLLOUT : 0) };
		if (poll(&pfd, 1, 5000) <= 0)
			break;
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(s->fd, sink, sizeof sink, MSG_DONTWAIT);
			if (r == 0 || (r < 0 && (pfd.revents & (POLLHUP | POLLERR))))
				break;
		}
		if (wr_open && (pfd.revents & POLLOUT)) {
			ssize_t w = send(s->fd, s->data + sent, s->size - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0)
				sent += (size_t)w;
			if (sent == s->size || (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
				shutdown(s->fd, SHUT_WR);
				wr_open = 0;
			}
		}
	}
	close(s->fd);
	return NULL;
}

typedef struct gen_reader {
	zl_reader r;
	size_t left;
} gen_reader;

static ssize_t gen_read(zl_reader *r, void *buf, size_t n, zl_err *err)
{
	gen_reader *g = (gen_reader *)r;
	size_t k = g->left < n ? g->left : n;
	memset(buf, 'x', k);
	g->left -= k;
	return (ssize_t)k;
}

static void gen_close(zl_reader *r)
{
	(void)r;
}

static void check(int rc, zl_vc *c)
{
	if (rc != 0 && rc != ZL_ELOAD && rc != ZL_ETRANSIENT && rc != ZL_ENOMEM)
		abort();
	if (rc == 0 && !zl_vc_ok(c))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t auth_ok[] = { 'R', 0, 0, 0, 8, 0, 0, 0, 0, 'Z', 0, 0, 0, 5, 'I' };
	uint8_t *input = malloc(size + sizeof auth_ok);
	if (!input)
		return 0;
	size_t n = 0;
	if (size == 0 || data[0] != 'R') {
		memcpy(input, auth_ok, sizeof auth_ok);
		n = sizeof auth_ok;
	}
	memcpy(input + n, data, size);
	n += size;

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		free(input);
		return 0;
	}
	server s = { .fd = sv[1], .data = input, .size = n };
	pthread_t th;
	if (pthread_create(&th, NULL, serve, &s) != 0) {
		close(sv[0]);
		close(sv[1]);
		free(input);
		return 0;
	}
	zl_vc_opts o = { .user = "dbadmin", .password = "secret", .database = "dw" };
	zl_vc *c = NULL;
	zl_err err;
	int rc = zl_vc_start_on_fd(sv[0], &o, &c, &err);
	if (rc == 0) {
		zl_vc_result r;
		check(zl_vc_query(c, "SELECT 1", &r, &err), c);
		for (size_t i = 0; i < r.nrows * r.ncols; i++)
			if (r.values[i] && strlen(r.values[i]) > ZL_VP_MSG_CAP)
				abort();
		zl_vc_result_release(&r);
		gen_reader g = { .r = { .read = gen_read, .close = gen_close, .name = "fuzz" }, .left = 600 << 10 };
		zl_vc_copy_result cr;
		int was_ok = zl_vc_ok(c);
		rc = zl_vc_copy_local_stdin(c, "COPY t FROM LOCAL STDIN", &g.r, &cr, &err);
		check(rc, c);
		if (!was_ok && rc == 0)
			abort();
		if (cr.nrejected > cr.rows_rejected)
			abort();
		zl_vc_copy_result_release(&cr);
		check(zl_vc_query(c, "COMMIT", NULL, &err), c);
		zl_vc_close(c);
	} else {
		check(rc, NULL);
	}
	pthread_join(th, NULL);
	free(input);
	return 0;
}
