/* The notifications of a finished batch: the message (the original loader's SNS fields and
 * zload's), its subject, one notice per destination of the configuration for the outcome, and
 * the configuration's secrets scrubbed from all of it. zl_notices owns what it holds. */
#ifndef ZL_NOTICE_H
#define ZL_NOTICE_H

#include <jansson.h>
#include <stdint.h>

#include "core/config.h"
#include "core/model.h"
#include "core/scrub.h"
#include "state/state.h"
#include "util/strvec.h"

#define ZL_NOTICE_MAX_FILES 1000  /* files named in a message; the rest are counted in filesOmitted */

typedef struct zl_notices {
	zl_notice *v;     /* for batch_finish; strings point into this struct */
	size_t n;
	char subject[128];
	char *body;
} zl_notices;

/* The notices for a batch that finished as status (COMPLETE or ERROR) at now, from the load's
 * result (may be NULL) and error summary (may be NULL). None when c is NULL or has no
 * destination for the outcome. */
int zl_notices_build(const zl_config *c, const zl_batch *b, zl_batch_status status, int64_t now,
                     const json_t *result, const char *error, zl_notices *out, zl_err *err);
void zl_notices_release(zl_notices *n);

/* The message object (caller decrefs): error, status, batchId, s3Prefix, loadStatements, files,
 * targets, attempts, createdAt, finishedAt, durationMs. Secrets are not yet scrubbed. */
json_t *zl_notice_message(const zl_config *c, const zl_batch *b, zl_batch_status status, int64_t now,
                          const json_t *result, const char *error);
/* "Lambda Vertica Batch Load <id> OK" or "... Failure": the original's subject. */
void zl_notice_subject(const char *batch_id, zl_batch_status status, char *out, size_t n);
/* Appends every secret of c: its targets' secret fields (and a password inside a connection
 * string or URI), the webhook secret, the SMTP password. Values shorter than 4 are skipped. */
int zl_config_secrets(const zl_config *c, zl_strvec *out);

#endif
