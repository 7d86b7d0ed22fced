/* The batch engine: protocol steps 1-6 (route, claim, append, flush, load, finish) over the
 * state, store and target interfaces. One zl_engine per thread; the store may be shared. */
#ifndef ZL_ENGINE_H
#define ZL_ENGINE_H

#include <stdint.h>

#include "core/config.h"
#include "core/model.h"
#include "state/state.h"
#include "store/store.h"
#include "util/err.h"
#include "util/strvec.h"

typedef struct zl_engine {
	const char *state_url;  /* borrowed; threads of a load open their own state handles */
	zl_state *st;           /* owned */
	zl_store *store;        /* borrowed, shared */
	char owner[96];         /* this loader's lease owner id: host:pid:uuid */
	zl_config **configs;    /* owned, from the state store */
	size_t nconfigs;
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
	const zl_config *config;      /* borrowed; NULL when unrouted */
	const char *due;              /* why the append made the batch due ("batchSize", ...), or NULL */
} zl_ingest_result;

/* What zl_engine_load did with a batch. */
typedef struct zl_load_summary {
	zl_batch_status status;       /* COMPLETE, ERROR, or LOCKED when a retry is scheduled */
	int64_t rows;                 /* rows loaded in this attempt, all targets */
	int64_t retry_at;             /* LOCKED: when the retry is due */
	char error[1024];             /* summary of failures, "" when none */
} zl_load_summary;

int zl_engine_open(zl_engine *e, const char *state_url, zl_store *store, zl_err *err);
void zl_engine_close(zl_engine *e);
/* Reloads the configurations from the state store. A stored configuration that no longer
 * validates is logged and skipped. */
int zl_engine_reload(zl_engine *e, zl_err *err);
/* The loaded configuration for a prefix, or NULL. */
const zl_config *zl_engine_config(const zl_engine *e, const char *prefix);

/* Steps 1-3 for one object: route, filter, claim and append. */
int zl_engine_ingest(zl_engine *e, const zl_object *obj, int64_t now, zl_ingest_result *res,
                     zl_err *err);
/* Step 4: locks batch_id for this engine with the lease of its configuration, logging why. */
int zl_engine_lock(zl_engine *e, const char *batch_id, const char *prefix, unsigned mask,
                   int64_t now, const char *reason, zl_err *err);
/* The sweeper: locks every open batch that is due and every locked batch whose lease expired
 * (crashed loader or scheduled retry); appends the ids it locked to locked. */
int zl_engine_sweep(zl_engine *e, int64_t now, zl_strvec *locked, zl_err *err);
/* Steps 5-6: loads a batch this engine has locked into every target of its configuration,
 * renewing the lease meanwhile, and records the outcome. Returns 0 when the outcome was recorded
 * (whatever it was); an error only when the state store could not be updated. */
int zl_engine_load(zl_engine *e, const char *batch_id, zl_load_summary *sum, zl_err *err);
/* Batches still to be loaded: open ones holding files, and locked ones. */
int zl_engine_pending(zl_engine *e, int64_t *count, zl_err *err);

/* Counts of what happened to the records of one event body. */
typedef struct zl_body_summary {
	size_t records, queued, duplicate, filtered, unrouted, ignored, malformed, failed;
} zl_body_summary;

/* Called per record of a body: res is NULL for ignored, malformed (error set) and failed records. */
struct zl_event_record;
typedef void (*zl_record_cb)(void *ud, const struct zl_event_record *rec, const zl_ingest_result *res,
                             const char *error);

/* Parses an event body (any form zl_event_parse accepts) and ingests every object record;
 * locks the batches that became due (unless due is NULL) and appends their ids to due.
 * ZL_EINVAL when the body itself is malformed (nothing ingested); ZL_ESTATE/ZL_ETRANSIENT
 * when the state store failed for some record (sum->failed > 0): the sender should retry. */
int zl_engine_ingest_body(zl_engine *e, const char *body, size_t len, zl_strvec *due, zl_record_cb cb,
                          void *ud, zl_body_summary *sum, zl_err *err);

/* The identity a configuration gives an object: "bucket/key" or "bucket/key@etag". Caller frees. */
char *zl_file_id(const zl_config *c, const char *bucket, const char *key, const char *etag);

#endif
