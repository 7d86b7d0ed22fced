/* A batch loaded in parts (a target's "parallelism"): its preLoadStatement commits first with
 * the ledger row -N (which fixes N for every later attempt), then each part commits on its own
 * connection with its row k, then the postLoadStatement commits with the row 0. A crash or a
 * failed part leaves the committed parts in the ledger: the next attempt loads only the others.
 * The batch is then atomic per part, not as a whole. */
#include "core/load_int.h"
#include "core/parts.h"
#include "obs/metrics.h"
#include "target/pool.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* One part of the batch: a run of its own (own statements, rows, error), sharing the target's
 * per-object rows (each object is in one part). */
typedef struct part_run {
	target_run run;
	const json_t *conn;
	int part, nparts;
	size_t *objs;     /* indices of the batch's objects in this part */
	size_t nobjs;
	int64_t bytes;
	int earlier;      /* committed by an earlier attempt: not run */
} part_run;

int zl_load_parts_wanted(const target_run *r)
{
	return r->tc->parallelism > 1 && r->b->nfiles > 1 && r->tc->ops->ledger_parts;
}

static void *run_part(void *arg)
{
	part_run *p = arg;
	target_run *r = &p->run;
	const zl_target_ops *ops = r->tc->ops;
	zl_target *t = NULL;
	int in_txn = 0, has = 0;
	int64_t t0 = zl_mono_ms();
	zl_ledger_key key = { r->b->id, r->name, r->b->prefix, p->part };
	int rc = zl_pool_get(ops, p->conn, r->name, &t, &r->err);
	if (rc)
		goto out;
	t->pool_keep = p->nparts;
	if ((rc = ops->begin(t, &r->err)))
		goto out;
	in_txn = 1;
	if ((rc = ops->ledger_has(t, &key, &has, &r->err)))
		goto out;
	if (has == 1) { /* another loader committed it meanwhile */
		r->skipped = 1;
		goto out;
	}
	for (size_t i = 0; i < p->nobjs && rc == 0; i++)
		rc = zl_load_object(r, t, p->objs[i]);
	if (rc || (rc = zl_load_insert_commit(r, t, &key, NULL)) || r->skipped)
		goto out;
	in_txn = 0;
	zl_metrics_loaded(r->b->prefix, r->name, r->rows, p->bytes);
out:
	if (in_txn)
		ops->rollback(t);
	zl_pool_put(t, r->name, rc);
	if (rc || r->skipped) { /* rolled back: nothing of this part stayed */
		r->rows = r->rejected = 0;
		for (size_t i = 0; i < p->nobjs; i++)
			r->obj_rows[p->objs[i]] = r->obj_rejected[p->objs[i]] = -1;
	}
	r->rc = rc;
	r->ms = zl_mono_ms() - t0;
	return NULL;
}

/* Worse first: an error a retry will not fix, then a lost lease, then one a retry may fix. */
static int severity(int rc)
{
	return rc == 0 ? 0 : rc == ZL_ETRANSIENT ? 1 : rc == ZL_ELOST ? 2 : 3;
}

static json_t *part_result(const part_run *p)
{
	const target_run *r = &p->run;
	const char *status = p->earlier || r->skipped || r->rc == 0 ? "complete"
	                   : r->rc == ZL_ETRANSIENT ? "retry" : "error";
	json_t *o = json_pack("{s:i, s:s, s:I, s:I, s:I, s:I}", "part", p->part, "status", status, "objects",
	                      (json_int_t)p->nobjs, "bytes", (json_int_t)p->bytes, "rows", (json_int_t)r->rows,
	                      "ms", (json_int_t)r->ms);
	if (p->earlier)
		json_object_set_new(o, "note", json_string("committed by an earlier attempt: not loaded again"));
	else if (r->skipped)
		json_object_set_new(o, "note", json_string("committed by another loader meanwhile: not loaded again"));
	if (r->rejected > 0)
		json_object_set_new(o, "rejected", json_integer(r->rejected));
	if (r->rc && !p->earlier)
		json_object_set_new(o, "error", json_string(r->err.msg));
	return o;
}

/* The parts' outcomes into r: rows, statements in part order, the worst error. */
static int gather(target_run *r, part_run *v, int n)
{
	int worst = 0, failed = 0;
	r->parts = json_array();
	for (int k = 0; k < n; k++) {
		target_run *pr = &v[k].run;
		json_array_append_new(r->parts, part_result(&v[k]));
		if (v[k].earlier)
			continue;
		json_array_extend(r->statements, pr->statements);
		r->rows += pr->rows;
		r->rejected += pr->rejected;
		if (pr->rc == 0)
			continue;
		failed++;
		if (severity(pr->rc) > severity(worst)) {
			worst = pr->rc;
			zl_err_set(&r->err, pr->rc, "part %d of %d: %s", v[k].part, n, pr->err.msg);
		}
	}
	if (failed > 1)
		zl_err_prefix(&r->err, "%d of %d parts failed", failed, n);
	return worst;
}

