/* Watches a dir: store with inotify and reports every complete file (closed after writing, or
 * renamed/moved in), including files in directories created later. The watcher owns its state. */
#ifndef ZL_WATCH_DIR_H
#define ZL_WATCH_DIR_H

#include "util/err.h"

typedef struct zl_watch_dir zl_watch_dir;

/* Called once per complete file with its bucket (first directory level) and key. */
typedef void (*zl_watch_cb)(void *ud, const char *bucket, const char *key);

int zl_watch_dir_open(const char *root, zl_watch_cb cb, void *ud, zl_watch_dir **out, zl_err *err);
/* The descriptor to poll for readability. */
int zl_watch_dir_fd(const zl_watch_dir *w);
/* Handles every pending event without blocking, calling cb for files. */
int zl_watch_dir_dispatch(zl_watch_dir *w, zl_err *err);
void zl_watch_dir_close(zl_watch_dir *w);

#endif
