/* The target interface: one database table loaded in one transaction per batch, chosen by the
 * target's "type". A zl_target is one connection, used by one thread. */
#ifndef ZL_TARGET_H
#define ZL_TARGET_H

#include <jansson.h>
#include <stdint.h>

#include "core/fields.h"
#include "core/model.h"
#include "format/format.h"
#include "util/err.h"
#include "util/reader.h"

typedef struct zl_target_ops zl_target_ops;

typedef struct zl_target {
	const zl_target_ops *ops;
	int server_copy;   /* set by connect: the database reads the batch's objects itself (copy_batch) */
	int reopened;      /* set by the target each time it reconnected by itself (counted by the pool) */
	int pooled;        /* set by the pool (target/pool.h), with the key of the idle list it goes back to */
	unsigned char pool_key[32];
	int pool_keep;     /* set by the loader: keep this many idle connections of its key (parts in parallel) */
} zl_target;

/* One row of a target's ledger: batch batch_id was committed for target `target`. Two targets
 * in one database (two tables, or one table twice) each have their own rows. A batch loaded in
 * N parts (parallelism) has a row per part: -N when its preLoadStatement committed (which also
 * fixes N for every later attempt), k for part k (1..N), and 0 once its postLoadStatement
 * committed after all parts; a batch loaded whole has the row 0 alone. */
typedef struct zl_ledger_key {
	const char *batch_id;
	const char *target;   /* the target's name in its configuration ("name", else "target-N") */
	const char *prefix;   /* the batch's s3Prefix, recorded beside it */
	int part;             /* 0: the whole batch; k > 0: part k; -N: loading in N parts, pre done */
} zl_ledger_key;

#define ZL_PARTS_MAX 64   /* parallelism: parts of one batch */

/* The ledger rows of one (batch, target), as a ledger check reads them. */
typedef struct zl_ledger_parts {
	int whole;       /* row 0: the batch is complete in the target */
	int split;       /* N of the row -N, 0 when none, -1 when rows of two different N are there */
	uint64_t done;   /* bit k-1: the row of part k */
	int rows;        /* rows read */
} zl_ledger_parts;

/* Adds one row's part to p. */
void zl_ledger_parts_add(zl_ledger_parts *p, long part);
/* What ledger_has answers for key part `part` given the rows p: 1 when the row of that part or
 * the row 0 is there, else 2 when other rows of the batch are (a load in parts is under way),
 * else 0. */
int zl_ledger_parts_has(const zl_ledger_parts *p, int part);

/* Errors: ZL_ETRANSIENT when a retry may succeed (cannot connect, database busy/locked),
 * ZL_ELOAD for anything a retry will not fix (bad row, missing table, SQL error). Messages
 * name the object and line where there is one. */
struct zl_target_ops {
	const char *type;               /* "sqlite" */
	const zl_field *fields;         /* the target's configuration fields, for validation and help */
	/* cfg is the target's JSON object, already validated against fields. */
	int (*connect)(const json_t *cfg, zl_target **out, zl_err *err);
	/* Optional: checks beyond the field table at configuration time (cfg already passed it);
	 * messages start with where and the field ("targets[0].path: ..."). */
	int (*validate)(const json_t *cfg, const char *where, zl_err *err);
	void (*close)(zl_target *t);
	/* Sets *has to 1 when the ledger holds the key (batch, target and part), the batch's row 0,
	 * or the batch with target '*' (a row migrated from the older layout keyed by batch alone);
	 * to 2 when it holds none of these but other rows of the batch and target (parts of a load
	 * in parts: see ledger_parts); else to 0. The ledger table itself is created or migrated by
	 * connect, outside any load transaction. */
	int (*ledger_has)(zl_target *t, const zl_ledger_key *k, int *has, zl_err *err);
	/* May defer its statement to the next call that talks to the database (ledger_has). */
	int (*begin)(zl_target *t, zl_err *err);
	int (*exec)(zl_target *t, const char *sql, zl_err *err);
	/* Loads one object's (decompressed) bytes into the target table; adds rows loaded to *rows. */
	int (*copy)(zl_target *t, const char *object_name, zl_reader *r, const zl_format *fmt,
	            int64_t *rows, zl_err *err);
	/* ZL_EEXIST when another loader committed the key meanwhile (the caller rolls back). */
	int (*ledger_insert)(zl_target *t, const zl_ledger_key *k, zl_err *err);
	int (*commit)(zl_target *t, zl_err *err);
	void (*rollback)(zl_target *t);
	/* Optional: the statement(s) the last copy ran, for the batch record; owned by t. */
	const char *(*last_sql)(zl_target *t);
	/* Optional: loads every object of the batch with one statement the database runs itself
	 * (paths on its nodes, s3:// URLs); called instead of copy when connect set server_copy. */
	int (*copy_batch)(zl_target *t, const zl_file_rec *files, size_t n, const zl_format *fmt, int64_t *rows,
	                  zl_err *err);
	/* Optional: rows the last copy or copy_batch rejected without failing (within the target's
	 * allowance); 0 when NULL. */
	int64_t (*last_rejected)(zl_target *t);
	/* Optional: nonzero when the connection, idle outside any transaction, is still usable, told
	 * without a round trip where possible. Targets that have it are pooled (target/pool.h). */
	int (*check)(zl_target *t);
	/* Optional: ledger_insert, then post_sql (NULL: none), then commit, in as few round trips as
	 * the protocol allows, with the errors those calls would give; *step says which failed (0
	 * the ledger insert, 1 post_sql, 2 the commit). */
	int (*insert_commit)(zl_target *t, const zl_ledger_key *k, const char *post_sql, int *step, zl_err *err);
	/* Optional: the rows of the batch and target that the last ledger_has read. Targets that
	 * have it load a batch in parts ("parallelism"); their ledger_insert and insert_commit take
	 * keys of any part, and their connect makes the ledger able to hold them when the target's
	 * parallelism is above 1. */
	void (*ledger_parts)(zl_target *t, zl_ledger_parts *out);
};

/* The statement(s) the last copy ran, or NULL when the target does not say. */
static inline const char *zl_target_last_sql(zl_target *t)
{
	return t->ops->last_sql ? t->ops->last_sql(t) : NULL;
}

static inline int64_t zl_target_last_rejected(zl_target *t)
{
	return t->ops->last_rejected ? t->ops->last_rejected(t) : 0;
}

/* Adds a target type beside the built-in ones (before any thread loads; for tests). */
int zl_target_register(const zl_target_ops *ops);
/* The ops for a target type, or NULL. */
const zl_target_ops *zl_target_ops_find(const char *type);
/* "sqlite, postgres" — the known types, for messages. */
const char *zl_target_types(void);

#endif
