/* How a batch's objects are split into the parts of a load in parallel (a target's
 * "parallelism"): pure, so that every attempt, on any loader, splits a batch the same way. */
#ifndef ZL_PARTS_H
#define ZL_PARTS_H

#include <stddef.h>

#include "core/model.h"

/* Sets part_of[i] (1..k) for each of the n objects: the largest first (equal sizes: the earlier
 * object first), each to the part with the fewest bytes so far (ties: the fewer objects, then the
 * lower part), so each of the k <= n parts gets at least one object. Unknown sizes count as 0.
 * 0, ZL_EINVAL when k is not from 1 to n (and ZL_PARTS_MAX), or ZL_ENOMEM. */
int zl_parts_split(const zl_file_rec *files, size_t n, int k, int *part_of);

#endif
