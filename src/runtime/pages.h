/* The runtime's HTTP pages (a zl_webhook_page over a zl_rt). */
#ifndef ZL_PAGES_H
#define ZL_PAGES_H

#include "runtime/runtime.h"
#include "util/buf.h"

/* GET /metrics, / and /batches/ID; ud is the zl_rt. */
int zl_rt_page(void *ud, const char *path, zl_buf *reply, const char **content_type);
/* GET / and /batches/ID (pages_status.c); a 404 page for anything else. */
int zl_rt_status_pages(zl_rt *rt, const char *path, zl_buf *reply, const char **content_type);

#endif
