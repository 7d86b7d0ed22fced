/* Batching and retry policy: pure decisions, no I/O. */
#ifndef ZL_POLICY_H
#define ZL_POLICY_H

#include <stdint.h>

#include "core/config.h"
#include "core/model.h"

typedef enum {
	ZL_DUE_NO = 0,
	ZL_DUE_COUNT,    /* batchSize files */
	ZL_DUE_BYTES,    /* batchSizeBytes */
	ZL_DUE_TIMEOUT,  /* first file older than batchTimeoutSecs */
	ZL_DUE_REOPENED, /* locked before and unlocked since: it takes no new files, so it loads now */
} zl_due_reason;

/* Whether an open batch with these totals is due at now. Empty batches are never due. */
zl_due_reason zl_batch_due(const zl_config *c, int64_t file_count, int64_t bytes, int64_t first_at,
                           int64_t now);
const char *zl_due_reason_name(zl_due_reason r);
/* The same for a stored open batch (which may have been locked before). */
zl_due_reason zl_open_batch_due(const zl_config *c, const zl_batch *b, int64_t now);
/* Whether an open batch that is not due now will be without a new file (batchTimeoutSecs). */
int zl_open_batch_ages(const zl_config *c, const zl_batch *b);

/* Delay before retry number attempt (1-based) after a transient failure: exponential from 1 s,
 * capped at 60 s, with jitter in [delay/2, delay] drawn from rnd. */
int64_t zl_retry_delay_ms(int attempt, uint32_t rnd);
/* Delay before delivery number attempt + 1 of a notification after attempt failed: exponential
 * from 1 s, capped at 10 minutes, with jitter in [delay/2, delay] drawn from rnd. */
int64_t zl_notify_retry_delay_ms(int attempt, uint32_t rnd);

#endif
