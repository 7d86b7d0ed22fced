/* libFuzzer target over a whole client session: the input is everything a server says (after an
 * implied AuthenticationOk and ReadyForQuery when it does not start with 'R'), in segments split
 * at '!' frames, each sent after the client's next turn, through a socketpair. The client runs
 * startup, a query, the pool's check of an idle connection, a COPY LOCAL STDIN of 600 KiB followed
 * by a query in the same message, the idle check again and another query. Every call must end with 0
 * or a clean error, never hang, crash or leak; an unusable connection stays unusable. */
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

#define MAX_SEGMENTS 64
#define IDLE_MS 5 /* a client silent this long with nothing unread is waiting: release the next segment */

typedef struct server {
	int fd;
	uint8_t *data;
	size_t size;
	size_t seg_end[MAX_SEGMENTS]; /* segment i ends at seg_end[i] */
	size_t nseg;
} server;

/* Splits the input at '!' frames (type '!', length 4): segment i is what the server says after
 * the client's i-th turn (Startup, Query, Password, VerifiedFiles, EndOfBatch, CopyDone, ...). */
static void split(server *s)
{
	size_t pos = 0, out = 0;
	uint8_t *w = s->data; /* compacted in place: markers removed */
	s->nseg = 0;
	while (pos < s->size) {
		if (s->size - pos >= 5 && s->nseg < MAX_SEGMENTS - 1 && memcmp(s->data + pos, "!\0\0\0\4", 5) == 0) {
			s->seg_end[s->nseg++] = out;
			pos += 5;
			continue;
		}
		size_t len = s->size - pos;
		if (len >= 5) {
			uint32_t l = (uint32_t)s->data[pos + 1] << 24 | (uint32_t)s->data[pos + 2] << 16 |
			             (uint32_t)s->data[pos + 3] << 8 | s->data[pos + 4];
			if (l >= 4 && l - 4 <= len - 5)
				len = 5 + (size_t)(l - 4);
		}
		memmove(w + out, s->data + pos, len);
		out += len, pos += len;
	}
	s->seg_end[s->nseg++] = out;
	s->size = out;
}

/* Counts the client's turns in what it sends: the untagged Startup, then tagged messages. */
typedef struct turns {
	int started;
	uint8_t hdr[5];
	size_t have, skip;
	size_t count;
} turns;

static void feed(turns *t, const uint8_t *b, size_t n)
{
	while (n > 0) {
		if (t->skip) {
			size_t k = n < t->skip ? n : t->skip;
			t->skip -= k, b += k, n -= k;
			continue;
		}
		size_t need = t->started ? 5 : 4;
		size_t k = need - t->have < n ? need - t->have : n;
		memcpy(t->hdr + t->have, b, k);
		t->have += k, b += k, n -= k;
		if (t->have < need)
			return;
		const uint8_t *l = t->started ? t->hdr + 1 : t->hdr;
		uint32_t len = (uint32_t)l[0] << 24 | (uint32_t)l[1] << 16 | (uint32_t)l[2] << 8 | l[3];
		t->skip = len >= 4 ? len - 4 : 0;
		if (!t->started || strchr("QpFjcef", t->hdr[0]))
			t->count++;
		t->started = 1;
		t->have = 0;
	}
}

/* Sends each segment after the client's next turn (or once it waits in silence), then reads and
 * drops what the client sends until it hangs up. */
static void *serve(void *arg)
{
	server *s = arg;
	turns t = { 0 };
	size_t sent = 0, released = 0;
	int wr_open = 1;
	uint8_t sink[65536];
	for (;;) {
		size_t limit = released ? s->seg_end[released - 1] : 0;
		if (wr_open && sent == s->size) {
			shutdown(s->fd, SHUT_WR);
			wr_open = 0;
		}
		int want_out = wr_open && sent < limit;
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN | (want_out ? POLLOUT : 0) };
		int idle_wait = wr_open && !want_out && released > 0 && released < s->nseg;
		int r = poll(&pfd, 1, idle_wait ? IDLE_MS : 5000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 && idle_wait) {
			released++;
			continue;
		}
		if (r <= 0)
			break;
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t got = recv(s->fd, sink, sizeof sink, MSG_DONTWAIT);
			if (got == 0 || (got < 0 && (pfd.revents & (POLLHUP | POLLERR))))
				break;
			if (got > 0) {
				feed(&t, sink, (size_t)got);
				if (t.count > released)
					released = t.count < s->nseg ? t.count : s->nseg;
			}
		}
		if (want_out && (pfd.revents & POLLOUT)) {
			ssize_t w = send(s->fd, s->data + sent, limit - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0)
				sent += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				sent = s->size; /* the client is gone */
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
	static const uint8_t auth_ok[] = { 'R', 0, 0, 0, 8, 0, 0, 0, 0, 'Z', 0, 0, 0, 5, 'I', '!', 0, 0, 0, 4 };
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
	split(&s);
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
		if (zl_vc_idle_ok(c) && !zl_vc_ok(c)) /* usable when idle means usable */
			abort();
		gen_reader g = { .r = { .read = gen_read, .close = gen_close, .name = "fuzz" }, .left = 600 << 10 };
		zl_vc_copy_result cr;
		int was_ok = zl_vc_ok(c);
		zl_vc_result counts;
		rc = zl_vc_copy_local_stdin_then(c, "COPY t FROM LOCAL STDIN", "SELECT GET_NUM_REJECTED_ROWS()", &g.r, &cr,
		                                 &counts, &err);
		check(rc, c);
		zl_vc_result_release(&counts);
		if (zl_vc_idle_ok(c) && !zl_vc_ok(c))
			abort();
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
