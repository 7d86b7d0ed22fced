/* The dir: store: each sub-directory of a root directory is a bucket, files below it are keys.
 * Nothing outside the root is opened, listed or written: a symbolic link that leads outside it
 * is refused (ZL_EINVAL, "BUCKET/KEY: refused: a symbolic link leads outside the store root");
 * links that stay inside work, and listings never descend into a linked directory. */
#ifndef ZL_STORE_DIR_H
#define ZL_STORE_DIR_H

#include "store/store.h"

/* The root directory of a dir: store, or NULL for another kind of store. Borrowed. */
const char *zl_store_dir_root(const zl_store *s);
/* Whether a key is acceptable to the dir store: relative, no "." or ".." segment, no hidden file. */
int zl_store_dir_key_ok(const char *key);

#endif
