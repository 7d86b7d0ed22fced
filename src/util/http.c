#include "util/http.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define DEFAULT_BODY_CAP ((size_t)1 << 20)
#define HEADERS_CAP ((size_t)64 << 10)
#define ERROR_BODY_CAP ((size_t)64 << 10)
#define STREAM_BUF ((size_t)1 << 20)      /* the bounded buffer of a stream */
#define STREAM_RESUME ((size_t)256 << 10) /* a paused stream resumes once this much is free */
#define RETRY_CAP_MS 5000
#define DEFAULT_TIMEOUT_MS 300000L
#define DEFAULT_CONNECT_MS 5000L

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_rc = CURLE_FAILED_INIT;
static int cfg_attempts = 5;
static long cfg_base_ms = 200;
static long cfg_stall_ms = 60000;
static CURLSH *share;
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *ud)
{
	pthread_mutex_lock(&share_locks[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *ud)
{
	pthread_mutex_unlock(&share_locks[d]);
}

static long env_long(const char *name, long def, long min, long max)
{
	const char *v = getenv(name);
	char *end;
	if (!v || !*v)
		return def;
	long n = strtol(v, &end, 10);
	return *end || n < min || n > max ? def : n;
}

static void global_init(void)
{
	init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	cfg_attempts = (int)env_long("ZLOAD_HTTP_RETRIES", 5, 1, 100);
	cfg_base_ms = env_long("ZLOAD_HTTP_RETRY_BASE_MS", 200, 0, 60000);
	cfg_stall_ms = env_long("ZLOAD_HTTP_STALL_SECS", 60, 1, 86400) * 1000;
	if (init_rc != CURLE_OK)
		return;
	/* DNS, TLS sessions and connections are shared by every request of the process. */
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&share_locks[i], NULL);
	if ((share = curl_share_init())) {
		curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
		curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
		curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
		curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
		curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	}
}

static int ensure_init(zl_err *err)
{
	pthread_once(&init_once, global_init);
	return init_rc == CURLE_OK ? 0
	       : zl_err_set(err, ZL_EINVAL, "libcurl initialisation failed: %s", curl_easy_strerror(init_rc));
}

int zl_http_init(zl_err *err) { return ensure_init(err); }

const char *zl_http_ca_file(void)
{
	const char *f = getenv("CURL_CA_BUNDLE");
	if (!f || !*f)
		f = getenv("SSL_CERT_FILE");
	return f && *f ? f : NULL;
}

void zl_http_resp_init(zl_http_resp *r)
{
	r->status = 0;
	r->attempts = 0;
	zl_buf_init(&r->body, DEFAULT_BODY_CAP);
	zl_buf_init(&r->headers, HEADERS_CAP);
}

void zl_http_resp_release(zl_http_resp *r)
{
	zl_buf_release(&r->body);
	zl_buf_release(&r->headers);
}

int zl_http_resp_header(const zl_http_resp *r, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);
	const char *p = zl_buf_str(&r->headers);
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1, *e = p + len;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
				e--;
			if ((size_t)(e - v) >= n)
				return 0;
			memcpy(out, v, (size_t)(e - v));
			out[e - v] = '\0';
			return 1;
		}
		p += len;
		if (*p)
			p++;
	}
	return 0;
}

void zl_http_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL))
		mdlen = 0;
	for (unsigned int i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[mdlen == 32 ? 64 : 0] = '\0';
}

int64_t zl_http_date_ms(const char *s)
{
	time_t t = curl_getdate(s, NULL);
	return t < 0 ? 0 : (int64_t)t * 1000;
}

int zl_http_encode(zl_buf *out, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		            c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
		char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
		if (plain ? zl_buf_addc(out, (char)c) : zl_buf_add(out, esc, 3))
			return ZL_ENOMEM;
	}
	return 0;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int zl_http_decode(char *s, int plus_is_space)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		if (*r == '%') {
			int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);
			if (lo < 0)
				return ZL_EINVAL;
			*w++ = (char)(hi << 4 | lo);
			r += 2;
		} else {
			*w++ = plus_is_space && *r == '+' ? ' ' : *r;
		}
	}
	*w = '\0';
	return 0;
}

