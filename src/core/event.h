/* S3 event notifications: parsing {"Records":[...]} into objects. zl_event_each lends each record
 * to its callback for the length of the call; zl_event_parse's caller owns the array it returns. */
#ifndef ZL_EVENT_H
#define ZL_EVENT_H

#include <stddef.h>

#include "core/model.h"
#include "util/err.h"

typedef enum {
	ZL_REC_CREATED = 0, /* an ObjectCreated:* record: obj is filled */
	ZL_REC_IGNORED,     /* another event kind (ObjectRemoved:*, s3:TestEvent): skip quietly */
	ZL_REC_MALFORMED,   /* error says what is wrong; the other records still count */
} zl_rec_kind;

typedef struct zl_event_record {
	zl_rec_kind kind;
	char *event_name;   /* "ObjectCreated:Put", or NULL */
	zl_object obj;
	char error[256];
} zl_event_record;

/* Parses one event body: S3 notification JSON ({"Records":[...]}), the SNS envelope (its
 * Message holds the S3 event), SQS message bodies and Lambda's SQS/SNS batches, EventBridge
 * "Object Created" events and MinIO webhook bodies. s3:TestEvent yields no records.
 * ZL_EINVAL for a body that is not JSON or none of these (line and column for JSON errors). */
int zl_event_parse(const char *text, size_t len, zl_event_record **recs, size_t *n, zl_err *err);

/* Called once per record, in order. A non-zero return stops the walk. */
typedef int (*zl_event_cb)(void *ud, const zl_event_record *rec);
/* Walks one event body (every form zl_event_parse accepts) calling cb for each record, holding
 * one record's JSON at a time: a first pass checks the whole text, so a malformed body is
 * ZL_EINVAL (line and column in err) before any record is delivered. Returns 0, ZL_EINVAL,
 * ZL_ENOMEM, or cb's non-zero value unchanged (err is then the callback's business). */
int zl_event_each(const char *text, size_t len, zl_event_cb cb, void *ud, zl_err *err);
void zl_event_records_free(zl_event_record *recs, size_t n);
/* Decodes an S3 event key: "%XX" escapes and "+" as space. Caller frees; NULL on bad escape. */
char *zl_url_decode_key(const char *s);

#endif
