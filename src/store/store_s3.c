#include "store/store_s3.h"
#include "store/store_s3_int.h"
#include "util/aws.h"
#include "util/http.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LIST_PAGE_CAP ((size_t)32 << 20) /* one ListObjectsV2 page (1,000 keys) */
#define SMALL_BODY_CAP ((size_t)1 << 20)

typedef struct s3_store {
	zl_store base;
	char scheme[8];   /* "http" or "https" */
	char *hostport;   /* host[:port] of the endpoint */
	char *base_path;  /* path of the endpoint, "" or "/something" */
	char region[64];
	int path_style;   /* 1 path-style, 0 virtual-hosted, -1 decided per bucket */
	int host_is_ip;   /* an IP address or localhost: path-style by default */
	char *profile;    /* NULL: AWS_PROFILE */
	zl_aws_provider *creds;
} s3_store;

const zl_store_ops zl_store_s3_ops;

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
	xmlInitParser();
}

static int is_s3(const zl_store *s)
{
	return s && s->ops == &zl_store_s3_ops;
}

const char *zl_store_s3_region(const zl_store *s)
{
	return is_s3(s) ? ((const s3_store *)s)->region : NULL;
}

static void s3_close(zl_store *st)
{
	s3_store *s = (s3_store *)st;
	if (!s)
		return;
	zl_aws_provider_free(s->creds);
	free(s->hostport);
	free(s->base_path);
	free(s->profile);
	free(s);
}

