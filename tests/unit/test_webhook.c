/* The webhook over real sockets on loopback: 1,000 idle connections from 127.0.0.2 do not keep
 * 127.0.0.1 from being served; /healthz answers while every handler is blocked; the per-address
 * limit, the idle timeout and the queue bound refuse what they should; stop lets queued handlers
 * answer; body caps; listen addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "intake/webhook.h"
#include "util/listen_addr.h"

#define FLOOD 1000
#define FAST_MS 200 /* /healthz must answer within this, whatever else is going on */

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* ---- the handler: counts calls, and blocks while the test says so */

typedef struct hook_ctx {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int blocked;
	int entered, finished;
	size_t last_len;
	char last_body[64];
} hook_ctx;

static int handler(void *ud, const char *body, size_t len, zl_buf *reply)
{
	hook_ctx *h = ud;
	pthread_mutex_lock(&h->mu);
	h->entered++;
	pthread_cond_broadcast(&h->cv);
	while (h->blocked)
		pthread_cond_wait(&h->cv, &h->mu);
	h->finished++;
	h->last_len = len;
	snprintf(h->last_body, sizeof h->last_body, "%.*s", (int)(len < 63 ? len : 63), body);
	pthread_mutex_unlock(&h->mu);
	zl_buf_printf(reply, "{\"len\":%zu}", len);
	return 200;
}

static hook_ctx *hook_new(int blocked)
{
	hook_ctx *h = calloc(1, sizeof *h);
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->blocked = blocked;
	return h;
}

static void hook_release(hook_ctx *h)
{
	pthread_mutex_lock(&h->mu);
	h->blocked = 0;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

static void hook_free(hook_ctx *h)
{
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h);
}

/* Waits up to 5 s until n handler calls have begun. */
static int hook_wait_entered(hook_ctx *h, int n)
{
	long until = now_ms() + 5000;
	pthread_mutex_lock(&h->mu);
	while (h->entered < n && now_ms() < until) {
		pthread_mutex_unlock(&h->mu);
		usleep(5000);
		pthread_mutex_lock(&h->mu);
	}
	int got = h->entered;
	pthread_mutex_unlock(&h->mu);
	return got;
}

static zl_webhook *start(zl_webhook_opts o, hook_ctx *h)
{
	zl_webhook *w = NULL;
	zl_err err;
	if (!o.listen)
		o.listen = "127.0.0.1:0";
	int rc = zl_webhook_start(&o, handler, h, &w, &err);
	if (rc)
		print_error("zl_webhook_start: %s\n", err.msg);
	assert_int_equal(rc, 0);
	return w;
}

/* ---- clients */

static int connect_from(const char *source, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, source, &src.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof src) != 0 ||
	    connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Reads a reply until the server closes (requests say "Connection: close") or timeout_ms pass.
 * Returns the HTTP status, or -1. */
static int read_reply(int fd, char *out, size_t cap, int timeout_ms)
{
	size_t len = 0;
	long until = now_ms() + timeout_ms;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left = until - now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		ssize_t k = recv(fd, out + len, cap - 1 - len, 0);
		if (k <= 0)
			break;
		len += (size_t)k;
		if (len == cap - 1)
			break;
	}
	out[len] = '\0';
	int status;
	return sscanf(out, "HTTP/1.%*d %d", &status) == 1 ? status : -1;
}

/* One request from 127.0.0.1: the status, or -1; *ms how long the reply took. */
static int http(int port, const char *req, char *out, size_t cap, long *ms)
{
	long t0 = now_ms();
	int fd = connect_from("127.0.0.1", port), status = -1;
	if (fd >= 0 && send_all(fd, req, strlen(req)) == 0)
		status = read_reply(fd, out, cap, 10000);
	if (fd >= 0)
		close(fd);
	if (ms)
		*ms = now_ms() - t0;
	return status;
}

