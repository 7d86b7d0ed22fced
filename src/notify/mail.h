/* The mail of a notification: the message JSON rendered as readable text, and the whole RFC 5322
 * message around it. Pure functions; output goes to the caller's buffer. */
#ifndef ZL_MAIL_H
#define ZL_MAIL_H

#include <stdint.h>

#include "util/buf.h"

/* Appends a plain-text rendering of a notification's JSON (LF line ends); ZL_EINVAL when json is
 * not a notification message, ZL_ENOMEM. */
int zl_mail_text(const char *json, zl_buf *out);

typedef struct zl_mail {
	const char *from;       /* as configured: "ops@example.com" or "Name <ops@example.com>" */
	const char *to;         /* the addresses, comma-separated */
	const char *subject;
	const char *text;       /* the body, LF line ends */
	const char *message_id; /* "<...@...>" */
	const char *event;      /* X-Zload-Event */
	const char *batch_id;   /* X-Zload-Batch */
	int64_t date_ms;
} zl_mail;

/* Appends the message: headers and body with CRLF line ends, lines cut to fit SMTP's 998. */
int zl_mail_compose(const zl_mail *m, zl_buf *out);
/* The bare address of from ("ops@example.com" of "Name <ops@example.com>") into out. */
void zl_mail_address(const char *from, char *out, size_t n);

#endif
