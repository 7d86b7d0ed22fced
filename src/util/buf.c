#include "util/buf.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZL_BUF_DEFAULT_CAP ((size_t)64 << 20)

void zl_buf_init(zl_buf *b, size_t cap)
{
	b->data = NULL;
	b->len = b->alloc = 0;
	b->cap = cap ? cap : ZL_BUF_DEFAULT_CAP;
}

void zl_buf_release(zl_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->alloc = 0;
}

void zl_buf_reset(zl_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int grow(zl_buf *b, size_t extra)
{
	if (extra > b->cap || b->len > b->cap - extra)
		return ZL_ENOMEM;
	size_t need = b->len + extra + 1;
	if (need <= b->alloc)
		return 0;
	size_t n = b->alloc ? b->alloc : 64;
	while (n < need)
		n *= 2;
	char *p = realloc(b->data, n);
	if (!p)
		return ZL_ENOMEM;
	b->data = p;
	b->alloc = n;
	return 0;
}

int zl_buf_reserve(zl_buf *b, size_t n)
{
	if (n > b->cap || b->len > b->cap - n)
		return ZL_ENOMEM;
	size_t need = b->len + n + 1;
	if (need <= b->alloc)
		return 0;
	char *p = realloc(b->data, need);
	if (!p)
		return ZL_ENOMEM;
	if (!b->data)
		p[0] = '\0';
	b->data = p;
	b->alloc = need;
	return 0;
}

int zl_buf_add(zl_buf *b, const void *data, size_t len)
{
	if (grow(b, len))
		return ZL_ENOMEM;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int zl_buf_addc(zl_buf *b, char c) { return zl_buf_add(b, &c, 1); }

int zl_buf_adds(zl_buf *b, const char *s) { return zl_buf_add(b, s, strlen(s)); }

int zl_buf_vprintf(zl_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || grow(b, (size_t)n))
		return ZL_ENOMEM;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int zl_buf_printf(zl_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = zl_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

const char *zl_buf_str(const zl_buf *b) { return b->data ? b->data : ""; }

char *zl_buf_take(zl_buf *b)
{
	char *p = b->data ? b->data : strdup("");
	b->data = NULL;
	b->len = b->alloc = 0;
	return p;
}
