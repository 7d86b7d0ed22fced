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
} zl_target;

/* One row of a target's ledger: batch batch_id was committed for target `target`. Two targets
 * in one database (two tables, or one table twice) each have their own rows. */
typedef struct zl_ledger_key {
	const char *batch_id;
	const char *target;   /* the target's name in its configuration ("name", else "target-N") */
	const char *prefix;   /* the batch's s3Prefix, recorded beside it */
} zl_ledger_key;

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
	/* Sets *has when the ledger holds the key (batch and target), or the batch with target '*'
	 * (a row migrated from the older layout keyed by batch alone). The ledger table itself is
	 * created or migrated by connect, outside any load transaction. */
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
