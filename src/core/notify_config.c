#include "core/notify_config.h"
#include "core/fields.h"
#include "notify/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const zl_field notify_fields[] = {
	{ "success", ZL_FT_ARRAY, 0, NULL, NULL, "destinations notified when a batch completes (URLs, see below)" },
	{ "failure", ZL_FT_ARRAY, 0, NULL, NULL, "destinations notified when a batch ends in error" },
	{ "webhookSecret", ZL_FT_SECRET, 0, NULL, NULL, "https/http destinations get X-Zload-Signature: sha256=HMAC-SHA256 of the body" },
	{ "smtp", ZL_FT_OBJECT, 0, NULL, NULL, "the mail server of mailto: destinations, see below" },
	{ 0 }
};

static const zl_field smtp_fields[] = {
	{ "url", ZL_FT_STRING, 1, NULL, NULL, "smtp://HOST[:PORT] or smtps://HOST[:PORT] (TLS from the start)" },
	{ "from", ZL_FT_STRING, 1, NULL, NULL, "sender address: ops@example.com or \"zload <zload@example.com>\"" },
	{ "user", ZL_FT_STRING, 0, NULL, NULL, "login, when the server wants one" },
	{ "password", ZL_FT_SECRET, 0, NULL, NULL, "password of user" },
	{ "starttls", ZL_FT_BOOL, 0, NULL, NULL, "smtp://: require STARTTLS (default false)" },
	{ 0 }
};

int zl_notify_cfg_seal(json_t *config, zl_secrets *s, const char *prefix, int reseal, int *count, zl_err *err)
{
	json_t *notify = json_object_get(config, "notify");
	json_t *smtp = json_object_get(notify, "smtp");
	int rc = 0;
	if (json_is_object(notify))
		rc = reseal ? zl_secrets_reseal_json(s, prefix, "notify", notify, notify_fields, count, err)
		            : zl_secrets_seal_json(s, prefix, "notify", notify, notify_fields, count, err);
	if (rc == 0 && json_is_object(smtp))
		rc = reseal ? zl_secrets_reseal_json(s, prefix, "notify.smtp", smtp, smtp_fields, count, err)
		            : zl_secrets_seal_json(s, prefix, "notify.smtp", smtp, smtp_fields, count, err);
	return rc;
}

void zl_notify_cfg_release(zl_notify_cfg *n)
{
	zl_strvec_release(&n->success);
	zl_strvec_release(&n->failure);
	memset(n, 0, sizeof *n);
}

/* An address without CR, LF or angle brackets, with an @ between non-empty parts. */
static int plain_address(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);
	if (!at || at == s || at == s + n - 1)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || strchr("<>\",;()\\", s[i]))
			return 0;
	return 1;
}

/* "ops@example.com" or "Name <ops@example.com>", on one line. */
static int from_ok(const char *from)
{
	if (strpbrk(from, "\r\n"))
		return 0;
	const char *lt = strchr(from, '<');
	if (!lt)
		return plain_address(from, strlen(from));
	const char *gt = strchr(lt, '>');
	return gt && gt[1] == '\0' && plain_address(lt + 1, (size_t)(gt - lt - 1));
}

static int parse_smtp(const json_t *smtp, zl_notify_cfg *out, zl_err *err)
{
	int rc = zl_fields_check(smtp_fields, smtp, "notify.smtp", err);
	if (rc)
		return rc;
	out->smtp_url = json_string_value(json_object_get(smtp, "url"));
	out->smtp_from = json_string_value(json_object_get(smtp, "from"));
	out->smtp_user = json_string_value(json_object_get(smtp, "user"));
	out->smtp_password = json_string_value(json_object_get(smtp, "password"));
	out->smtp_starttls = json_is_true(json_object_get(smtp, "starttls"));
	int tls = strncmp(out->smtp_url, "smtps://", 8) == 0;
	if (!tls && strncmp(out->smtp_url, "smtp://", 7) != 0)
		return zl_err_set(err, ZL_EINVAL, "notify.smtp.url: \"%s\" is not smtp://HOST[:PORT] or smtps://HOST[:PORT]",
		                  out->smtp_url);
	if (!out->smtp_url[tls ? 8 : 7])
		return zl_err_set(err, ZL_EINVAL, "notify.smtp.url: no host");
	if (!from_ok(out->smtp_from))
		return zl_err_set(err, ZL_EINVAL, "notify.smtp.from: \"%s\" is not an address (ops@example.com or \"Name <ops@example.com>\")",
		                  out->smtp_from);
	if (out->smtp_password && !out->smtp_user)
		return zl_err_set(err, ZL_EINVAL, "notify.smtp.password: given without notify.smtp.user");
	if (out->smtp_password && !tls && !out->smtp_starttls)
		return zl_err_set(err, ZL_EINVAL, "notify.smtp.password: would be sent in clear over smtp://; set "
		                  "\"starttls\": true or use smtps://");
	return 0;
}

