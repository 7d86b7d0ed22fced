/* zload status: one screen of what the loader is doing, read from the state (obs/snapshot.h): the
 * state and store in use; per prefix its open batches and when they fall due, its locked batches,
 * its last load and its errors of the last 24 hours; the notifications pending and failed; then
 * "healthy" or the problems. Exit 0 when healthy, 1 when something is in error or stuck, 1 with a
 * message on stderr (and nothing on stdout) when the state cannot be read.
 *
 * --json prints one object (times ISO-8601 UTC, null when not set; counts and sizes numbers):
 *   {"takenAt", "state" (password masked), "store" (or null), "healthy": bool,
 *    "prefixes": [{"prefix", "configured": bool, "targets": ["name (type)"...],
 *                  "batchSize", "batchSizeBytes", "batchTimeoutSecs" (null without a configuration),
 *                  "filesWaiting", "oldestOpenAt",
 *                  "open": [BATCH], "locked": [BATCH], "recent": [BATCH], "errors": [BATCH]}],
 *    "notifications": {"pending": N, "failed": N (last 24 h), "firstPending": [NOTICE],
 *                      "recentFailed": [NOTICE]},
 *    "problems": ["batch ID (prefix P): ..."]}
 *   BATCH: {"id", "prefix", "status", "files", "bytes", "attempts", "created", "firstFileAt", "lockedAt",
 *           "finishedAt", "updated", "owner", "leaseUntil" (locked with an owner), "retryAt" (locked without),
 *           "dueAt" (open: when it falls due by age), "due" (open: why it is due now, or null),
 *           "rows", "loadMs" (from the last attempt's result, null when unknown), "stuck": bool,
 *           "whyStuck", "error"}
 *   NOTICE: a notification as `notifications list --json` prints it (cli/json_out.h): "id",
 *           "batchId", "prefix", "event", "destination" (as listings show it), "status", "attempts",
 *           "maxAttempts", "createdAt", "nextAt", "sentAt", "owner", "leaseUntil", "lastError",
 *           "subject", "message"
 * open and locked are oldest first; recent (the last 5 finished) and errors newest first. */
#include "cli/cli.h"
#include "cli/json_out.h"
#include "core/scrub.h"
#include "obs/snapshot.h"
#include "util/buf.h"
#include "util/quote.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

const zl_opt zl_status_opts[] = { { "json", 0, NULL, "print one JSON object (its shape: see the README)" }, { 0 } };

static const zl_cmd status_cmd = { "status", zl_cmd_status, NULL,
	"Show what the loader is doing, per prefix: open batches and when they fall due, locked batches,\n"
	"the last load, errors of the last 24 hours; notifications pending and failed; then \"healthy\"\n"
	"or the problems (batches stuck or in error, failed notifications).\n"
	"Exit status: 0 healthy; 1 something is in error or stuck, or the state cannot be read.",
	zl_status_opts };

/* A message on one line: control characters escaped. Valid until the next call. */
static const char *esc(const char *s)
{
	static zl_buf b;
	if (!b.cap)
		zl_buf_init(&b, 0);
	zl_buf_reset(&b);
	zl_escape_ctl(&b, s ? s : "");
	return zl_buf_str(&b);
}

