/* Small file-system helpers. */
#ifndef ZL_FSUTIL_H
#define ZL_FSUTIL_H

#include <sys/types.h>

/* Creates every missing directory above the last '/' of path (not path itself), with mode.
 * path is modified during the call and restored. Returns 0, or -1 with errno set. */
int zl_mkdirs_for(char *path, mode_t mode);

#endif
