#include "util/uuid.h"

#include <stdio.h>
#include <sys/random.h>

void zl_uuid_v7(int64_t ms, char out[ZL_UUID_LEN])
{
	unsigned char b[16];
	if (getrandom(b + 6, 10, 0) != 10) /* never short for <= 256 bytes once seeded */
		for (int i = 6; i < 16; i++)
			b[i] = (unsigned char)(ms >> (i % 8));
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)((uint64_t)ms >> (8 * (5 - i)));
	b[6] = (unsigned char)(0x70 | (b[6] & 0x0f));
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	snprintf(out, ZL_UUID_LEN,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
	         b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
	         b[15]);
}
