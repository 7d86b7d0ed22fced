/* The JSON the commands print for batches, notifications and times, one shape everywhere. */
#include "cli/json_out.h"
#include "notify/notify.h"
#include "util/timeutil.h"

json_t *zl_cli_time_json(int64_t ms)
{
	char buf[40];
	return ms ? json_string(zl_time_format(ms, buf, sizeof buf)) : json_null();
}

json_t *zl_cli_batch_json(const zl_batch *b)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:i}", "id", b->id, "prefix", b->prefix, "status",
	                      zl_batch_status_name(b->status), "files", (json_int_t)b->file_count,
	                      "bytes", (json_int_t)b->bytes, "attempts", b->attempts);
	json_object_set_new(o, "created", zl_cli_time_json(b->created_at));
	json_object_set_new(o, "firstFileAt", zl_cli_time_json(b->first_at));
	json_object_set_new(o, "lockedAt", zl_cli_time_json(b->locked_at));
	json_object_set_new(o, "finishedAt", zl_cli_time_json(b->finished_at));
	json_object_set_new(o, "updated", zl_cli_time_json(b->updated_at));
	if (b->status == ZL_BATCH_LOCKED) {
		json_object_set_new(o, b->owner ? "leaseUntil" : "retryAt", zl_cli_time_json(b->lease_until));
		json_object_set_new(o, "owner", b->owner ? json_string(b->owner) : json_null());
	}
	json_object_set_new(o, "error", b->error ? json_string(b->error) : json_null());
	return o;
}

json_t *zl_cli_notice_json(const zl_notice_rec *n)
{
	char shown[1024];
	json_t *msg = json_loads(n->body, JSON_PRESERVE_ORDER, NULL);
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:i}", "id", (json_int_t)n->id, "batchId", n->batch_id,
	                      "prefix", n->prefix, "event", n->event, "destination",
	                      zl_notify_display(n->dest, shown, sizeof shown), "status", zl_notice_status_name(n->status),
	                      "attempts", n->attempts, "maxAttempts", n->max_attempts);
	json_object_set_new(o, "createdAt", zl_cli_time_json(n->created_at));
	json_object_set_new(o, "nextAt", n->status == ZL_NOTICE_PENDING ? zl_cli_time_json(n->next_at) : json_null());
	json_object_set_new(o, "sentAt", zl_cli_time_json(n->sent_at));
	json_object_set_new(o, "owner", n->owner ? json_string(n->owner) : json_null());
	json_object_set_new(o, "leaseUntil", n->owner ? zl_cli_time_json(n->lease_until) : json_null());
	json_object_set_new(o, "lastError", n->last_error ? json_string(n->last_error) : json_null());
	json_object_set_new(o, "subject", json_string(n->subject));
	json_object_set_new(o, "message", msg ? msg : json_string(n->body));
	return o;
}
