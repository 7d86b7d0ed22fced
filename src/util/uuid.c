#include "util/uuid.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/random.h>

/* The last id's time and 12-bit counter (rand_a): ids made in one millisecond by this process
 * count up from a random start, so they sort in the order they were made (RFC 9562, method 1);
 * a batch's id orders batches created in one transaction. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_ms = -1;
static unsigned last_count;

/* rand_a for ms: the counter after the last id's when ms is the same, else a random start low
 * enough to leave room for 2,048 more. */
static unsigned next_count(int64_t ms, unsigned random)
{
	pthread_mutex_lock(&mu);
	unsigned c = ms == last_ms && last_count < 0xfff ? last_count + 1 : random & 0x7ff;
	last_ms = ms;
	last_count = c;
	pthread_mutex_unlock(&mu);
	return c;
}

void zl_uuid_v7(int64_t ms, char out[ZL_UUID_LEN])
{
	unsigned char b[16];
	if (getrandom(b + 6, 10, 0) != 10) /* never short for <= 256 bytes once seeded */
		for (int i = 6; i < 16; i++)
			b[i] = (unsigned char)(ms >> (i % 8));
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)((uint64_t)ms >> (8 * (5 - i)));
	unsigned count = next_count(ms, (unsigned)b[6] << 8 | b[7]);
	b[6] = (unsigned char)(0x70 | (count >> 8));
	b[7] = (unsigned char)(count & 0xff);
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	snprintf(out, ZL_UUID_LEN,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
	         b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
	         b[15]);
}
