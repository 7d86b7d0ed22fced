/* Secrets at rest: configuration values that are passwords, keys or tokens are stored sealed by a
 * provider chosen per installation, or as references to where they are kept.
 *
 * Stored forms (what a secret field of a stored configuration holds):
 *   enc:local:v1:KEYID:BASE64   AES-256-GCM under the local master key KEYID; the configuration's
 *                               prefix and the field's path are its associated data
 *   [1,2,2,0,120,...]           an AWS KMS ciphertext blob as a JSON array of bytes: the original
 *                               loader's form, which zload's kms provider writes too
 *   BASE64                      a KMS ciphertext in base64 (the Redshift loader's form, read only)
 *   env:NAME, file:/path        a reference: the value is read from there when needed
 *   anything else               a plain value (sealed by the next `config put` or upgrade)
 * The handle is thread-safe; plain texts returned belong to the caller, who wipes them. */
#ifndef ZL_SECRET_H
#define ZL_SECRET_H

#include <jansson.h>

#include "core/fields.h"
#include "util/err.h"

typedef struct zl_secrets zl_secrets;

/* spec: "local" (default; ZLOAD_MASTER_KEY_FILE or $XDG_CONFIG_HOME/zload/master.key, created
 * on first use), "kms" (alias/LambaVerticaLoaderKey) or "kms:ALIAS_OR_ARN"; NULL: $ZLOAD_SECRETS,
 * else local. Opening reads nothing yet: keys are read or made when first needed. */
int zl_secrets_open(const char *spec, zl_secrets **out, zl_err *err);
void zl_secrets_close(zl_secrets *s);
/* "local" or "kms:alias/..." for messages. */
const char *zl_secrets_name(const zl_secrets *s);

/* Whether a stored value needs no sealing: already sealed, an original's ciphertext, a reference. */
int zl_secret_is_protected(const char *stored);
/* Seals plain for field `path` of the configuration `prefix`. *out is the stored form (caller
 * frees). */
int zl_secret_seal(zl_secrets *s, const char *prefix, const char *path, const char *plain, char **out, zl_err *err);
/* The plain text of a stored value (any form above), for field `path` of `prefix`; caller wipes
 * and frees with zl_secret_free. Errors name the field, never the value. */
int zl_secret_reveal(zl_secrets *s, const char *prefix, const char *path, const char *stored, char **out,
                     zl_err *err);
/* Wipes and frees a plain text. */
void zl_secret_free(char *plain);

/* Over a JSON object described by fields (a configuration, a target): seals in place every
 * ZL_FT_SECRET value not yet protected (*sealed counts them), or returns a copy with every secret
 * revealed (wipe it with zl_secrets_wipe_json before json_decref). where is the object's path in
 * the configuration ("" or "targets[0]"). */
int zl_secrets_seal_json(zl_secrets *s, const char *prefix, const char *where, json_t *obj, const zl_field *fields,
                         int *sealed, zl_err *err);
int zl_secrets_reveal_json(zl_secrets *s, const char *prefix, const char *where, const json_t *obj,
                           const zl_field *fields, json_t **out, zl_err *err);
void zl_secrets_wipe_json(json_t *obj, const zl_field *fields);

/* Seals anew every sealed or plain secret of obj under the current key (references stay). */
int zl_secrets_reseal_json(zl_secrets *s, const char *prefix, const char *where, json_t *obj,
                           const zl_field *fields, int *resealed, zl_err *err);
/* Re-seals a stored value under the current key (local: the newest; kms: the handle's key). */
int zl_secret_reseal(zl_secrets *s, const char *prefix, const char *path, const char *stored, char **out,
                     zl_err *err);
/* local: adds a new master key (the newest seals from now on; older ones still open). */
int zl_secrets_new_key(zl_secrets *s, zl_err *err);
/* local: drops every master key but the newest (after a rotation re-sealed everything). */
int zl_secrets_drop_old_keys(zl_secrets *s, zl_err *err);

#endif
