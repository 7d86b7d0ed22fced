/* Notification destinations, one ops table per URL scheme (sns, https, http, mailto, exec) chosen
 * from one registry. A send delivers one message to one destination once, within a timeout;
 * retrying belongs to the outbox sender (notify/sender.h). Nothing here keeps what it is given. */
#ifndef ZL_NOTIFY_H
#define ZL_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "util/err.h"

/* One message for one destination. */
typedef struct zl_notify_msg {
	int64_t id;              /* the outbox row: X-Zload-Delivery, the mail's Message-ID */
	const char *batch_id;
	const char *event;       /* "success" or "failure" */
	const char *subject;
	const char *body;        /* the message JSON */
	size_t body_len;
} zl_notify_msg;

typedef struct zl_notify_ops {
	const char *scheme;      /* "sns" for "sns:arn:aws:sns:..." */
	const char *example;     /* for messages: "sns:arn:aws:sns:REGION:ACCOUNT:TOPIC" */
	const char *requires;    /* the notify field this scheme needs ("smtp"), or NULL */
	/* Checks a destination; target is what follows "scheme:". Messages start with where. */
	int (*validate)(const char *url, const char *target, const char *where, zl_err *err);
	/* Delivers m to url with the configuration's settings (cfg may be NULL: none). 0 once the
	 * destination accepted it; else err says why (no secret in it). */
	int (*send)(const char *url, const char *target, const zl_notify_msg *m, const zl_notify_cfg *cfg,
	            long timeout_ms, zl_err *err);
} zl_notify_ops;

/* Adds a scheme beside the built-in ones (before any thread sends; for tests). */
int zl_notify_register(const zl_notify_ops *ops);
/* The ops for url's scheme and the target after the colon. ZL_EINVAL, starting with where and
 * naming the known schemes, when there is none. */
int zl_notify_find(const char *url, const char *where, const zl_notify_ops **ops, const char **target,
                   zl_err *err);
/* zl_notify_find, then the scheme's validate. */
int zl_notify_check(const char *url, const char *where, zl_err *err);
/* Delivers m to url (zl_notify_find, then the scheme's send). */
int zl_notify_send(const char *url, const zl_notify_msg *m, const zl_notify_cfg *cfg, long timeout_ms,
                   zl_err *err);
/* url as logs and listings show it: the user information and query of an http(s) URL hidden
 * ("https://host/path?***"). Returns out. */
const char *zl_notify_display(const char *url, char *out, size_t n);

#endif
