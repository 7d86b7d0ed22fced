/* libFuzzer target over event bodies (core/event.c): S3 notifications, the SNS envelope, SQS and
 * Lambda batches, EventBridge and MinIO bodies, nested. zl_event_parse and zl_event_each must agree
 * record for record; an early stop by the callback must come back unchanged; errors are ZL_EINVAL
 * or ZL_ENOMEM with a message; every record is well formed for its kind. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "util/err.h"

#define STOP_RC 12345

typedef struct walk {
	const zl_event_record *recs; /* zl_event_parse's, to compare with */
	size_t n, seen, stop_at;
} walk;

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_record(const zl_event_record *r)
{
	switch (r->kind) {
	case ZL_REC_CREATED:
		if (!r->obj.bucket || !*r->obj.bucket || !r->obj.key || !*r->obj.key || !r->event_name)
			abort();
		break;
	case ZL_REC_IGNORED:
		break;
	case ZL_REC_MALFORMED:
		if (!r->error[0] || !memchr(r->error, '\0', sizeof r->error))
			abort();
		break;
	default:
		abort();
	}
}

static int on_record(void *ud, const zl_event_record *rec)
{
	walk *w = ud;
	check_record(rec);
	if (w->recs) {
		if (w->seen >= w->n)
			abort();
		const zl_event_record *p = &w->recs[w->seen];
		if (p->kind != rec->kind || !same(p->event_name, rec->event_name) || !same(p->obj.bucket, rec->obj.bucket) ||
		    !same(p->obj.key, rec->obj.key) || !same(p->obj.etag, rec->obj.etag) || p->obj.size != rec->obj.size ||
		    strcmp(p->error, rec->error) != 0)
			abort();
	}
	w->seen++;
	return w->seen == w->stop_at ? STOP_RC : 0;
}

static void check_error(int rc, const zl_err *err)
{
	if (rc == 0)
		return;
	if (rc != ZL_EINVAL && rc != ZL_ENOMEM)
		abort();
	if (!err->msg[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact copy: ASan sees every read past the end */
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	zl_event_record *recs = NULL;
	size_t n = 0;
	zl_err err;
	int rc = zl_event_parse(text, size, &recs, &n, &err);
	check_error(rc, &err);
	if (rc && (recs || n))
		abort();
	for (size_t i = 0; i < n; i++)
		check_record(&recs[i]);

	walk w = { .recs = rc ? NULL : recs, .n = n };
	int rc2 = zl_event_each(text, size, on_record, &w, &err);
	if (rc2 != rc && !(rc == ZL_ENOMEM || rc2 == ZL_ENOMEM))
		abort();
	if (rc2 == 0 && !rc && w.seen != n)
		abort();

	if (!rc && n > 1) { /* stop half way: the callback's value comes back, nothing more is delivered */
		walk s = { .recs = recs, .n = n, .stop_at = n / 2 + 1 };
		if (zl_event_each(text, size, on_record, &s, &err) != STOP_RC || s.seen != s.stop_at)
			abort();
	}
	zl_event_records_free(recs, n);
	free(text);
	return 0;
}
