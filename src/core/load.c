/* Steps 5-6 of the protocol: load one locked batch into every target, then record the outcome. */
#include "core/config_secrets.h"
#include "core/engine.h"
#include "core/load_int.h"
#include "core/notice.h"
#include "core/policy.h"
#include "core/scrub.h"
#include "obs/metrics.h"
#include "target/pool.h"
#include "target/target.h"
#include "util/lines.h"
#include "util/log.h"
#include "util/prefetch.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Small enough to stay in a core's cache between the reading thread and the sending one. */
#define PREFETCH_CHUNK (64 * 1024)
#define PREFETCH_CHUNKS 8
#define PROGRESS_LOG_MS 5000  /* a load running longer logs its progress this often */

/* The object's bytes on their way to the target, counted for the progress table: bytes, and
 * lines as the rows sent so far. */
typedef struct counted_reader {
	zl_reader r;
	zl_reader *in;
	int slot;
	int64_t lines;
} counted_reader;

static void counted_note(counted_reader *c, const void *data, ssize_t n)
{
	if (n <= 0)
		return;
	int64_t lines = zl_count_newlines(data, (size_t)n);
	c->lines += lines;
	zl_progress_add(c->slot, lines, n);
}

static ssize_t counted_read(zl_reader *r, void *buf, size_t n, zl_err *err)
{
	counted_reader *c = (counted_reader *)r;
	ssize_t got = zl_reader_read(c->in, buf, n, err);
	counted_note(c, buf, got);
	return got;
}

static ssize_t counted_borrow(zl_reader *r, size_t n, const void **data, zl_err *err)
{
	counted_reader *c = (counted_reader *)r;
	ssize_t got = c->in->borrow(c->in, n, data, err);
	counted_note(c, *data, got);
	return got;
}

static void counted_close(zl_reader *r) { (void)r; /* the caller closes in */ }

int zl_load_object(target_run *r, zl_target *t, size_t i)
{
	const zl_file_rec *f = &r->b->files[i];
	zl_reader *raw = NULL, *rd = NULL;
	int64_t rows = 0;
	int rc = r->store ? r->store->ops->open_reader(r->store, f->bucket, f->key, &raw, &r->err)
	                  : zl_err_set(&r->err, ZL_EINVAL, "no object store configured");
	if (rc)
		goto out;
	char name[2048];
	snprintf(name, sizeof name, "%s/%s", f->bucket, f->key);
	if ((rc = zl_decompress_open(raw, r->cfg->format.compression, name, &rd, &r->err)))
		goto out;
	/* Fetch and decompress on another thread while this one feeds the target. */
	zl_reader *ahead = NULL;
	rc = zl_reader_prefetch(rd, PREFETCH_CHUNK, PREFETCH_CHUNKS, &ahead, &r->err);
	rd = ahead;
	if (rc)
		goto out;
	counted_reader cr = { .r = { .read = counted_read, .close = counted_close, .name = rd->name,
	                             .borrow = rd->borrow ? counted_borrow : NULL },
	                      .in = rd, .slot = r->slot };
	rc = t->ops->copy(t, name, &cr.r, &r->cfg->format, &rows, &r->err);
	if (rc == 0) { /* the object's rows replace its lines */
		zl_progress_add(r->slot, rows - cr.lines, 0);
		zl_progress_object_done(r->slot);
	}
	const char *sql = zl_target_last_sql(t);
	json_array_append_new(r->statements, sql ? json_sprintf("%s -- %s", sql, name) : json_sprintf("load %s", name));
	if (rc)
		goto out;
	r->obj_rows[i] = rows;
	r->obj_rejected[i] = zl_target_last_rejected(t);
	r->rows += rows;
	r->rejected += r->obj_rejected[i];
out:
	zl_reader_close(rd);
	return rc;
}

