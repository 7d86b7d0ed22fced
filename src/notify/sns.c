/* sns:arn:aws:sns:REGION:ACCOUNT:TOPIC: an SNS Publish (query protocol, SigV4) to the topic's
 * region, at the endpoint the AWS settings give (AWS_ENDPOINT_URL_SNS, AWS_ENDPOINT_URL, ...). */
#include "notify/notify.h"
#include "util/aws.h"
#include "util/http.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define SNS_REPLY_CAP (64u << 10)
#define SNS_MAX_MESSAGE (256u << 10)

/* The parts of a topic ARN: arn:PARTITION:sns:REGION:ACCOUNT:TOPIC. */
typedef struct topic_arn {
	char region[64];
} topic_arn;

static int all_of(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(set, s[i]))
			return 0;
	return n > 0;
}

static int parse_arn(const char *arn, topic_arn *t)
{
	const char *part[6], *p = arn;
	size_t len[6];
	for (int i = 0; i < 6; i++) { /* exactly five colons */
		const char *colon = strchr(p, ':');
		if ((i < 5) != (colon != NULL))
			return 0;
		part[i] = p;
		len[i] = colon ? (size_t)(colon - p) : strlen(p);
		p = colon ? colon + 1 : p;
	}
	if (len[0] != 3 || strncmp(part[0], "arn", 3) != 0 || !all_of(part[1], len[1], "abcdefghijklmnopqrstuvwxyz-") ||
	    len[2] != 3 || strncmp(part[2], "sns", 3) != 0 ||
	    !all_of(part[3], len[3], "abcdefghijklmnopqrstuvwxyz0123456789-") || len[3] >= sizeof t->region ||
	    len[4] != 12 || !all_of(part[4], len[4], "0123456789") || len[5] > 256 ||
	    !all_of(part[5], len[5], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."))
		return 0;
	snprintf(t->region, sizeof t->region, "%.*s", (int)len[3], part[3]);
	return 1;
}

static int sns_validate(const char *url, const char *target, const char *where, zl_err *err)
{
	topic_arn t;
	return parse_arn(target, &t) ? 0
	       : zl_err_set(err, ZL_EINVAL, "%s: \"%s\" is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC)",
	                    where, target);
}

/* One credentials cache for every publish of the process. */
static pthread_once_t provider_once = PTHREAD_ONCE_INIT;
static zl_aws_provider *provider;
static zl_err provider_err;

static void provider_init(void) { zl_aws_provider_new(NULL, &provider, &provider_err); }

/* The text of <tag>...</tag> in an XML reply, into out ("" when absent). */
static void xml_text(const char *xml, const char *tag, char *out, size_t n)
{
	char open[48], close[48];
	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	const char *a = strstr(xml, open), *b = a ? strstr(a, close) : NULL;
	out[0] = '\0';
	if (a && b)
		snprintf(out, n, "%.*s", (int)(b - a - strlen(open)), a + strlen(open));
}

static int add_param(zl_buf *b, const char *name, const char *value)
{
	return zl_buf_printf(b, "%s%s=", b->len ? "&" : "", name) || zl_http_encode(b, value, 0);
}

static int sns_send(const char *url, const char *target, const zl_notify_msg *m, const zl_notify_cfg *cfg,
                    long timeout_ms, zl_err *err)
{
	topic_arn t;
	zl_aws_creds creds = { 0 };
	zl_http_resp resp;
	zl_buf form;
	char endpoint[512];
	zl_http_resp_init(&resp);
	zl_buf_init(&form, 4 * SNS_MAX_MESSAGE);
	int rc = 0;
	if (!parse_arn(target, &t)) {
		rc = zl_err_set(err, ZL_EINVAL, "\"%s\" is not an SNS topic ARN", target);
		goto out;
	}
	if (m->body_len > SNS_MAX_MESSAGE) {
		rc = zl_err_set(err, ZL_EINVAL, "message of %zu bytes is larger than SNS takes (256 KiB)", m->body_len);
		goto out;
	}
	pthread_once(&provider_once, provider_init);
	if (!provider) {
		rc = zl_err_set(err, provider_err.code ? provider_err.code : ZL_EINVAL, "AWS credentials: %s", provider_err.msg);
		goto out;
	}
	if ((rc = zl_aws_provider_get(provider, &creds, err)) ||
	    (rc = zl_aws_endpoint("sns", t.region, NULL, endpoint, sizeof endpoint, err)))
		goto out;
	if (add_param(&form, "Action", "Publish") || add_param(&form, "Message", m->body) ||
	    add_param(&form, "Subject", m->subject) || add_param(&form, "TopicArn", target) ||
	    add_param(&form, "Version", "2010-03-31")) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	char ep[520];
	snprintf(ep, sizeof ep, "%s/", endpoint);
	const char *headers[] = { "Content-Type: application/x-www-form-urlencoded; charset=utf-8", NULL };
	zl_http_req req = {
		.method = "POST", .url = ep, .headers = headers, .body = form.data, .body_len = form.len,
		.service = "sns", .region = t.region, .access_key = creds.access_key, .secret_key = creds.secret_key,
		.session_token = creds.session_token, .timeout_ms = timeout_ms, .attempts = 1, .body_cap = SNS_REPLY_CAP,
	};
	if ((rc = zl_http_perform(&req, &resp, err)))
		goto out;
	if (resp.status / 100 != 2) {
		char code[128], msg[512];
		xml_text(zl_buf_str(&resp.body), "Code", code, sizeof code);
		xml_text(zl_buf_str(&resp.body), "Message", msg, sizeof msg);
		rc = zl_err_set(err, resp.status >= 500 || resp.status == 429 ? ZL_ETRANSIENT : ZL_EINVAL,
		                "sns Publish: HTTP %ld %s%s%s", resp.status, code, *code && *msg ? ": " : "", msg);
		goto out;
	}
out:
	zl_aws_creds_release(&creds);
	zl_http_resp_release(&resp);
	zl_buf_release(&form);
	return rc;
}

const zl_notify_ops zl_notify_sns_ops = {
	.scheme = "sns",
	.example = "sns:arn:aws:sns:REGION:ACCOUNT:TOPIC",
	.validate = sns_validate,
	.send = sns_send,
};
