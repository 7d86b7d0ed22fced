/* The loads in progress in this process: a small table of slots, one per batch and target. */
#include "obs/metrics.h"
#include "util/timeutil.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define SLOTS 64

static struct {
	int used;
	zl_progress p;
} slots[SLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

int zl_progress_begin(const char *batch_id, const char *prefix, const char *target, int64_t objects)
{
	int slot = -1;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < SLOTS && slot < 0; i++)
		if (!slots[i].used)
			slot = i;
	if (slot >= 0) {
		zl_progress *p = &slots[slot].p;
		memset(p, 0, sizeof *p);
		snprintf(p->batch_id, sizeof p->batch_id, "%s", batch_id);
		snprintf(p->prefix, sizeof p->prefix, "%s", prefix);
		snprintf(p->target, sizeof p->target, "%s", target);
		p->started_ms = zl_now_ms();
		p->objects = objects;
		slots[slot].used = 1;
	}
	pthread_mutex_unlock(&mu);
	return slot;
}

void zl_progress_add(int slot, int64_t rows, int64_t bytes)
{
	if (slot < 0 || slot >= SLOTS)
		return;
	pthread_mutex_lock(&mu);
	slots[slot].p.rows += rows;
	slots[slot].p.bytes += bytes;
	pthread_mutex_unlock(&mu);
}

void zl_progress_object_done(int slot)
{
	if (slot < 0 || slot >= SLOTS)
		return;
	pthread_mutex_lock(&mu);
	slots[slot].p.objects_done++;
	pthread_mutex_unlock(&mu);
}

void zl_progress_end(int slot)
{
	if (slot < 0 || slot >= SLOTS)
		return;
	pthread_mutex_lock(&mu);
	slots[slot].used = 0;
	pthread_mutex_unlock(&mu);
}

size_t zl_progress_list(zl_progress *out, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < SLOTS && n < max; i++)
		if (slots[i].used)
			out[n++] = slots[i].p;
	pthread_mutex_unlock(&mu);
	for (size_t i = 1; i < n; i++) /* oldest first */
		for (size_t j = i; j > 0 && out[j].started_ms < out[j - 1].started_ms; j--) {
			zl_progress t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}
