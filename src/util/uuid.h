/* Time-ordered identifiers (UUID version 7) for batches and loader owners. */
#ifndef ZL_UUID_H
#define ZL_UUID_H

#include <stdint.h>

#define ZL_UUID_LEN 37 /* 36 characters + NUL */

/* Writes a new UUIDv7 for time ms into out. */
void zl_uuid_v7(int64_t ms, char out[ZL_UUID_LEN]);

#endif
