/* The live line of a one-shot command: progress redrawn in place ("\r\033[K" + text) on stderr,
 * only when stderr is a terminal and logs are text; log lines written meanwhile take it off and
 * draw it again (util/log.c). A ticker is the caller's: stop it with zl_live_stop. */
#ifndef ZL_LIVE_LINE_H
#define ZL_LIVE_LINE_H

#include "util/buf.h"

/* Whether a live line is wanted: stderr is a terminal and the log is not JSON. */
int zl_live_wanted(void);
/* Shows text as the live line (NULL or "": takes it away). */
void zl_live_show(const char *text);

typedef struct zl_live_ticker zl_live_ticker;
/* Starts a thread that every period_ms fills the text of the live line with draw(ud, text) and
 * shows it (an empty text shows nothing). NULL when no live line is wanted, or no thread started. */
zl_live_ticker *zl_live_start(int period_ms, void (*draw)(void *ud, zl_buf *text), void *ud);
/* Stops the thread and takes the line away; NULL is fine. */
void zl_live_stop(zl_live_ticker *t);

#endif