/* Runs the parts the ledger does not hold, each on its own thread and connection. */
static int run_parts(target_run *r, const json_t *conn, const zl_ledger_parts *lp)
{
	int n = lp->split, rc = 0;
	size_t nf = r->b->nfiles;
	part_run *v = calloc((size_t)n, sizeof *v);
	int *part_of = malloc(nf * sizeof *part_of);
	size_t *objs = malloc(nf * sizeof *objs);
	pthread_t th[ZL_PARTS_MAX];
	int spawned[ZL_PARTS_MAX] = { 0 };
	if (!v || !part_of || !objs || zl_parts_split(r->b->files, nf, n, part_of)) {
		rc = zl_err_set(&r->err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	size_t used = 0;
	for (int k = 0; k < n; k++) {
		part_run *p = &v[k];
		p->run = *r;
		p->run.statements = json_array();
		p->run.parts = NULL;
		p->run.obj_part = NULL;
		p->run.rows = p->run.rejected = 0;
		memset(&p->run.err, 0, sizeof p->run.err);
		p->conn = conn;
		p->part = k + 1;
		p->nparts = n;
		p->objs = objs + used;
		for (size_t i = 0; i < nf; i++)
			if (part_of[i] == k + 1) {
				p->objs[p->nobjs++] = i;
				p->bytes += r->b->files[i].size > 0 ? r->b->files[i].size : 0;
			}
		used += p->nobjs;
		p->earlier = (int)(lp->done >> k & 1);
	}
	int todo = 0;
	for (int k = 0; k < n; k++)
		todo += !v[k].earlier;
	for (int k = 0; k < n; k++) {
		if (v[k].earlier)
			continue;
		if (todo == 1 || pthread_create(&th[k], NULL, run_part, &v[k]) != 0)
			run_part(&v[k]);
		else
			spawned[k] = 1;
	}
	for (int k = 0; k < n; k++)
		if (spawned[k])
			pthread_join(th[k], NULL);
	rc = gather(r, v, n);
	r->obj_part = part_of;
	part_of = NULL;
out:
	for (int k = 0; v && k < n; k++)
		json_decref(v[k].run.statements);
	free(v);
	free(part_of);
	free(objs);
	return rc;
}

/* The postLoadStatement with the row 0, once every part committed. */
static int close_batch(target_run *r, const json_t *conn, int nparts)
{
	const zl_target_ops *ops = r->tc->ops;
	zl_target *t = NULL;
	int in_txn = 0, has = 0;
	zl_ledger_key key = { r->b->id, r->name, r->b->prefix, 0 };
	int rc = zl_pool_get(ops, conn, r->name, &t, &r->err);
	if (rc)
		goto out;
	t->pool_keep = nparts;
	if ((rc = ops->begin(t, &r->err)))
		goto out;
	in_txn = 1;
	if ((rc = ops->ledger_has(t, &key, &has, &r->err)) || has == 1) /* another loader closed it meanwhile */
		goto out;
	if ((rc = zl_load_insert_commit(r, t, &key, r->tc->post_sql)) || r->skipped)
		goto out;
	in_txn = 0;
out:
	if (in_txn)
		ops->rollback(t);
	zl_pool_put(t, r->name, rc);
	r->skipped = 0;
	return rc;
}

int zl_load_in_parts(target_run *r, zl_target *t, const json_t *conn, int has)
{
	const zl_target_ops *ops = r->tc->ops;
	zl_ledger_parts lp = { 0 };
	int rc = 0, in_txn = 1;
	r->in_parts = 1;
	t->pool_keep = r->tc->parallelism;
	if (ops->ledger_parts)
		ops->ledger_parts(t, &lp);
	if (has == 2 && (lp.split <= 0 || (size_t)lp.split > r->b->nfiles)) {
		/* rows this loader cannot read as one split: loading again could load parts twice */
		rc = zl_err_set(&r->err, ZL_ELOAD,
		                "the ledger holds rows of this batch's parts that do not make one split into at most %zu "
		                "parts; delete the batch's rows with part <> 0 from the ledger only if nothing of it is in the table",
		                r->b->nfiles);
		goto out;
	}
	if (has == 0) { /* the preLoadStatement, with the row that fixes the split */
		lp.split = r->tc->parallelism < (int)r->b->nfiles ? r->tc->parallelism : (int)r->b->nfiles;
		zl_ledger_key pre = { r->b->id, r->name, r->b->prefix, -lp.split };
		if ((rc = zl_load_sql(r, t, "preLoadStatement", r->tc->pre_sql)))
			goto out;
		rc = zl_load_insert_commit(r, t, &pre, NULL);
		/* skipped: another loader committed the same split meanwhile, and its preLoadStatement */
		in_txn = rc != 0 || r->skipped;
		r->skipped = 0;
		if (rc)
			goto out;
	} else if (lp.split != r->tc->parallelism && lp.split < (int)r->b->nfiles) {
		ZL_LOG(ZL_INFO, "batch is loaded in the parts an earlier attempt chose", ZL_S("batch", r->b->id),
		       ZL_S("target", r->name), ZL_I("parts", lp.split), ZL_I("parallelism", r->tc->parallelism));
	}
	if (in_txn)
		ops->rollback(t);
	in_txn = 0;
	zl_pool_put(t, r->name, 0);
	t = NULL;
	if ((rc = run_parts(r, conn, &lp)) == 0)
		rc = close_batch(r, conn, lp.split);
out:
	if (in_txn)
		ops->rollback(t);
	zl_pool_put(t, r->name, rc);
	return rc;
}
