#include "util/prefetch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
	char *buf;
	size_t len;
} slot;

typedef struct prefetch {
	zl_reader base;
	zl_reader *inner;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t filled, emptied;
	slot *slots;
	int nslots, head, count; /* ready slots are head .. head+count-1 (mod nslots) */
	size_t chunk, pos;       /* pos: bytes of slots[head] already handed out */
	size_t lent;             /* bytes of slots[head] lent by borrow, handed out at the next call */
	int eof, stop, started;
	int rc;                  /* the inner reader's error, once it failed */
	zl_err err;
} prefetch;

static void *produce(void *arg)
{
	prefetch *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->count == p->nslots && !p->stop)
			pthread_cond_wait(&p->emptied, &p->mu);
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		slot *s = &p->slots[(p->head + p->count) % p->nslots];
		pthread_mutex_unlock(&p->mu);

		/* Fill the slot outside the lock; only this thread touches inner and a free slot. */
		zl_err err = { 0 };
		ssize_t n = 0;
		s->len = 0;
		while (s->len < p->chunk && (n = zl_reader_read(p->inner, s->buf + s->len, p->chunk - s->len, &err)) > 0)
			s->len += (size_t)n;

		pthread_mutex_lock(&p->mu);
		if (s->len)
			p->count++;
		if (n <= 0) {
			p->eof = 1;
			if (n < 0) {
				p->rc = (int)n;
				p->err = err;
			}
		}
		pthread_cond_signal(&p->filled);
		int done = p->eof;
		pthread_mutex_unlock(&p->mu);
		if (done)
			return NULL;
	}
}

/* With the lock held: n more bytes of slots[head] are handed out; a slot used up is free again. */
static void consume(prefetch *p, size_t n)
{
	p->pos += n;
	if (p->count > 0 && p->pos == p->slots[p->head].len) {
		p->pos = 0;
		p->head = (p->head + 1) % p->nslots;
		p->count--;
		pthread_cond_signal(&p->emptied);
	}
}

static void give_back(prefetch *p)
{
	if (p->lent)
		consume(p, p->lent);
	p->lent = 0;
}

/* Waits for the next bytes (lock held): up to n of them at *data and their count, 0 at the end,
 * or the inner reader's error once every byte before it was handed out. */
static ssize_t next_bytes(prefetch *p, size_t n, const char **data, zl_err *err)
{
	give_back(p);
	while (p->count == 0 && !p->eof)
		pthread_cond_wait(&p->filled, &p->mu);
	if (p->count > 0) {
		slot *s = &p->slots[p->head];
		*data = s->buf + p->pos;
		return (ssize_t)(s->len - p->pos < n ? s->len - p->pos : n);
	}
	if (p->rc && err)
		*err = p->err;
	return p->rc;
}

/* Up to n bytes of the next ready slot, in place: no copy between the reading thread and ours. */
static ssize_t prefetch_borrow(zl_reader *r, size_t n, const void **data, zl_err *err)
{
	prefetch *p = (prefetch *)r;
	const char *bytes = NULL;
	pthread_mutex_lock(&p->mu);
	ssize_t got = next_bytes(p, n, &bytes, err);
	if (got > 0) {
		*data = bytes;
		p->lent = (size_t)got;
	}
	pthread_mutex_unlock(&p->mu);
	return got;
}

static ssize_t prefetch_read(zl_reader *r, void *buf, size_t n, zl_err *err)
{
	prefetch *p = (prefetch *)r;
	const char *bytes = NULL;
	pthread_mutex_lock(&p->mu);
	ssize_t got = next_bytes(p, n, &bytes, err);
	if (got > 0) {
		memcpy(buf, bytes, (size_t)got);
		consume(p, (size_t)got);
	}
	pthread_mutex_unlock(&p->mu);
	return got;
}

static void prefetch_close(zl_reader *r)
{
	prefetch *p = (prefetch *)r;
	if (p->started) {
		pthread_mutex_lock(&p->mu);
		p->stop = 1;
		pthread_cond_signal(&p->emptied);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->th, NULL);
	}
	zl_reader_close(p->inner);
	for (int i = 0; p->slots && i < p->nslots; i++)
		free(p->slots[i].buf);
	free(p->slots);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->filled);
	pthread_cond_destroy(&p->emptied);
	free(p);
}

int zl_reader_prefetch(zl_reader *inner, size_t chunk, int nchunks, zl_reader **out, zl_err *err)
{
	*out = NULL;
	prefetch *p = calloc(1, sizeof *p);
	if (!p) {
		zl_reader_close(inner);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	p->inner = inner;
	p->chunk = chunk;
	p->nslots = nchunks;
	p->base.read = prefetch_read;
	p->base.borrow = prefetch_borrow;
	p->base.close = prefetch_close;
	p->base.name = inner->name;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->filled, NULL);
	pthread_cond_init(&p->emptied, NULL);
	int ok = (p->slots = calloc((size_t)nchunks, sizeof *p->slots)) != NULL;
	for (int i = 0; ok && i < nchunks; i++)
		ok = (p->slots[i].buf = malloc(chunk)) != NULL;
	if (!ok) {
		prefetch_close(&p->base);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	if (pthread_create(&p->th, NULL, produce, p) != 0) {
		prefetch_close(&p->base);
		return zl_err_set(err, ZL_ENOMEM, "cannot start a reader thread");
	}
	p->started = 1;
	*out = &p->base;
	return 0;
}
