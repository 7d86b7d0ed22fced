/* A fault-injecting target for engine tests, type "fault": the SQLite target (same fields, same
 * tables) with a fault plan per target name, set by the test. Like SQLite's test VFS, each
 * operation the plan's mask names counts down; at zero the operation fails with the plan's code,
 * once or from then on. A hook runs test code at a chosen call (e.g. lock the batch from another
 * owner while a copy is in progress). Plans are process-wide and thread-safe. */
#ifndef ZL_TARGET_FAULT_H
#define ZL_TARGET_FAULT_H

#include "target/target.h"

typedef enum {
	ZL_FOP_CONNECT = 0,
	ZL_FOP_BEGIN,
	ZL_FOP_LEDGER_HAS,
	ZL_FOP_EXEC,
	ZL_FOP_COPY,
	ZL_FOP_LEDGER_INSERT,
	ZL_FOP_COMMIT,
	ZL_FOP_ROLLBACK,
	ZL_FOP_COUNT
} zl_fault_op;

#define ZL_FAULT_MASK(op) (1u << (op))

/* Runs at the hook's call, in the loading thread, before the operation. */
typedef void (*zl_fault_hook)(void *ud, zl_fault_op op);

typedef struct zl_fault {
	unsigned ops;         /* ZL_FAULT_MASK()s of the operations that count down */
	int countdown;        /* the countdown-th call among ops fails (1: the first) */
	int persistent;       /* every call after it fails too */
	int code;             /* ZL_ETRANSIENT, ZL_ELOAD, ...; 0: no fault */
	int after;            /* the real operation runs first, then the caller is told code (a commit
	                       * that happened, reported lost) */
	unsigned hook_ops;    /* the hook runs at the hook_at-th call among hook_ops, once */
	int hook_at;
	zl_fault_hook hook;
	void *hook_ud;
} zl_fault;

/* What happened to a plan's target since zl_fault_set. */
typedef struct zl_fault_stats {
	int hits;                   /* faults injected */
	int hooked;                 /* the hook ran */
	int calls[ZL_FOP_COUNT];    /* calls per operation */
} zl_fault_stats;

extern const zl_target_ops zl_target_fault_ops;
/* The same over the PostgreSQL target (its fields, parallelism included), type "fault_pg". */
extern const zl_target_ops zl_target_fault_pg_ops;

/* Adds types "fault" and "fault_pg" to the target registry; safe to call more than once. */
int zl_fault_register(void);
/* Sets the plan of the target named name (its "name" field), resetting its stats; a zeroed plan
 * only counts calls. Returns 0 or ZL_ENOMEM. */
int zl_fault_set(const char *name, const zl_fault *plan);
/* The stats of name's plan (zeros without one). */
zl_fault_stats zl_fault_stats_of(const char *name);
/* Forgets every plan. */
void zl_fault_clear(void);
/* The message an injected fault gives: "injected fault in copy". */
const char *zl_fault_op_name(zl_fault_op op);

#endif