/* Every object of the batch: streamed one by one, or named in one COPY the database runs. */
static int load_objects(target_run *r, zl_target *t)
{
	if (!t->server_copy || !t->ops->copy_batch) {
		for (size_t i = 0; i < r->b->nfiles; i++) {
			int rc = zl_load_object(r, t, i);
			if (rc)
				return rc;
		}
		return 0;
	}
	r->server_copy = 1;
	int64_t rows = 0;
	int rc = t->ops->copy_batch(t, r->b->files, r->b->nfiles, &r->cfg->format, &rows, &r->err);
	const char *sql = zl_target_last_sql(t);
	if (sql)
		json_array_append_new(r->statements, json_string(sql));
	if (rc == 0) {
		r->rows = rows;
		r->rejected = zl_target_last_rejected(t);
		zl_progress_add(r->slot, rows, r->b->bytes);
	}
	return rc;
}

int zl_load_sql(target_run *r, zl_target *t, const char *what, const char *sql)
{
	if (!sql)
		return 0;
	json_array_append_new(r->statements, json_string(sql));
	int rc = t->ops->exec(t, sql, &r->err);
	return rc ? zl_err_prefix(&r->err, "%s", what) : 0;
}

/* The ledger row, post and the commit, in one call when the target pipelines them; skipped when
 * a loader that lost its lease committed the key first. */
int zl_load_insert_commit(target_run *r, zl_target *t, const zl_ledger_key *key, const char *post)
{
	const zl_target_ops *ops = r->tc->ops;
	int rc, step = 0;
	if (ops->insert_commit) { /* the lease is checked before anything is sent */
		if (atomic_load(r->lease_lost))
			return zl_err_set(&r->err, ZL_ELOST, "lease lost before commit: rolled back");
		rc = ops->insert_commit(t, key, post, &step, &r->err);
		if (post && (rc == 0 || step > 0))
			json_array_append_new(r->statements, json_string(post));
		if (rc && step == 1)
			zl_err_prefix(&r->err, "postLoadStatement");
	} else {
		if ((rc = ops->ledger_insert(t, key, &r->err)) == ZL_EEXIST) { /* a loader that lost its lease committed it first */
			r->skipped = 1;
			return 0;
		}
		if (rc == 0)
			rc = zl_load_sql(r, t, "postLoadStatement", post);
		if (rc == 0 && atomic_load(r->lease_lost)) /* another attempt owns the batch now: it decides what commits */
			rc = zl_err_set(&r->err, ZL_ELOST, "lease lost before commit: rolled back");
		if (rc == 0)
			rc = ops->commit(t, &r->err);
	}
	if (rc == ZL_EEXIST && step == 0) { /* as above */
		r->skipped = 1;
		rc = 0;
	}
	return rc;
}

