/* The state store interface: configurations, file records, batches and the notification outbox,
 * chosen by URL scheme.
 * A zl_state handle is used by one thread at a time; open one per thread. Strings and arrays
 * returned through out-parameters belong to the caller. */
#ifndef ZL_STATE_H
#define ZL_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "util/err.h"
#include "util/strvec.h"

typedef struct zl_state_ops zl_state_ops;

/* Every backend's handle starts with this. */
typedef struct zl_state {
	const zl_state_ops *ops;
} zl_state;

/* How claim_append appends, and whether it locks the batch it fills. */
typedef struct zl_claim_opts {
	int64_t max_files;        /* a batch holding this many files takes no more (batchSize); 0: no limit */
	int64_t max_bytes;        /* nor one holding this many bytes (batchSizeBytes); 0: no limit */
	const char *lock_owner;   /* when the append fills its batch, lock it for this owner in the same
	                           * transaction; NULL leaves it open for a sweeper */
	int64_t lease_until;
} zl_claim_opts;

/* What claim_append did. */
typedef struct zl_append_result {
	int duplicate;                /* the file was already claimed: nothing changed */
	int locked;                   /* the append filled the batch and locked it for opts->lock_owner */
	char batch_id[ZL_UUID_LEN];   /* the batch the file is in (for a duplicate: its batch) */
	int64_t file_count;           /* the batch's totals after the append */
	int64_t bytes;
	int64_t first_at;
} zl_append_result;

/* Which batches batch_lock may take. */
enum {
	ZL_LOCK_OPEN = 1,       /* open -> locked (a flush) */
	ZL_LOCK_EXPIRED = 2,    /* locked with lease_until <= now -> locked (reclaim or retry) */
	ZL_LOCK_FINISHED = 4,   /* complete or error -> locked (reprocess; attempts restart at 1) */
};

typedef struct zl_batch_filter {
	unsigned status_mask;   /* ZL_STATUS_BIT()s; 0 means all */
	const char *prefix;     /* NULL means all */
	int64_t since, until;   /* on created_at, inclusive; 0 means unbounded */
	size_t limit;           /* 0 means no limit */
} zl_batch_filter;

/* A notification queued by batch_finish: one message for one destination. */
typedef struct zl_notice {
	const char *dest;      /* destination URL */
	const char *event;     /* "success" or "failure" */
	const char *subject;
	const char *body;      /* the message JSON */
	int max_attempts;      /* deliveries before it is failed (at least 1) */
} zl_notice;

typedef struct zl_notice_filter {
	unsigned status_mask;   /* ZL_STATUS_BIT(zl_notice_status)s; 0 means all */
	const char *batch_id;   /* NULL means all */
	size_t limit;           /* 0 means no limit */
} zl_notice_filter;

struct zl_state_ops {
	const char *scheme; /* "sqlite" for URLs "sqlite:PATH" */
	/* target is the URL after "scheme:". */
	int (*open)(const char *target, zl_state **out, zl_err *err);
	/* Creates what the store needs and lacks (DynamoDB's tables); *created counts what it made.
	 * NULL for backends whose open creates everything. */
	int (*init)(const char *target, int *created, zl_err *err);
	void (*close)(zl_state *st);

	/* Configurations, keyed by s3Prefix; json is the stored JSON text. */
	int (*config_put)(zl_state *st, const char *prefix, const char *json, zl_err *err);
	int (*config_get)(zl_state *st, const char *prefix, char **json, zl_err *err); /* ZL_ENOTFOUND */
	/* Appends every configuration, ordered by prefix, to prefixes and jsons (same index). */
	int (*config_list)(zl_state *st, zl_strvec *prefixes, zl_strvec *jsons, zl_err *err);
	int (*config_delete)(zl_state *st, const char *prefix, zl_err *err); /* ZL_ENOTFOUND */
	/* Stores json for prefix only if old_json is what is stored now; ZL_EBUSY otherwise (it
	 * changed, or was deleted). For rewrites no one asked for, which must not undo an edit. */
	int (*config_replace)(zl_state *st, const char *prefix, const char *old_json, const char *json, zl_err *err);

	/* Configurations change the version, so a loader knows when to reload them. */
	int (*config_version)(zl_state *st, int64_t *version, zl_err *err);

