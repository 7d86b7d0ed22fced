/* mailto:ADDRESS[,ADDRESS...]: a plain-text mail through the configuration's SMTP server
 * (notify.smtp), sent by libcurl: smtps:// is TLS from the start, smtp:// with "starttls" must
 * upgrade. */
#include "notify/mail.h"
#include "notify/notify.h"
#include "util/http.h"
#include "util/timeutil.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#define MAIL_CAP (4u << 20)
#define MAX_RCPTS 32

/* Each address of a mailto target: no spaces, brackets, quotes or query part. */
static int each_address(const char *target, int (*fn)(void *ud, const char *addr, size_t n), void *ud)
{
	const char *p = target;
	int count = 0;
	for (;;) {
		size_t n = strcspn(p, ",");
		const char *at = memchr(p, '@', n);
		if (!n || !at || at == p || at == p + n - 1 || count == MAX_RCPTS)
			return ZL_EINVAL;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] <= ' ' || strchr("<>\"?;()\\%", p[i]))
				return ZL_EINVAL;
		int rc = fn ? fn(ud, p, n) : 0;
		if (rc)
			return rc;
		count++;
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

static int mailto_validate(const char *url, const char *target, const char *where, zl_err *err)
{
	return each_address(target, NULL, NULL) == 0
	       ? 0
	       : zl_err_set(err, ZL_EINVAL, "%s: \"%s\" is not mailto:ADDRESS[,ADDRESS...] (at most %d, no ?query)",
	                    where, url, MAX_RCPTS);
}

static int add_rcpt(void *ud, const char *addr, size_t n)
{
	struct curl_slist **list = ud;
	char a[512];
	snprintf(a, sizeof a, "<%.*s>", (int)n, addr);
	struct curl_slist *l = curl_slist_append(*list, a);
	if (!l)
		return ZL_ENOMEM;
	*list = l;
	return 0;
}

/* Feeds the composed message to curl. */
typedef struct reader {
	const zl_buf *msg;
	size_t off;
} reader;

static size_t read_mail(char *buf, size_t size, size_t nmemb, void *ud)
{
	reader *r = ud;
	size_t n = r->msg->len - r->off;
	if (n > size * nmemb)
		n = size * nmemb;
	memcpy(buf, r->msg->data + r->off, n);
	r->off += n;
	return n;
}

static int mailto_send(const char *url, const char *target, const zl_notify_msg *m, const zl_notify_cfg *cfg,
                       long timeout_ms, zl_err *err)
{
	struct curl_slist *rcpts = NULL;
	CURL *h = NULL;
	zl_buf text, msg;
	char from[512], mail_from[520], msgid[160], errbuf[CURL_ERROR_SIZE] = "";
	zl_buf_init(&text, MAIL_CAP);
	zl_buf_init(&msg, 2 * MAIL_CAP);
	int rc = 0;
	if (!cfg || !cfg->smtp_url || !cfg->smtp_from) {
		rc = zl_err_set(err, ZL_EINVAL, "no notify.smtp in the configuration");
		goto out;
	}
	if ((rc = zl_http_init(err)))
		goto out;
	if (each_address(target, add_rcpt, &rcpts)) {
		rc = zl_err_set(err, ZL_EINVAL, "\"%s\" is not mailto:ADDRESS[,ADDRESS...]", url);
		goto out;
	}
	if ((rc = zl_mail_text(m->body, &text))) {
		rc = zl_err_set(err, rc, "cannot render the message as text");
		goto out;
	}
	snprintf(msgid, sizeof msgid, "<zload-%lld-%s@zload>", (long long)m->id, m->batch_id);
	zl_mail mail = { .from = cfg->smtp_from, .to = target, .subject = m->subject, .text = zl_buf_str(&text),
	                 .message_id = msgid, .event = m->event, .batch_id = m->batch_id, .date_ms = zl_now_ms() };
	if (zl_mail_compose(&mail, &msg)) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	if (!(h = curl_easy_init())) {
		rc = zl_err_set(err, ZL_ENOMEM, "cannot create a curl handle");
		goto out;
	}
	zl_mail_address(cfg->smtp_from, from, sizeof from);
	snprintf(mail_from, sizeof mail_from, "<%s>", from);
	reader rd = { &msg, 0 };
	curl_easy_setopt(h, CURLOPT_URL, cfg->smtp_url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (zl_http_ca_file())
		curl_easy_setopt(h, CURLOPT_CAINFO, zl_http_ca_file());
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_mail);
	curl_easy_setopt(h, CURLOPT_READDATA, &rd);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg.len);
	if (cfg->smtp_starttls)
		curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (cfg->smtp_user)
		curl_easy_setopt(h, CURLOPT_USERNAME, cfg->smtp_user);
	if (cfg->smtp_password)
		curl_easy_setopt(h, CURLOPT_PASSWORD, cfg->smtp_password);
	CURLcode cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		long code = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		const char *why = *errbuf ? errbuf : curl_easy_strerror(cc);
		rc = code ? zl_err_set(err, ZL_ETRANSIENT, "smtp: %s (server reply %ld)", why, code)
		          : zl_err_set(err, ZL_ETRANSIENT, "smtp: %s", why);
	}
out:
	curl_slist_free_all(rcpts);
	curl_easy_cleanup(h);
	zl_buf_release(&text);
	zl_buf_release(&msg);
	return rc;
}

const zl_notify_ops zl_notify_mailto_ops = {
	.scheme = "mailto",
	.example = "mailto:ops@example.com",
	.requires = "smtp",
	.validate = mailto_validate,
	.send = mailto_send,
};
