/* The runtime: the one submit path every intake calls, the loaders (a worker pool, or the
 * caller's thread), the sweeper, the repair operations and the daemon's loop, over one state URL
 * and one object store. The daemon (zload serve), the one-shot commands (event, flush, backfill,
 * batches reprocess) and the Lambda runtime all run on it. Functions are thread-safe unless said
 * otherwise; the runtime owns its engines and threads, the caller owns the store. */
#ifndef ZL_RUNTIME_H
#define ZL_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "core/engine.h"
#include "core/event.h"
#include "util/err.h"

typedef struct zl_rt zl_rt;

/* What a command that must load says when it has no object store. */
#define ZL_NO_STORE_MSG "no object store: give --store dir:PATH or s3://, or set ZLOAD_STORE (loading reads the batches' files from it)"

/* Called after every load attempt (by a worker, or by zl_rt_drain in the caller's thread).
 * rc is 0 when the outcome was recorded (sum says what it was), else err says why not. */
typedef void (*zl_rt_loaded_cb)(void *ud, const zl_ticket *k, const zl_load_summary *sum, int rc,
                                const zl_err *err);

typedef struct zl_rt_opts {
	const char *state_url;      /* borrowed, for the runtime's whole life */
	zl_store *store;            /* borrowed; NULL: no object store (loading commands refuse) */
	zl_secrets *secrets;        /* borrowed: opens the targets' sealed secrets, seals plain ones */
	int workers;                /* loader threads; 0: zl_rt_drain loads in the caller's thread */
	int no_load;                /* claim only: never lock a batch (event --no-load) */
	int signals;                /* zl_rt_run stops on SIGTERM/SIGINT: blocked from zl_rt_new on */
	int notify_thread;          /* deliver notifications on a thread of the runtime (the daemon) */
	zl_rt_loaded_cb on_loaded;  /* may be NULL */
	void *ud;
} zl_rt_opts;

/* Opens the state (errors in the URL or the database show here) and starts the workers. */
int zl_rt_new(const zl_rt_opts *o, zl_rt **out, zl_err *err);
/* Stops the intakes and workers (a worker finishes the batch it is loading) and returns batches
 * locked but not started to open, so the next loader takes them at once. NULL is fine. */
void zl_rt_free(zl_rt *rt);
zl_store *zl_rt_store(const zl_rt *rt);
/* How many valid configurations the state holds now (-1 when it cannot be read). */
long zl_rt_configurations(zl_rt *rt);

/* intake names the caller in zload_events_total (ZL_INTAKE_* of obs/metrics.h).
 * Routes, claims and appends one object and, when the append fills its batch, locks the batch
 * in the same state transaction and queues it for loading. Returns once the claim is durable:
 * 0 means res says what happened; ZL_EINVAL a refused object; ZL_ESTATE/ZL_ETRANSIENT/... a
 * failure worth retrying (nothing was recorded). */
enum { ZL_SUBMIT_QUIET = 1 };  /* duplicates at debug level (scans and listings meet many) */
int zl_rt_submit(zl_rt *rt, const char *intake, const zl_object *obj, unsigned flags, zl_ingest_result *res,
                 zl_err *err);

/* Counts of what happened to the records of one event body. */
typedef struct zl_body_summary {
	size_t records, queued, duplicate, filtered, unrouted, ignored, malformed, failed;
} zl_body_summary;

/* Called per record of a body: res is NULL for ignored, malformed (error set) and failed records. */
typedef void (*zl_record_cb)(void *ud, const zl_event_record *rec, const zl_ingest_result *res,
                             const char *error);

/* Submits every object record of an event body (any form zl_event_parse accepts). ZL_EINVAL
 * when the body itself is malformed (nothing submitted); ZL_ESTATE/ZL_ETRANSIENT when some
 * record could not be recorded (sum->failed > 0): the sender should retry. */
int zl_rt_submit_body(zl_rt *rt, const char *intake, const char *body, size_t len, zl_record_cb cb, void *ud,
                      zl_body_summary *sum, zl_err *err);

/* A text and its length. */
typedef struct zl_text {
	const char *p;
	size_t len;
} zl_text;

