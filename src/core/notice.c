#include "core/notice.h"
#include "core/fields.h"
#include "core/scrub.h"
#include "target/target.h"
#include "util/buf.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


void zl_notice_subject(const char *batch_id, zl_batch_status status, char *out, size_t n)
{
	snprintf(out, n, "Lambda Vertica Batch Load %s %s", batch_id, status == ZL_BATCH_COMPLETE ? "OK" : "Failure");
}

/* "Success: SQL" or "Failed: SQL" of statements [from, to) joined by newlines; "" when none. */
static json_t *step_text(const json_t *stmts, size_t from, size_t to, int failed)
{
	zl_buf b;
	zl_buf_init(&b, 0);
	for (size_t i = from; i < to; i++)
		zl_buf_printf(&b, "%s%s", i > from ? "\n" : failed ? "Failed: " : "Success: ",
		              json_string_value(json_array_get(stmts, i)));
	json_t *s = json_string(zl_buf_str(&b));
	zl_buf_release(&b);
	return s;
}

/* The original's clusterLoadStatements entry of one target: preLoadStmt, loadStmt and
 * postLoadStmt, each "Success: ..." or "Failed: ..." (the step that failed is the last one run),
 * or "" when it did not run. */
static json_t *target_statements(const json_t *t, const zl_target_cfg *tc)
{
	const json_t *stmts = json_object_get(t, "statements");
	size_t n = json_array_size(stmts), pre = 0, post = n;
	int failed = json_object_get(t, "error") != NULL;
	const char *first = json_string_value(json_array_get(stmts, 0));
	const char *last = json_string_value(json_array_get(stmts, n ? n - 1 : 0));
	if (tc && tc->pre_sql && first && strcmp(first, tc->pre_sql) == 0)
		pre = 1;
	if (tc && tc->post_sql && n > pre && last && strcmp(last, tc->post_sql) == 0)
		post = n - 1;
	return json_pack("{s:o, s:o, s:o}", "preLoadStmt", step_text(stmts, 0, pre, failed && n == pre),
	                 "loadStmt", step_text(stmts, pre, post, failed && post == n && n > pre),
	                 "postLoadStmt", step_text(stmts, post, n, failed));
}

static const zl_target_cfg *target_cfg(const zl_config *c, const char *name, size_t i)
{
	for (size_t k = 0; c && k < c->ntargets; k++)
		if (c->targets[k].name && name && strcmp(c->targets[k].name, name) == 0)
			return &c->targets[k];
	return c && i < c->ntargets && !c->targets[i].name ? &c->targets[i] : NULL;
}

/* targets and loadStatements from the load's result. */
static void add_targets(json_t *msg, json_t *stmts, const zl_config *c, const json_t *result, int finished_error)
{
	json_t *targets = json_array(), *t;
	size_t i;
	json_array_foreach(json_object_get(result, "targets"), i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));
		const char *status = json_string_value(json_object_get(t, "status"));
		const char *type = json_string_value(json_object_get(t, "type"));
		const json_t *error = json_object_get(t, "error");
		if (status && strcmp(status, "retry") == 0 && finished_error)
			status = "error"; /* its last attempt failed: no retry follows */
		json_array_append_new(targets, json_pack("{s:s, s:s, s:s, s:I, s:I, s:O}", "name", name ? name : "?",
		                                         "type", type ? type : "?",
		                                         "status", status ? status : "?", "rows",
		                                         json_integer_value(json_object_get(t, "rows")), "rejected",
		                                         json_integer_value(json_object_get(t, "rejected")), "error",
		                                         error ? (json_t *)error : json_null()));
		if (name)
			json_object_set_new(stmts, name, target_statements(t, target_cfg(c, name, i)));
	}
	json_object_set_new(msg, "targets", targets);
}

json_t *zl_notice_message(const zl_config *c, const zl_batch *b, zl_batch_status status, int64_t now,
                          const json_t *result, const char *error)
{
	char created[40], finished[40];
	json_t *files = json_array(), *stmts = json_object();
	for (size_t i = 0; i < b->nfiles && i < ZL_NOTICE_MAX_FILES; i++)
		json_array_append_new(files, json_pack("{s:s, s:s}", "bucket", b->files[i].bucket, "key", b->files[i].key));
	json_t *msg = json_pack("{s:o, s:s, s:s, s:s, s:o}", "error", error && *error ? json_string(error) : json_null(),
	                        "status", status == ZL_BATCH_COMPLETE ? "ok" : "error", "batchId", b->id, "s3Prefix",
	                        b->prefix ? b->prefix : "", "loadStatements", stmts);
	json_object_set_new(msg, "files", files);
	if (b->nfiles > ZL_NOTICE_MAX_FILES)
		json_object_set_new(msg, "filesOmitted", json_integer((json_int_t)(b->nfiles - ZL_NOTICE_MAX_FILES)));
	add_targets(msg, stmts, c, result, status != ZL_BATCH_COMPLETE);
	json_object_set_new(msg, "attempts", json_integer(b->attempts));
	json_object_set_new(msg, "createdAt", json_string(zl_time_format(b->created_at, created, sizeof created)));
	json_object_set_new(msg, "finishedAt", json_string(zl_time_format(now, finished, sizeof finished)));
	json_object_set_new(msg, "durationMs", json_integer(b->locked_at && now > b->locked_at ? now - b->locked_at : 0));
	return msg;
}

int zl_config_secrets(const zl_config *c, zl_strvec *out)
{
	int rc = 0;
	for (size_t i = 0; c && i < c->ntargets && rc == 0; i++) {
		const zl_target_cfg *tc = &c->targets[i];
		for (const zl_field *f = tc->ops->fields; f->name && rc == 0; f++)
			if (f->type == ZL_FT_SECRET)
				rc = zl_scrub_add(out, json_string_value(json_object_get(tc->json, f->name)));
	}
	if (rc == 0 && c)
		rc = zl_scrub_add(out, c->notify.webhook_secret);
	if (rc == 0 && c)
		rc = zl_scrub_add(out, c->notify.smtp_password);
	return rc ? ZL_ENOMEM : 0;
}

void zl_notices_release(zl_notices *n)
{
	free(n->v);
	free(n->body);
	memset(n, 0, sizeof *n);
}

int zl_notices_build(const zl_config *c, const zl_batch *b, zl_batch_status status, int64_t now,
                     const json_t *result, const char *error, zl_notices *out, zl_err *err)
{
	memset(out, 0, sizeof *out);
	const zl_strvec *dests = c ? (status == ZL_BATCH_COMPLETE ? &c->notify.success : &c->notify.failure) : NULL;
	zl_strvec secrets;
	zl_strvec_init(&secrets);
	json_t *msg = NULL;
	int rc = 0;
	if (!dests || !dests->n)
		goto out;
	if (!(msg = zl_notice_message(c, b, status, now, result, error)) || zl_config_secrets(c, &secrets) ||
	    !(out->v = calloc(dests->n, sizeof *out->v))) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	zl_json_scrub(msg, &secrets);
	if (!(out->body = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	zl_notice_subject(b->id, status, out->subject, sizeof out->subject);
	for (size_t i = 0; i < dests->n; i++)
		out->v[out->n++] = (zl_notice){ .dest = dests->v[i], .event = status == ZL_BATCH_COMPLETE ? "success" : "failure",
		                                .subject = out->subject, .body = out->body,
		                                .max_attempts = c->notify.max_attempts };
out:
	json_decref(msg);
	zl_strvec_release(&secrets);
	if (rc)
		zl_notices_release(out);
	return rc;
}
