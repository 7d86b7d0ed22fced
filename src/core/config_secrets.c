#include "core/config_secrets.h"
#include "target/target.h"
#include "core/notify_config.h"
#include "core/scrub.h"

#include <stdio.h>
#include <string.h>

void zl_config_target_where(const zl_config *c, size_t i, char *out, size_t n)
{
	if (c->targets[i].name)
		snprintf(out, n, "targets[%s]", c->targets[i].name);
	else
		snprintf(out, n, "targets[%zu]", i);
}

/* The targets array of a stored configuration (the original calls it loadClusters). */
static json_t *targets_of(json_t *json)
{
	json_t *t = json_object_get(json, "targets");
	return t ? t : json_object_get(json, "loadClusters");
}

static int seal_targets(const zl_config *c, zl_secrets *s, json_t *json, int reseal, int *count, zl_err *err)
{
	json_t *targets = targets_of(json);
	*count = 0;
	int rc = zl_notify_cfg_seal(json, s, c->prefix, reseal, count, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < c->ntargets && i < json_array_size(targets); i++) {
		char where[320];
		zl_config_target_where(c, i, where, sizeof where);
		json_t *t = json_array_get(targets, i);
		const zl_field *fields = c->targets[i].ops->fields;
		rc = reseal ? zl_secrets_reseal_json(s, c->prefix, where, t, fields, count, err)
		            : zl_secrets_seal_json(s, c->prefix, where, t, fields, count, err);
		if (rc)
			return rc;
	}
	return 0;
}

int zl_config_seal(const zl_config *c, zl_secrets *s, json_t *json, int *sealed, zl_err *err)
{
	return seal_targets(c, s, json, 0, sealed, err);
}

int zl_config_reseal(const zl_config *c, zl_secrets *s, json_t *json, int *resealed, zl_err *err)
{
	return seal_targets(c, s, json, 1, resealed, err);
}

int zl_config_target_reveal(const zl_config *c, size_t i, zl_secrets *s, json_t **out, zl_err *err)
{
	char where[320];
	zl_config_target_where(c, i, where, sizeof where);
	return zl_secrets_reveal_json(s, c->prefix, where, c->targets[i].json, c->targets[i].ops->fields, out, err);
}

void zl_config_target_wipe(const zl_config *c, size_t i, json_t *revealed)
{
	if (revealed)
		zl_secrets_wipe_json(revealed, c->targets[i].ops->fields);
	json_decref(revealed);
}

int zl_config_target_plain(const zl_config *c, size_t i, const json_t *revealed, zl_strvec *secrets)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)revealed, key, v)
		if (zl_fields_secret_name(c->targets[i].ops->fields, key) && json_is_string(v) &&
		    zl_scrub_add(secrets, json_string_value(v)))
			return ZL_ENOMEM;
	return 0;
}

int zl_config_notify_reveal(const zl_config *c, zl_secrets *s, zl_notify_cfg *out, char **webhook_secret,
                            char **smtp_password, zl_err *err)
{
	*out = c->notify;
	*webhook_secret = *smtp_password = NULL;
	int rc = 0;
	if (c->notify.webhook_secret &&
	    (rc = zl_secret_reveal(s, c->prefix, "notify.webhookSecret", c->notify.webhook_secret, webhook_secret, err)))
		return rc;
	if (c->notify.smtp_password &&
	    (rc = zl_secret_reveal(s, c->prefix, "notify.smtp.password", c->notify.smtp_password, smtp_password, err))) {
		zl_secret_free(*webhook_secret);
		*webhook_secret = NULL;
		return rc;
	}
	out->webhook_secret = *webhook_secret;
	out->smtp_password = *smtp_password;
	return 0;
}
