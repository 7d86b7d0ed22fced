#include "intake/webhook.h"
#include "util/listen_addr.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <errno.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#if MHD_VERSION < 0x00097002
typedef int mhd_result;
#else
typedef enum MHD_Result mhd_result;
#endif

#define REPLY_CAP ((size_t)16 << 20)
#define FD_RESERVE 128   /* descriptors kept for everything but connections (state, targets, files) */
#define DRAIN_MS 5000    /* at stop: how long the last replies may take to go out */
#define LOG_BURST 5      /* libmicrohttpd messages logged per second; a flood's are counted */

typedef struct request request;

struct zl_webhook {
	struct MHD_Daemon *d;
	zl_webhook_opts o;       /* defaults filled in; o.token points at token, o.listen is NULL */
	char *token;
	zl_webhook_handler handler;
	void *ud;
	int port;
	char address[64];
	pthread_mutex_t mu;
	pthread_cond_t work_cv;  /* a body was queued, or stopping */
	pthread_cond_t done_cv;  /* a dispatched request completed */
	request *head, *tail;    /* bodies waiting for a handler thread */
	unsigned queued;         /* bodies waiting or in a handler */
	unsigned dispatched;     /* handed to the pool and not yet completed by libmicrohttpd */
	int stopping;
	pthread_t *threads;
	int nthreads;
	pthread_mutex_t log_mu;  /* rate limit of libmicrohttpd's messages (which may come under mu) */
	int64_t log_second;
	unsigned log_count;
};

/* Per-request state, from the headers to the reply. Owned by libmicrohttpd's thread except while
 * dispatched: then by the handler thread, until it resumes the connection. */
struct request {
	struct MHD_Connection *conn;
	zl_buf body;
	int verdict;             /* non-zero once decided before the body ended (401, 413, 503) */
	int dispatched;
	int replied;             /* the handler's answer is in reply_status and reply */
	int reply_status;
	zl_buf reply;
	char *path;              /* a GET page, or NULL for POST /events */
	const char *reply_type;  /* the page's content type */
	request *next;           /* in the queue */
};

static mhd_result reply_typed(struct MHD_Connection *c, int status, const char *body, size_t len, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
	if (status == 503)
		MHD_add_response_header(r, "Retry-After", "1");
	mhd_result ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static mhd_result reply(struct MHD_Connection *c, int status, const char *json)
{
	return reply_typed(c, status, json, strlen(json), "application/json");
}

static mhd_result reply_error(struct MHD_Connection *c, int status, const char *msg)
{
	zl_buf b;
	zl_buf_init(&b, 4096);
	zl_buf_adds(&b, "{\"error\":\"");
	for (const char *p = msg; *p; p++) {
		if (*p == '"' || *p == '\\')
			zl_buf_addc(&b, '\\');
		if ((unsigned char)*p >= 0x20)
			zl_buf_addc(&b, *p);
	}
	zl_buf_adds(&b, "\"}");
	mhd_result ret = reply(c, status, zl_buf_str(&b));
	zl_buf_release(&b);
	return ret;
}

/* The answer to a request refused before its body reached a handler. */
static mhd_result reply_verdict(zl_webhook *w, struct MHD_Connection *c, int status)
{
	char msg[96];
	if (status == 401)
		return reply_error(c, 401, "missing or wrong bearer token");
	if (status == 413) {
		snprintf(msg, sizeof msg, "body larger than %zu bytes", w->o.max_body);
		return reply_error(c, 413, msg);
	}
	return reply_error(c, 503, "out of memory for the body: send again");
}

static int authorized(zl_webhook *w, struct MHD_Connection *c)
{
	if (!w->token)
		return 1;
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	size_t n = strlen(w->token);
	return h && strncmp(h, "Bearer ", 7) == 0 && strlen(h + 7) == n &&
	       CRYPTO_memcmp(h + 7, w->token, n) == 0;
}

/* The first call of a POST /events: headers only. The body's buffer is allocated once from
 * Content-Length; a declared length over the cap is refused at once (a sender waiting on
 * "Expect: 100-continue" then sends nothing). */
static mhd_result begin_request(zl_webhook *w, struct MHD_Connection *c, const char *page, void **con_cls)
{
	request *rq = calloc(1, sizeof *rq);
	if (!rq)
		return MHD_NO;
	rq->conn = c;
	if (page && !(rq->path = strdup(page))) {
		free(rq);
		return MHD_NO;
	}
	zl_buf_init(&rq->body, w->o.max_body);
	zl_buf_init(&rq->reply, REPLY_CAP);
	*con_cls = rq; /* freed by on_done, whatever happens next */
	if (!authorized(w, c)) {
		rq->verdict = 401;
		return MHD_YES;
	}
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) { /* libmicrohttpd has checked it is a number */
		unsigned long long n = strtoull(cl, NULL, 10);
		if (n > w->o.max_body)
			return reply_verdict(w, c, 413);
		if (zl_buf_reserve(&rq->body, (size_t)n))
			rq->verdict = 503;
	}
	return MHD_YES;
}

