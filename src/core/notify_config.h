/* The notifications of a configuration: successTopicARN, failureTopicARN, maxNotifyAttempts and
 * the "notify" object (destination URLs per outcome, the webhook secret, SMTP settings), parsed
 * and validated. zl_notify_cfg_release frees what parse made. */
#ifndef ZL_NOTIFY_CONFIG_H
#define ZL_NOTIFY_CONFIG_H

#include <jansson.h>

#include "secret/secret.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/strvec.h"

#define ZL_NOTIFY_DEFAULT_ATTEMPTS 10

typedef struct zl_notify_cfg {
	zl_strvec success;            /* destination URLs: successTopicARN as "sns:ARN", then notify.success */
	zl_strvec failure;            /* failureTopicARN, then notify.failure */
	const char *webhook_secret;   /* notify.webhookSecret; the strings below point into the config */
	const char *smtp_url;         /* notify.smtp: smtp://HOST[:PORT] or smtps:// */
	const char *smtp_from;
	const char *smtp_user;
	const char *smtp_password;
	int smtp_starttls;
	int max_attempts;             /* maxNotifyAttempts */
} zl_notify_cfg;

/* Parses the notification fields of a configuration object (already checked against the
 * configuration's field table). Messages name the field: "notify.success[1]: ...". */
int zl_notify_cfg_parse(const json_t *config, zl_notify_cfg *out, zl_err *err);
void zl_notify_cfg_release(zl_notify_cfg *n);
/* Seals (or with reseal, seals anew) notify.webhookSecret and notify.smtp.password of a stored
 * configuration object in place; *count grows by the values sealed. */
int zl_notify_cfg_seal(json_t *config, zl_secrets *s, const char *prefix, int reseal, int *count, zl_err *err);
/* A copy of the "notify" object with its secrets masked. Caller decrefs. */
json_t *zl_notify_cfg_masked(const json_t *notify);
/* Appends the reference of the notify fields to out (for `config --help`). */
void zl_notify_cfg_help(zl_buf *out);

#endif