static int retryable_curl(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

/* 429, 500, 502, 503, 504, S3's SlowDown and RequestTimeout, and the throttling errors of the
 * JSON protocols. */
static int retryable_status(long st, const zl_buf *body)
{
	if (st == 429 || st == 500 || st == 502 || st == 503 || st == 504)
		return 1;
	if (st != 400)
		return 0;
	const char *b = zl_buf_str(body);
	return strstr(b, "<Code>SlowDown</Code>") || strstr(b, "<Code>RequestTimeout</Code>") ||
	       strstr(b, "Throttling") || strstr(b, "ProvisionedThroughputExceeded") ||
	       strstr(b, "RequestLimitExceeded") || strstr(b, "TooManyRequests");
}

/* Sleeps a random time in [0, min(cap, base * 2^retry)): exponential back-off, full jitter. */
static void backoff(int retry)
{
	int64_t ceil = cfg_base_ms;
	for (int i = 0; i < retry && ceil < RETRY_CAP_MS; i++)
		ceil *= 2;
	if (ceil > RETRY_CAP_MS)
		ceil = RETRY_CAP_MS;
	uint32_t rnd = 0;
	if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
		rnd = (uint32_t)zl_mono_ms() * 2654435761u;
	if (ceil > 0)
		zl_sleep_ms((int64_t)(rnd % (uint32_t)ceil));
}

/* The scheme and host of url, for messages (the path may be long). */
static void url_host(const char *url, char *out, size_t n)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	size_t len = strcspn(p, "/?#");
	snprintf(out, n, "%.*s", (int)len, p);
}

static int has_header(const zl_http_req *req, const char *name)
{
	size_t nl = strlen(name);
	for (const char *const *h = req->headers; h && *h; h++)
		if (strncasecmp(*h, name, nl) == 0 && (*h)[nl] == ':')
			return 1;
	return 0;
}

static int add_header(struct curl_slist **l, const char *line)
{
	struct curl_slist *t = curl_slist_append(*l, line);
	if (!t)
		return ZL_ENOMEM;
	*l = t;
	return 0;
}

/* The request's headers plus x-amz-content-sha256 (S3), x-amz-security-token and a Content-Type
 * for bodies. */
static int build_headers(const zl_http_req *req, struct curl_slist **out, zl_err *err)
{
	struct curl_slist *l = NULL;
	zl_buf line;
	zl_buf_init(&line, 0);
	int rc = 0;
	for (const char *const *h = req->headers; h && *h && rc == 0; h++)
		rc = add_header(&l, *h);
	if (rc == 0 && req->service && strcmp(req->service, "s3") == 0) {
		char hex[65];
		zl_http_sha256_hex(req->body, req->body ? req->body_len : 0, hex);
		zl_buf_reset(&line);
		if ((rc = zl_buf_printf(&line, "x-amz-content-sha256: %s", hex)) == 0)
			rc = add_header(&l, line.data);
	}
	if (rc == 0 && req->service && req->session_token && *req->session_token) {
		zl_buf_reset(&line);
		if ((rc = zl_buf_printf(&line, "x-amz-security-token: %s", req->session_token)) == 0)
			rc = add_header(&l, line.data);
	}
	if (rc == 0 && req->body && !has_header(req, "Content-Type"))
		rc = add_header(&l, "Content-Type: application/octet-stream");
	zl_buf_release(&line);
	if (rc) {
		curl_slist_free_all(l);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	*out = l;
	return 0;
}

/* Where the callbacks of one easy handle write. */
typedef struct sink {
	zl_http_resp *resp;
	int overflow;
	struct zl_http_stream *stream; /* streaming mode when set */
} sink;

struct zl_http_stream {
	CURLM *multi;
	CURL *h;
	struct curl_slist *hdrs;
	sink sk;
	zl_http_resp resp;  /* status, headers and the error body of non-2xx responses */
	char *buf;          /* bytes received and not yet read: buf[rd..wr) */
	size_t cap, rd, wr;
	int added, paused, done, headers_done, ok_status;
	CURLcode result;
	uint64_t offset;    /* bytes handed out */
	int attempts, max_attempts;
	int64_t last_progress;
	char host[256];
	char errbuf[CURL_ERROR_SIZE];
};

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	sink *sk = ud;
	size_t len = size * n;
	zl_http_resp *r = sk->resp;
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0)
		zl_buf_reset(&r->headers);
	zl_buf_add(&r->headers, p, len); /* beyond the cap, lines are dropped */
	zl_http_stream *s = sk->stream;
	if (s) {
		s->last_progress = zl_mono_ms();
		if ((len == 2 && p[0] == '\r') || (len == 1 && p[0] == '\n')) {
			long code = 0;
			curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
			if (code >= 200) {
				s->headers_done = 1;
				s->ok_status = code >= 200 && code < 300;
				r->status = code;
			}
		}
	}
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	sink *sk = ud;
	size_t len = size * n;
	if (zl_buf_add(&sk->resp->body, p, len)) {
		sk->overflow = 1;
		return 0;
	}
	return len;
}