static void *run_target(void *arg)
{
	target_run *r = arg;
	zl_target *t = NULL;
	int in_txn = 0, has = 0;
	int64_t t0 = zl_mono_ms();
	const zl_target_ops *ops = r->tc->ops;
	json_t *conn = NULL; /* the target's fields with its secrets in plain text, for this connection only */
	zl_strvec plain;     /* those secrets, to scrub from what this run records */
	zl_strvec_init(&plain);
	r->slot = zl_progress_begin(r->b->id, r->b->prefix, r->name, (int64_t)r->b->nfiles);
	int rc = zl_config_target_reveal(r->cfg, r->index, r->secrets, &conn, &r->err);
	if (rc == 0 && zl_config_target_plain(r->cfg, r->index, conn, &plain))
		rc = zl_err_set(&r->err, ZL_ENOMEM, "out of memory");
	if (rc || (rc = zl_pool_get(ops, conn, r->name, &t, &r->err)))
		goto out;
	if ((rc = ops->begin(t, &r->err)))
		goto out;
	in_txn = 1;
	/* Inside the transaction, so two loaders racing for one batch cannot both load it. */
	zl_ledger_key key = { r->b->id, r->name, r->b->prefix, 0 };
	if ((rc = ops->ledger_has(t, &key, &has, &r->err)))
		goto out;
	if (has == 1) {
		r->skipped = 1;
		goto out;
	}
	if (has == 2 || zl_load_parts_wanted(r)) { /* a load in parts, or one under way: load_parts.c */
		in_txn = 0;
		rc = zl_load_in_parts(r, t, conn, has);
		t = NULL;
		goto out;
	}
	if ((rc = zl_load_sql(r, t, "preLoadStatement", r->tc->pre_sql)))
		goto out;
	if ((rc = load_objects(r, t)))
		goto out;
	if ((rc = zl_load_insert_commit(r, t, &key, r->tc->post_sql)) || r->skipped)
		goto out;
	in_txn = 0;
	zl_metrics_loaded(r->b->prefix, r->name, r->rows, r->b->bytes);
out:
	if (in_txn)
		ops->rollback(t);
	zl_pool_put(t, r->name, rc);
	zl_scrub_buf(r->err.msg, sizeof r->err.msg, &plain);
	zl_json_scrub(r->statements, &plain);
	if (r->parts)
		zl_json_scrub(r->parts, &plain);
	zl_scrub_release(&plain);
	zl_config_target_wipe(r->cfg, r->index, conn);
	r->rc = rc;
	r->ms = zl_mono_ms() - t0;
	zl_progress_end(r->slot);
	zl_metrics_batch_seconds(r->name, (double)r->ms / 1000.0);
	if (rc && rc != ZL_ELOST)
		zl_metrics_load_error(r->name, rc == ZL_ETRANSIENT ? "transient" : "permanent");
	if ((rc || r->skipped) && !r->in_parts) { /* rolled back: nothing of this attempt stayed */
		r->rows = r->rejected = 0;
		for (size_t i = 0; i < r->b->nfiles; i++)
			r->obj_rows[i] = r->obj_rejected[i] = -1;
	}
	return NULL;
}

/* Renews the lease every third of its length until stopped, and logs the targets' progress every
 * PROGRESS_LOG_MS. */
typedef struct renewer {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, started;
	atomic_int lost;
	const char *state_url, *batch_id, *owner;
	int64_t lease_ms;
} renewer;

/* One line per target still loading: rows and MB so far, MB/s since it started. */
static void log_progress(const renewer *rn)
{
	zl_progress v[64];
	size_t n = zl_progress_list(v, 64);
	int64_t now = zl_now_ms();
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].batch_id, rn->batch_id) != 0)
			continue;
		double secs = (double)(now - v[i].started_ms) / 1000.0, mb = (double)v[i].bytes / 1e6;
		char mbs[32], mbt[32];
		snprintf(mbt, sizeof mbt, "%.1f", mb);
		snprintf(mbs, sizeof mbs, "%.1f", secs > 0 ? mb / secs : 0.0);
		ZL_LOG(ZL_INFO, "load progress", ZL_S("batch", v[i].batch_id), ZL_S("target", v[i].target),
		       ZL_I("rows", v[i].rows), ZL_S("mb", mbt), ZL_S("mb_s", mbs), ZL_I("objects_done", v[i].objects_done),
		       ZL_I("objects", v[i].objects), ZL_I("seconds", (long long)secs));
	}
}

