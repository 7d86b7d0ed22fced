/* Group commit's bookkeeping, shared by the backends that have it: per prefix the group claimed
 * into, the open batch it appends to and the appends not yet written to the batch's row. The
 * group's transaction holds the prefix (its claim lock, or SQLite's write lock), so nobody else
 * changes that batch until the group ends. */
#ifndef ZL_STATE_GROUP_H
#define ZL_STATE_GROUP_H

#include "state/state.h"

#include <stddef.h>
#include <stdint.h>

typedef struct zl_group_prefix {
	char *prefix;
	int has_batch;
	char batch_id[ZL_UUID_LEN];
	int64_t file_count, bytes, first_at;  /* the batch's totals, with the pending appends */
	int64_t add_files, add_bytes, add_at; /* pending appends */
} zl_group_prefix;

typedef struct zl_group {
	zl_group_prefix *v;
	size_t n;
} zl_group;

/* What a backend does for a group's claim; h is its handle. Each returns 0 or an error. */
typedef struct zl_group_backend {
	/* Optional: takes the prefix's claim lock the first time the group claims into it. */
	int (*hold_prefix)(void *h, const char *prefix, zl_err *err);
	/* 1 with res filled (duplicate) when file_id was claimed before, 0 when not, or an error. */
	int (*find_claim)(void *h, const char *file_id, zl_append_result *res, zl_err *err);
	/* Sets p's batch: the newest open one of p->prefix not full by opts, or a new one. */
	int (*pick_batch)(void *h, zl_group_prefix *p, const zl_claim_opts *opts, int64_t now, zl_err *err);
	/* Inserts the file record into batch_id; *inserted is 0 when the file was claimed before. */
	int (*insert_file)(void *h, const char *file_id, const char *prefix, const zl_object *obj, int64_t size,
	                   int64_t now, const char *batch_id, int *inserted, zl_err *err);
	/* Writes p's pending appends to its batch row (p->add_files > 0). */
	int (*write_appends)(void *h, zl_group_prefix *p, zl_err *err);
	/* Locks the batch for opts->lock_owner; *locked when it was still open. */
	int (*lock_full)(void *h, const char *batch_id, const zl_claim_opts *opts, int64_t now, int *locked, zl_err *err);
} zl_group_backend;

/* One claim of a group (claim_append's contract), with be's statements. */
int zl_group_claim(zl_group *g, const zl_group_backend *be, void *h, const char *file_id, const char *prefix,
                   const zl_object *obj, int64_t now, const zl_claim_opts *opts, zl_append_result *res, zl_err *err);
/* Writes every prefix's pending appends, before the group commits. */
int zl_group_write_all(zl_group *g, const zl_group_backend *be, void *h, zl_err *err);

/* The prefix's entry, or NULL. */
zl_group_prefix *zl_group_find(zl_group *g, const char *prefix);
/* A new entry for prefix (not yet in g), or NULL when out of memory. */
zl_group_prefix *zl_group_add(zl_group *g, const char *prefix);
void zl_group_clear(zl_group *g);

#endif
