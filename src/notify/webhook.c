/* https://... and http://...: a POST of the message JSON. With notify.webhookSecret the request
 * carries X-Zload-Signature: sha256=<hex HMAC-SHA256 of the body>; X-Zload-Delivery names the
 * outbox row, so a receiver can drop a repeated delivery. Any 2xx is delivered. */
#include "notify/notify.h"
#include "util/hmac.h"
#include "util/http.h"
#include "util/version.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#define REPLY_CAP (64u << 10)

static int webhook_validate(const char *url, const char *target, const char *where, zl_err *err)
{
	CURLU *u = curl_url();
	char *host = NULL;
	int rc = 0;
	if (!u)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	if (strncmp(target, "//", 2) != 0 || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
		rc = zl_err_set(err, ZL_EINVAL, "%s: \"%s\" is not a URL with a host", where, url);
	else if (strpbrk(url, " \r\n\t"))
		rc = zl_err_set(err, ZL_EINVAL, "%s: spaces and line breaks must be percent-encoded", where);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

static int webhook_send(const char *url, const char *target, const zl_notify_msg *m, const zl_notify_cfg *cfg,
                        long timeout_ms, zl_err *err)
{
	char sig[96] = "", delivery[64], event[64], batch[80], hex[65];
	const char *headers[8];
	size_t nh = 0;
	zl_http_resp resp;
	zl_http_resp_init(&resp);
	int rc = 0;
	snprintf(delivery, sizeof delivery, "X-Zload-Delivery: %lld", (long long)m->id);
	snprintf(event, sizeof event, "X-Zload-Event: %s", m->event);
	snprintf(batch, sizeof batch, "X-Zload-Batch: %s", m->batch_id);
	headers[nh++] = "Content-Type: application/json";
	headers[nh++] = "User-Agent: zload/" ZL_VERSION;
	headers[nh++] = delivery;
	headers[nh++] = event;
	headers[nh++] = batch;
	if (cfg && cfg->webhook_secret) {
		if (zl_hmac_sha256_hex(cfg->webhook_secret, strlen(cfg->webhook_secret), m->body, m->body_len, hex)) {
			rc = zl_err_set(err, ZL_ENOMEM, "cannot compute the signature");
			goto out;
		}
		snprintf(sig, sizeof sig, "X-Zload-Signature: sha256=%s", hex);
		headers[nh++] = sig;
	}
	headers[nh] = NULL;
	zl_http_req req = { .method = "POST", .url = url, .headers = headers, .body = m->body, .body_len = m->body_len,
	                    .timeout_ms = timeout_ms, .attempts = 1, .body_cap = REPLY_CAP };
	if ((rc = zl_http_perform(&req, &resp, err)))
		goto out;
	if (resp.status / 100 != 2) {
		char text[201];
		snprintf(text, sizeof text, "%s", zl_buf_str(&resp.body));
		for (char *p = text; *p; p++)
			if ((unsigned char)*p < ' ')
				*p = ' ';
		rc = zl_err_set(err, resp.status >= 500 || resp.status == 429 ? ZL_ETRANSIENT : ZL_EINVAL, "HTTP %ld%s%s",
		                resp.status, *text ? ": " : "", text);
	}
out:
	zl_http_resp_release(&resp);
	return rc;
}

const zl_notify_ops zl_notify_https_ops = {
	.scheme = "https",
	.example = "https://hooks.example.com/zload",
	.validate = webhook_validate,
	.send = webhook_send,
};

const zl_notify_ops zl_notify_http_ops = {
	.scheme = "http",
	.example = "http://127.0.0.1:8080/zload",
	.validate = webhook_validate,
	.send = webhook_send,
};