static const char HEALTHZ[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

static char *post_request(const char *body, const char *extra_headers)
{
	char *req = malloc(strlen(body) + 512);
	sprintf(req, "POST /events HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\n%s"
	        "Content-Length: %zu\r\n\r\n%s", extra_headers ? extra_headers : "", strlen(body), body);
	return req;
}

/* /healthz answers 200 within FAST_MS, n times running. */
static void assert_healthz_fast(int port, int n)
{
	char out[4096];
	for (int i = 0; i < n; i++) {
		long ms;
		assert_int_equal(http(port, HEALTHZ, out, sizeof out, &ms), 200);
		assert_non_null(strstr(out, "{\"status\":\"ok\"}"));
		if (ms >= FAST_MS)
			print_error("/healthz took %ld ms\n", ms);
		assert_true(ms < FAST_MS);
	}
}

/* Opens n connections from source; every third sends half a request line. Returns how many
 * connected; fds[] gets them. */
static int flood(const char *source, int port, int *fds, int n)
{
	int made = 0;
	for (int i = 0; i < n; i++) {
		int fd = connect_from(source, port);
		if (fd < 0)
			continue;
		if (i % 3 == 0)
			send_all(fd, "GET /hea", 8);
		fds[made++] = fd;
	}
	return made;
}

/* Whether the server has closed (or reset) the connection; replies it sent are read away. */
static int closed_by_peer(int fd)
{
	char buf[512];
	for (;;) {
		ssize_t k = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (k > 0)
			continue;
		return k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
	}
}

static int count_closed(const int *fds, int n)
{
	int closed = 0;
	for (int i = 0; i < n; i++)
		closed += closed_by_peer(fds[i]);
	return closed;
}

/* Waits up to timeout_ms until `want` of the n connections are closed; returns the count. */
static int wait_closed(const int *fds, int n, int want, int timeout_ms)
{
	long until = now_ms() + timeout_ms;
	int closed;
	while ((closed = count_closed(fds, n)) < want && now_ms() < until)
		usleep(20000);
	return closed;
}

static unsigned wait_connections(zl_webhook *w, unsigned want, int timeout_ms)
{
	long until = now_ms() + timeout_ms;
	unsigned n;
	while ((n = zl_webhook_connections(w)) != want && now_ms() < until)
		usleep(20000);
	return n;
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* The flood tests need 2 descriptors per connection (client and server side in this process). */
static int setup_nofile(void **state)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	*state = (void *)(uintptr_t)(rl.rlim_cur >= 2 * FLOOD + 300);
	return 0;
}

#define NEED_FDS()                                                                                   \
	do {                                                                                             \
		if (!*state) {                                                                               \
			print_message("skipped: RLIMIT_NOFILE's hard limit is below %d\n", 2 * FLOOD + 300);     \
			skip();                                                                                  \
		}                                                                                            \
	} while (0)

/* ---- tests */

/* 1,000 idle connections from 127.0.0.2, all accepted (past select()'s 1,024 descriptors with
 * this process's own): 127.0.0.1 is served at once. */
static void test_idle_flood_accepted(void **state)
{
	NEED_FDS();
	hook_ctx *h = hook_new(0);
	zl_webhook *w = start((zl_webhook_opts){ .max_conns = 3 * FLOOD, .max_per_ip = 2 * FLOOD, .idle_secs = 60 }, h);
	assert_string_equal(zl_webhook_poller(w), "epoll");
	int port = zl_webhook_port(w), *fds = calloc(FLOOD, sizeof *fds);
	assert_int_equal(flood("127.0.0.2", port, fds, FLOOD), FLOOD);
	assert_int_equal(wait_connections(w, FLOOD, 5000), FLOOD);
	assert_healthz_fast(port, 5);
	char out[4096], *req = post_request("{\"Records\":[]}", NULL);
	assert_int_equal(http(port, req, out, sizeof out, NULL), 200);
	assert_non_null(strstr(out, "{\"len\":14}"));
	assert_int_equal(h->finished, 1);
	assert_string_equal(h->last_body, "{\"Records\":[]}");
	assert_int_equal(count_closed(fds, FLOOD), 0);
	free(req);
	close_all(fds, FLOOD);
	free(fds);
	zl_webhook_stop(w);
	hook_free(h);
}

/* With the default per-address limit the flood keeps 64 connections; the rest are closed at once,
 * and 127.0.0.1 is served. */
static void test_per_address_limit(void **state)
{
	NEED_FDS();
	hook_ctx *h = hook_new(0);
	zl_webhook *w = start((zl_webhook_opts){ .idle_secs = 60 }, h);
	assert_int_equal(zl_webhook_options(w)->max_per_ip, ZL_WEBHOOK_MAX_PER_IP);
	int port = zl_webhook_port(w), *fds = calloc(FLOOD, sizeof *fds);
	assert_int_equal(flood("127.0.0.2", port, fds, FLOOD), FLOOD);
	assert_int_equal(wait_closed(fds, FLOOD, FLOOD - ZL_WEBHOOK_MAX_PER_IP, 5000), FLOOD - ZL_WEBHOOK_MAX_PER_IP);
	usleep(200000); /* no more than that are closed */
	assert_int_equal(count_closed(fds, FLOOD), FLOOD - ZL_WEBHOOK_MAX_PER_IP);
	assert_int_equal(zl_webhook_connections(w), ZL_WEBHOOK_MAX_PER_IP);
	assert_healthz_fast(port, 3);
	char out[4096], *req = post_request("{}", NULL);
	assert_int_equal(http(port, req, out, sizeof out, NULL), 200);
	assert_int_equal(h->finished, 1);
	free(req);
	close_all(fds, FLOOD);
	free(fds);
	zl_webhook_stop(w);
	hook_free(h);
}

/* A handler blocked (as on a state database another process holds locked): /healthz still
 * answers at once, also with idle connections open; bodies beyond the queue bound are 503 with
 * Retry-After; once released, the waiting POSTs get their 200. */
static void test_blocked_handler(void **state)
{
	hook_ctx *h = hook_new(1);
	zl_webhook *w = start((zl_webhook_opts){ .handler_threads = 1, .max_queued = 2 }, h);
	int port = zl_webhook_port(w), idle[30];
	assert_int_equal(flood("127.0.0.2", port, idle, 30), 30);
	char out[4096], *req = post_request("{\"a\":1}", NULL);
	int first = connect_from("127.0.0.1", port), second = connect_from("127.0.0.1", port);
	assert_int_equal(send_all(first, req, strlen(req)), 0);
	assert_int_equal(hook_wait_entered(h, 1), 1);
	assert_int_equal(send_all(second, req, strlen(req)), 0); /* queued behind the first */
	assert_healthz_fast(port, 5);
	long ms;
	assert_int_equal(http(port, req, out, sizeof out, &ms), 503);
	assert_true(ms < FAST_MS);
	assert_non_null(strstr(out, "Retry-After: 1"));
	assert_non_null(strstr(out, "busy: 2 bodies are waiting for a handler"));
	assert_int_equal(h->entered, 1);
	assert_int_equal(h->finished, 0);
	hook_release(h);
	assert_int_equal(read_reply(first, out, sizeof out, 5000), 200);
	assert_non_null(strstr(out, "{\"len\":7}"));
	assert_int_equal(read_reply(second, out, sizeof out, 5000), 200);
	assert_int_equal(h->finished, 2);
	close(first);
	close(second);
	close_all(idle, 30);
	free(req);
	zl_webhook_stop(w);
	hook_free(h);
}

/* Idle connections (silent, or half a request line) are closed after the idle timeout. */
static void test_idle_timeout(void **state)
{
	hook_ctx *h = hook_new(0);
	zl_webhook *w = start((zl_webhook_opts){ .idle_secs = 1 }, h);
	int port = zl_webhook_port(w), fds[20];
	assert_int_equal(flood("127.0.0.2", port, fds, 20), 20);
	long t0 = now_ms();
	assert_int_equal(wait_connections(w, 20, 2000), 20);
	assert_int_equal(wait_closed(fds, 20, 20, 5000), 20);
	long took = now_ms() - t0;
	print_message("20 idle connections closed after %ld ms (idle timeout 1 s)\n", took);
	assert_true(took >= 500);
	assert_int_equal(wait_connections(w, 0, 2000), 0);
	assert_healthz_fast(port, 1);
	close_all(fds, 20);
	zl_webhook_stop(w);
	hook_free(h);
}

typedef struct stopper {
	zl_webhook *w;
	int done;
} stopper;

static void *stop_thread(void *arg)
{
	stopper *s = arg;
	zl_webhook_stop(s->w);
	__atomic_store_n(&s->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Stop while a handler runs and another body waits: both are answered 200 before stop returns. */
static void test_stop_drains(void **state)
{
	hook_ctx *h = hook_new(1);
	zl_webhook *w = start((zl_webhook_opts){ .handler_threads = 1 }, h);
	int port = zl_webhook_port(w);
	char out[4096], *req = post_request("{\"b\":2}", NULL);
	int first = connect_from("127.0.0.1", port), second = connect_from("127.0.0.1", port);
	assert_int_equal(send_all(first, req, strlen(req)), 0);
	assert_int_equal(hook_wait_entered(h, 1), 1);
	assert_int_equal(send_all(second, req, strlen(req)), 0);
	usleep(100000); /* the second body reaches the queue */
	stopper s = { w, 0 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, stop_thread, &s), 0);
	usleep(200000);
	assert_int_equal(__atomic_load_n(&s.done, __ATOMIC_SEQ_CST), 0); /* waiting for the handler */
	hook_release(h);
	assert_int_equal(read_reply(first, out, sizeof out, 5000), 200);
	assert_int_equal(read_reply(second, out, sizeof out, 5000), 200);
	pthread_join(t, NULL);
	assert_int_equal(h->finished, 2);
	close(first);
	close(second);
	free(req);
	hook_free(h);
}

/* Bodies: over the cap by Content-Length (at once) or chunked is 413; exactly at it reaches the
 * handler intact; a token is checked; other paths and methods. */
static void test_bodies_and_auth(void **state)
{
	hook_ctx *h = hook_new(0);
	zl_webhook *w = start((zl_webhook_opts){ .max_body = 1000, .token = "s3cr3t" }, h);
	int port = zl_webhook_port(w);
	const char *auth = "Authorization: Bearer s3cr3t\r\n";
	char out[4096], body[1002], req[4096];
	memset(body, 'x', sizeof body);
	body[1001] = '\0';
	char *r = post_request(body, auth); /* 1001 bytes */
	assert_int_equal(http(port, r, out, sizeof out, NULL), 413);
	assert_non_null(strstr(out, "{\"error\":\"body larger than 1000 bytes\"}"));
	free(r);
	/* a declared length over the cap is answered before any body is sent */
	snprintf(req, sizeof req, "POST /events HTTP/1.1\r\nHost: t\r\n%sContent-Length: 99999999\r\n"
	         "Expect: 100-continue\r\n\r\n", auth);
	assert_int_equal(http(port, req, out, sizeof out, NULL), 413);
	/* chunked, no length: refused once the cap is passed */
	int n = snprintf(req, sizeof req, "POST /events HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s"
	                 "Transfer-Encoding: chunked\r\n\r\n", auth);
	for (int i = 0; i < 3; i++)
		n += snprintf(req + n, sizeof req - (size_t)n, "190\r\n%.400s\r\n", body);
	snprintf(req + n, sizeof req - (size_t)n, "0\r\n\r\n");
	assert_int_equal(http(port, req, out, sizeof out, NULL), 413);
	assert_int_equal(h->entered, 0);
	body[1000] = '\0';
	body[0] = '{';
	r = post_request(body, auth); /* exactly 1000 */
	assert_int_equal(http(port, r, out, sizeof out, NULL), 200);
	assert_int_equal(h->last_len, 1000);
	assert_non_null(strstr(out, "{\"len\":1000}"));
	free(r);
	r = post_request("{}", "Authorization: Bearer wrong\r\n");
	assert_int_equal(http(port, r, out, sizeof out, NULL), 401);
	assert_non_null(strstr(out, "WWW-Authenticate: Bearer"));
	free(r);
	r = post_request("{}", NULL);
	assert_int_equal(http(port, r, out, sizeof out, NULL), 401);
	free(r);
	assert_int_equal(h->finished, 1);
	assert_int_equal(http(port, "GET /events HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", out, sizeof out, NULL), 405);
	assert_int_equal(http(port, "GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", out, sizeof out, NULL), 404);
	assert_healthz_fast(port, 1); /* no token needed */
	zl_webhook_stop(w);
	hook_free(h);
}

/* A page handler: echoes the path as text/plain. */
static int page(void *ud, const char *path, zl_buf *reply, const char **type)
{
	int *calls = ud;
	(*calls)++;
	*type = "text/plain; charset=utf-8";
	zl_buf_printf(reply, "page %s", path);
	return strcmp(path, "/missing") == 0 ? 404 : 200;
}

/* GET pages go to the page handler, on a handler thread, behind the token; a server without an
 * event handler has no POST /events. */
static void test_pages(void **state)
{
	int calls = 0;
	char out[4096];
	zl_webhook *w = NULL;
	zl_err err;
	zl_webhook_opts o = { .listen = "127.0.0.1:0", .token = "tok", .pages = page, .pages_ud = &calls,
		              .option = "--metrics" };
	assert_int_equal(zl_webhook_start(&o, NULL, NULL, &w, &err), 0);
	int port = zl_webhook_port(w);
	const char *get = "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer tok\r\n\r\n";
	assert_int_equal(http(port, get, out, sizeof out, NULL), 200);
	assert_non_null(strstr(out, "Content-Type: text/plain; charset=utf-8"));
	assert_non_null(strstr(out, "\r\n\r\npage /metrics"));
	assert_int_equal(http(port, "GET /batches/01a2?x=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
	                            "Authorization: Bearer tok\r\n\r\n", out, sizeof out, NULL), 200);
	assert_non_null(strstr(out, "page /batches/01a2")); /* without the query */
	assert_null(strstr(out, "x=1"));
	assert_int_equal(http(port, "GET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
	                            "Authorization: Bearer tok\r\n\r\n", out, sizeof out, NULL), 404);
	assert_int_equal(calls, 3);
	assert_int_equal(http(port, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", out, sizeof out,
	                      NULL), 401);
	assert_int_equal(calls, 3);
	char *r = post_request("{}", "Authorization: Bearer tok\r\n");
	assert_int_equal(http(port, r, out, sizeof out, NULL), 404);
	free(r);
	assert_healthz_fast(port, 1);
	zl_webhook_stop(w);
	/* its errors name its option */
	o.listen = "127.0.0.1:99999";
	assert_int_equal(zl_webhook_start(&o, NULL, NULL, &w, &err), ZL_EINVAL);
	assert_non_null(strstr(err.msg, "--metrics"));
}

static void expect_listen(const char *s, const char *formatted)
{
	struct sockaddr_storage sa;
	zl_err err;
	char out[64];
	int rc = zl_listen_addr_parse(s, "--webhook", &sa, &err);
	if (rc)
		print_error("%s: %s\n", s, err.msg);
	assert_int_equal(rc, 0);
	int port = sa.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
	                                    : ntohs(((struct sockaddr_in *)&sa)->sin_port);
	assert_string_equal(zl_listen_addr_format(&sa, port, out, sizeof out), formatted);
}

static void expect_listen_error(const char *s, const char *msg)
{
	struct sockaddr_storage sa;
	zl_err err;
	assert_int_equal(zl_listen_addr_parse(s, "--webhook", &sa, &err), ZL_EINVAL);
	if (!strstr(err.msg, msg))
		print_error("%s: [%s] lacks [%s]\n", s, err.msg, msg);
	assert_non_null(strstr(err.msg, msg));
}

static void test_listen_addresses(void **state)
{
	expect_listen("8080", "127.0.0.1:8080");
	expect_listen("0", "127.0.0.1:0");
	expect_listen("10.1.2.3:80", "10.1.2.3:80");
	expect_listen(":9000", "0.0.0.0:9000");
	expect_listen("[::1]:8080", "[::1]:8080");
	expect_listen("[::]:0", "[::]:0");
	expect_listen_error("", "--webhook: empty address: expected PORT, ADDR:PORT or [IPv6]:PORT, e.g. 8080");
	expect_listen_error("http", "--webhook \"http\": \"http\" is not a port (0-65535)");
	expect_listen_error("65536", "\"65536\" is not a port");
	expect_listen_error("-1", "\"-1\" is not a port");
	expect_listen_error("127.0.0.1:", "--webhook \"127.0.0.1:\": \"\" is not a port");
	expect_listen_error("localhost:80", "--webhook \"localhost:80\": \"localhost\" is not an IPv4 address");
	expect_listen_error("::1:80", "write an IPv6 address in brackets, e.g. [::1]:8080");
	expect_listen_error("[::1]80", "expected [IPv6]:PORT");
	expect_listen_error("[nope]:80", "\"nope\" is not an IPv6 address");
	/* and a webhook really listens on IPv6 */
	hook_ctx *h = hook_new(0);
	zl_webhook *w = NULL;
	zl_err err;
	zl_webhook_opts o = { .listen = "[::1]:0" };
	if (zl_webhook_start(&o, handler, h, &w, &err) == 0) {
		char want[64];
		snprintf(want, sizeof want, "[::1]:%d", zl_webhook_port(w));
		assert_string_equal(zl_webhook_address(w), want);
		zl_webhook_stop(w);
	} else {
		print_message("no IPv6 loopback here: %s\n", err.msg);
	}
	o.listen = "8080x";
	assert_int_equal(zl_webhook_start(&o, handler, h, &w, &err), ZL_EINVAL);
	assert_null(w);
	hook_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_addresses),
		cmocka_unit_test(test_bodies_and_auth),
		cmocka_unit_test(test_pages),
		cmocka_unit_test(test_blocked_handler),
		cmocka_unit_test(test_stop_drains),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test_setup(test_idle_flood_accepted, setup_nofile),
		cmocka_unit_test_setup(test_per_address_limit, setup_nofile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