static void *renew_loop(void *arg)
{
	renewer *rn = arg;
	zl_state *st = NULL;
	zl_err err;
	int64_t renew_at = zl_now_ms() + rn->lease_ms / 3, log_at = zl_now_ms() + PROGRESS_LOG_MS;
	pthread_mutex_lock(&rn->mu);
	while (!rn->stop) {
		int64_t wake = renew_at < log_at ? renew_at : log_at;
		struct timespec ts = { .tv_sec = wake / 1000, .tv_nsec = (wake % 1000) * 1000000 };
		pthread_cond_timedwait(&rn->cv, &rn->mu, &ts);
		if (rn->stop)
			break;
		int64_t now = zl_now_ms();
		if (now >= log_at) {
			log_progress(rn);
			log_at = now + PROGRESS_LOG_MS;
		}
		if (now < renew_at)
			continue;
		renew_at = now + rn->lease_ms / 3;
		pthread_mutex_unlock(&rn->mu);
		int rc = st ? 0 : zl_state_open(rn->state_url, &st, &err);
		if (rc == 0)
			rc = st->ops->batch_renew(st, rn->batch_id, rn->owner, zl_now_ms() + rn->lease_ms, &err);
		pthread_mutex_lock(&rn->mu);
		if (rc == ZL_ELOST) {
			atomic_store(&rn->lost, 1);
			ZL_LOG(ZL_WARN, "lease lost while loading", ZL_S("batch", rn->batch_id));
			break;
		}
		if (rc)
			ZL_LOG(ZL_WARN, "lease renewal failed", ZL_S("batch", rn->batch_id), ZL_S("error", err.msg));
	}
	pthread_mutex_unlock(&rn->mu);
	zl_state_close(st);
	return NULL;
}

static void renewer_start(renewer *rn)
{
	pthread_mutex_init(&rn->mu, NULL);
	pthread_cond_init(&rn->cv, NULL);
	rn->started = pthread_create(&rn->th, NULL, renew_loop, rn) == 0;
}

static void renewer_stop(renewer *rn)
{
	pthread_mutex_lock(&rn->mu);
	rn->stop = 1;
	pthread_cond_signal(&rn->cv);
	pthread_mutex_unlock(&rn->mu);
	if (rn->started)
		pthread_join(rn->th, NULL);
	pthread_mutex_destroy(&rn->mu);
	pthread_cond_destroy(&rn->cv);
}

static json_t *target_result(const target_run *r)
{
	const char *status = r->skipped ? "complete" : r->rc == 0 ? "complete"
	                   : r->rc == ZL_ETRANSIENT ? "retry" : "error";
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "name", r->name, "type", r->tc->ops->type,
	                      "status", status, "rows", (json_int_t)r->rows, "ms", (json_int_t)r->ms);
	if (r->skipped)
		json_object_set_new(o, "note", json_string("batch already in the target's ledger: not loaded again"));
	else if (r->parts)
		json_object_set_new(o, "note", json_sprintf("loaded in %zu parts, each committed on its own",
		                                            json_array_size(r->parts)));
	else if (r->server_copy && r->rc == 0)
		json_object_set_new(o, "note", json_string("the database read every object itself, in one COPY"));
	if (r->rejected > 0)
		json_object_set_new(o, "rejected", json_integer(r->rejected));
	json_t *objs = json_array();
	for (size_t i = 0; i < r->b->nfiles; i++) {
		if (r->obj_rows[i] < 0)
			continue;
		json_t *x = json_pack("{s:s, s:I}", "key", r->b->files[i].key, "rows", (json_int_t)r->obj_rows[i]);
		if (r->obj_part)
			json_object_set_new(x, "part", json_integer(r->obj_part[i]));
		if (r->obj_rejected[i] > 0)
			json_object_set_new(x, "rejected", json_integer(r->obj_rejected[i]));
		json_array_append_new(objs, x);
	}
	json_object_set_new(o, "objects", objs);
	if (r->parts)
		json_object_set(o, "parts", r->parts);
	json_object_set(o, "statements", r->statements);
	if (r->rc)
		json_object_set_new(o, "error", json_string(r->err.msg));
	return o;
}

/* Records the outcome; a batch that finished queues its notifications in the same transaction,
 * a scheduled retry notifies nothing. */
