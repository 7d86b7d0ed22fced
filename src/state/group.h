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

/* The prefix's entry, or NULL. */
zl_group_prefix *zl_group_find(zl_group *g, const char *prefix);
/* A new entry for prefix (not yet in g), or NULL when out of memory. */
zl_group_prefix *zl_group_add(zl_group *g, const char *prefix);
void zl_group_clear(zl_group *g);
/* files and bytes fill a batch by opts. */
int zl_group_full(const zl_claim_opts *opts, int64_t files, int64_t bytes);
/* Records a new file of size appended to p's batch at now, and fills res with the batch. */
void zl_group_append(zl_group_prefix *p, int64_t size, int64_t now, zl_append_result *res);

#endif