/* The body is complete: suspend the connection and queue the body for a handler thread, which
 * resumes the connection with the reply. */
static mhd_result dispatch(zl_webhook *w, struct MHD_Connection *c, request *rq)
{
	pthread_mutex_lock(&w->mu);
	if (w->stopping || w->queued >= w->o.max_queued) {
		int stopping = w->stopping;
		unsigned queued = w->queued;
		pthread_mutex_unlock(&w->mu);
		char msg[128];
		if (stopping)
			return reply_error(c, 503, "shutting down: send again");
		snprintf(msg, sizeof msg, "busy: %u bodies are waiting for a handler: send again", queued);
		return reply_error(c, 503, msg);
	}
	MHD_suspend_connection(c); /* before a handler thread can see it and resume it */
	rq->dispatched = 1;
	rq->next = NULL;
	if (w->tail)
		w->tail->next = rq;
	else
		w->head = rq;
	w->tail = rq;
	w->queued++;
	w->dispatched++;
	pthread_cond_signal(&w->work_cv);
	pthread_mutex_unlock(&w->mu);
	return MHD_YES;
}

static mhd_result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                             const char *version, const char *data, size_t *size, void **con_cls)
{
	zl_webhook *w = cls;
	request *rq = *con_cls;
	int get = strcmp(method, "GET") == 0;
	if (get && strcmp(url, "/healthz") == 0)
		return reply(c, 200, "{\"status\":\"ok\"}");
	int page = get && w->o.pages && strcmp(url, "/events") != 0;
	if (!page && (strcmp(url, "/events") != 0 || !w->handler))
		return reply_error(c, 404, w->handler ? "not found: POST /events or GET /healthz" : "not found");
	if (!page && strcmp(method, "POST") != 0)
		return reply_error(c, 405, "method not allowed: use POST");
	if (!rq)
		return begin_request(w, c, page ? url : NULL, con_cls);
	if (*size) { /* a chunk of the body */
		if (!rq->verdict && zl_buf_add(&rq->body, data, *size) != 0)
			rq->verdict = rq->body.len + *size > w->o.max_body ? 413 : 503;
		*size = 0;
		return MHD_YES;
	}
	if (rq->replied) /* called again after the handler thread resumed the connection */
		return reply_typed(c, rq->reply_status, zl_buf_str(&rq->reply), rq->reply.len,
		                   rq->reply_type ? rq->reply_type : "application/json");
	if (rq->verdict)
		return reply_verdict(w, c, rq->verdict);
	return dispatch(w, c, rq);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	zl_webhook *w = cls;
	request *rq = *con_cls;
	if (!rq)
		return;
	if (rq->dispatched) {
		pthread_mutex_lock(&w->mu);
		w->dispatched--;
		pthread_cond_broadcast(&w->done_cv);
		pthread_mutex_unlock(&w->mu);
	}
	zl_buf_release(&rq->body);
	zl_buf_release(&rq->reply);
	free(rq->path);
	free(rq);
	*con_cls = NULL;
}

