/* The DynamoDB state backend's shared parts: the handle, one call with its retries, attribute
 * values, and the item layout on the original loader's three tables.
 *
 * <P>BatchLoadConfig (hash s3Prefix): one item per configuration, its JSON as attributes (what
 *   the original's setup.js writes) plus zloadConfig (the exact text), zloadConfigRev and the
 *   original's currentBatch / lastBatchRotation / lastUpdate. A claim for a prefix without a
 *   configuration makes a bare item (zloadBare) that only holds currentBatch. The item
 *   "zload:meta" holds the configuration version and the outbox's id sequence.
 * <P>Batches (hash s3Prefix, range batchId): the original's attributes (status, entries SS,
 *   lastUpdate N, clusterLoadStatus, errorMessage) and zload's (zloadFiles in arrival order,
 *   zloadFileCount, zloadBytes, times, lease, attempts, result, zloadSealed once ever locked).
 *   Two partitions are zload's own: "zload:batch" maps a batch id to its prefix (batchId = the
 *   id, zloadPrefix), and "zload:outbox" holds notifications (batchId = the id as 20 digits).
 *   Neither has a status attribute, so the GSI <P>BatchStatus sees batches only.
 * <P>ProcessedFiles (hash loadFile = the file id): the original's batchId, and s3Prefix,
 *   zloadBucket, zloadKey, zloadEtag, zloadSize, zloadReceivedAt. */
#ifndef ZL_STATE_DYNAMO_INT_H
#define ZL_STATE_DYNAMO_INT_H

#include <jansson.h>

#include "state/state.h"
#include "util/aws.h"
#include "util/aws_json.h"

#define DYN_META "zload:meta"
#define DYN_POINTERS "zload:batch"
#define DYN_OUTBOX "zload:outbox"

extern const zl_state_ops zl_state_dynamodb_ops;

/* A handle's last append to a prefix: the batch it went to and its totals after it. */
typedef struct dyn_claim_cache {
	char *prefix;
	char id[ZL_UUID_LEN];
	int valid, exists;
	int64_t n, bytes, first_at;
} dyn_claim_cache;

typedef struct dyn_state {
	zl_state base;
	char region[64];
	char endpoint[512];
	char prefix[96];                 /* the tables' name prefix: LambdaVertica */
	char t_config[128], t_batches[128], t_files[128], gsi[128];
	zl_aws_provider *creds;
	zl_aws_json_req req;
	int retry_ms;                    /* how long throttling and outages are retried */
	/* batch id -> prefix, for the operations that name a batch by id only */
	struct { char id[ZL_UUID_LEN]; char *prefix; } pcache[16];
	unsigned pnext;
	dyn_claim_cache ccache[8];
	unsigned cnext;
	/* file_scan's sorted keys, read once at the start of a scan */
	char **scan_keys;
	size_t nscan;
} dyn_state;

/* What dyn_call returns besides 0 and ZL_E* codes. */
enum {
	DYN_CONDITION = 1, /* ConditionalCheckFailedException (*fault: the reply) */
	DYN_CANCELED = 2,  /* TransactionCanceledException with a ConditionalCheckFailed reason */
};

/* One DynamoDB call: body is taken (decref'd). Throttling, transaction conflicts, 5xx and lost
 * connections are retried with back-off for d->retry_ms, then ZL_ETRANSIENT; never taken for a
 * condition that failed. *reply (may be NULL) gets the answer; fault (may be NULL) the failure's
 * body for DYN_CONDITION and DYN_CANCELED (CancellationReasons). */
int dyn_call(dyn_state *d, const char *action, json_t *body, json_t **reply, json_t **fault, zl_err *err);
/* TransactWriteItems of items (taken), with a ClientRequestToken, so that a retry of a write
 * whose answer was lost is recognised by DynamoDB as the same (for ten minutes). */
int dyn_transact(dyn_state *d, json_t *items, json_t **fault, zl_err *err);
/* Whether reason i of a DYN_CANCELED fault is ConditionalCheckFailed. */
int dyn_canceled_at(const json_t *fault, size_t i);