static int finish(zl_engine *e, const zl_config *c, const zl_batch *b, const char *owner, zl_batch_status status,
                  int64_t retry_at, json_t *result, const char *error, zl_err *err)
{
	int64_t now = zl_now_ms();
	const char *why = error && *error ? error : NULL;
	char *text = result ? json_dumps(result, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	zl_notices notices = { 0 };
	int rc = status == ZL_BATCH_LOCKED ? 0 : zl_notices_build(c, b, status, now, result, why, &notices, err);
	if (rc == 0)
		rc = e->st->ops->batch_finish(e->st, b->id, owner, status, now, retry_at, text, why, notices.v, notices.n,
		                              err);
	zl_notices_release(&notices);
	free(text);
	return rc;
}

/* The metrics of a recorded outcome. */
static void count_outcome(const zl_batch *b, zl_batch_status status)
{
	if (status == ZL_BATCH_LOCKED) {
		zl_metrics_retry();
		return;
	}
	zl_metrics_batch_finished(b->prefix, zl_batch_status_name(status), b->file_count);
	if (status != ZL_BATCH_COMPLETE)
		return;
	int64_t now = zl_now_ms();
	for (size_t i = 0; i < b->nfiles; i++)
		zl_metrics_event_to_commit((double)(now - b->files[i].received_at) / 1000.0);
}

int zl_engine_load(zl_engine *e, const zl_ticket *ticket, zl_load_summary *sum, zl_err *err)
{
	const char *batch_id = ticket->batch_id, *owner = ticket->owner;
	zl_batch b = { 0 };
	target_run *runs = NULL;
	json_t *result = NULL;
	renewer rn = { 0 };
	const zl_config *c = NULL;
	size_t nruns = 0;
	int64_t t0 = zl_mono_ms();
	memset(sum, 0, sizeof *sum);
	int rc = e->st->ops->batch_get(e->st, batch_id, &b, err);
	if (rc)
		goto out;
	if (b.status != ZL_BATCH_LOCKED || !b.owner || strcmp(b.owner, owner) != 0) {
		rc = zl_err_set(err, ZL_ELOST, "batch %s is no longer locked by %s (it is %s%s%s)", batch_id, owner,
		                zl_batch_status_name(b.status), b.owner ? " by " : "", b.owner ? b.owner : "");
		goto out;
	}
	c = zl_engine_config(e, b.prefix);
	if (!c) {
		sum->status = ZL_BATCH_ERROR;
		snprintf(sum->error, sizeof sum->error, "no configuration for prefix \"%s\"", b.prefix);
		rc = finish(e, NULL, &b, owner, ZL_BATCH_ERROR, 0, NULL, sum->error, err);
		goto log;
	}
	if (b.attempts > c->max_attempts) {
		sum->status = ZL_BATCH_ERROR;
		snprintf(sum->error, sizeof sum->error,
		         "gave up after %d attempts (maxAttempts %d): the loader's lease expired each time; last error: %s",
		         b.attempts - 1, c->max_attempts, b.error ? b.error : "none");
		rc = finish(e, c, &b, owner, ZL_BATCH_ERROR, 0, NULL, sum->error, err);
		goto log;
	}
	ZL_LOG(ZL_INFO, "loading batch", ZL_S("batch", b.id), ZL_S("prefix", b.prefix),
	       ZL_I("files", (long long)b.nfiles), ZL_I("targets", (long long)c->ntargets), ZL_I("attempt", b.attempts));

	rn.state_url = e->state_url;
	rn.batch_id = b.id;
	rn.owner = owner;
	rn.lease_ms = c->lease_ms;
	renewer_start(&rn);

	runs = calloc(c->ntargets, sizeof *runs);
	if (!runs) {
		renewer_stop(&rn);
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	nruns = c->ntargets;
	for (size_t i = 0; i < c->ntargets; i++) {
		target_run *r = &runs[i];
		r->store = e->store;
		r->lease_lost = &rn.lost;
		r->cfg = c;
		r->tc = &c->targets[i];
		r->index = i;
		r->secrets = e->secrets;
		r->b = &b;
		r->statements = json_array();
		r->obj_rows = malloc((b.nfiles + 1) * sizeof *r->obj_rows);
		r->obj_rejected = malloc((b.nfiles + 1) * sizeof *r->obj_rejected);
		for (size_t j = 0; r->obj_rows && r->obj_rejected && j < b.nfiles; j++)
			r->obj_rows[j] = r->obj_rejected[j] = -1;
		if (r->tc->name)
			snprintf(r->name, sizeof r->name, "%s", r->tc->name);
		else
			snprintf(r->name, sizeof r->name, "target-%zu", i + 1);
	}
	/* Targets load in parallel, each in its own connection and transaction. */
	pthread_t *threads = c->ntargets > 1 ? calloc(c->ntargets, sizeof *threads) : NULL;
	int *spawned = threads ? calloc(c->ntargets, sizeof *spawned) : NULL;
	for (size_t i = 0; i < c->ntargets; i++)
		if (!runs[i].obj_rows || !runs[i].obj_rejected)
			runs[i].rc = zl_err_set(&runs[i].err, ZL_ENOMEM, "out of memory");
		else if (!spawned || pthread_create(&threads[i], NULL, run_target, &runs[i]) != 0)
			run_target(&runs[i]);
		else
			spawned[i] = 1;
	for (size_t i = 0; spawned && i < c->ntargets; i++)
		if (spawned[i])
			pthread_join(threads[i], NULL);
	free(threads);
	free(spawned);
	renewer_stop(&rn);

	int transient = 0, permanent = 0;
	zl_buf errors;
	zl_buf_init(&errors, sizeof sum->error - 1);
	result = json_pack("{s:i, s:o}", "attempt", b.attempts, "targets", json_array());
	for (size_t i = 0; i < c->ntargets; i++) {
		target_run *r = &runs[i];
		json_array_append_new(json_object_get(result, "targets"), target_result(r));
		sum->rows += r->rows;
		if (r->rc == 0)
			continue;
		if (r->rc == ZL_ETRANSIENT)
			transient++;
		else
			permanent++;
		zl_buf_printf(&errors, "%starget %s: %s", errors.len ? "; " : "", r->name, r->err.msg);
	}
	snprintf(sum->error, sizeof sum->error, "%s", zl_buf_str(&errors));
	zl_buf_release(&errors);
	json_object_set_new(result, "ms", json_integer(zl_mono_ms() - t0));

	if (!transient && !permanent) {
		sum->status = ZL_BATCH_COMPLETE;
	} else if (!permanent && b.attempts < c->max_attempts) {
		uint32_t rnd = 0;
		if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
			rnd = (uint32_t)t0;
		sum->status = ZL_BATCH_LOCKED;
		sum->retry_at = zl_now_ms() + zl_retry_delay_ms(b.attempts, rnd);
	} else {
		sum->status = ZL_BATCH_ERROR;
	}
	if (atomic_load(&rn.lost)) {
		rc = zl_err_set(err, ZL_ELOST, "batch \"%s\": lease lost while loading; another loader owns it", b.id);
		goto out;
	}
	rc = finish(e, c, &b, owner, sum->status, sum->retry_at, result, sum->error, err);
log:
	if (rc == 0)
		count_outcome(&b, sum->status);
	if (rc == 0) {
		if (sum->status == ZL_BATCH_COMPLETE)
			ZL_LOG(ZL_INFO, "batch complete", ZL_S("batch", b.id), ZL_S("prefix", b.prefix), ZL_I("rows", sum->rows),
			       ZL_I("attempt", b.attempts), ZL_I("ms", zl_mono_ms() - t0));
		else
			ZL_LOG(ZL_WARN, sum->status == ZL_BATCH_LOCKED ? "batch will be retried" : "batch failed",
			       ZL_S("batch", b.id), ZL_S("prefix", b.prefix), ZL_I("attempt", b.attempts),
			       ZL_I("ms", zl_mono_ms() - t0), ZL_S("error", sum->error));
	}
out:
	for (size_t i = 0; i < nruns; i++) {
		free(runs[i].obj_rows);
		free(runs[i].obj_rejected);
		json_decref(runs[i].statements);
		json_decref(runs[i].parts);
		free(runs[i].obj_part);
	}
	free(runs);
	json_decref(result);
	zl_batch_release(&b);
	return rc;
}
