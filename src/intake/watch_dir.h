/* Watches a dir: store with inotify and reports every complete file (closed after writing, or
 * renamed/moved in), including files in directories created later. The watcher owns its state. */
#ifndef ZL_WATCH_DIR_H
#define ZL_WATCH_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct zl_watch_dir zl_watch_dir;

/* Called once per complete file with its bucket (first directory level) and key. */
typedef void (*zl_watch_cb)(void *ud, const char *bucket, const char *key);

typedef struct zl_watch_opts {
	int64_t settle_ms; /* files found by a walk are reported once unchanged this long; 0: 1000 */
} zl_watch_opts;

int zl_watch_dir_open(const char *root, const zl_watch_opts *o, zl_watch_cb cb, void *ud, zl_watch_dir **out,
                      zl_err *err);
/* The descriptor to poll for readability. */
int zl_watch_dir_fd(const zl_watch_dir *w);
/* Handles every pending event without blocking, calling cb for files. */
int zl_watch_dir_dispatch(zl_watch_dir *w, int64_t now_ms, zl_err *err);
/* Walks the whole root: adds missing watches and reports the files found (start-up scan, rescans). */
int zl_watch_dir_scan(zl_watch_dir *w, int64_t now_ms, zl_err *err);
/* Milliseconds until tick has work, -1 when nothing waits. */
int64_t zl_watch_dir_next_ms(const zl_watch_dir *w, int64_t now_ms);
/* Reports the files that settled. */
void zl_watch_dir_tick(zl_watch_dir *w, int64_t now_ms);
/* Files waiting to settle. */
size_t zl_watch_dir_pending(const zl_watch_dir *w);
void zl_watch_dir_close(zl_watch_dir *w);

#endif