/* Attribute values. */
json_t *dyn_S(const char *v);
json_t *dyn_N(int64_t v);
json_t *dyn_secs(int64_t ms);        /* N, epoch seconds with milliseconds ("1432228612.501") */
json_t *dyn_key(const char *hash_name, const char *hash, const char *range_name, const char *range);
/* Attribute name of item as a string (S), NULL when absent or not S. */
const char *dyn_get_s(const json_t *item, const char *name);
/* An N (integer or decimal) or S holding a number, as int64; dflt when absent or not a number. */
int64_t dyn_get_n(const json_t *item, const char *name, int64_t dflt);
/* An N or S of epoch seconds (the original's lastUpdate) as ms; dflt when absent. */
int64_t dyn_get_secs_ms(const json_t *item, const char *name, int64_t dflt);
/* A freshly allocated string (NULL when absent); sets *oom on allocation failure. */
char *dyn_dup_s(const json_t *item, const char *name, int *oom);

/* GetItem, consistent; *item NULL when absent (caller decrefs). */
int dyn_get_item(dyn_state *d, const char *table, json_t *key, json_t **item, zl_err *err);
/* Query with the given body fields (TableName etc. set by the caller), every page; appends the
 * items to *items (a JSON array the caller decrefs; created when NULL). */
int dyn_query_all(dyn_state *d, const char *action, json_t *body, json_t **items, zl_err *err);

/* The batch id's prefix, through its pointer item (or, for a batch the original loader made, the
 * status index); ZL_ENOTFOUND "no batch" when none. */
int dyn_batch_prefix(dyn_state *d, const char *batch_id, char **prefix, zl_err *err);
/* The batch item of batch_id (consistent); ZL_ENOTFOUND when absent. */
int dyn_batch_item(dyn_state *d, const char *batch_id, char **prefix, json_t **item, zl_err *err);
/* A batch item as a zl_batch, with its files when with_files. */
int dyn_batch_from_item(const json_t *item, int with_files, zl_batch *out, zl_err *err);
/* Reserves n ids of the outbox's sequence; *first is the first. */
int dyn_next_ids(dyn_state *d, int64_t n, int64_t *first, zl_err *err);
/* The outbox item key of notice id. */
json_t *dyn_notice_key(int64_t id);
/* A notice item (status pending, attempts 0, due at now) for batch_finish's transaction. */
json_t *dyn_notice_item(int64_t id, const char *batch_id, const char *prefix,
                        const zl_notice *n, int64_t now);

/* The state ops of the other files. */
int dyn_config_put(zl_state *st, const char *prefix, const char *json, zl_err *err);
int dyn_config_get(zl_state *st, const char *prefix, char **json, zl_err *err);
int dyn_config_list(zl_state *st, zl_strvec *prefixes, zl_strvec *jsons, zl_err *err);
int dyn_config_delete(zl_state *st, const char *prefix, zl_err *err);
int dyn_config_replace(zl_state *st, const char *prefix, const char *old_json, const char *json, zl_err *err);
int dyn_config_version(zl_state *st, int64_t *version, zl_err *err);

int dyn_notice_claim(zl_state *st, const char *owner, int64_t now, int64_t lease_until, const char *batch_id,
                     zl_notice_rec *out, int *claimed, zl_err *err);
int dyn_notice_settle(zl_state *st, int64_t id, const char *owner, zl_notice_status status, int64_t now,
                      int64_t next_at, const char *error, zl_err *err);
int dyn_notice_list(zl_state *st, const zl_notice_filter *f, zl_notice_rec **out, size_t *n, zl_err *err);
int dyn_notice_requeue(zl_state *st, int64_t id, int64_t now, size_t *n, zl_err *err);
int dyn_notice_import(zl_state *st, const zl_notice_rec *n, zl_err *err);
/* Deletes the sent and failed notices of batch_id. */
int dyn_notices_forget(dyn_state *d, const char *batch_id, zl_err *err);

int dyn_file_scan(zl_state *st, const char *after, size_t limit, zl_file_rec **out, size_t *n, zl_err *err);
int dyn_file_import(zl_state *st, const zl_file_rec *f, zl_err *err);
int dyn_batch_import(zl_state *st, const zl_batch *b, zl_err *err);
/* A file item as a zl_file_rec. */
int dyn_file_from_item(const json_t *item, zl_file_rec *out, zl_err *err);
/* The batch's zloadFiles entry for f, and f's ProcessedFiles item. */
json_t *dyn_file_entry(const zl_file_rec *f);
json_t *dyn_file_item(const zl_file_rec *f);

#endif
