#include "notify/sender.h"
#include "obs/metrics.h"
#include "core/config_secrets.h"
#include "core/policy.h"
#include "notify/notify.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <string.h>
#include <sys/random.h>

static uint32_t jitter(void)
{
	uint32_t r = 0;
	if (getrandom(&r, sizeof r, 0) != sizeof r)
		r = (uint32_t)zl_mono_ms();
	return r;
}

/* The destination_type label of zload_notifications_total. */
static const char *destination_type(const char *dest)
{
	static const struct {
		const char *prefix, *type;
	} types[] = { { "sns:", "sns" }, { "https:", "webhook" }, { "http:", "webhook" }, { "mailto:", "email" },
		      { "exec:", "exec" } };
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strncmp(dest, types[i].prefix, strlen(types[i].prefix)) == 0)
			return types[i].type;
	return "other";
}

int zl_notify_send_one(zl_engine *e, const zl_notify_send_opts *o, int64_t now, zl_send_outcome *outcome,
                       zl_err *err)
{
	zl_notice_rec n;
	int claimed = 0;
	long timeout = o->timeout_ms > 0 ? o->timeout_ms : ZL_NOTIFY_TIMEOUT_MS;
	*outcome = ZL_SEND_NONE;
	int rc = e->st->ops->notice_claim(e->st, o->owner, now, now + timeout + ZL_NOTIFY_LEASE_MARGIN_MS, o->batch_id,
	                                  &n, &claimed, err);
	if (rc || !claimed)
		return rc;
	const zl_config *c = zl_engine_config(e, n.prefix);
	zl_notify_msg m = { .id = n.id, .batch_id = n.batch_id, .event = n.event, .subject = n.subject,
	                    .body = n.body, .body_len = strlen(n.body) };
	zl_err serr = { 0 };
	char shown[512], id[24];
	int64_t t0 = zl_mono_ms();
	zl_notify_cfg plain;
	char *hook_secret = NULL, *smtp_password = NULL; /* in plain text for this send only */
	int src = c ? zl_config_notify_reveal(c, e->secrets, &plain, &hook_secret, &smtp_password, &serr) : 0;
	if (src == 0)
		src = zl_notify_send(n.dest, &m, c ? &plain : NULL, timeout, &serr);
	zl_secret_free(hook_secret);
	zl_secret_free(smtp_password);
	int64_t at = now + (zl_mono_ms() - t0), next_at = 0;
	zl_notice_status status = ZL_NOTICE_SENT;
	if (src) {
		status = n.attempts >= n.max_attempts ? ZL_NOTICE_FAILED : ZL_NOTICE_PENDING;
		next_at = at + zl_notify_retry_delay_ms(n.attempts, jitter());
	}
	zl_notify_display(n.dest, shown, sizeof shown);
	snprintf(id, sizeof id, "%lld", (long long)n.id);
	rc = e->st->ops->notice_settle(e->st, n.id, o->owner, status, at, next_at, src ? serr.msg : NULL, err);
	if (rc == 0)
		zl_metrics_notification(destination_type(n.dest), status == ZL_NOTICE_SENT ? "sent"
		                                                  : status == ZL_NOTICE_PENDING ? "retry" : "failed");
	if (rc == ZL_ELOST) {
		ZL_LOG(ZL_WARN, "notification taken over by another sender", ZL_S("notification", id),
		       ZL_S("batch", n.batch_id), ZL_S("prefix", n.prefix), ZL_S("error", err->msg));
		*outcome = ZL_SEND_LOST;
		rc = 0;
	} else if (rc == 0 && status == ZL_NOTICE_SENT) {
		ZL_LOG(ZL_INFO, "notification sent", ZL_S("notification", id), ZL_S("batch", n.batch_id),
		       ZL_S("prefix", n.prefix), ZL_S("event", n.event), ZL_S("destination", shown),
		       ZL_I("attempt", n.attempts), ZL_I("ms", zl_mono_ms() - t0));
		*outcome = ZL_SEND_SENT;
	} else if (rc == 0 && status == ZL_NOTICE_PENDING) {
		ZL_LOG(ZL_WARN, "notification not delivered; will retry", ZL_S("notification", id),
		       ZL_S("batch", n.batch_id), ZL_S("prefix", n.prefix), ZL_S("destination", shown),
		       ZL_I("attempt", n.attempts), ZL_I("max_attempts", n.max_attempts), ZL_I("retry_in_ms", next_at - at),
		       ZL_S("error", serr.msg));
		*outcome = ZL_SEND_RETRY;
	} else if (rc == 0) {
		ZL_LOG(ZL_ERROR, "notification failed: giving up", ZL_S("notification", id), ZL_S("batch", n.batch_id),
		       ZL_S("prefix", n.prefix), ZL_S("destination", shown), ZL_I("attempts", n.attempts),
		       ZL_S("error", serr.msg));
		*outcome = ZL_SEND_FAILED;
	}
	zl_notice_rec_release(&n);
	return rc;
}