/* A duration as "45s", "3m12s", "2h05m" or "3d04h". */
static const char *span(int64_t ms, char *out, size_t n)
{
	int64_t s = (ms < 0 ? -ms : ms) / 1000;
	if (s < 60)
		snprintf(out, n, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, n, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(out, n, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(out, n, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
	return out;
}

/* "2026-12-02T05:40:00.000Z (in 55s)" or "(... 3m12s ago)". Valid until the next call. */
static const char *when(int64_t at, int64_t now)
{
	static char out[96];
	char t[40], d[24];
	zl_time_format(at, t, sizeof t);
	snprintf(out, sizeof out, at > now ? "%s (in %s)" : "%s (%s ago)", t, span(at - now, d, sizeof d));
	return out;
}

static const char *plural(int64_t n, const char *one, const char *many) { return n == 1 ? one : many; }

static void print_open(const zl_snap_batch *sb, int64_t now)
{
	const zl_batch *b = &sb->b;
	char d[24];
	printf("  open    %s  %lld %s, %lld bytes, first file %s ago; ", b->id, (long long)b->file_count,
	       plural(b->file_count, "file", "files"), (long long)b->bytes, span(now - b->first_at, d, sizeof d));
	if (sb->due)
		printf("due now: %s%s%s\n", sb->due, sb->stuck ? "; stuck: " : "", sb->stuck ? esc(sb->why_stuck) : "");
	else if (sb->due_at)
		printf("falls due at %s\n", when(sb->due_at, now));
	else
		printf("never falls due: %s\n", esc(sb->why_stuck));
}

static void print_locked(const zl_snap_batch *sb, int64_t now)
{
	const zl_batch *b = &sb->b;
	printf("  locked  %s  %lld %s, attempt %d, ", b->id, (long long)b->file_count,
	       plural(b->file_count, "file", "files"), b->attempts);
	if (b->owner)
		printf("by %s, ", zl_cli_q(b->owner));
	if (!b->lease_until) /* as the original loader leaves a batch it locked */
		printf("without a lease");
	else if (b->owner)
		printf("lease until %s", when(b->lease_until, now));
	else
		printf("retry at %s", when(b->lease_until, now));
	if (!b->owner && b->error)
		printf(" after: %s", esc(b->error));
	if (sb->stuck)
		printf("; stuck: %s", esc(sb->why_stuck));
	putchar('\n');
}

static void print_last(const zl_snap_batch *sb, int64_t now)
{
	const zl_batch *b = &sb->b;
	printf("  last    %s  %s", b->id, zl_batch_status_name(b->status));
	if (sb->rows >= 0)
		printf(", %lld %s", (long long)sb->rows, plural(sb->rows, "row", "rows"));
	if (sb->load_ms >= 0)
		printf(" in %lld ms", (long long)sb->load_ms);
	printf(", finished %s\n", when(b->finished_at, now));
}

static void print_prefix(const zl_snap_prefix *p, int64_t now)
{
	printf("%s", zl_cli_q(p->prefix));
	if (!p->configured) {
		printf(" (no configuration)\n");
	} else {
		printf(": ");
		for (size_t i = 0; i < p->targets.n; i++)
			printf("%s%s", i ? ", " : "", zl_cli_q(p->targets.v[i]));
		printf("; batchSize %lld", (long long)p->batch_size);
		if (p->batch_size_bytes)
			printf(", batchSizeBytes %lld", (long long)p->batch_size_bytes);
		if (p->batch_timeout_ms)
			printf(", batchTimeoutSecs %lld", (long long)(p->batch_timeout_ms / 1000));
		putchar('\n');
	}
	if (!p->nopen)
		printf("  no open batch holds files\n");
	for (size_t i = 0; i < p->nopen; i++)
		print_open(&p->open[i], now);
	for (size_t i = 0; i < p->nlocked; i++)
		print_locked(&p->locked[i], now);
	if (p->nrecent)
		print_last(&p->recent[0], now);
	else
		printf("  no load yet\n");
	for (size_t i = 0; i < p->nerrors; i++)
		printf("  error   %s  finished %s: %s\n", p->errors[i].b.id, when(p->errors[i].b.finished_at, now),
		       esc(p->errors[i].b.error ? p->errors[i].b.error : "no error recorded"));
}

static void print_text(const zl_snapshot *s, const char *state, const char *store)
{
	printf("state  %s\nstore  %s\n", zl_cli_q(state), store ? zl_cli_q(store) : "none");
	if (!s->n)
		printf("\nno configuration and no batch\n");
	for (size_t i = 0; i < s->n; i++) {
		putchar('\n');
		print_prefix(&s->v[i], s->taken_at);
	}
	printf("\nnotifications: %lld pending", (long long)s->notices_pending);
	if (s->npending)
		printf(" (next due %s)", when(s->pending[0].next_at, s->taken_at));
	printf(", %lld failed in the last 24 hours\n\n", (long long)s->notices_failed);
	if (zl_snapshot_healthy(s)) {
		printf("healthy\n");
		return;
	}
	printf("%zu %s:\n", s->problems.n, plural((int64_t)s->problems.n, "problem", "problems"));
	for (size_t i = 0; i < s->problems.n; i++)
		printf("  %s\n", esc(s->problems.v[i]));
}

static json_t *str_json(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *count_json(int64_t n) { return n >= 0 ? json_integer(n) : json_null(); }

static json_t *secs_json(int64_t ms) { return ms % 1000 ? json_real((double)ms / 1000) : json_integer(ms / 1000); }

/* The batch as `batches list --json` shows it (owner, leaseUntil and retryAt always present),
 * with what the snapshot adds. */
static json_t *batch_json(const zl_snap_batch *sb)
{
	json_t *o = zl_cli_batch_json(&sb->b);
	const char *always[] = { "owner", "leaseUntil", "retryAt" };
	for (size_t i = 0; i < sizeof always / sizeof always[0]; i++)
		if (!json_object_get(o, always[i]))
			json_object_set_new(o, always[i], json_null());
	json_object_set_new(o, "dueAt", zl_cli_time_json(sb->due_at));
	json_object_set_new(o, "due", str_json(sb->due));
	json_object_set_new(o, "rows", count_json(sb->rows));
	json_object_set_new(o, "loadMs", count_json(sb->load_ms));
	json_object_set_new(o, "stuck", json_boolean(sb->stuck));
	json_object_set_new(o, "whyStuck", sb->stuck ? json_string(sb->why_stuck) : json_null());
	return o;
}

static json_t *batches_json(const zl_snap_batch *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, batch_json(&v[i]));
	return a;
}

static json_t *prefix_json(const zl_snap_prefix *p)
{
	json_t *o = json_pack("{s:s, s:b}", "prefix", p->prefix, "configured", p->configured);
	json_t *targets = json_array();
	for (size_t i = 0; i < p->targets.n; i++)
		json_array_append_new(targets, json_string(p->targets.v[i]));
	json_object_set_new(o, "targets", targets);
	json_object_set_new(o, "batchSize", p->configured ? json_integer(p->batch_size) : json_null());
	json_object_set_new(o, "batchSizeBytes", p->configured ? json_integer(p->batch_size_bytes) : json_null());
	json_object_set_new(o, "batchTimeoutSecs",
	                    p->configured ? secs_json(p->batch_timeout_ms) : json_null());
	json_object_set_new(o, "filesWaiting", json_integer(p->files_waiting));
	json_object_set_new(o, "oldestOpenAt", zl_cli_time_json(p->oldest_open_at));
	json_object_set_new(o, "open", batches_json(p->open, p->nopen));
	json_object_set_new(o, "locked", batches_json(p->locked, p->nlocked));
	json_object_set_new(o, "recent", batches_json(p->recent, p->nrecent));
	json_object_set_new(o, "errors", batches_json(p->errors, p->nerrors));
	return o;
}

static json_t *notices_json(const zl_notice_rec *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, zl_cli_notice_json(&v[i]));
	return a;
}

static void print_json(const zl_snapshot *s, const char *state, const char *store)
{
	json_t *o = json_object();
	json_object_set_new(o, "takenAt", zl_cli_time_json(s->taken_at));
	json_object_set_new(o, "state", json_string(state));
	json_object_set_new(o, "store", str_json(store));
	json_object_set_new(o, "healthy", json_boolean(zl_snapshot_healthy(s)));
	json_t *prefixes = json_array();
	for (size_t i = 0; i < s->n; i++)
		json_array_append_new(prefixes, prefix_json(&s->v[i]));
	json_object_set_new(o, "prefixes", prefixes);
	json_t *notes = json_pack("{s:I, s:I}", "pending", (json_int_t)s->notices_pending, "failed",
	                          (json_int_t)s->notices_failed);
	json_object_set_new(notes, "firstPending", notices_json(s->pending, s->npending));
	json_object_set_new(notes, "recentFailed", notices_json(s->failed, s->nfailed));
	json_object_set_new(o, "notifications", notes);
	json_t *problems = json_array();
	for (size_t i = 0; i < s->problems.n; i++)
		json_array_append_new(problems, json_string(s->problems.v[i]));
	json_object_set_new(o, "problems", problems);
	char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", text ? text : "null");
	free(text);
	json_decref(o);
}

int zl_cmd_status(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	int npos, rc = zl_cli_parse(cli, &status_cmd, argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos)
		return zl_cli_usage_error(cli->prog, "takes no arguments");
	zl_err err = { 0 };
	zl_state *st = NULL;
	zl_snapshot s = { 0 };
	char *state = zl_url_redacted(cli->state_url);
	char *store = cli->store_url && *cli->store_url ? zl_url_redacted(cli->store_url) : NULL;
	if (!state || (cli->store_url && *cli->store_url && !store)) {
		rc = zl_cli_fail(&(zl_err){ .code = ZL_ENOMEM, .msg = "out of memory" });
		goto out;
	}
	if (zl_cli_open_state(cli, &st, &err) || zl_snapshot_take(st, zl_now_ms(), &s, &err)) {
		zl_strvec secrets; /* the state's password must not reach the message */
		zl_strvec_init(&secrets);
		zl_scrub_add_url(&secrets, cli->state_url);
		zl_scrub_buf(err.msg, sizeof err.msg, &secrets);
		zl_scrub_release(&secrets);
		zl_err_prefix(&err, "cannot read the state %s", state);
		rc = zl_cli_fail(&err);
		goto out;
	}
	if (vals[0])
		print_json(&s, state, store);
	else
		print_text(&s, state, store);
	rc = zl_snapshot_healthy(&s) ? ZL_EXIT_OK : ZL_EXIT_FAIL;
out:
	zl_snapshot_release(&s);
	zl_state_close(st);
	free(state);
	free(store);
	return rc;
}
