/* Walking a large JSON text one value at a time. The outer levels' punctuation ('{' '[' ':' ','
 * and whitespace) is stepped over here; every key and value is decoded by jansson
 * (JSON_DISABLE_EOF_CHECK), so a caller holds one element's tree at a time, never the whole
 * document's. The walker borrows the text; decoded values belong to the caller. */
#ifndef ZL_JSON_WALK_H
#define ZL_JSON_WALK_H

#include <jansson.h>
#include <stddef.h>

typedef struct zl_json_walk {
	const char *text;
	size_t len;
	size_t pos;          /* next byte to read */
	char error[160];     /* the syntax error, in jansson's words ("']' expected near 'x'") */
	size_t error_at;     /* bytes read when it was found: see zl_json_walk_where */
} zl_json_walk;

/* Called with the walker on an element (or a member's value); must consume it, with
 * zl_json_walk_decode or zl_json_walk_skip. A non-zero return stops the walk and is returned. */
typedef int (*zl_json_elem_fn)(zl_json_walk *w, size_t index, void *ud);
typedef int (*zl_json_member_fn)(zl_json_walk *w, const char *key, void *ud);

void zl_json_walk_init(zl_json_walk *w, const char *text, size_t len);
/* Skips whitespace; returns the next byte, or -1 at the end of the text. */
int zl_json_walk_peek(zl_json_walk *w);
/* Decodes the next value. Returns 0, ZL_EINVAL (w->error set) or ZL_ENOMEM. */
int zl_json_walk_decode(zl_json_walk *w, json_t **out);
/* Walks the array or the object at the walker, calling fn for each element or member. Returns 0,
 * ZL_EINVAL for a syntax error (w->error set; also when the next value is not an array/object),
 * or fn's non-zero value. */
int zl_json_walk_array(zl_json_walk *w, zl_json_elem_fn fn, void *ud);
/* Goes on with an array walk at the start of its element number index (w->pos there). */
int zl_json_walk_array_from(zl_json_walk *w, size_t index, zl_json_elem_fn fn, void *ud);
int zl_json_walk_object(zl_json_walk *w, zl_json_member_fn fn, void *ud);
/* Checks and steps over the next value, walking `levels` levels of arrays and objects here so that
 * what lies below them is decoded (and freed) one value at a time. */
int zl_json_walk_skip(zl_json_walk *w, int levels);
/* ZL_EINVAL unless only whitespace is left. */
int zl_json_walk_end(zl_json_walk *w);
/* Sets w->error to "EXPECTED expected near 'TOKEN'" (or "near end of file"); returns ZL_EINVAL. */
int zl_json_walk_fail(zl_json_walk *w, const char *expected);
/* Line (from 1) and column (characters, as jansson counts them) where the error was found. */
void zl_json_walk_where(const zl_json_walk *w, int *line, int *column);

#endif