/* Stream bodies go to the bounded buffer; a full buffer pauses the transfer. */
static size_t on_stream_body(char *p, size_t size, size_t n, void *ud)
{
	zl_http_stream *s = ((sink *)ud)->stream;
	size_t len = size * n;
	s->last_progress = zl_mono_ms();
	if (!s->ok_status) {
		zl_buf_add(&s->resp.body, p, len); /* error bodies beyond the cap are cut */
		return len;
	}
	if (s->cap - s->wr < len && s->rd > 0) {
		memmove(s->buf, s->buf + s->rd, s->wr - s->rd);
		s->wr -= s->rd;
		s->rd = 0;
	}
	if (s->cap - s->wr < len) {
		if (s->wr > 0) {
			s->paused = 1;
			return CURL_WRITEFUNC_PAUSE;
		}
		char *nb = realloc(s->buf, len); /* one piece larger than the whole buffer */
		if (!nb)
			return 0;
		s->buf = nb;
		s->cap = len;
	}
	memcpy(s->buf + s->wr, p, len);
	s->wr += len;
	return len;
}

/* Aborts a transfer (a long poll, say) once the caller's cancel flag is set. */
static int on_progress(void *cancel, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	return *(const volatile int *)cancel != 0;
}

static void setup(CURL *h, const zl_http_req *req, struct curl_slist *hdrs, sink *sk, char *errbuf,
                  int streaming)
{
	const char *method = req->method ? req->method : "GET";
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	const char *ca = zl_http_ca_file();
	if (ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	if (share)
		curl_easy_setopt(h, CURLOPT_SHARE, share);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	                 req->connect_timeout_ms > 0 ? req->connect_timeout_ms : DEFAULT_CONNECT_MS);
	if (!streaming && req->timeout_ms >= 0)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS);
	else if (req->timeout_ms > 0)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") == 0 && !req->body) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		/* PUT and POST always carry a Content-Length, 0 for no body. */
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
	}
	if (req->service) {
		char sig[160];
		snprintf(sig, sizeof sig, "aws:amz:%s:%s", req->region ? req->region : "us-east-1", req->service);
		curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sig);
		curl_easy_setopt(h, CURLOPT_USERNAME, req->access_key ? req->access_key : "");
		curl_easy_setopt(h, CURLOPT_PASSWORD, req->secret_key ? req->secret_key : "");
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, sk);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, streaming ? on_stream_body : on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, sk);
	if (req->cancel) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)req->cancel);
	}
}

static void log_retry(const zl_http_req *req, int attempt, const char *why)
{
	char host[256];
	url_host(req->url, host, sizeof host);
	ZL_LOG(ZL_WARN, "http request retried", ZL_S("method", req->method ? req->method : "GET"),
	       ZL_S("host", host), ZL_I("attempt", attempt), ZL_S("error", why));
}

static int transport_error(const zl_http_req *req, CURLcode cc, const char *errbuf, int attempts,
                           zl_err *err)
{
	char host[256];
	url_host(req->url, host, sizeof host);
	return zl_err_set(err, retryable_curl(cc) ? ZL_ETRANSIENT : ZL_EINVAL, "%s %s: %s (%d attempt%s)",
	                  req->method ? req->method : "GET", host, *errbuf ? errbuf : curl_easy_strerror(cc),
	                  attempts, attempts == 1 ? "" : "s");
}