/* Whether the host of host[:port] is an IPv4 or IPv6 literal or localhost. */
static int host_is_ip(const char *hostport)
{
	if (hostport[0] == '[')
		return 1;
	size_t n = strcspn(hostport, ":");
	if (n == 9 && strncasecmp(hostport, "localhost", 9) == 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (!((hostport[i] >= '0' && hostport[i] <= '9') || hostport[i] == '.'))
			return 0;
	return n > 0;
}

/* Splits an endpoint URL into scheme, host[:port] and base path. */
static int set_endpoint(s3_store *s, const char *url, zl_err *err)
{
	const char *rest;
	if (strncasecmp(url, "https://", 8) == 0) {
		strcpy(s->scheme, "https");
		rest = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		strcpy(s->scheme, "http");
		rest = url + 7;
	} else {
		return zl_err_set(err, ZL_EINVAL, "s3 endpoint \"%s\": expected http://HOST[:PORT] or https://...", url);
	}
	size_t hl = strcspn(rest, "/?#");
	if (hl == 0 || rest[hl] == '?' || rest[hl] == '#')
		return zl_err_set(err, ZL_EINVAL, "s3 endpoint \"%s\": expected http://HOST[:PORT][/PATH]", url);
	const char *path = rest + hl;
	size_t pl = strlen(path);
	while (pl > 0 && path[pl - 1] == '/')
		pl--;
	if (!(s->hostport = strndup(rest, hl)) || !(s->base_path = strndup(path, pl)))
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	s->host_is_ip = host_is_ip(s->hostport);
	return 0;
}

/* Parses the query of "s3://?k=v&..." into the options. */
static int parse_query(const char *q, char **endpoint, char **region, int *path_style, char **profile,
                       zl_err *err)
{
	int rc = 0;
	char *copy = strdup(q), *save = NULL;
	if (!copy)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	for (char *kv = strtok_r(copy, "&", &save); kv && rc == 0; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		char *val = eq ? eq + 1 : kv + strlen(kv);
		if (eq)
			*eq = '\0';
		if (zl_http_decode(val, 0)) {
			rc = zl_err_set(err, ZL_EINVAL, "s3 store URL: bad %%-escape in the value of \"%s\"", kv);
			break;
		}
		char **dst = strcmp(kv, "endpoint") == 0 ? endpoint : strcmp(kv, "region") == 0 ? region
		           : strcmp(kv, "profile") == 0 ? profile : NULL;
		if (dst) {
			free(*dst);
			if (!(*dst = strdup(val)))
				rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		} else if (strcmp(kv, "path_style") == 0) {
			if (strcmp(val, "1") == 0 || strcasecmp(val, "true") == 0)
				*path_style = 1;
			else if (strcmp(val, "0") == 0 || strcasecmp(val, "false") == 0)
				*path_style = 0;
			else
				rc = zl_err_set(err, ZL_EINVAL, "s3 store URL: path_style must be 0 or 1, not \"%s\"", val);
		} else {
			rc = zl_err_set(err, ZL_EINVAL,
			                "s3 store URL: unknown parameter \"%s\" (known: endpoint, region, path_style, profile)", kv);
		}
	}
	free(copy);
	return rc;
}

static int s3_open(const char *target, zl_store **out, zl_err *err)
{
	*out = NULL;
	pthread_once(&xml_once, xml_init);
	char *endpoint = NULL, *region = NULL, *profile = NULL;
	char ep[2048];
	int path_style = -1, rc = 0;
	s3_store *s = NULL;
	const char *t = target ? target : "";
	if (strncmp(t, "//", 2) == 0)
		t += 2;
	if (*t && *t != '?') {
		rc = zl_err_set(err, ZL_EINVAL,
		                "store URL \"s3:%s\": expected s3:// or s3://?endpoint=URL&region=REGION&path_style=1", target);
		goto out;
	}
	if (*t == '?' && (rc = parse_query(t + 1, &endpoint, &region, &path_style, &profile, err)))
		goto out;
	if (!(s = calloc(1, sizeof *s)) || (profile && !(s->profile = strdup(profile)))) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	s->base.ops = &zl_store_s3_ops;
	s->path_style = path_style;
	if (region && *region)
		snprintf(s->region, sizeof s->region, "%s", region);
	else
		zl_aws_region(profile, s->region, sizeof s->region);
	if (!endpoint || !*endpoint) {
		if ((rc = zl_aws_endpoint("s3", s->region, profile, ep, sizeof ep, err)))
			goto out;
	} else {
		snprintf(ep, sizeof ep, "%s", endpoint);
	}
	if ((rc = set_endpoint(s, ep, err)) || (rc = zl_aws_provider_new(profile, &s->creds, err)))
		goto out;
	ZL_LOG(ZL_DEBUG, "s3 store opened", ZL_S("endpoint", ep), ZL_S("region", s->region),
	       ZL_S("addressing", path_style == 1 ? "path" : path_style == 0 ? "virtual" : "auto"));
	*out = &s->base;
	s = NULL;
out:
	s3_close(s ? &s->base : NULL);
	free(endpoint);
	free(region);
	free(profile);
	return rc;
}

/* Whether a bucket name can be a DNS label of a virtual-hosted URL. */
static int dns_compatible(const char *bucket)
{
	size_t n = strlen(bucket);
	if (n < 3 || n > 63 || bucket[0] == '-' || bucket[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((bucket[i] >= 'a' && bucket[i] <= 'z') || (bucket[i] >= '0' && bucket[i] <= '9') || bucket[i] == '-' ||
		      bucket[i] == '.'))
			return 0;
	return 1;
}

static int use_path_style(const s3_store *s, const char *bucket)
{
	if (s->path_style >= 0)
		return s->path_style;
	return s->host_is_ip || !dns_compatible(bucket) || (strchr(bucket, '.') && strcmp(s->scheme, "https") == 0);
}

int zl_store_s3_url(const zl_store *st, const char *bucket, const char *key, const char *query, zl_buf *out)
{
	if (!is_s3(st))
		return ZL_EINVAL;
	const s3_store *s = (const s3_store *)st;
	int rc;
	if (use_path_style(s, bucket)) {
		rc = zl_buf_printf(out, "%s://%s%s/", s->scheme, s->hostport, s->base_path);
		if (rc == 0)
			rc = zl_http_encode(out, bucket, 0);
		if (rc == 0 && key)
			rc = zl_buf_addc(out, '/');
	} else {
		rc = zl_buf_printf(out, "%s://%s.%s%s/", s->scheme, bucket, s->hostport, s->base_path);
	}
	if (rc == 0 && key)
		rc = zl_http_encode(out, key, 1);
	if (rc == 0 && query && *query)
		rc = zl_buf_printf(out, "?%s", query);
	return rc;
}

/* One signed request to bucket/key. Returns 0 when a response arrived (check resp->status). */
static int s3_call(s3_store *s, const char *method, const char *bucket, const char *key, const char *query,
                   const char *const *headers, const void *body, size_t len, size_t body_cap,
                   zl_http_resp *resp, zl_err *err)
{
	zl_buf url;
	zl_aws_creds c;
	zl_buf_init(&url, 0);
	memset(&c, 0, sizeof c);
	int rc = zl_store_s3_url(&s->base, bucket, key, query, &url);
	if (rc) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = zl_aws_provider_get(s->creds, &c, err)))
		goto out;
	zl_http_req req = { .method = method, .url = url.data, .headers = headers, .body = body, .body_len = len,
		                .service = "s3", .region = s->region, .access_key = c.access_key,
		                .secret_key = c.secret_key, .session_token = c.session_token, .body_cap = body_cap };
	rc = zl_http_perform(&req, resp, err);
out:
	zl_aws_creds_release(&c);
	zl_buf_release(&url);
	return rc;
}

