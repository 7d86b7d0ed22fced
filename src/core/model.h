/* The records zload keeps: objects, file records, batches and queued notifications. Structs own their strings; _release frees them. */
#ifndef ZL_MODEL_H
#define ZL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "util/uuid.h"

/* An object in a store. */
typedef struct zl_object {
	char *bucket;
	char *key;
	int64_t size;  /* -1 when unknown */
	char *etag;    /* NULL when unknown */
	int64_t modified; /* last modification, Unix ms; 0 when unknown */
} zl_object;

void zl_object_release(zl_object *o);

typedef enum {
	ZL_BATCH_OPEN = 0,
	ZL_BATCH_LOCKED,
	ZL_BATCH_COMPLETE,
	ZL_BATCH_ERROR,
	ZL_BATCH_NSTATUS
} zl_batch_status;

#define ZL_STATUS_BIT(s) (1u << (s))
#define ZL_STATUS_ALL 0xfu

const char *zl_batch_status_name(zl_batch_status s);
/* Returns 0 and sets *s, or ZL_EINVAL for an unknown name. */
int zl_batch_status_parse(const char *name, zl_batch_status *s);

/* The file record: one per claimed object (its identity is file_id). */
typedef struct zl_file_rec {
	char *file_id;        /* "bucket/key" or "bucket/key@etag" */
	char *bucket;
	char *key;
	char *etag;           /* may be NULL */
	char *prefix;         /* the configuration it was routed to */
	int64_t size;
	int64_t received_at;  /* ms */
	char batch_id[ZL_UUID_LEN];
	/* Filled by state->file_get from the batch, "" when the batch was deleted. */
	char batch_status[16];
} zl_file_rec;

void zl_file_rec_release(zl_file_rec *f);
/* Whether a and b are the same stored record: every field but batch_status (NULL equals NULL). */
int zl_file_rec_same(const zl_file_rec *a, const zl_file_rec *b);
void zl_file_list_free(zl_file_rec *v, size_t n);

typedef struct zl_batch {
	char id[ZL_UUID_LEN];
	char *prefix;
	zl_batch_status status;
	int64_t created_at;   /* ms; all times are Unix ms, 0 when not set */
	int64_t first_at;     /* arrival of the first file */
	int64_t updated_at;
	int64_t locked_at;
	int64_t finished_at;
	int64_t lease_until;  /* locked: lease expiry, or when a retry is due */
	int64_t file_count;
	int64_t bytes;
	int attempts;         /* load attempts started */
	char *owner;          /* loader holding the lease, NULL when none */
	char *result;         /* JSON text of per-target results, NULL before the first attempt */
	char *error;          /* summary of the last failure, NULL when none */
	zl_file_rec *files;   /* filled by state->batch_get only, in arrival order */
	size_t nfiles;
} zl_batch;

void zl_batch_release(zl_batch *b);
void zl_batch_list_free(zl_batch *v, size_t n);

/* A notification in the outbox: pending until a sender delivers it (sent) or gives up (failed). */
typedef enum {
	ZL_NOTICE_PENDING = 0,
	ZL_NOTICE_SENT,
	ZL_NOTICE_FAILED,
	ZL_NOTICE_NSTATUS
} zl_notice_status;

const char *zl_notice_status_name(zl_notice_status s);
/* Returns 0 and sets *s, or ZL_EINVAL for an unknown name. */
int zl_notice_status_parse(const char *name, zl_notice_status *s);

/* One row of the outbox: one message for one destination, queued when its batch finished. */
typedef struct zl_notice_rec {
	int64_t id;               /* > 0, increasing */
	char batch_id[ZL_UUID_LEN];
	char *prefix;
	char *dest;               /* destination URL ("sns:arn:...", "https://...", "mailto:...", "exec:/...") */
	char *event;              /* "success" or "failure" */
	char *subject;
	char *body;               /* the message JSON */
	zl_notice_status status;
	int attempts;             /* deliveries started */
	int max_attempts;         /* after this many failed deliveries it is failed */
	int64_t created_at;
	int64_t next_at;          /* pending: when the next delivery is due */
	int64_t sent_at;          /* sent: when */
	int64_t lease_until;      /* held by owner until then (a delivery in progress); 0 when none */
	char *owner;              /* the sender holding it, NULL when none */
	char *last_error;         /* the last failed delivery's error, NULL when none */
} zl_notice_rec;

void zl_notice_rec_release(zl_notice_rec *n);
void zl_notice_list_free(zl_notice_rec *v, size_t n);

#endif
