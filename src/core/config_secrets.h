/* The secret fields of a configuration: sealed when it is stored, revealed only for a target
 * about to connect. Local seals bind each value to its configuration and field: the field's path
 * is "targets[NAME].FIELD" for a named target, "targets[I].FIELD" for an unnamed one. */
#ifndef ZL_CONFIG_SECRETS_H
#define ZL_CONFIG_SECRETS_H

#include <jansson.h>

#include "core/config.h"
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
/* Overwrites with "********" every occurrence in msg of a secret of revealed (4 bytes or longer),
 * in case a target's error quotes one. */
void zl_config_target_scrub(const zl_config *c, size_t i, const json_t *revealed, char *msg, size_t n);

#endif