	/* Protocol steps 2 and 3 in one atomic step: insert the file record if file_id is absent,
	 * and append the object to the prefix's open batch: the newest one that was never locked and
	 * is not full by opts, creating one if none. A duplicate changes nothing and sets
	 * res->duplicate. With opts->lock_owner, a batch the append makes full is locked too. */
	int (*claim_append)(zl_state *st, const char *file_id, const char *prefix, const zl_object *obj,
	                    int64_t now, const zl_claim_opts *opts, zl_append_result *res, zl_err *err);
	/* Optional group commit (NULL when the backend has none): between group_begin and group_end,
	 * the claim_appends of this handle run in one transaction, each seeing the ones before it,
	 * but none is durable until group_end(commit = 1) returns 0. A claim refused before it reaches
	 * the database (bad arguments) leaves the group as it was; a claim that fails in the database
	 * loses the group: later claims and group_end(1) fail with ZL_ETRANSIENT, and the caller
	 * claims the group's records again one by one. group_end(0), or a failed group_end(1), loses
	 * every claim of the group. Other writers wait meanwhile: keep a group short. */
	int (*group_begin)(zl_state *st, zl_err *err);
	int (*group_end)(zl_state *st, int commit, zl_err *err);
	int (*file_get)(zl_state *st, const char *file_id, zl_file_rec *out, zl_err *err); /* ZL_ENOTFOUND */
	int (*file_delete)(zl_state *st, const char *file_id, zl_err *err);               /* ZL_ENOTFOUND */

	/* Atomically: if the batch is in a state allowed by mask, set it locked by owner until
	 * lease_until, set locked_at = now, attempts += 1 (= 1 for ZL_LOCK_FINISHED). Once locked, a
	 * batch never takes new files, even if unlocked later.
	 * ZL_EBUSY if it is not in such a state, ZL_ENOTFOUND if absent. */
	int (*batch_lock)(zl_state *st, const char *batch_id, unsigned mask, const char *owner,
	                  int64_t now, int64_t lease_until, zl_err *err);
	/* Extends the lease if owner still holds it; ZL_ELOST otherwise. */
	int (*batch_renew)(zl_state *st, const char *batch_id, const char *owner, int64_t lease_until,
	                   zl_err *err);
	/* Ends an attempt held by owner (ZL_ELOST if it is not the holder). status COMPLETE or ERROR
	 * finishes the batch (finished_at = now) and, in the same transaction, queues the notices in
	 * the outbox (pending, attempts 0, due at now, with the batch's id and prefix); status LOCKED
	 * schedules a retry (owner cleared, lease_until = retry_at) and takes no notices (ZL_EINVAL).
	 * result (JSON) and error (may be NULL) replace the stored ones. */
	int (*batch_finish)(zl_state *st, const char *batch_id, const char *owner, zl_batch_status status,
	                    int64_t now, int64_t retry_at, const char *result, const char *error,
	                    const zl_notice *notices, size_t nnotices, zl_err *err);
	/* The full id of the one batch whose id starts with id_prefix (at least 4 characters, or the
	 * whole id). ZL_ENOTFOUND when none, ZL_EINVAL naming the candidates when several. */
	int (*batch_resolve)(zl_state *st, const char *id_prefix, char out[ZL_UUID_LEN], zl_err *err);
	/* The batch with its files. ZL_ENOTFOUND if absent. */
	int (*batch_get)(zl_state *st, const char *batch_id, zl_batch *out, zl_err *err);
	/* Batches matching f (without files), newest created first. *out is a calloc'd array. */
	int (*batch_list)(zl_state *st, const zl_batch_filter *f, zl_batch **out, size_t *n, zl_err *err);
	/* locked -> open, owner cleared; the batch stays closed to new files. ZL_EBUSY if it is not
	 * locked; with owner, if owner does not hold it; else, unless force, if its lease is live
	 * (an owner holds it until after now). */
	int (*batch_unlock)(zl_state *st, const char *batch_id, int64_t now, const char *owner, int force,
	                    zl_err *err);
	/* Deletes a finished (complete or error) batch and its sent and failed notifications (pending
	 * ones are still delivered); its file records stay, so duplicates are still recognised.
	 * ZL_EBUSY if it is not finished. */
	int (*batch_delete)(zl_state *st, const char *batch_id, zl_err *err);

