/* The status page (GET /) and one batch's page (GET /batches/ID): self-contained HTML, no
 * external scripts, fonts or styles, drawn server-side (the plot is inline SVG); the page
 * reloads itself every ZL_STATUS_PAGE_REFRESH seconds. */
#ifndef ZL_STATUS_PAGE_H
#define ZL_STATUS_PAGE_H

#include <stddef.h>

#include "core/model.h"
#include "obs/metrics.h"
#include "obs/snapshot.h"
#include "util/buf.h"

#define ZL_STATUS_PAGE_REFRESH 5

/* The overview: s (NULL with state_error when the state could not be read), the plot of
 * series, and the loads this process has in progress. */
void zl_status_page(zl_buf *out, const zl_snapshot *s, const char *state_error, const zl_series *series,
                    const zl_progress *loads, size_t nloads);
/* One batch as `zload batches show` prints it (b with its files). */
void zl_batch_page(zl_buf *out, const zl_batch *b);
/* The overview's plot alone: <svg id="throughput"> with polyline.rows and polyline.files of one
 * point per step (ZL_SERIES_STEPS), per-second values (a step's value / its length in seconds). */
void zl_status_plot(zl_buf *out, const zl_series *series);
/* A page for an error (404 for an unknown batch, 500 for an unreadable state). */
void zl_error_page(zl_buf *out, int status, const char *message);

#endif