static int transient_code(const char *code)
{
	return strcmp(code, "SlowDown") == 0 || strcmp(code, "InternalError") == 0 ||
	       strcmp(code, "ServiceUnavailable") == 0 || strcmp(code, "RequestTimeout") == 0;
}

/* The error for an unsuccessful response about bucket/key (key NULL: the bucket). */
static int status_error(const char *bucket, const char *key, const zl_http_resp *resp, zl_err *err)
{
	char code[128], msg[512], region[64], extra[200] = "", attempts[32] = "";
	long st = resp->status;
	zl_s3_xml_error(&resp->body, code, sizeof code, msg, sizeof msg);
	const char *sep = key ? "/" : "", *k = key ? key : "";
	if (strcmp(code, "NoSuchBucket") == 0 || (st == 404 && !key))
		return zl_err_set(err, ZL_ENOTFOUND, "%s%s%s: no such bucket", bucket, sep, k);
	if (st == 404 || strcmp(code, "NoSuchKey") == 0)
		return zl_err_set(err, ZL_ENOTFOUND, "%s/%s: no such object", bucket, k);
	if (zl_http_resp_header(resp, "x-amz-bucket-region", region, sizeof region) && (st == 301 || st == 400))
		snprintf(extra, sizeof extra, " (the bucket is in region %s: give region=%s)", region, region);
	if (resp->attempts > 1)
		snprintf(attempts, sizeof attempts, " (%d attempts)", resp->attempts);
	int transient = st >= 500 || st == 429 || transient_code(code);
	if (!code[0]) /* HEAD responses have no body */
		snprintf(code, sizeof code, "%s", st == 403 ? "Forbidden" : st == 400 ? "Bad Request" : st == 301 ? "Moved Permanently" : "");
	return zl_err_set(err, transient ? ZL_ETRANSIENT : ZL_ELOAD, "%s%s%s: S3 HTTP %ld%s%s%s%s%s%s", bucket, sep, k,
	                  st, code[0] ? " " : "", code, msg[0] ? ": " : "", msg, extra, attempts);
}

