/* The fault-injecting target: every operation asks its target's plan whether to fail, then
 * delegates to the SQLite target it wraps ("fault"), or the PostgreSQL one ("fault_pg", which
 * loads in parts). */
#include "target_fault.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

extern const zl_target_ops zl_target_sqlite_ops, zl_target_pg_ops;

typedef struct plan_entry {
	struct plan_entry *next;
	char *name;
	zl_fault plan;
	int left;        /* the countdown: the fault fires at 0, and below when persistent */
	int hook_left;   /* the hook runs at 0 */
	zl_fault_stats stats;
} plan_entry;

typedef struct fault_target {
	zl_target base;
	zl_target *inner;  /* the SQLite or PostgreSQL target */
	char *name;        /* whose plan applies */
} fault_target;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static plan_entry *plans;

static const char *const op_names[ZL_FOP_COUNT] = {
	"connect", "begin", "ledger_has", "exec", "copy", "ledger_insert", "commit", "rollback",
};

const char *zl_fault_op_name(zl_fault_op op) { return op_names[op]; }

static plan_entry *plan_find(const char *name)
{
	for (plan_entry *p = plans; p; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

int zl_fault_set(const char *name, const zl_fault *plan)
{
	int rc = 0;
	pthread_mutex_lock(&mu);
	plan_entry *p = plan_find(name);
	if (!p) {
		if (!(p = calloc(1, sizeof *p)) || !(p->name = strdup(name))) {
			free(p);
			rc = ZL_ENOMEM;
			goto out;
		}
		p->next = plans;
		plans = p;
	}
	p->plan = *plan;
	p->left = plan->countdown;
	p->hook_left = plan->hook_at;
	memset(&p->stats, 0, sizeof p->stats);
out:
	pthread_mutex_unlock(&mu);
	return rc;
}

zl_fault_stats zl_fault_stats_of(const char *name)
{
	zl_fault_stats s = { 0 };
	pthread_mutex_lock(&mu);
	plan_entry *p = plan_find(name);
	if (p)
		s = p->stats;
	pthread_mutex_unlock(&mu);
	return s;
}

void zl_fault_clear(void)
{
	pthread_mutex_lock(&mu);
	while (plans) {
		plan_entry *p = plans;
		plans = p->next;
		free(p->name);
		free(p);
	}
	pthread_mutex_unlock(&mu);
}

/* Counts a call of op for target name and runs the hook if it is due. Returns the code to fail
 * with (0: none); *after says the real operation runs first. */
static int fault_at(const char *name, zl_fault_op op, int *after)
{
	zl_fault_hook hook = NULL;
	void *ud = NULL;
	unsigned bit = ZL_FAULT_MASK(op);
	int code = 0;

	*after = 0;
	pthread_mutex_lock(&mu);
	plan_entry *p = plan_find(name);
	if (p) {
		p->stats.calls[op]++;
		if ((p->plan.hook_ops & bit) && p->plan.hook && --p->hook_left == 0) {
			hook = p->plan.hook;
			ud = p->plan.hook_ud;
			p->stats.hooked++;
		}
		if ((p->plan.ops & bit) && p->plan.code && (--p->left == 0 || (p->left < 0 && p->plan.persistent))) {
			code = p->plan.code;
			*after = p->plan.after;
			p->stats.hits++;
		}
	}
	pthread_mutex_unlock(&mu);
	if (hook)
		hook(ud, op);
	return code;
}

static int injected(int code, zl_fault_op op, zl_err *err)
{
	return zl_err_set(err, code, "injected fault in %s", op_names[op]);
}

/* What the caller is told after the real operation returned rc, with a fault due after it. */
static int reported(int rc, int code, zl_fault_op op, zl_err *err)
{
	return rc == 0 && code ? injected(code, op, err) : rc;
}

static void ft_close(zl_target *tt)
{
	fault_target *t = (fault_target *)tt;
	if (!t)
		return;
	if (t->inner)
		t->inner->ops->close(t->inner);
	free(t->name);
	free(t);
}

static int ft_connect_to(const zl_target_ops *self, const zl_target_ops *inner, const json_t *cfg, zl_target **out,
                         zl_err *err)
{
	const char *name = json_string_value(json_object_get(cfg, "name"));
	fault_target *t = NULL;
	int after, rc = 0, code;

	*out = NULL;
	if (!(t = calloc(1, sizeof *t)) || !(t->name = strdup(name ? name : ""))) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	t->base.ops = self;
	if ((code = fault_at(t->name, ZL_FOP_CONNECT, &after)) && !after) {
		rc = injected(code, ZL_FOP_CONNECT, err);
		goto out;
	}
	rc = reported(inner->connect(cfg, &t->inner, err), code, ZL_FOP_CONNECT, err);
out:
	if (rc) {
		ft_close(t ? &t->base : NULL);
		return rc;
	}
	*out = &t->base;
	return 0;
}

static int ft_connect(const json_t *cfg, zl_target **out, zl_err *err)
{
	return ft_connect_to(&zl_target_fault_ops, &zl_target_sqlite_ops, cfg, out, err);
}

static int ft_connect_pg(const json_t *cfg, zl_target **out, zl_err *err)
{
	return ft_connect_to(&zl_target_fault_pg_ops, &zl_target_pg_ops, cfg, out, err);
}

/* The start of every operation but connect, close and rollback: returns early with an injected
 * fault due before the operation; leaves code set for one due after it. */
#define FAULT_BEFORE(t, op, code, err)                                                                   \
	int after_, code = fault_at((t)->name, (op), &after_);                                               \
	if (code && !after_)                                                                                 \
		return injected(code, (op), (err))

static int ft_ledger_has(zl_target *tt, const zl_ledger_key *k, int *has, zl_err *err)
{
	fault_target *t = (fault_target *)tt;
	*has = 0;
	FAULT_BEFORE(t, ZL_FOP_LEDGER_HAS, code, err);
	return reported(t->inner->ops->ledger_has(t->inner, k, has, err), code, ZL_FOP_LEDGER_HAS, err);
}

static int ft_begin(zl_target *tt, zl_err *err)
{
	fault_target *t = (fault_target *)tt;
	FAULT_BEFORE(t, ZL_FOP_BEGIN, code, err);
	return reported(t->inner->ops->begin(t->inner, err), code, ZL_FOP_BEGIN, err);
}

static int ft_exec(zl_target *tt, const char *sql, zl_err *err)
{
	fault_target *t = (fault_target *)tt;
	FAULT_BEFORE(t, ZL_FOP_EXEC, code, err);
	return reported(t->inner->ops->exec(t->inner, sql, err), code, ZL_FOP_EXEC, err);
}

static int ft_copy(zl_target *tt, const char *object_name, zl_reader *r, const zl_format *fmt, int64_t *rows,
                   zl_err *err)
{
	fault_target *t = (fault_target *)tt;
	FAULT_BEFORE(t, ZL_FOP_COPY, code, err);
	return reported(t->inner->ops->copy(t->inner, object_name, r, fmt, rows, err), code, ZL_FOP_COPY, err);
}

static int ft_ledger_insert(zl_target *tt, const zl_ledger_key *k, zl_err *err)
{
	fault_target *t = (fault_target *)tt;
	FAULT_BEFORE(t, ZL_FOP_LEDGER_INSERT, code, err);
	return reported(t->inner->ops->ledger_insert(t->inner, k, err), code, ZL_FOP_LEDGER_INSERT, err);
}

static int ft_commit(zl_target *tt, zl_err *err)
{
	fault_target *t = (fault_target *)tt;
	FAULT_BEFORE(t, ZL_FOP_COMMIT, code, err);
	return reported(t->inner->ops->commit(t->inner, err), code, ZL_FOP_COMMIT, err);
}

/* A failed rollback cannot be reported: the fault skips it, and closing the connection then
 * discards the transaction, as a dropped connection does. */
static void ft_rollback(zl_target *tt)
{
	fault_target *t = (fault_target *)tt;
	int after;
	int code = fault_at(t->name, ZL_FOP_ROLLBACK, &after);
	if (!code || after)
		t->inner->ops->rollback(t->inner);
}

static const char *ft_last_sql(zl_target *tt)
{
	fault_target *t = (fault_target *)tt;
	return t->inner->ops->last_sql ? t->inner->ops->last_sql(t->inner) : NULL;
}

static void ft_ledger_parts(zl_target *tt, zl_ledger_parts *out)
{
	fault_target *t = (fault_target *)tt;
	t->inner->ops->ledger_parts(t->inner, out);
}

/* The SQLite target's fields, with type "fault"; the PostgreSQL target's, with "fault_pg". */
static zl_field fault_fields[32], fault_pg_fields[32];

const zl_target_ops zl_target_fault_ops = {
	.type = "fault",
	.fields = fault_fields,
	.connect = ft_connect,
	.close = ft_close,
	.ledger_has = ft_ledger_has,
	.begin = ft_begin,
	.exec = ft_exec,
	.copy = ft_copy,
	.ledger_insert = ft_ledger_insert,
	.commit = ft_commit,
	.rollback = ft_rollback,
	.last_sql = ft_last_sql,
};

/* Without insert_commit: the ledger row, postLoadStatement and the commit are three operations
 * a plan can fail one by one. */
const zl_target_ops zl_target_fault_pg_ops = {
	.type = "fault_pg",
	.fields = fault_pg_fields,
	.connect = ft_connect_pg,
	.close = ft_close,
	.ledger_has = ft_ledger_has,
	.begin = ft_begin,
	.exec = ft_exec,
	.copy = ft_copy,
	.ledger_insert = ft_ledger_insert,
	.commit = ft_commit,
	.rollback = ft_rollback,
	.last_sql = ft_last_sql,
	.ledger_parts = ft_ledger_parts,
};

static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static int register_rc;

/* Copies from's fields into to (32 at most, the last left zero), with type's choice type. */
static void copy_fields(zl_field *to, const zl_field *from, const char *type)
{
	for (size_t n = 0; from->name && n + 1 < 32; from++, n++) {
		to[n] = *from;
		if (strcmp(from->name, "type") == 0)
			to[n].choices = type;
	}
}

static void register_type(void)
{
	copy_fields(fault_fields, zl_target_sqlite_ops.fields, "fault");
	copy_fields(fault_pg_fields, zl_target_pg_ops.fields, "fault_pg");
	register_rc = zl_target_register(&zl_target_fault_ops);
	if (register_rc == 0)
		register_rc = zl_target_register(&zl_target_fault_pg_ops);
}

int zl_fault_register(void)
{
	pthread_once(&register_once, register_type);
	return register_rc;
}
