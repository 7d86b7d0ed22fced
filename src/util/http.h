/* One HTTP request helper over libcurl: optional AWS SigV4 signing (CURLOPT_AWS_SIGV4), retries
 * with exponential back-off and full jitter, capped response bodies, and a streaming mode whose
 * body is pulled in constant memory. Responses and streams belong to the caller. */
#ifndef ZL_HTTP_H
#define ZL_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/err.h"

typedef struct zl_http_req {
	const char *method;          /* "GET" when NULL; "HEAD", "PUT", "POST", "DELETE" */
	const char *url;             /* query parameters sorted by name, encoded, a bare key as "key=" */
	const char *const *headers;  /* extra "Name: value" lines, NULL-terminated; may be NULL */
	const void *body;            /* request body, or NULL for none */
	size_t body_len;
	/* SigV4 signing ("aws:amz:REGION:SERVICE") when service is set. For "s3" the header
	 * x-amz-content-sha256 is added (hex SHA-256 of the body). */
	const char *service;
	const char *region;
	const char *access_key;
	const char *secret_key;
	const char *session_token;   /* sent as x-amz-security-token; may be NULL */
	long connect_timeout_ms;     /* 0: 5000 */
	long timeout_ms;             /* whole request, 0: 300000, -1: none (streams: none, only a stall limit) */
	int attempts;                /* 0: ZLOAD_HTTP_RETRIES or 5 */
	size_t body_cap;             /* response body cap, 0: 1 MiB */
	const volatile int *cancel;  /* when set and *cancel becomes non-zero, the request aborts (ZL_EBUSY) */
} zl_http_req;

typedef struct zl_http_resp {
	long status;      /* HTTP status of the last attempt, 0 when no response arrived */
	zl_buf body;      /* capped by the request's body_cap; error bodies of streams by 64 KiB */
	zl_buf headers;   /* raw header lines of the final response (capped at 64 KiB) */
	int attempts;     /* attempts made */
} zl_http_resp;

/* Initialises libcurl once for the process (thread-safe); for code that makes its own curl
 * handles (SMTP). The requests below call it themselves. */
int zl_http_init(zl_err *err);

/* The CA bundle requests verify servers with: $CURL_CA_BUNDLE, else $SSL_CERT_FILE (as the curl
 * tool and OpenSSL read them), else NULL for libcurl's built-in default. */
const char *zl_http_ca_file(void);

void zl_http_resp_init(zl_http_resp *r);
void zl_http_resp_release(zl_http_resp *r);
/* Copies the value of response header name (case-insensitive, trimmed) into out. Returns 1 found
 * and fitting, 0 otherwise. */
int zl_http_resp_header(const zl_http_resp *r, const char *name, char *out, size_t n);

/* Performs req, retrying connection errors, timeouts, 429, 500, 502, 503, 504 and S3's SlowDown.
 * Returns 0 once a response arrived (any status: check resp->status), ZL_ETRANSIENT when none did
 * after every attempt, ZL_EINVAL when the response body exceeds its cap. */
int zl_http_perform(const zl_http_req *req, zl_http_resp *resp, zl_err *err);

/* A GET whose body is read in pieces through a bounded buffer (back-pressure with curl's pause). */
typedef struct zl_http_stream zl_http_stream;

/* Starts req (retrying as zl_http_perform) and waits for the response headers. A 2xx response
 * gives *out (resp holds status and headers); any other status gives *out NULL with resp holding
 * status, headers and the error body. Returns ZL_ETRANSIENT when no response arrived. */
int zl_http_stream_open(const zl_http_req *req, zl_http_stream **out, zl_http_resp *resp, zl_err *err);
/* Reads up to n bytes: the count, 0 at the end, or ZL_ETRANSIENT when the transfer fails. A failure
 * before the first byte was returned is retried; after it, it is reported. */
ssize_t zl_http_stream_read(zl_http_stream *s, void *buf, size_t n, zl_err *err);
/* Bytes returned so far. */
uint64_t zl_http_stream_offset(const zl_http_stream *s);
void zl_http_stream_close(zl_http_stream *s);

/* Appends s URL-encoded: every byte but A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash) as %XX.
 * Returns 0 or ZL_ENOMEM. */
int zl_http_encode(zl_buf *out, const char *s, int keep_slash);
/* Decodes %XX (and '+' as a space when plus_is_space) in place. Returns 0 or ZL_EINVAL. */
int zl_http_decode(char *s, int plus_is_space);
/* Unix ms of an HTTP date ("Wed, 25 Nov 2026 21:43:38 GMT"), 0 when it does not parse. */
int64_t zl_http_date_ms(const char *s);
/* Hex SHA-256 of data into out (65 bytes). */
void zl_http_sha256_hex(const void *data, size_t len, char out[65]);

#endif