static int s3_head(zl_store *st, const char *bucket, const char *key, zl_object *out, zl_err *err)
{
	zl_http_resp resp;
	zl_http_resp_init(&resp);
	char len[32], etag[256], date[64];
	int rc = s3_call((s3_store *)st, "HEAD", bucket, key, NULL, NULL, NULL, 0, SMALL_BODY_CAP, &resp, err);
	if (rc) {
		zl_err_prefix(err, "%s/%s", bucket, key);
		goto out;
	}
	if (resp.status != 200) {
		rc = status_error(bucket, key, &resp, err);
		goto out;
	}
	if (!zl_http_resp_header(&resp, "ETag", etag, sizeof etag))
		etag[0] = '\0';
	zl_s3_strip_quotes(etag);
	out->bucket = strdup(bucket);
	out->key = strdup(key);
	out->etag = etag[0] ? strdup(etag) : NULL;
	out->size = zl_http_resp_header(&resp, "Content-Length", len, sizeof len) ? strtoll(len, NULL, 10) : -1;
	out->modified = zl_http_resp_header(&resp, "Last-Modified", date, sizeof date) ? zl_http_date_ms(date) : 0;
	if (!out->bucket || !out->key || (etag[0] && !out->etag)) {
		zl_object_release(out);
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
out:
	zl_http_resp_release(&resp);
	return rc;
}

typedef struct s3_reader {
	zl_reader base;
	zl_http_stream *st;
	char *name;
} s3_reader;

static ssize_t s3_read(zl_reader *r, void *buf, size_t n, zl_err *err)
{
	s3_reader *sr = (s3_reader *)r;
	ssize_t got = zl_http_stream_read(sr->st, buf, n, err);
	if (got < 0)
		zl_err_prefix(err, "%s", sr->name);
	return got;
}

static void s3_reader_close(zl_reader *r)
{
	s3_reader *sr = (s3_reader *)r;
	zl_http_stream_close(sr->st);
	free(sr->name);
	free(sr);
}

static int s3_open_reader(zl_store *st, const char *bucket, const char *key, zl_reader **out, zl_err *err)
{
	s3_store *s = (s3_store *)st;
	zl_buf url;
	zl_aws_creds c;
	zl_http_resp resp;
	zl_http_stream *hs = NULL;
	s3_reader *r = NULL;
	zl_buf_init(&url, 0);
	zl_http_resp_init(&resp);
	memset(&c, 0, sizeof c);
	*out = NULL;
	int rc = zl_store_s3_url(st, bucket, key, NULL, &url);
	if (rc) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = zl_aws_provider_get(s->creds, &c, err))) {
		zl_err_prefix(err, "%s/%s", bucket, key);
		goto out;
	}
	zl_http_req req = { .method = "GET", .url = url.data, .service = "s3", .region = s->region,
		                .access_key = c.access_key, .secret_key = c.secret_key, .session_token = c.session_token };
	if ((rc = zl_http_stream_open(&req, &hs, &resp, err))) {
		zl_err_prefix(err, "%s/%s", bucket, key);
		goto out;
	}
	if (!hs) {
		rc = status_error(bucket, key, &resp, err);
		goto out;
	}
	if (!(r = calloc(1, sizeof *r)) || asprintf(&r->name, "%s/%s", bucket, key) < 0) {
		free(r);
		r = NULL;
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	r->st = hs;
	hs = NULL;
	r->base.read = s3_read;
	r->base.close = s3_reader_close;
	r->base.name = r->name;
	*out = &r->base;
out:
	zl_http_stream_close(hs);
	zl_http_resp_release(&resp);
	zl_aws_creds_release(&c);
	zl_buf_release(&url);
	return rc;
}

static int s3_list(zl_store *st, const char *bucket, const char *prefix, zl_store_list_cb cb, void *ud,
                   zl_err *err)
{
	if (!bucket)
		return zl_err_set(err, ZL_EINVAL, "listing all buckets is not supported by s3 stores");
	xmlChar *token = NULL;
	zl_buf q;
	zl_http_resp resp;
	zl_buf_init(&q, 0);
	zl_http_resp_init(&resp);
	int rc = 0, pages = 0;
	do {
		/* Parameters sorted by name, as SigV4 with libcurl needs. */
		zl_buf_reset(&q);
		if (token && (zl_buf_adds(&q, "continuation-token=") || zl_http_encode(&q, (const char *)token, 0) ||
		              zl_buf_addc(&q, '&'))) {
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
			break;
		}
		if (zl_buf_adds(&q, "encoding-type=url&list-type=2") ||
		    (prefix && *prefix && (zl_buf_adds(&q, "&prefix=") || zl_http_encode(&q, prefix, 0)))) {
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
			break;
		}
		xmlFree(token);
		token = NULL;
		if ((rc = s3_call((s3_store *)st, "GET", bucket, NULL, q.data, NULL, NULL, 0, LIST_PAGE_CAP, &resp, err))) {
			zl_err_prefix(err, "listing %s/%s", bucket, prefix ? prefix : "");
			break;
		}
		if (resp.status != 200) {
			rc = status_error(bucket, NULL, &resp, err);
			break;
		}
		rc = zl_s3_list_page(&resp.body, bucket, cb, ud, &token, err);
		pages++;
	} while (rc == 0 && token);
	ZL_LOG(ZL_DEBUG, "s3 listing done", ZL_S("bucket", bucket), ZL_S("prefix", prefix ? prefix : ""),
	       ZL_I("pages", pages), ZL_I("rc", rc));
	xmlFree(token);
	zl_buf_release(&q);
	zl_http_resp_release(&resp);
	return rc;
}

