/* Copying every record of one state store into another (`zload state migrate`), through the
 * operations of state.h only, so any two backends can be copied. The counts are the caller's. */
#ifndef ZL_STATE_COPY_H
#define ZL_STATE_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "state/state.h"

typedef struct zl_state_copy_opts {
	int64_t now;   /* a lease that ends after now is live */
	int dry_run;   /* count what a copy would copy; nothing is written and dst_url is not opened */
	size_t page;   /* file records read at a time; 0: 1000 */
} zl_state_copy_opts;

/* What the destination holds from the source afterwards (copied now or by an earlier run). */
typedef struct zl_state_copy_counts {
	size_t configs, batches, files, notices;
	size_t notices_kept; /* of notices: the destination had them already, so they were not queued again */
} zl_state_copy_counts;

/* Copies src into the store of dst_url (opened, and so created by its backend, only once the
 * checks of src pass): configurations (their JSON text as stored: sealed secrets stay sealed),
 * batches oldest first each with its files in order, the remaining file records (of deleted
 * batches, forgotten files), then every notification (pending, sent and failed); ids and times
 * are kept, except the notifications' ids, which the destination gives in the same order.
 *
 * Refused (ZL_EBUSY, nothing written) while src has a batch or notification held by a live lease,
 * naming them; and when the destination holds a configuration of the same prefix with other JSON
 * text, a batch src does not have, or one that differs from src's: it must be empty or hold what
 * an earlier copy from src wrote, so an interrupted or finished copy can run again (what it has
 * already is left as it is; a notification it has is not queued twice). */
int zl_state_copy(zl_state *src, const char *dst_url, const zl_state_copy_opts *opts, zl_state_copy_counts *counts,
                  zl_err *err);

#endif
