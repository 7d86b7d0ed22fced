/* Batching and retry policy: pure decisions, no I/O. */
#ifndef ZL_POLICY_H
#define ZL_POLICY_H

#include <stdint.h>

#include "core/config.h"

typedef enum {
	ZL_DUE_NO = 0,
	ZL_DUE_COUNT,    /* batchSize files */
	ZL_DUE_BYTES,    /* batchSizeBytes */
	ZL_DUE_TIMEOUT,  /* first file older than batchTimeoutSecs */
} zl_due_reason;

/* Whether an open batch with these totals is due at now. Empty batches are never due. */
zl_due_reason zl_batch_due(const zl_config *c, int64_t file_count, int64_t bytes, int64_t first_at,
                           int64_t now);
const char *zl_due_reason_name(zl_due_reason r);

/* Delay before retry number attempt (1-based) after a transient failure: exponential from 1 s,
 * capped at 60 s, with jitter in [delay/2, delay] drawn from rnd. */
int64_t zl_retry_delay_ms(int attempt, uint32_t rnd);

#endif
