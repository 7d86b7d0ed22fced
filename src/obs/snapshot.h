/* What the loader is doing, read from the state in one pass: per prefix, the open batches and
 * when they fall due, the batches loading, the last loads, the errors of the last 24 hours; the
 * notifications pending; and whether anything is in error or stuck. `zload status`, the status
 * page and the gauges of /metrics all show a snapshot. */
#ifndef ZL_SNAPSHOT_H
#define ZL_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "state/state.h"
#include "util/err.h"
#include "util/strvec.h"

#define ZL_SNAP_RECENT 5              /* finished loads kept per prefix */
#define ZL_SNAP_ERROR_WINDOW_MS (24LL * 3600 * 1000)
#define ZL_SNAP_STUCK_GRACE_MS 60000  /* a due batch no loader took this long after due is stuck */
#define ZL_SNAP_NOTICES 10            /* pending (and failed) notifications kept in full */

typedef struct zl_snap_batch {
	zl_batch b;            /* without files */
	int64_t due_at;        /* open: when it falls due by age (Unix ms), 0 when it does not age */
	const char *due;       /* open: why it is due now ("batchSize", ...), NULL when not yet */
	int64_t rows;          /* finished: rows loaded by the last attempt (from its result), -1 unknown */
	int64_t load_ms;       /* finished: how long that attempt took, -1 unknown */
	int stuck;             /* open and cannot fall due, or due / lease expired for longer than the grace */
	char why_stuck[256];
} zl_snap_batch;

typedef struct zl_snap_prefix {
	char *prefix;
	int configured;           /* a valid configuration names the prefix */
	zl_strvec targets;        /* its targets: "name (type)" */
	int64_t batch_size, batch_size_bytes, batch_timeout_ms;
	zl_snap_batch *open;      /* open batches holding files, oldest first */
	size_t nopen;
	zl_snap_batch *locked;    /* loading, or waiting for a retry; oldest first */
	size_t nlocked;
	zl_snap_batch *recent;    /* the last ZL_SNAP_RECENT finished, newest first */
	size_t nrecent;
	zl_snap_batch *errors;    /* in error, finished in the last 24 hours, newest first */
	size_t nerrors;
	int64_t files_waiting;    /* files in open batches */
	int64_t oldest_open_at;   /* first_at of the oldest open batch holding files, 0 when none */
} zl_snap_prefix;

typedef struct zl_snapshot {
	int64_t taken_at;
	zl_snap_prefix *v;        /* ordered by prefix: every configuration, then prefixes only batches name */
	size_t n;
	int64_t notices_pending;
	int64_t notices_failed;   /* in the last 24 hours */
	zl_notice_rec *pending;   /* the first ZL_SNAP_NOTICES pending, oldest due first */
	size_t npending;
	zl_strvec problems;       /* one line per error or stuck thing; empty when healthy */
	zl_notice_rec *failed;    /* the last ZL_SNAP_NOTICES failed in the last 24 hours, newest first */
	size_t nfailed;
} zl_snapshot;

/* Reads the snapshot at now, through the state's operations only (every backend). Stored
 * configurations that do not validate are skipped; a notification counts as failed at the time
 * its last delivery fell due (the outbox keeps no time of failure). On error *out is empty. */
int zl_snapshot_take(zl_state *st, int64_t now, zl_snapshot *out, zl_err *err);
/* The snapshot owns every string and array in it; this frees them all. */
void zl_snapshot_release(zl_snapshot *s);
static inline int zl_snapshot_healthy(const zl_snapshot *s) { return s->problems.n == 0; }

#endif