/* Appends the destinations of one notify list, each checked by its scheme. */
static int parse_list(const json_t *list, const char *name, const zl_notify_cfg *n, zl_strvec *out, zl_err *err)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v) {
		char where[64];
		snprintf(where, sizeof where, "notify.%s[%zu]", name, i);
		if (!json_is_string(v))
			return zl_err_set(err, ZL_EINVAL, "%s: expected a string (a destination URL)", where);
		const char *url = json_string_value(v), *target;
		const zl_notify_ops *ops;
		int rc = zl_notify_find(url, where, &ops, &target, err);
		if (rc || (rc = ops->validate(url, target, where, err)))
			return rc;
		if (ops->requires && strcmp(ops->requires, "smtp") == 0 && !n->smtp_url)
			return zl_err_set(err, ZL_EINVAL, "%s: %s: destinations need notify.smtp (url and from)", where,
			                  ops->scheme);
		if (zl_strvec_push(out, url))
			return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	return 0;
}

/* successTopicARN / failureTopicARN: an SNS destination first in its list. */
static int parse_topic(const json_t *config, const char *field, zl_strvec *out, zl_err *err)
{
	const char *arn = json_string_value(json_object_get(config, field));
	if (!arn || !*arn)
		return 0;
	char *url = NULL;
	if (asprintf(&url, "sns:%s", arn) < 0)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	int rc = zl_notify_check(url, field, err);
	if (rc == 0 && zl_strvec_push_take(out, url))
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	if (rc)
		free(url);
	return rc;
}

int zl_notify_cfg_parse(const json_t *config, zl_notify_cfg *out, zl_err *err)
{
	memset(out, 0, sizeof *out);
	json_t *notify = json_object_get(config, "notify"), *v;
	int rc = 0;
	out->max_attempts = (v = json_object_get(config, "maxNotifyAttempts")) ? (int)json_integer_value(v)
	                                                                     : ZL_NOTIFY_DEFAULT_ATTEMPTS;
	if (out->max_attempts < 1 || (v && json_integer_value(v) > 1000)) {
		rc = zl_err_set(err, ZL_EINVAL, "maxNotifyAttempts: must be from 1 to 1000");
		goto out;
	}
	if (notify && (rc = zl_fields_check(notify_fields, notify, "notify", err)))
		goto out;
	out->webhook_secret = json_string_value(json_object_get(notify, "webhookSecret"));
	if (out->webhook_secret && !*out->webhook_secret) {
		rc = zl_err_set(err, ZL_EINVAL, "notify.webhookSecret: empty");
		goto out;
	}
	if ((v = json_object_get(notify, "smtp")) && (rc = parse_smtp(v, out, err)))
		goto out;
	if ((rc = parse_topic(config, "successTopicARN", &out->success, err)) ||
	    (rc = parse_topic(config, "failureTopicARN", &out->failure, err)) ||
	    (rc = parse_list(json_object_get(notify, "success"), "success", out, &out->success, err)) ||
	    (rc = parse_list(json_object_get(notify, "failure"), "failure", out, &out->failure, err)))
		goto out;
out:
	if (rc)
		zl_notify_cfg_release(out);
	return rc;
}

json_t *zl_notify_cfg_masked(const json_t *notify)
{
	json_t *m = zl_fields_mask(notify_fields, notify);
	json_t *smtp = json_object_get(m, "smtp");
	if (json_is_object(smtp))
		json_object_set_new(m, "smtp", zl_fields_mask(smtp_fields, smtp));
	return m;
}

void zl_notify_cfg_help(zl_buf *out)
{
	zl_buf_adds(out, "\nnotify fields:\n");
	zl_fields_help(notify_fields, out);
	zl_buf_adds(out, "  destinations: sns:arn:aws:sns:REGION:ACCOUNT:TOPIC, https://..., http://...,\n"
	                 "                mailto:ADDRESS[,ADDRESS...], exec:/ABSOLUTE/PROGRAM (the message on stdin)\n");
	zl_buf_adds(out, "\nnotify.smtp fields:\n");
	zl_fields_help(smtp_fields, out);
}