/* Submits n bodies (an SQS receive's messages) as one: their records share the groups of
 * zl_rt_submit_body. rcs[i], errs[i] and sums[i] tell body i's outcome as zl_rt_submit_body would
 * (0: every record recorded; ZL_EINVAL: malformed; else some record failed); returns the first
 * non-zero. */
int zl_rt_submit_bodies(zl_rt *rt, const char *intake, const zl_text *bodies, size_t n, int *rcs, zl_err *errs,
                        zl_body_summary *sums);

/* Submits n objects (a listing's page) as zl_rt_submit_body submits a body's records: with group
 * commit where the state has it; cb gets each object as a record. ZL_ESTATE/ZL_ETRANSIENT when
 * some object could not be recorded (sum->failed > 0). */
int zl_rt_submit_objects(zl_rt *rt, const char *intake, const zl_object *objs, size_t n, unsigned flags,
                         zl_record_cb cb, void *ud, zl_body_summary *sum, zl_err *err);

/* The sweeper: locks and queues every due batch, expired lease and due retry. */
int zl_rt_sweep(zl_rt *rt, zl_err *err);
/* Without workers: loads every queued batch in this thread, oldest first. Returns how many did
 * not end complete (retry scheduled, error, or not recorded). */
size_t zl_rt_drain(zl_rt *rt);
/* What zl_rt_drain_until did. */
typedef struct zl_rt_drain_stats {
	size_t started, incomplete, deferred;
} zl_rt_drain_stats;
/* As zl_rt_drain, but starts no load once until_ms (Unix ms) has passed: the batches still queued
 * then go back to open (while this runtime's ticket holds them), for the next sweep to take. Returns
 * how many did not end complete, deferred ones included. st may be NULL. */
size_t zl_rt_drain_until(zl_rt *rt, int64_t until_ms, zl_rt_drain_stats *st);

/* Whether nothing can progress without a new event: nothing queued or loading, no intake holding
 * work, and no batch in the state that is locked, due, or will fall due by age. Open batches that
 * cannot fall due are described in stuck (may be NULL). */
int zl_rt_idle(zl_rt *rt, zl_strvec *stuck, zl_err *err);

/* Repair operations (each normalises a prefix and resolves an abbreviated batch id). */
/* Locks and queues every open batch of prefix that holds files; *n says how many. */
int zl_rt_flush(zl_rt *rt, const char *prefix, size_t *n, zl_err *err);
/* Locks and queues a complete or error batch again (targets whose ledger has it are skipped);
 * its full id is written to id. */
int zl_rt_reprocess(zl_rt *rt, const char *batch_arg, char id[ZL_UUID_LEN], zl_err *err);
/* locked -> open. A live lease refuses unless force, naming the holder and until when. */
int zl_rt_unlock(zl_rt *rt, const char *batch_arg, int force, char id[ZL_UUID_LEN], zl_err *err);
/* Forgets a file record (its next event loads it again); with retrigger, also copies the object
 * onto itself so the store sends that event. rec (may be NULL) gets the record forgotten. */
int zl_rt_forget(zl_rt *rt, const char *file_id, int retrigger, zl_file_rec *rec, zl_err *err);

/* Without notify_thread: delivers the notifications of the batches this runtime finished,
 * retrying those that fail until bound_ms passed; what is left stays pending in the outbox for a
 * daemon. Returns how many are left. */
size_t zl_rt_notify_flush(zl_rt *rt, int64_t bound_ms);
/* Without notify_thread, for a process that lives on (Lambda): delivers every due notification of
 * the outbox, of any batch, until none is due or until_ms (Unix ms) is less than a second away, and
 * forgets the batches finished here. Returns how many were sent. */
size_t zl_rt_notify_due(zl_rt *rt, int64_t until_ms);

/* The daemon's loop (the calling thread): intakes' descriptors and timers, the sweeper every
 * second, until SIGTERM/SIGINT or, with idle_secs >= 0, idle for that long. Then stops the
 * intakes (last started first). 0 on a clean stop. */
typedef struct zl_rt_run_opts {
	int64_t idle_secs;          /* -1: never exit when idle */
} zl_rt_run_opts;
int zl_rt_run(zl_rt *rt, const zl_rt_run_opts *o, zl_err *err);

#endif
