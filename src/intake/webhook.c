#include "intake/webhook.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if MHD_VERSION < 0x00097002
typedef int mhd_result;
#else
typedef enum MHD_Result mhd_result;
#endif

struct zl_webhook {
	struct MHD_Daemon *d;
	char *token;
	size_t max_body;
	zl_webhook_handler handler;
	void *ud;
	int port;
};

/* Per-request state: the body so far, or a verdict reached before the body ended. */
typedef struct request {
	zl_buf body;
	int status; /* non-zero once decided (401, 413) */
} request;

static mhd_result reply(struct MHD_Connection *c, int status, const char *json)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
	mhd_result ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
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

static int authorized(zl_webhook *w, struct MHD_Connection *c)
{
	if (!w->token)
		return 1;
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	size_t n = strlen(w->token);
	return h && strncmp(h, "Bearer ", 7) == 0 && strlen(h + 7) == n &&
	       CRYPTO_memcmp(h + 7, w->token, n) == 0;
}

static mhd_result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                             const char *version, const char *data, size_t *size, void **con_cls)
{
	zl_webhook *w = cls;
	request *rq = *con_cls;
	if (strcmp(method, "GET") == 0 && strcmp(url, "/healthz") == 0)
		return reply(c, 200, "{\"status\":\"ok\"}");
	if (strcmp(url, "/events") != 0)
		return reply_error(c, 404, "not found: POST /events or GET /healthz");
	if (strcmp(method, "POST") != 0)
		return reply_error(c, 405, "method not allowed: use POST");
	if (!rq) { /* first call: headers only */
		rq = calloc(1, sizeof *rq);
		if (!rq)
			return MHD_NO;
		zl_buf_init(&rq->body, w->max_body);
		if (!authorized(w, c))
			rq->status = 401;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*size) { /* a chunk of the body */
		if (!rq->status && zl_buf_add(&rq->body, data, *size) != 0)
			rq->status = 413;
		*size = 0;
		return MHD_YES;
	}
	if (rq->status == 401)
		return reply_error(c, 401, "missing or wrong bearer token");
	if (rq->status == 413) {
		char msg[96];
		snprintf(msg, sizeof msg, "body larger than %zu bytes", w->max_body);
		return reply_error(c, 413, msg);
	}
	zl_buf out;
	zl_buf_init(&out, 1 << 20);
	int status = w->handler(w->ud, zl_buf_str(&rq->body), rq->body.len, &out);
	mhd_result ret = reply(c, status, zl_buf_str(&out));
	zl_buf_release(&out);
	return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	request *rq = *con_cls;
	if (rq) {
		zl_buf_release(&rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

static int parse_listen(const char *listen, struct sockaddr_in *sa, zl_err *err)
{
	const char *colon = strrchr(listen, ':');
	char host[64];
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	if (!colon || (size_t)(colon - listen) >= sizeof host)
		return zl_err_set(err, ZL_EINVAL, "--webhook \"%s\": expected ADDR:PORT, e.g. 127.0.0.1:8080", listen);
	snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535 || inet_pton(AF_INET, *host ? host : "0.0.0.0", &sa->sin_addr) != 1)
		return zl_err_set(err, ZL_EINVAL, "--webhook \"%s\": expected an IPv4 ADDR:PORT, e.g. 127.0.0.1:8080", listen);
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

int zl_webhook_start(const char *listen, const char *token, size_t max_body, zl_webhook_handler handler,
                     void *ud, zl_webhook **out, zl_err *err)
{
	struct sockaddr_in sa;
	*out = NULL;
	int rc = parse_listen(listen, &sa, err);
	if (rc)
		return rc;
	zl_webhook *w = calloc(1, sizeof *w);
	if (!w)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	w->token = token && *token ? strdup(token) : NULL;
	w->max_body = max_body;
	w->handler = handler;
	w->ud = ud;
	w->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, w,
	                        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_done, w,
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
	if (!w->d) {
		free(w->token);
		free(w);
		return zl_err_set(err, ZL_EIO, "--webhook %s: cannot listen (address in use or not local?)", listen);
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_BIND_PORT);
	w->port = info ? info->port : ntohs(sa.sin_port);
	*out = w;
	return 0;
}

int zl_webhook_port(const zl_webhook *w) { return w->port; }

void zl_webhook_stop(zl_webhook *w)
{
	if (!w)
		return;
	MHD_stop_daemon(w->d);
	free(w->token);
	free(w);
}
