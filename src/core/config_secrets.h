/* The secret fields of a configuration: sealed when it is stored, revealed only for a target
 * about to connect. Local seals bind each value to its configuration and field: the field's path
 * is "targets[NAME].FIELD" for a named target, "targets[I].FIELD" for an unnamed one,
 * "notify.webhookSecret" and "notify.smtp.password" for the notification settings. */
#ifndef ZL_CONFIG_SECRETS_H
#define ZL_CONFIG_SECRETS_H

#include <jansson.h>

#include "core/config.h"
#include "util/strvec.h"
#include "secret/secret.h"

/* "targets[NAME]" or "targets[I]" for target i of c. */
void zl_config_target_where(const zl_config *c, size_t i, char *out, size_t n);
/* Seals every plain secret of json, the stored object of c (a copy of c->json, or c->json before
 * it is stored); *sealed counts them. Errors name the field. */
int zl_config_seal(const zl_config *c, zl_secrets *s, json_t *json, int *sealed, zl_err *err);
/* Seals anew, under the provider's current key, every secret of json but references. */
int zl_config_reseal(const zl_config *c, zl_secrets *s, json_t *json, int *resealed, zl_err *err);
/* Target i's object as its type reads it, with every secret revealed; wipe it with
 * zl_config_target_wipe, which also decrefs. */
int zl_config_target_reveal(const zl_config *c, size_t i, zl_secrets *s, json_t **out, zl_err *err);
void zl_config_target_wipe(const zl_config *c, size_t i, json_t *revealed);
/* Adds the plain secrets of revealed (target i's, from zl_config_target_reveal) to a scrub list
 * (core/scrub.h), so that no error, record or notification quotes one. 0 or ZL_ENOMEM. */
int zl_config_target_plain(const zl_config *c, size_t i, const json_t *revealed, zl_strvec *secrets);
/* The notification settings of c with the webhook secret and SMTP password revealed into
 * *webhook_secret and *smtp_password (free both with zl_secret_free). */
int zl_config_notify_reveal(const zl_config *c, zl_secrets *s, zl_notify_cfg *out, char **webhook_secret,
                            char **smtp_password, zl_err *err);

#endif
