/* Reading answers, one line each: from a terminal (optionally without echo, the terminal restored
 * on every way out, signals included), or, with no terminal, from standard input as it comes.
 * Prompts and the dialogue go to stderr, except in JSON log mode (stderr then carries JSON lines
 * only) when stderr is not a terminal: then to /dev/tty when standard input is a terminal, else
 * nowhere. Lines returned are the caller's: free them with zl_term_free. */
#ifndef ZL_TERM_INPUT_H
#define ZL_TERM_INPUT_H

#include <stdio.h>

#include "util/err.h"

#define ZL_TERM_LINE_MAX 65536 /* bytes of one answer */

typedef struct zl_term {
	FILE *in;     /* stdin */
	FILE *out;    /* stderr (see above): prompts and the dialogue; NULL: none */
	int tty;      /* in is a terminal: echo can be turned off */
	int own_out;  /* out is /dev/tty, opened by zl_term_init */
} zl_term;

void zl_term_init(zl_term *t);
/* Closes what zl_term_init opened. */
void zl_term_release(zl_term *t);
/* Prints to the dialogue (nothing when there is none). */
void zl_term_say(zl_term *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints prompt, then reads one line without its line end. With secret, a terminal does not echo
 * what is typed. ZL_ENOTFOUND at the end of the input (nothing read), ZL_EINVAL for a line over
 * ZL_TERM_LINE_MAX bytes (consumed), ZL_EIO on a read error. */
int zl_term_read_line(zl_term *t, const char *prompt, int secret, char **line, zl_err *err);
/* Wipes and frees a line. */
void zl_term_free(char *line);

#endif
