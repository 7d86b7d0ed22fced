/* The batch engine: protocol steps 1-6 (route, claim, append, flush, load, finish) over the
 * state, store and target interfaces. One zl_engine per thread; the store may be shared. */
#ifndef ZL_ENGINE_H
#define ZL_ENGINE_H

#include <stdint.h>

#include "core/config.h"
#include "core/model.h"
#include "secret/secret.h"
#include "state/state.h"
#include "store/store.h"
#include "util/err.h"
#include "util/strvec.h"

#define ZL_OWNER_LEN 96

/* One load attempt: the batch, locked under an owner id that names this attempt alone, so a
 * stale attempt can neither renew nor finish a batch locked again since. */
typedef struct zl_ticket {
	char batch_id[ZL_UUID_LEN];
	char owner[ZL_OWNER_LEN];
} zl_ticket;

/* A growable array of tickets; it owns its storage. */
typedef struct zl_tickets {
	zl_ticket *v;
	size_t n, alloc;
} zl_tickets;

void zl_tickets_init(zl_tickets *t);
void zl_tickets_release(zl_tickets *t);
int zl_tickets_push(zl_tickets *t, const zl_ticket *k);

typedef struct zl_engine {
	const char *state_url;  /* borrowed; threads of a load open their own state handles */
	zl_state *st;           /* owned */
	zl_store *store;        /* borrowed, shared */
	zl_secrets *secrets;    /* borrowed, shared; NULL: sealed secrets cannot be opened */
	char host_pid[64];      /* "host:pid", the first part of every owner id */
	zl_config **configs;    /* owned, from the state store */
	size_t nconfigs;
	int64_t config_version; /* of configs; -1 before the first load */
	int64_t loaded_mono;    /* zl_mono_ms() of that load */
	int quiet_duplicates;   /* log duplicates at debug level (a start-up scan meets many) */
} zl_engine;

typedef enum {
	ZL_INGEST_QUEUED = 0,
	ZL_INGEST_DUPLICATE,
	ZL_INGEST_FILTERED,
	ZL_INGEST_UNROUTED,
} zl_ingest_outcome;

const char *zl_ingest_outcome_name(zl_ingest_outcome o);

typedef struct zl_ingest_result {
	zl_ingest_outcome outcome;
	char batch_id[ZL_UUID_LEN];   /* queued or duplicate */
	char prefix[256];             /* the configuration it was routed to ("" when unrouted), for
	                               * messages; a longer s3Prefix is cut */
	const char *due;              /* why the append made the batch due ("batchSize", ...), or NULL */
	int locked;                   /* the append filled the batch and locked it: ticket is set */
	zl_ticket ticket;
} zl_ingest_result;

/* What zl_engine_load did with a batch. */
typedef struct zl_load_summary {
	zl_batch_status status;       /* COMPLETE, ERROR, or LOCKED when a retry is scheduled */
	int64_t rows;                 /* rows loaded in this attempt, all targets */
	int64_t retry_at;             /* LOCKED: when the retry is due */
	char error[1024];             /* summary of failures, "" when none */
} zl_load_summary;

/* Opens the state and loads the configurations; with secrets, plain secrets found in stored
 * configurations (those of an older zload) are sealed and stored again, logged once per
 * configuration. */
int zl_engine_open(zl_engine *e, const char *state_url, zl_store *store, zl_secrets *secrets, zl_err *err);
void zl_engine_close(zl_engine *e);
/* Reloads the configurations from the state store. A stored configuration that no longer
 * validates is logged and skipped. */
int zl_engine_reload(zl_engine *e, zl_err *err);
/* Reloads the configurations if they changed since the last load (one cheap read otherwise). */
int zl_engine_refresh(zl_engine *e, zl_err *err);
/* The loaded configuration for a prefix, or NULL. */
const zl_config *zl_engine_config(const zl_engine *e, const char *prefix);
/* A new owner id for one load attempt: "host:pid:random". */
void zl_engine_new_owner(const zl_engine *e, char owner[ZL_OWNER_LEN]);

/* Steps 1-3 (and 4 when the append fills the batch, with lock set) for one object: route,
 * filter, claim, append and, in the same state transaction, lock the batch it fills. */
int zl_engine_ingest(zl_engine *e, const zl_object *obj, int64_t now, int lock, zl_ingest_result *res,
                     zl_err *err);
/* Step 4: locks batch_id under a new owner (written to ticket) with the lease of its
 * configuration, logging why. ZL_EBUSY when the batch is not in a state mask allows. */
int zl_engine_lock(zl_engine *e, const char *batch_id, const char *prefix, unsigned mask, int64_t now,
                   const char *reason, zl_ticket *ticket, zl_err *err);
/* The sweeper: locks every open batch that is due and every locked batch whose lease expired
 * (crashed loader or scheduled retry); appends a ticket for each to locked. */
int zl_engine_sweep(zl_engine *e, int64_t now, zl_tickets *locked, zl_err *err);
/* Steps 5-6: loads the batch of a ticket into every target of its configuration, renewing the
 * lease meanwhile, and records the outcome. Returns 0 when the outcome was recorded (whatever it
 * was); ZL_ELOST when the ticket's owner no longer holds the batch; another error when the state
 * store could not be updated. */
int zl_engine_load(zl_engine *e, const zl_ticket *ticket, zl_load_summary *sum, zl_err *err);

/* What can still progress without a new event: *pending counts locked batches and open batches
 * that are due or will fall due by age; every open batch holding files that cannot (no
 * batchTimeoutSecs and not full, or no configuration) is described in stuck (may be NULL). */
int zl_engine_progress(zl_engine *e, int64_t now, int64_t *pending, zl_strvec *stuck, zl_err *err);

/* The identity a configuration gives an object: "bucket/key" or "bucket/key@etag". Caller frees. */
char *zl_file_id(const zl_config *c, const char *bucket, const char *key, const char *etag);

#endif
