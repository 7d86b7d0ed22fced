/* Growable byte buffer with a hard cap, after curl's dynbuf. The buffer owns its memory. */
#ifndef ZL_BUF_H
#define ZL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct zl_buf {
	char *data;   /* always NUL-terminated when len > 0 or after any add */
	size_t len;
	size_t alloc;
	size_t cap;   /* maximum len; 0 means the default cap (64 MiB) */
} zl_buf;

void zl_buf_init(zl_buf *b, size_t cap);
void zl_buf_release(zl_buf *b);
void zl_buf_reset(zl_buf *b);
/* Each add returns 0, or ZL_ENOMEM when the cap would be exceeded or allocation fails. */
int zl_buf_add(zl_buf *b, const void *data, size_t len);
/* Makes room for n more bytes in one allocation of exactly that size (a body whose length is
 * known), so the adds that follow do not reallocate. 0, or ZL_ENOMEM past the cap. */
int zl_buf_reserve(zl_buf *b, size_t n);
int zl_buf_addc(zl_buf *b, char c);
int zl_buf_adds(zl_buf *b, const char *s);
int zl_buf_printf(zl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int zl_buf_vprintf(zl_buf *b, const char *fmt, va_list ap);
/* Returns the contents ("" when empty); valid until the next change. */
const char *zl_buf_str(const zl_buf *b);
/* Hands the contents to the caller (free() it) and resets the buffer. */
char *zl_buf_take(zl_buf *b);

#endif
