/* What load.c and load_parts.c share: one target's run of one attempt, and the steps of a
 * load transaction. */
#ifndef ZL_LOAD_INT_H
#define ZL_LOAD_INT_H

#include <jansson.h>
#include <stdatomic.h>

#include "core/config.h"
#include "core/model.h"
#include "secret/secret.h"
#include "store/store.h"
#include "target/target.h"
#include "util/err.h"

/* One target's part of one attempt. */
typedef struct target_run {
	const atomic_int *lease_lost; /* set by the renewer: do not commit */
	zl_store *store;
	const zl_config *cfg;
	const zl_target_cfg *tc;
	size_t index;        /* of tc in cfg */
	zl_secrets *secrets; /* reveals tc's secrets for the connection; may be NULL */
	const zl_batch *b;
	char name[64];
	int rc;
	zl_err err;
	int skipped;         /* the ledger already held the batch */
	int server_copy;     /* the database read the objects itself, in one COPY */
	int64_t rows, rejected;
	int64_t *obj_rows;   /* per file of the batch, -1 when not loaded */
	int64_t *obj_rejected;
	json_t *statements;  /* what ran, in order */
	int64_t ms;
	int slot;            /* in the table of loads in progress (obs/metrics.h) */
	int in_parts;        /* loaded in parts (load_parts.c): rows of committed parts stay */
	json_t *parts;       /* then: one object per part, for the result */
	int *obj_part;       /* and the part of each file of the batch (1..N) */
} target_run;

/* Loads object i of the batch into t, in t's open transaction. */
int zl_load_object(target_run *r, zl_target *t, size_t i);
/* Runs sql (NULL: nothing) in t's transaction; errors start with what ("preLoadStatement"). */
int zl_load_sql(target_run *r, zl_target *t, const char *what, const char *sql);
/* Inserts key into the ledger, runs post (NULL: none) and commits; 0 with r->skipped when
 * another loader committed key first. */
int zl_load_insert_commit(target_run *r, zl_target *t, const zl_ledger_key *key, const char *post);

/* Whether r loads its batch in parts: its target's parallelism is above 1, the batch has more
 * than one object and the target can. */
int zl_load_parts_wanted(const target_run *r);
/* Loads r's batch in parts, after t's open transaction found has (ledger_has of the batch's row
 * 0: 0 or 2). Takes t (gives it back to the pool); conn is the target's revealed fields. */
int zl_load_in_parts(target_run *r, zl_target *t, const json_t *conn, int has);

#endif
