/* Vertica's password hashes: the text of the 'p' reply, written into the caller's array. */
#ifndef ZL_VAUTH_H
#define ZL_VAUTH_H

#include <stdint.h>

#include "util/err.h"

#define ZL_VAUTH_MAX 135 /* "sha512" + 128 hex digits + NUL */

/* "md5" + hex(md5(hex(md5(password || user)) || salt)). 0 or ZL_ELOAD with err set. */
int zl_vauth_md5(const char *user, const char *password, const uint8_t salt[4],
                 char out[ZL_VAUTH_MAX], zl_err *err);
/* "sha512" + hex(sha512(hex(sha512(password || user_salt)) || salt)). */
int zl_vauth_sha512(const char *password, const uint8_t user_salt[16], const uint8_t salt[4],
                    char out[ZL_VAUTH_MAX], zl_err *err);

#endif