static void *handler_thread(void *arg)
{
	zl_webhook *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->head && !w->stopping)
			pthread_cond_wait(&w->work_cv, &w->mu);
		request *rq = w->head;
		if (!rq) /* stopping, and the queue is drained */
			break;
		w->head = rq->next;
		if (!w->head)
			w->tail = NULL;
		pthread_mutex_unlock(&w->mu);

		int status = rq->path ? w->o.pages(w->o.pages_ud, rq->path, &rq->reply, &rq->reply_type)
		                      : w->handler(w->ud, zl_buf_str(&rq->body), rq->body.len, &rq->reply);
		rq->reply_status = status >= 100 && status <= 599 ? status : 500;
		rq->replied = 1;
		zl_buf_release(&rq->body); /* the body's memory goes back before the reply goes out */
		pthread_mutex_lock(&w->mu);
		w->queued--;
		pthread_mutex_unlock(&w->mu);
		MHD_resume_connection(rq->conn); /* rq is libmicrohttpd's again: on_request sends the reply */
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* libmicrohttpd's messages: a client hanging up is routine (debug); the rest are warnings, at
 * most LOG_BURST a second (a connection flood makes one per connection refused). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	zl_webhook *w = cls;
	char msg[256];
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\r\n")] = '\0';
	if (strstr(msg, "closed by remote side") || strstr(msg, "timed out")) {
		ZL_LOG(ZL_DEBUG, "webhook: http server", ZL_S("detail", msg));
		return;
	}
	int64_t second = zl_mono_ms() / 1000;
	unsigned dropped = 0;
	pthread_mutex_lock(&w->log_mu);
	if (second != w->log_second) {
		dropped = w->log_count > LOG_BURST ? w->log_count - LOG_BURST : 0;
		w->log_second = second;
		w->log_count = 0;
	}
	int show = ++w->log_count <= LOG_BURST;
	pthread_mutex_unlock(&w->log_mu);
	if (dropped)
		ZL_LOG(ZL_WARN, "webhook: http server messages suppressed", ZL_I("count", dropped));
	if (show)
		ZL_LOG(ZL_WARN, "webhook: http server", ZL_S("detail", msg));
}

/* Raises the soft limit on open files to the hard one; returns the soft limit in force. */
static rlim_t raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = { rl.rlim_max, rl.rlim_max };
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
	}
	return rl.rlim_cur;
}

static void fill_defaults(zl_webhook_opts *o)
{
	if (!o->max_body)
		o->max_body = ZL_WEBHOOK_MAX_BODY;
	if (!o->max_conns)
		o->max_conns = ZL_WEBHOOK_MAX_CONNS;
	if (!o->max_per_ip)
		o->max_per_ip = ZL_WEBHOOK_MAX_PER_IP;
	if (!o->idle_secs)
		o->idle_secs = ZL_WEBHOOK_IDLE_SECS;
	if (o->handler_threads <= 0)
		o->handler_threads = ZL_WEBHOOK_HANDLERS;
	if (!o->max_queued)
		o->max_queued = ZL_WEBHOOK_MAX_QUEUED;
	rlim_t nofile = raise_nofile();
	if ((rlim_t)o->max_conns + FD_RESERVE > nofile) {
		unsigned fit = nofile > 2 * FD_RESERVE ? (unsigned)(nofile - FD_RESERVE) : (unsigned)(nofile / 2);
		ZL_LOG(ZL_WARN, "webhook: fewer connections than asked, for the open-file limit",
		       ZL_I("asked", o->max_conns), ZL_I("max_conns", fit), ZL_I("nofile", (long long)nofile));
		o->max_conns = fit;
	}
}