int zl_http_perform(const zl_http_req *req, zl_http_resp *resp, zl_err *err)
{
	int rc = ensure_init(err);
	if (rc)
		return rc;
	CURL *h = NULL;
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE];
	sink sk = { resp, 0, NULL };
	int attempts = req->attempts > 0 ? req->attempts : cfg_attempts;
	resp->body.cap = req->body_cap ? req->body_cap : DEFAULT_BODY_CAP;
	if ((rc = build_headers(req, &hdrs, err)))
		goto out;
	if (!(h = curl_easy_init())) {
		rc = zl_err_set(err, ZL_ENOMEM, "cannot create a curl handle");
		goto out;
	}
	setup(h, req, hdrs, &sk, errbuf, 0);
	for (int i = 0;; i++) {
		zl_buf_reset(&resp->body);
		zl_buf_reset(&resp->headers);
		resp->status = 0;
		sk.overflow = 0;
		errbuf[0] = '\0';
		CURLcode cc = curl_easy_perform(h);
		resp->attempts = i + 1;
		if (cc == CURLE_OK) {
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
			if (!retryable_status(resp->status, &resp->body) || i + 1 >= attempts)
				break;
			char why[32];
			snprintf(why, sizeof why, "HTTP %ld", resp->status);
			log_retry(req, i + 1, why);
		} else if (cc == CURLE_ABORTED_BY_CALLBACK) {
			rc = zl_err_set(err, ZL_EBUSY, "request cancelled");
			goto out;
		} else if (cc == CURLE_WRITE_ERROR && sk.overflow) {
			char host[256];
			url_host(req->url, host, sizeof host);
			rc = zl_err_set(err, ZL_EINVAL, "%s %s: response body larger than %zu bytes",
			                req->method ? req->method : "GET", host, resp->body.cap);
			goto out;
		} else if (!retryable_curl(cc) || i + 1 >= attempts) {
			rc = transport_error(req, cc, errbuf, i + 1, err);
			goto out;
		} else {
			log_retry(req, i + 1, *errbuf ? errbuf : curl_easy_strerror(cc));
		}
		backoff(i);
	}
out:
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	return rc;
}

/* Drives the transfer a step: runs curl, then waits up to 1 s for the socket when nothing is
 * buffered. Detects the end of the transfer and stalls. */
static void stream_pump(zl_http_stream *s)
{
	int running = 0;
	CURLMcode mc = curl_multi_perform(s->multi, &running);
	CURLMsg *m;
	int q;
	while ((m = curl_multi_info_read(s->multi, &q)))
		if (m->msg == CURLMSG_DONE && m->easy_handle == s->h) {
			s->done = 1;
			s->result = m->data.result;
		}
	if (mc != CURLM_OK && !s->done) {
		s->done = 1;
		s->result = CURLE_RECV_ERROR;
		snprintf(s->errbuf, sizeof s->errbuf, "%s", curl_multi_strerror(mc));
	}
	if (s->done || s->wr > s->rd || s->paused)
		return;
	if (zl_mono_ms() - s->last_progress > cfg_stall_ms) {
		s->done = 1;
		s->result = CURLE_OPERATION_TIMEDOUT;
		snprintf(s->errbuf, sizeof s->errbuf, "no data for %ld s", cfg_stall_ms / 1000);
		return;
	}
	curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
}

static void stream_restart(zl_http_stream *s)
{
	if (s->added)
		curl_multi_remove_handle(s->multi, s->h);
	s->rd = s->wr = 0;
	s->paused = s->done = s->headers_done = s->ok_status = 0;
	s->result = CURLE_OK;
	s->resp.status = 0;
	zl_buf_reset(&s->resp.body);
	zl_buf_reset(&s->resp.headers);
	s->errbuf[0] = '\0';
	s->last_progress = zl_mono_ms();
	s->attempts++;
	s->resp.attempts = s->attempts;
	s->added = curl_multi_add_handle(s->multi, s->h) == CURLM_OK;
	if (!s->added) {
		s->done = 1;
		s->result = CURLE_FAILED_INIT;
	}
}

/* Starts attempts until response headers with a 2xx status arrive (0), another final status
 * (1, s->resp holds it) or no response at all after every attempt (ZL_E*). */
static int stream_connect(zl_http_stream *s, const char *method, zl_err *err)
{
	for (;;) {
		if (s->attempts > 0)
			backoff(s->attempts - 1);
		stream_restart(s);
		while (!s->done && !s->headers_done)
			stream_pump(s);
		if (s->headers_done && s->ok_status)
			return 0;
		if (s->headers_done) {
			while (!s->done)
				stream_pump(s);
			if (!retryable_status(s->resp.status, &s->resp.body) || s->attempts >= s->max_attempts)
				return 1;
			char why[32];
			snprintf(why, sizeof why, "HTTP %ld", s->resp.status);
			ZL_LOG(ZL_WARN, "http request retried", ZL_S("method", method), ZL_S("host", s->host),
			       ZL_I("attempt", s->attempts), ZL_S("error", why));
			continue;
		}
		const char *why = *s->errbuf ? s->errbuf : curl_easy_strerror(s->result);
		if (!retryable_curl(s->result) || s->attempts >= s->max_attempts)
			return zl_err_set(err, retryable_curl(s->result) ? ZL_ETRANSIENT : ZL_EINVAL,
			                  "%s %s: %s (%d attempt%s)", method, s->host, why, s->attempts,
			                  s->attempts == 1 ? "" : "s");
		ZL_LOG(ZL_WARN, "http request retried", ZL_S("method", method), ZL_S("host", s->host),
		       ZL_I("attempt", s->attempts), ZL_S("error", why));
	}
}

