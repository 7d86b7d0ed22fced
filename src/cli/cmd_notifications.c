/* zload notifications list|retry: the outbox of batch notifications. */
#include "cli/cli.h"
#include "cli/json_out.h"
#include "notify/notify.h"
#include "util/quote.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int cmd_list(zl_cli *cli, int argc, char **argv);
static int cmd_retry(zl_cli *cli, int argc, char **argv);

enum { L_STATUS, L_BATCH, L_LIMIT, L_JSON };
static const zl_opt list_opts[] = {
	{ "status", 0, "STATUS", "only notifications in this status: pending, sent or failed" },
	{ "batch", 0, "ID", "only the notifications of this batch" },
	{ "limit", 0, "N", "at most N, newest first" },
	{ "json", 0, NULL, "print a JSON array (with each message)" },
	{ 0 }
};
static const zl_opt retry_opts[] = {
	{ "failed", 0, NULL, "queue every failed notification again" },
	{ 0 }
};

static const zl_cmd notify_cmds[] = {
	{ "list", cmd_list, NULL, "list notifications, newest first: destination, status, attempts, last error", list_opts },
	{ "retry", cmd_retry, "ID|--failed", "queue a failed (or pending) notification again, due now, attempts from 0", retry_opts },
	{ 0 }
};

static void print_table(const zl_notice_rec *v, size_t n)
{
	printf("%-6s  %-7s  %-7s  %-8s  %-36s  %-24s  %-40s  %s\n", "ID", "STATUS", "EVENT", "ATTEMPTS", "BATCH", "WHEN",
	       "DESTINATION", "LAST ERROR");
	zl_buf e;
	zl_buf_init(&e, 0);
	for (size_t i = 0; i < n; i++) {
		char t[40] = "-", tries[24], shown[1024];
		if (v[i].status == ZL_NOTICE_PENDING)
			zl_time_format(v[i].next_at, t, sizeof t);
		else if (v[i].status == ZL_NOTICE_SENT)
			zl_time_format(v[i].sent_at, t, sizeof t);
		snprintf(tries, sizeof tries, "%d/%d", v[i].attempts, v[i].max_attempts);
		zl_buf_reset(&e);
		zl_escape_ctl(&e, v[i].last_error ? v[i].last_error : "-");
		printf("%-6lld  %-7s  %-7s  %-8s  %-36s  %-24s  %-40s  %s\n", (long long)v[i].id,
		       zl_notice_status_name(v[i].status), v[i].event, tries, v[i].batch_id, t,
		       zl_cli_q(zl_notify_display(v[i].dest, shown, sizeof shown)), zl_buf_str(&e));
	}
	zl_buf_release(&e);
}

static int cmd_list(zl_cli *cli, int argc, char **argv)
{
	const char *vals[4];
	zl_notice_filter f = { 0 };
	char batch[ZL_UUID_LEN];
	int npos, rc = zl_cli_parse(cli, &notify_cmds[0], argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos)
		return zl_cli_usage_error(cli->prog, "takes no arguments");
	zl_notice_status status;
	if (vals[L_STATUS] && zl_notice_status_parse(vals[L_STATUS], &status))
		return zl_cli_usage_error(cli->prog, "--status: \"%s\" is not pending, sent or failed", vals[L_STATUS]);
	if (vals[L_STATUS])
		f.status_mask = ZL_STATUS_BIT(status);
	long limit = 0;
	if (vals[L_LIMIT] && zl_cli_int(cli, "limit", vals[L_LIMIT], 1, 1L << 30, &limit))
		return ZL_EXIT_USAGE;
	f.limit = (size_t)limit;
	zl_err err;
	zl_state *st = NULL;
	zl_notice_rec *v = NULL;
	size_t n = 0;
	if ((rc = zl_cli_open_state(cli, &st, &err))) {
		rc = zl_cli_fail(&err);
		goto out;
	}
	if (vals[L_BATCH]) { /* an abbreviated id of a batch that still exists, else the id as given */
		if (st->ops->batch_resolve(st, vals[L_BATCH], batch, &err) != 0)
			snprintf(batch, sizeof batch, "%s", vals[L_BATCH]);
		f.batch_id = batch;
	}
	if (st->ops->notice_list(st, &f, &v, &n, &err)) {
		rc = zl_cli_fail(&err);
		goto out;
	}
	if (vals[L_JSON]) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, zl_cli_notice_json(&v[i]));
		char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s);
		free(s);
		json_decref(arr);
	} else {
		print_table(v, n);
	}
	rc = ZL_EXIT_OK;
out:
	zl_notice_list_free(v, n);
	zl_state_close(st);
	return rc;
}

static int cmd_retry(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	int npos, rc = zl_cli_parse(cli, &notify_cmds[1], argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if ((npos == 1) == (vals[0] != NULL))
		return zl_cli_usage_error(cli->prog, "expected a notification ID or --failed");
	long long id = 0;
	char *end = NULL;
	if (npos && ((id = strtoll(argv[0], &end, 10)) <= 0 || *end))
		return zl_cli_usage_error(cli->prog, "\"%s\" is not a notification ID (see zload notifications list)", argv[0]);
	zl_err err;
	zl_state *st = NULL;
	size_t n = 0;
	if (zl_cli_open_state(cli, &st, &err) || st->ops->notice_requeue(st, (int64_t)id, zl_now_ms(), &n, &err)) {
		rc = zl_cli_fail(&err);
	} else {
		if (id)
			printf("notification %lld queued again: due now\n", id);
		else
			printf("%zu failed notification%s queued again: due now\n", n, n == 1 ? "" : "s");
		rc = ZL_EXIT_OK;
	}
	zl_state_close(st);
	return rc;
}

int zl_cmd_notifications(zl_cli *cli, int argc, char **argv)
{
	return zl_cli_dispatch(cli, "notifications", notify_cmds, argc, argv);
}
