/* zload backfill BUCKET/PREFIX: queue every stored object not yet recorded. */
#include "cli/cli.h"
#include "cli/live_line.h"
#include "obs/metrics.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <stdlib.h>
#include <string.h>

enum { B_SINCE, B_NO_LOAD, B_COUNT };
static const zl_opt backfill_opts[] = {
	{ "since", 0, "TIME", "only objects modified at or after TIME (ISO-8601 or Unix seconds)" },
	{ "no-load", 0, NULL, "only queue: leave due batches for a running serve" },
	{ 0 }
};

static const zl_cmd backfill_cmd = { "backfill", zl_cmd_backfill, "BUCKET[/PREFIX]",
	"List the store under BUCKET/PREFIX and queue every object not yet recorded, as if its event\n"
	"had arrived (routing, filter and de-duplication apply); then load the batches that are due.\n"
	"Prints progress: objects listed, queued, already known.", backfill_opts };

#define PAGE 1000 /* objects submitted together: one state transaction where the state has group commit */

typedef struct backfill {
	zl_rt *rt;
	int64_t since;
	int64_t listed, queued, known, skipped, failed, older, refused;
	int64_t last_progress;
	int live;            /* progress on a terminal's stderr, redrawn in place */
	zl_object page[PAGE];  /* listed objects not yet submitted (copies) */
	size_t npage;
} backfill;

static void summary(const backfill *b, zl_buf *out)
{
	zl_buf_printf(out, "listed %lld, queued %lld, already known %lld, not routed or filtered %lld",
	              (long long)b->listed, (long long)b->queued, (long long)b->known, (long long)b->skipped);
	if (b->failed)
		zl_buf_printf(out, ", failed %lld", (long long)b->failed);
	if (b->older)
		zl_buf_printf(out, ", older than --since %lld", (long long)b->older);
	if (b->refused)
		zl_buf_printf(out, ", refused %lld", (long long)b->refused);
}

/* A live line on a terminal, redrawn in place; the final summary goes to stdout. */
static void progress(backfill *b, int final)
{
	zl_buf text;
	zl_buf_init(&text, 0);
	summary(b, &text);
	if (b->live)
		zl_live_show(final ? NULL : zl_buf_str(&text));
	if (final) {
		printf("%s\n", zl_buf_str(&text));
		fflush(stdout);
	}
	zl_buf_release(&text);
}

/* The outcome of one object of a page (failures are logged by the runtime). */
static void on_result(void *ud, const zl_event_record *rec, const zl_ingest_result *res, const char *error)
{
	backfill *b = ud;
	if (!res)
		b->failed++;
	else if (res->outcome == ZL_INGEST_QUEUED)
		b->queued++;
	else if (res->outcome == ZL_INGEST_DUPLICATE)
		b->known++;
	else
		b->skipped++;
}

/* Submits the page of listed objects. */
static void submit_page(backfill *b)
{
	if (!b->npage)
		return;
	zl_body_summary sum;
	zl_err err;
	zl_rt_submit_objects(b->rt, ZL_INTAKE_BACKFILL, b->page, b->npage, ZL_SUBMIT_QUIET, on_result, b, &sum, &err);
	for (size_t i = 0; i < b->npage; i++)
		zl_object_release(&b->page[i]);
	b->npage = 0;
	int64_t now = zl_now_ms();
	if (now - b->last_progress >= 1000) {
		progress(b, 0);
		b->last_progress = now;
	}
}

static int on_object(void *ud, const zl_object *obj, const zl_err *refused)
{
	backfill *b = ud;
	if (refused) {
		b->refused++;
		ZL_LOG(ZL_ERROR, "object refused", ZL_S("bucket", obj->bucket), ZL_S("key", obj->key),
		       ZL_S("error", refused->msg));
		return 0;
	}
	b->listed++;
	if (b->since && obj->modified && obj->modified < b->since) {
		b->older++;
		return 0;
	}
	zl_object *o = &b->page[b->npage];
	*o = (zl_object){ .bucket = strdup(obj->bucket), .key = strdup(obj->key), .size = obj->size,
		          .etag = obj->etag ? strdup(obj->etag) : NULL, .modified = obj->modified };
	if (!o->bucket || !o->key || (obj->etag && !o->etag)) {
		zl_object_release(o);
		b->failed++;
		ZL_LOG(ZL_ERROR, "cannot queue object", ZL_S("bucket", obj->bucket), ZL_S("key", obj->key),
		       ZL_S("error", "out of memory"));
		return 0;
	}
	if (++b->npage == PAGE)
		submit_page(b);
	return 0;
}

int zl_cmd_backfill(zl_cli *cli, int argc, char **argv)
{
	const char *vals[B_COUNT];
	int npos, rc = zl_cli_parse(cli, &backfill_cmd, argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos != 1)
		return zl_cli_usage_error(cli->prog, "expected BUCKET[/PREFIX]");
	backfill b = { 0 };
	if (vals[B_SINCE] && zl_time_parse(vals[B_SINCE], &b.since) != 0)
		return zl_cli_usage_error(cli->prog, "--since: \"%s\" is not an ISO-8601 time or Unix seconds", vals[B_SINCE]);
	char *bucket = strdup(argv[0]);
	char *slash = strchr(bucket, '/');
	const char *prefix = slash ? slash + 1 : "";
	if (slash)
		*slash = '\0';
	zl_err err;
	zl_rt *rt = NULL;
	zl_store *store = NULL;
	rc = ZL_EXIT_FAIL;
	if (zl_cli_open_rt(cli, 1, vals[B_NO_LOAD] != NULL, &rt, &store, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	b.rt = rt;
	b.live = zl_live_wanted();
	int lrc = store->ops->list(store, bucket, prefix, on_object, &b, &err);
	submit_page(&b); /* what was listed is queued, even when the listing stopped early */
	if (lrc) {
		progress(&b, 1);
		zl_cli_fail(&err);
		goto out;
	}
	progress(&b, 1);
	rc = b.failed || b.refused ? ZL_EXIT_FAIL : ZL_EXIT_OK;
	if (vals[B_NO_LOAD])
		goto out;
	if (zl_rt_sweep(rt, &err))
		rc = zl_cli_fail(&err);
	if (zl_cli_drain_live(rt) != ZL_EXIT_OK)
		rc = ZL_EXIT_FAIL;
out:
	zl_cli_close_rt(rt, store);
	free(bucket);
	return rc;
}