	/* The outbox. Atomically takes the pending notice due first (next_at <= now, of batch_id
	 * unless NULL) that no sender holds (no owner, or lease_until <= now): owner and lease_until
	 * set, attempts += 1; *out is a copy and *claimed = 1. *claimed = 0 when none is due. */
	int (*notice_claim)(zl_state *st, const char *owner, int64_t now, int64_t lease_until, const char *batch_id,
	                    zl_notice_rec *out, int *claimed, zl_err *err);
	/* Ends a delivery held by owner (ZL_ELOST if it is not the holder, or the notice is no longer
	 * pending): status SENT (sent_at = now), PENDING (due again at next_at) or FAILED; error (may
	 * be NULL) becomes last_error unless SENT. Owner and lease are cleared. */
	int (*notice_settle)(zl_state *st, int64_t id, const char *owner, zl_notice_status status, int64_t now,
	                     int64_t next_at, const char *error, zl_err *err);
	/* Notices matching f, newest first. *out is a calloc'd array. */
	int (*notice_list)(zl_state *st, const zl_notice_filter *f, zl_notice_rec **out, size_t *n, zl_err *err);
	/* Queues a notice again: pending, attempts 0, due at now (last_error kept). With id 0, every
	 * failed notice; else notice id, which must be failed, or pending and not held by a live
	 * lease (ZL_EBUSY otherwise, ZL_ENOTFOUND if absent). *n says how many were queued. */
	int (*notice_requeue)(zl_state *st, int64_t id, int64_t now, size_t *n, zl_err *err);

	/* Copying a store (`zload state migrate`). Records go in as they are, ids and times kept.
	 * File records with file_id > after (byte order; "" from the start), at most limit (> 0),
	 * ordered by file_id; batch_id is set, batch_status is not filled. */
	int (*file_scan)(zl_state *st, const char *after, size_t limit, zl_file_rec **out, size_t *n, zl_err *err);
	/* Stores f as it is (its batch need not exist). An identical record is no change; a
	 * different one with the same file_id is ZL_EBUSY. Appended after the batch's other files. */
	int (*file_import)(zl_state *st, const zl_file_rec *f, zl_err *err);
	/* Stores b's row as it is (not its files; file_count and bytes are b's). An identical batch
	 * (same id, status and updated_at) is no change; another with the same id is ZL_EBUSY. */
	int (*batch_import)(zl_state *st, const zl_batch *b, zl_err *err);
	/* Stores a notice as it is under a new id (after every existing one). */
	int (*notice_import)(zl_state *st, const zl_notice_rec *n, zl_err *err);
};

/* For the backends' imports: the ZL_EBUSY of a record that meets another under the same key,
 * naming the record and how the two differ (stored: what the store holds). */
int zl_state_file_conflict(const zl_file_rec *stored, const zl_file_rec *f, zl_err *err);
int zl_state_batch_conflict(const char *id, zl_batch_status stored_status, int64_t stored_updated_at,
                            const zl_batch *b, zl_err *err);

/* For the backends: batch_finish's argument checks (ZL_EINVAL naming what is wrong). */
int zl_state_check_finish(const char *batch_id, const char *owner, zl_batch_status status, size_t nnotices,
                          zl_err *err);
/* For the backends' batch_resolve: checks an id prefix (hex digits and dashes, at least 4, or a
 * whole id) and writes it in lower case to lower; ZL_ENOTFOUND "no batch" or ZL_EINVAL "too short". */
int zl_state_check_id_prefix(const char *id_prefix, char lower[ZL_UUID_LEN], zl_err *err);

/* Adds a backend beside the built-in ones (before any thread opens state; for tests). */
int zl_state_register(const zl_state_ops *ops);
/* Opens the backend named by url's scheme ("sqlite:/path/state.db"). */
int zl_state_open(const char *url, zl_state **out, zl_err *err);
void zl_state_close(zl_state *st);
/* `zload state init`: creates what the store of url lacks (tables, schema) and opens it once to
 * check; *created counts the tables made by a backend that creates them apart (may be NULL). */
int zl_state_init(const char *url, int *created, zl_err *err);
/* The default URL: sqlite:$XDG_STATE_HOME/zload/state.db (or ~/.local/state/...). Caller frees. */
char *zl_state_default_url(void);

#endif
