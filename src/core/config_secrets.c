#include "core/config_secrets.h"
#include "target/target.h"
#include "util/buf.h"

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
	for (size_t i = 0; i < c->ntargets && i < json_array_size(targets); i++) {
		char where[320];
		zl_config_target_where(c, i, where, sizeof where);
		json_t *t = json_array_get(targets, i);
		const zl_field *fields = c->targets[i].ops->fields;
		int rc = reseal ? zl_secrets_reseal_json(s, c->prefix, where, t, fields, count, err)
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

void zl_config_target_scrub(const zl_config *c, size_t i, const json_t *revealed, char *msg, size_t n)
{
	const char *key;
	json_t *v;
	zl_buf b;
	zl_buf_init(&b, 0);
	json_object_foreach((json_t *)revealed, key, v) {
		const char *secret = json_string_value(v);
		size_t len = secret ? strlen(secret) : 0;
		if (!zl_fields_secret_name(c->targets[i].ops->fields, key) || len < 4 || !strstr(msg, secret))
			continue;
		zl_buf_reset(&b);
		for (const char *p = msg, *hit;; p = hit + len) {
			if (!(hit = strstr(p, secret))) {
				zl_buf_adds(&b, p);
				break;
			}
			zl_buf_add(&b, p, (size_t)(hit - p));
			zl_buf_adds(&b, "********");
		}
		snprintf(msg, n, "%s", zl_buf_str(&b));
	}
	zl_buf_release(&b);
}
