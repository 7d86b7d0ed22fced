/* Small file-system helpers: parent directories, and opening paths without leaving a root
 * directory. Descriptors returned belong to the caller. */
#ifndef ZL_FSUTIL_H
#define ZL_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Creates every missing directory above the last '/' of path (not path itself), with mode.
 * path is modified during the call and restored. Returns 0, or -1 with errno set. */
int zl_mkdirs_for(char *path, mode_t mode);

/* Opens rel, a path relative to the directory root_fd whose canonical path is root_real, with
 * open(2) flags (O_CLOEXEC is added), following symbolic links only while they stay below the
 * root: openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, and for a link openat2 refuses
 * (an absolute one, or one through "..") a check of its canonical path, which also stands in for
 * openat2 on kernels without it. Returns 0 and *out, or -errno: -EXDEV when a link leads outside
 * the root. flags must not hold O_CREAT. */
int zl_open_beneath(int root_fd, const char *root_real, const char *rel, int flags, int *out);

/* Creates every missing directory of rel_dir below root_fd (see zl_open_beneath), each one
 * inside the directory just opened beneath the root, so that no link can place it outside.
 * Returns 0 or -errno (-EXDEV: a link on the way leads outside the root). */
int zl_mkdirs_beneath(int root_fd, const char *root_real, const char *rel_dir, mode_t mode);

#endif
