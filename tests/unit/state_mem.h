/* An in-memory state backend for tests, scheme "mem:NAME": every handle opened with one NAME
 * shares one store, so engines, renewal threads and runtime threads of one process see one
 * state, as with one SQLite file. A store lives until zl_state_mem_drop (or the process ends). */
#ifndef ZL_STATE_MEM_H
#define ZL_STATE_MEM_H

#include "state/state.h"

extern const zl_state_ops zl_state_mem_ops;

/* Adds the backend to the state registry; safe to call more than once. */
int zl_state_mem_register(void);
/* Forgets the store NAME: the next open of mem:NAME starts empty. Open handles keep the old
 * store until they close. */
void zl_state_mem_drop(const char *name);

/* Counts of what the store's handles did, for tests that wait on another thread. */
typedef struct zl_state_mem_stats {
	long renewals;       /* batch_renew calls that extended a lease */
	long renewals_lost;  /* batch_renew calls answered ZL_ELOST */
	long closes;         /* handles closed (a renewal thread closes its own when it stops) */
} zl_state_mem_stats;

/* The counts of store NAME; zeros when there is no such store. */
zl_state_mem_stats zl_state_mem_stats_of(const char *name);

#endif
