#include "core/policy.h"

zl_due_reason zl_batch_due(const zl_config *c, int64_t file_count, int64_t bytes, int64_t first_at,
                           int64_t now)
{
	if (file_count <= 0)
		return ZL_DUE_NO;
	if (c->batch_size > 0 && file_count >= c->batch_size)
		return ZL_DUE_COUNT;
	if (c->batch_size_bytes > 0 && bytes >= c->batch_size_bytes)
		return ZL_DUE_BYTES;
	if (c->batch_timeout_ms > 0 && now - first_at >= c->batch_timeout_ms)
		return ZL_DUE_TIMEOUT;
	return ZL_DUE_NO;
}

const char *zl_due_reason_name(zl_due_reason r)
{
	static const char *const names[] = { "not due", "batchSize", "batchSizeBytes", "batchTimeoutSecs",
	                                     "unlocked" };
	return names[r];
}

zl_due_reason zl_open_batch_due(const zl_config *c, const zl_batch *b, int64_t now)
{
	if (b->file_count > 0 && b->locked_at)
		return ZL_DUE_REOPENED;
	return zl_batch_due(c, b->file_count, b->bytes, b->first_at, now);
}

int zl_open_batch_ages(const zl_config *c, const zl_batch *b)
{
	return b->file_count > 0 && c->batch_timeout_ms > 0;
}

int64_t zl_retry_delay_ms(int attempt, uint32_t rnd)
{
	int shift = attempt < 1 ? 0 : attempt - 1;
	int64_t delay = shift >= 6 ? 60000 : (int64_t)1000 << shift;
	if (delay > 60000)
		delay = 60000;
	return delay / 2 + (int64_t)(rnd % (uint32_t)(delay / 2 + 1));
}

int64_t zl_notify_retry_delay_ms(int attempt, uint32_t rnd)
{
	int shift = attempt < 1 ? 0 : attempt - 1;
	int64_t delay = shift >= 10 ? 600000 : (int64_t)1000 << shift;
	if (delay > 600000)
		delay = 600000;
	return delay / 2 + (int64_t)(rnd % (uint32_t)(delay / 2 + 1));
}
