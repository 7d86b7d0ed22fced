/* A growable array of heap strings; the vector owns them. */
#ifndef ZL_STRVEC_H
#define ZL_STRVEC_H

#include <stddef.h>

typedef struct zl_strvec {
	char **v;
	size_t n, alloc;
} zl_strvec;

void zl_strvec_init(zl_strvec *sv);
void zl_strvec_release(zl_strvec *sv);
/* Appends a copy of s; returns 0 or ZL_ENOMEM. */
int zl_strvec_push(zl_strvec *sv, const char *s);
/* Appends s itself, taking ownership (freed even on failure). */
int zl_strvec_push_take(zl_strvec *sv, char *s);
/* Frees the entries after the first n (undoing pushes made since sv held n). */
void zl_strvec_truncate(zl_strvec *sv, size_t n);

#endif
