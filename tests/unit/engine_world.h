/* The world of an engine test: a temporary directory holding a dir: store of small CSV files, a
 * SQLite target database, and an in-memory state store (mem:<dir>) with an engine open on it.
 * Targets are of type "fault" (target_fault.h), so a test can inject failures by target name.
 * Helpers assert (cmocka) instead of returning errors; the world owns everything it opens. */
#ifndef ZL_ENGINE_WORLD_H
#define ZL_ENGINE_WORLD_H

#include <jansson.h>
#include <stdint.h>

#include "core/engine.h"

#define ZL_WORLD_PREFIX "b/in"

typedef struct zl_world {
	char dir[64];
	char state_url[96];  /* "mem:<dir>" */
	char db[128];        /* tables t1 and t2 (id INTEGER, name TEXT) and audit (what TEXT) */
	zl_store *store;     /* dir:<dir>/store; bucket "b" */
	zl_engine e;
} zl_world;

/* cmocka setup and teardown: *state becomes the zl_world. */
int zl_world_setup(void **state);
int zl_world_teardown(void **state);

/* Writes object b/<key> (e.g. "in/f1.csv"): a header "id,name" and rows first..first+nrows-1. */
void zl_world_put_csv(zl_world *w, const char *key, int first, int nrows);
/* A fault target named name loading table into the world's database; its pre- and post-load
 * statements insert "<name> pre" and "<name> post" into audit. */
json_t *zl_world_target(const zl_world *w, const char *name, const char *table);
/* Stores the configuration {"s3Prefix": prefix, CSV with a header, "targets": targets (taken)}
 * plus the fields of extra (a JSON object text, may be NULL), and reloads the engine's. */
void zl_world_config(zl_world *w, const char *prefix, const char *extra, json_t *targets);
/* The same with one target "t1" loading table t1. */
void zl_world_config_t1(zl_world *w, const char *extra);

/* Ingests b/<key> (size and etag from the store) at now; asserts it returned 0. */
zl_ingest_result zl_world_ingest(zl_world *w, const char *key, int64_t now, int lock);
/* The batch with its files; asserts it exists. Release it with zl_batch_release. */
zl_batch zl_world_batch(zl_world *w, const char *id);
/* Sweeps at now; asserts it returned 0 and locked exactly one batch, batch_id; returns its ticket. */
zl_ticket zl_world_sweep_one(zl_world *w, int64_t now, const char *batch_id);

/* Sweeps at now and returns how many batches it locked (their tickets are dropped). */
size_t zl_world_sweep_count(zl_world *w, int64_t now);

/* One integer from the target database ("SELECT count(*) FROM t1"); -1 when no row. */
int64_t zl_world_sql_int(const zl_world *w, const char *sql);
/* Ledger rows for the batch and target; on a ledger without a target column (keyed by batch
 * only), rows for the batch. 0 when there is no ledger yet. */
int64_t zl_world_ledger_rows(const zl_world *w, const char *batch_id, const char *target);
/* Whether the ledger table exists and has a target column. */
int zl_world_ledger_per_target(const zl_world *w);
/* Member key of target i in a batch's result JSON, as text: numbers formatted, "" when absent.
 * Caller frees. */
char *zl_world_result_field(const zl_batch *b, size_t i, const char *key);

#endif