static void move_resp(zl_http_resp *dst, zl_http_resp *src)
{
	zl_http_resp_release(dst);
	*dst = *src;
	zl_http_resp_init(src);
}

int zl_http_stream_open(const zl_http_req *req, zl_http_stream **out, zl_http_resp *resp, zl_err *err)
{
	*out = NULL;
	int rc = ensure_init(err);
	if (rc)
		return rc;
	zl_http_stream *s = calloc(1, sizeof *s);
	if (!s)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	zl_http_resp_init(&s->resp);
	s->resp.body.cap = ERROR_BODY_CAP;
	s->sk.resp = &s->resp;
	s->sk.stream = s;
	s->max_attempts = req->attempts > 0 ? req->attempts : cfg_attempts;
	url_host(req->url, s->host, sizeof s->host);
	if ((rc = build_headers(req, &s->hdrs, err)))
		goto out;
	s->cap = STREAM_BUF;
	if (!(s->buf = malloc(s->cap)) || !(s->multi = curl_multi_init()) || !(s->h = curl_easy_init())) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	setup(s->h, req, s->hdrs, &s->sk, s->errbuf, 1);
	rc = stream_connect(s, req->method ? req->method : "GET", err);
	if (rc < 0)
		goto out;
	zl_buf_reset(&resp->headers);
	zl_buf_add(&resp->headers, s->resp.headers.data, s->resp.headers.len);
	resp->status = s->resp.status;
	resp->attempts = s->attempts;
	if (rc == 1) {
		move_resp(resp, &s->resp);
		rc = 0;
		goto out;
	}
	*out = s;
	s = NULL;
out:
	zl_http_stream_close(s);
	return rc;
}

ssize_t zl_http_stream_read(zl_http_stream *s, void *buf, size_t n, zl_err *err)
{
	if (n == 0)
		return 0;
	for (;;) {
		size_t avail = s->wr - s->rd;
		if (avail) {
			size_t k = avail < n ? avail : n;
			memcpy(buf, s->buf + s->rd, k);
			s->rd += k;
			s->offset += k;
			if (s->rd == s->wr)
				s->rd = s->wr = 0;
			if (s->paused && s->cap - (s->wr - s->rd) >= STREAM_RESUME) {
				s->paused = 0;
				curl_easy_pause(s->h, CURLPAUSE_CONT);
			}
			return (ssize_t)k;
		}
		if (s->done) {
			if (s->result == CURLE_OK)
				return 0;
			const char *why = *s->errbuf ? s->errbuf : curl_easy_strerror(s->result);
			if (s->offset > 0 || !retryable_curl(s->result) || s->attempts >= s->max_attempts)
				return zl_err_set(err, ZL_ETRANSIENT, "transfer from %s failed after %llu bytes: %s",
				                  s->host, (unsigned long long)s->offset, why);
			ZL_LOG(ZL_WARN, "http request retried", ZL_S("method", "GET"), ZL_S("host", s->host),
			       ZL_I("attempt", s->attempts), ZL_S("error", why));
			int rc = stream_connect(s, "GET", err);
			if (rc < 0)
				return rc;
			if (rc == 1)
				return zl_err_set(err, ZL_ETRANSIENT, "transfer from %s failed: HTTP %ld on retry", s->host,
				                  s->resp.status);
			continue;
		}
		if (s->paused) {
			s->paused = 0;
			curl_easy_pause(s->h, CURLPAUSE_CONT);
			continue;
		}
		stream_pump(s);
	}
}

uint64_t zl_http_stream_offset(const zl_http_stream *s)
{
	return s->offset;
}

void zl_http_stream_close(zl_http_stream *s)
{
	if (!s)
		return;
	if (s->added)
		curl_multi_remove_handle(s->multi, s->h);
	curl_easy_cleanup(s->h);
	curl_multi_cleanup(s->multi);
	curl_slist_free_all(s->hdrs);
	zl_http_resp_release(&s->resp);
	free(s->buf);
	free(s);
}
