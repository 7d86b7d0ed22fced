/* The JSON the commands print (`batches list --json`, `notifications list --json`, `status
 * --json`): one shape for a batch, a notification and a time in every command. */
#ifndef ZL_JSON_OUT_H
#define ZL_JSON_OUT_H

#include <jansson.h>
#include <stdint.h>

#include "core/model.h"

/* An ISO-8601 UTC time, or null for 0. */
json_t *zl_cli_time_json(int64_t ms);
/* A batch without its files: id, prefix, status, counts, times; owner and leaseUntil (or retryAt)
 * when locked; error. */
json_t *zl_cli_batch_json(const zl_batch *b);
/* A notification in full, its message parsed when it is JSON. */
json_t *zl_cli_notice_json(const zl_notice_rec *n);

#endif