static int s3_put(zl_store *st, const char *bucket, const char *key, const void *data, size_t len, zl_err *err)
{
	zl_http_resp resp;
	zl_http_resp_init(&resp);
	int rc = s3_call((s3_store *)st, "PUT", bucket, key, NULL, NULL, data ? data : "", len, SMALL_BODY_CAP, &resp,
	                 err);
	if (rc)
		zl_err_prefix(err, "%s/%s", bucket, key);
	else if (resp.status != 200)
		rc = status_error(bucket, key, &resp, err);
	zl_http_resp_release(&resp);
	return rc;
}

/* Whether a header line of a HEAD response is kept when an object is copied onto itself. */
static int kept_header(const char *line, size_t len)
{
	static const char *const names[] = { "Content-Type:", "Content-Encoding:", "Content-Disposition:",
		                                 "Content-Language:", "Cache-Control:", "Expires:", "x-amz-meta-" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		size_t n = strlen(names[i]);
		if (len > n && strncasecmp(line, names[i], n) == 0)
			return 1;
	}
	return 0;
}

/* CopyObject onto itself with metadata REPLACE, keeping the content headers and user metadata. */
static int s3_copy_in_place(zl_store *st, const char *bucket, const char *key, zl_err *err)
{
	s3_store *s = (s3_store *)st;
	zl_http_resp resp;
	zl_buf src, lines;
	const char **hdrs = NULL;
	size_t nh = 0;
	char code[128], msg[512];
	zl_http_resp_init(&resp);
	zl_buf_init(&src, 0);
	zl_buf_init(&lines, 0);
	int rc = s3_call(s, "HEAD", bucket, key, NULL, NULL, NULL, 0, SMALL_BODY_CAP, &resp, err);
	if (rc) {
		zl_err_prefix(err, "%s/%s", bucket, key);
		goto out;
	}
	if (resp.status != 200) {
		rc = status_error(bucket, key, &resp, err);
		goto out;
	}
	/* Collect the kept header lines, NUL-separated, then point at them. */
	int has_type = 0;
	for (const char *p = zl_buf_str(&resp.headers); *p;) {
		size_t len = strcspn(p, "\r\n");
		if (kept_header(p, len)) {
			has_type |= strncasecmp(p, "Content-Type:", 13) == 0;
			zl_buf_add(&lines, p, len);
			zl_buf_addc(&lines, '\0');
			nh++;
		}
		p += len;
		p += strspn(p, "\r\n");
	}
	if (!has_type) {
		zl_buf_adds(&lines, "Content-Type: application/octet-stream");
		zl_buf_addc(&lines, '\0');
		nh++;
	}
	if (zl_buf_adds(&src, "x-amz-copy-source: /") || zl_http_encode(&src, bucket, 0) || zl_buf_addc(&src, '/') ||
	    zl_http_encode(&src, key, 1) || !(hdrs = calloc(nh + 3, sizeof *hdrs))) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	const char *p = lines.data;
	for (size_t i = 0; i < nh; i++, p += strlen(p) + 1)
		hdrs[i] = p;
	hdrs[nh] = src.data;
	hdrs[nh + 1] = "x-amz-metadata-directive: REPLACE";
	if ((rc = s3_call(s, "PUT", bucket, key, NULL, hdrs, NULL, 0, SMALL_BODY_CAP, &resp, err))) {
		zl_err_prefix(err, "%s/%s", bucket, key);
		goto out;
	}
	/* CopyObject may fail after sending 200: the error is then in the body. */
	zl_s3_xml_error(&resp.body, code, sizeof code, msg, sizeof msg);
	if (resp.status != 200 || code[0]) {
		if (resp.status == 200)
			resp.status = transient_code(code) ? 500 : 400;
		rc = status_error(bucket, key, &resp, err);
	}
out:
	free(hdrs);
	zl_buf_release(&src);
	zl_buf_release(&lines);
	zl_http_resp_release(&resp);
	return rc;
}

const zl_store_ops zl_store_s3_ops = {
	.scheme = "s3",
	.open = s3_open,
	.close = s3_close,
	.head = s3_head,
	.open_reader = s3_open_reader,
	.list = s3_list,
	.put = s3_put,
	.copy_in_place = s3_copy_in_place,
};
