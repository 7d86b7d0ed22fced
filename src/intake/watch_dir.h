/* Watches a dir: store with inotify and reports every complete file, including files in
 * directories created later. The watcher owns its state; times are wall-clock Unix ms given by
 * the caller.
 *
 * A file is reported (once per completion) when it is complete: at once when closed after
 * writing or renamed/moved in; a file found by a walk instead (the start-up scan, a rescan, a
 * directory created or moved in, an inotify queue overflow) only once its size and mtime have
 * stayed the same for settle_ms, at once when it was last modified longer ago. A close event for
 * a file waiting to settle reports it and ends the wait. Hidden names (leading '.') are ignored.
 * Symbolic links to directories are never watched nor walked into (no loops, no escapes). A link
 * leading outside the root is reported at once, for the store to refuse; a link to a file inside
 * settles like that file; a link to a directory inside is skipped. */
#ifndef ZL_WATCH_DIR_H
#define ZL_WATCH_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct zl_watch_dir zl_watch_dir;

/* Called once per complete file with its bucket (first directory level) and key. It must not
 * call back into the watcher. */
typedef void (*zl_watch_cb)(void *ud, const char *bucket, const char *key);

typedef struct zl_watch_opts {
	int64_t settle_ms; /* 0: the default, 1000 */
} zl_watch_opts;

/* Watches root and every directory below it; reports nothing until events, a scan or a tick.
 * o may be NULL for the defaults. */
int zl_watch_dir_open(const char *root, const zl_watch_opts *o, zl_watch_cb cb, void *ud,
                      zl_watch_dir **out, zl_err *err);
/* The descriptor to poll for readability. */
int zl_watch_dir_fd(const zl_watch_dir *w);
/* Handles every pending inotify event without blocking, calling cb for complete files. */
int zl_watch_dir_dispatch(zl_watch_dir *w, int64_t now_ms, zl_err *err);
/* Walks the whole root: adds missing watches and reports the files found (start-up scan,
 * periodic rescans), those still changing once they settle. */
int zl_watch_dir_scan(zl_watch_dir *w, int64_t now_ms, zl_err *err);
/* Milliseconds until zl_watch_dir_tick has work, -1 when no file waits to settle. */
int64_t zl_watch_dir_next_ms(const zl_watch_dir *w, int64_t now_ms);
/* Reports the files that settled. */
void zl_watch_dir_tick(zl_watch_dir *w, int64_t now_ms);
/* Files waiting to settle. */
size_t zl_watch_dir_pending(const zl_watch_dir *w);
void zl_watch_dir_close(zl_watch_dir *w);

#endif