/* Stops the handler threads once the queue is drained, and frees everything. */
static void destroy(zl_webhook *w)
{
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_broadcast(&w->work_cv);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	if (w->d)
		MHD_stop_daemon(w->d);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->log_mu);
	pthread_cond_destroy(&w->work_cv);
	pthread_cond_destroy(&w->done_cv);
	free(w->threads);
	free(w->token);
	free(w);
}

int zl_webhook_start(const zl_webhook_opts *o, zl_webhook_handler h, void *ud, zl_webhook **out, zl_err *err)
{
	struct sockaddr_storage sa;
	zl_webhook *w = NULL;
	pthread_condattr_t ca;
	const char *option = o->option ? o->option : "--webhook";
	int rc = zl_listen_addr_parse(o->listen, option, &sa, err);
	*out = NULL;
	if (rc)
		return rc;
	if (!(w = calloc(1, sizeof *w)))
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	w->o = *o;
	w->o.listen = NULL;
	fill_defaults(&w->o);
	w->token = o->token && *o->token ? strdup(o->token) : NULL;
	w->o.token = w->token;
	w->handler = h;
	w->ud = ud;
	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->log_mu, NULL);
	pthread_cond_init(&w->work_cv, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (!(w->threads = calloc((size_t)w->o.handler_threads, sizeof *w->threads)) || (o->token && *o->token && !w->token)) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	for (; w->nthreads < w->o.handler_threads; w->nthreads++)
		if (pthread_create(&w->threads[w->nthreads], NULL, handler_thread, w) != 0) {
			rc = zl_err_set(err, ZL_EIO, "webhook: cannot start a handler thread");
			goto out;
		}
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	w->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, w, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, w,
	                        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_done, w,
	                        MHD_OPTION_CONNECTION_TIMEOUT, w->o.idle_secs, MHD_OPTION_CONNECTION_LIMIT,
	                        w->o.max_conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT, w->o.max_per_ip, MHD_OPTION_END);
	if (!w->d) {
		rc = zl_err_set(err, ZL_EIO, "%s %s: cannot listen (address in use or not local?)", option, o->listen);
		goto out;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_BIND_PORT);
	w->port = info ? info->port : 0;
	zl_listen_addr_format(&sa, w->port, w->address, sizeof w->address);
	*out = w;
out:
	if (rc)
		destroy(w);
	return rc;
}

int zl_webhook_port(const zl_webhook *w) { return w->port; }

const char *zl_webhook_address(const zl_webhook *w) { return w->address; }

const zl_webhook_opts *zl_webhook_options(const zl_webhook *w) { return &w->o; }

unsigned zl_webhook_connections(const zl_webhook *w)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return info ? info->num_connections : 0;
}

const char *zl_webhook_poller(const zl_webhook *w)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_FLAGS);
	if (!info)
		return "unknown";
	return (info->flags & MHD_USE_EPOLL) ? "epoll" : (info->flags & MHD_USE_POLL) ? "poll" : "select";
}

void zl_webhook_stop(zl_webhook *w)
{
	if (!w)
		return;
	MHD_socket listen_fd = MHD_quiesce_daemon(w->d); /* no new connections */
	pthread_mutex_lock(&w->mu);
	w->stopping = 1; /* bodies completed from now on are answered 503 */
	pthread_cond_broadcast(&w->work_cv);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->nthreads; i++) /* they drain the queue first */
		pthread_join(w->threads[i], NULL);
	w->nthreads = 0;
	/* every dispatched connection is resumed: wait (a while) for the replies to go out */
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += DRAIN_MS / 1000;
	pthread_mutex_lock(&w->mu);
	while (w->dispatched > 0 && pthread_cond_timedwait(&w->done_cv, &w->mu, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&w->mu);
	destroy(w);
	if (listen_fd != MHD_INVALID_SOCKET) /* only once libmicrohttpd's thread is gone */
		close(listen_fd);
}
