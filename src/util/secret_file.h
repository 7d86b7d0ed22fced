/* Reading a secret (a token, a password) from a file, so that it never appears on a command line. */
#ifndef ZL_SECRET_FILE_H
#define ZL_SECRET_FILE_H

#include "util/err.h"

/* Sets *out to the file's first line without its line ending ("\n" or "\r\n"); the caller frees
 * it. ZL_EIO when the file cannot be read, ZL_EINVAL when the first line is empty or longer than
 * 4 KiB; the message names the path. */
int zl_secret_file_read(const char *path, char **out, zl_err *err);

#endif
