/* HMAC-SHA256 (OpenSSL), for signing notification bodies. */
#ifndef ZL_HMAC_H
#define ZL_HMAC_H

#include <stddef.h>

/* Writes the lower-case hex HMAC-SHA256 of data under key into out (65 bytes with the NUL).
 * Returns 0, or ZL_ENOMEM when OpenSSL fails. */
int zl_hmac_sha256_hex(const void *key, size_t key_len, const void *data, size_t len, char out[65]);

#endif
