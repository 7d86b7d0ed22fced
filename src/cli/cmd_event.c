/* zload event [FILE|-]: process S3 event JSON synchronously, one output line per record. */
#include "cli/cli.h"
#include "obs/metrics.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <stdlib.h>
#include <string.h>

#define EVENT_CAP (64u << 20)

const zl_opt zl_event_opts[] = {
	{ "no-load", 0, NULL, "only queue: leave due batches for a running serve or a later sweep" },
	{ 0 }
};

static const zl_cmd event_cmd = { "event", zl_cmd_event, "[FILE|-]",
	"Process S3 event JSON ({\"Records\":[...]}, AWS format): route, de-duplicate and queue every\n"
	"record, printing one line each (queued BUCKET/KEY batch=ID, duplicate, filtered, unrouted),\n"
	"then load the batches that are due (size, bytes or age).", zl_event_opts };

/* Appends s to dst (n bytes used of cap), cut as snprintf would cut; returns the bytes used. */
static size_t append_cut(char *dst, size_t n, size_t cap, const char *s)
{
	size_t k = strnlen(s, cap - 1 - n);
	memcpy(dst + n, s, k);
	return n + k;
}

static void print_record(void *ud, const zl_event_record *r, const zl_ingest_result *res, const char *error)
{
	if (!res)
		return; /* ignored, malformed and failed records are logged */
	char name[4096]; /* BUCKET/KEY, without a printf per record */
	size_t n = append_cut(name, 0, sizeof name, r->obj.bucket);
	n = append_cut(name, n, sizeof name, "/");
	n = append_cut(name, n, sizeof name, r->obj.key);
	name[n] = '\0';
	fputs(zl_ingest_outcome_name(res->outcome), stdout);
	putchar(' ');
	fputs(zl_cli_q(name), stdout);
	if (res->outcome == ZL_INGEST_QUEUED) {
		fputs(" batch=", stdout);
		fputs(res->batch_id, stdout);
	}
	putchar('\n');
}

int zl_cmd_event(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	int npos, rc = zl_cli_parse(cli, &event_cmd, argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos > 1)
		return zl_cli_usage_error(cli->prog, "expected at most one FILE");
	const char *path = npos ? argv[0] : "-";
	int no_load = vals[0] != NULL;

	zl_err err;
	zl_rt *rt = NULL;
	zl_store *store = NULL;
	zl_body_summary sum;
	char *body = NULL;
	size_t len;
	rc = ZL_EXIT_FAIL;
	if (zl_cli_read_file(path, EVENT_CAP, &body, &len, &err) ||
	    zl_cli_open_rt(cli, !no_load, no_load, &rt, &store, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	int irc = zl_rt_submit_body(rt, ZL_INTAKE_CLI, body, len, print_record, NULL, &sum, &err);
	fflush(stdout);
	if (irc == ZL_EINVAL) {
		ZL_LOG(ZL_ERROR, "malformed event skipped", ZL_S("source", path), ZL_S("error", err.msg));
		zl_cli_fail(&err);
		goto out;
	}
	rc = irc || sum.malformed ? ZL_EXIT_FAIL : ZL_EXIT_OK;
	if (no_load)
		goto out;
	/* The event lets the sweeper run too: batches due by age, expired leases, retries. */
	if (zl_rt_sweep(rt, &err))
		rc = zl_cli_fail(&err);
	if (zl_cli_drain(rt) != ZL_EXIT_OK)
		rc = ZL_EXIT_FAIL;
out:
	free(body);
	zl_cli_close_rt(rt, store);
	return rc;
}
