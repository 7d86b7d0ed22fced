/* zload batches list|show|reprocess|unlock|delete */
#include "cli/cli.h"
#include "cli/json_out.h"
#include "core/route.h"
#include "obs/batch_text.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int cmd_list(zl_cli *cli, int argc, char **argv);
static int cmd_show(zl_cli *cli, int argc, char **argv);
static int cmd_reprocess(zl_cli *cli, int argc, char **argv);
static int cmd_unlock(zl_cli *cli, int argc, char **argv);
static int cmd_delete(zl_cli *cli, int argc, char **argv);

enum { L_STATUS, L_PREFIX, L_SINCE, L_UNTIL, L_JSON, L_LIMIT };
static const zl_opt list_opts[] = {
	{ "status", 0, "STATUS", "only batches in this status: open, locked, complete or error" },
	{ "prefix", 0, "PREFIX", "only batches of this s3Prefix" },
	{ "since", 0, "TIME", "created at or after TIME (ISO-8601 or Unix seconds)" },
	{ "until", 0, "TIME", "created at or before TIME" },
	{ "json", 0, NULL, "print a JSON array" },
	{ "limit", 0, "N", "at most N batches, newest first" },
	{ 0 }
};
static const zl_opt show_opts[] = { { "json", 0, NULL, "print JSON" }, { 0 } };
static const zl_opt unlock_opts[] = {
	{ "force", 0, NULL, "unlock even while a loader's lease is live (it may still be loading)" },
	{ 0 }
};
enum { D_STATUS, D_UNTIL, D_YES };
static const zl_opt delete_opts[] = {
	{ "status", 0, "STATUS", "complete or error (required)" },
	{ "until", 0, "TIME", "only batches created at or before TIME" },
	{ "yes", 'y', NULL, "delete; without it, only list what would be deleted" },
	{ 0 }
};

static const zl_cmd batch_cmds[] = {
	{ "list", cmd_list, NULL, "list batches, newest first", list_opts },
	{ "show", cmd_show, "ID", "files, per-target status, rows, SQL, errors and timings of a batch", show_opts },
	{ "reprocess", cmd_reprocess, "ID", "load a complete or error batch again (targets whose ledger has it are skipped)", NULL },
	{ "unlock", cmd_unlock, "ID", "return a locked batch to open; it loads again at once", unlock_opts },
	{ "delete", cmd_delete, NULL, "delete finished batches (dry run without --yes)", delete_opts },
	{ 0 }
};

static const zl_cmd *find_cmd(const char *name)
{
	for (const zl_cmd *c = batch_cmds; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* Parses a command's options; returns -1 to go on, or an exit code. */
static int parse(zl_cli *cli, const char *name, int argc, char **argv, const char **vals, int want)
{
	const zl_cmd *cmd = find_cmd(name);
	int npos, rc = zl_cli_parse(cli, cmd, argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos != want)
		return zl_cli_usage_error(cli->prog, "expected %s", cmd->args ? cmd->args : "no arguments");
	return -1;
}

static int parse_time(zl_cli *cli, const char *opt, const char *s, int64_t *ms)
{
	if (!s)
		return 0;
	if (zl_time_parse(s, ms) != 0)
		return zl_cli_usage_error(cli->prog, "--%s: \"%s\" is not an ISO-8601 time or Unix seconds", opt, s);
	return 0;
}

static int parse_status(zl_cli *cli, const char *s, unsigned allowed, unsigned *mask)
{
	zl_batch_status st;
	if (!s)
		return 0;
	if (zl_batch_status_parse(s, &st) != 0 || !(allowed & ZL_STATUS_BIT(st)))
		return zl_cli_usage_error(cli->prog, "--status: \"%s\" is not one of %s", s,
		                          allowed == ZL_STATUS_ALL ? "open, locked, complete, error" : "complete, error");
	*mask = ZL_STATUS_BIT(st);
	return 0;
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", s);
	free(s);
}

static int cmd_list(zl_cli *cli, int argc, char **argv)
{
	const char *vals[6];
	zl_batch_filter f = { 0 };
	int rc = parse(cli, "list", argc, argv, vals, 0);
	if (rc >= 0)
		return rc;
	if (parse_status(cli, vals[L_STATUS], ZL_STATUS_ALL, &f.status_mask) ||
	    parse_time(cli, "since", vals[L_SINCE], &f.since) || parse_time(cli, "until", vals[L_UNTIL], &f.until))
		return ZL_EXIT_USAGE;
	if (vals[L_LIMIT]) {
		char *end;
		long n = strtol(vals[L_LIMIT], &end, 10);
		if (*end || n <= 0)
			return zl_cli_usage_error(cli->prog, "--limit: expected a positive number");
		f.limit = (size_t)n;
	}
	char *prefix = vals[L_PREFIX] ? zl_prefix_normalised(vals[L_PREFIX]) : NULL;
	f.prefix = prefix;
	zl_err err;
	zl_state *st = NULL;
	zl_batch *v = NULL;
	size_t n = 0;
	if (zl_cli_open_state(cli, &st, &err) || st->ops->batch_list(st, &f, &v, &n, &err)) {
		rc = zl_cli_fail(&err);
		goto out;
	}
	if (vals[L_JSON]) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, zl_cli_batch_json(&v[i]));
		print_json(arr);
		json_decref(arr);
	} else {
		printf("%-36s  %-8s  %-24s  %5s  %10s  %-24s  %s\n", "ID", "STATUS", "CREATED", "FILES", "BYTES",
		       "PREFIX", "ATTEMPTS");
		for (size_t i = 0; i < n; i++) {
			char t[40];
			printf("%-36s  %-8s  %-24s  %5lld  %10lld  %-24s  %d\n", v[i].id, zl_batch_status_name(v[i].status),
			       zl_time_format(v[i].created_at, t, sizeof t), (long long)v[i].file_count,
			       (long long)v[i].bytes, zl_cli_q(v[i].prefix), v[i].attempts);
		}
	}
	rc = ZL_EXIT_OK;
out:
	zl_batch_list_free(v, n);
	zl_state_close(st);
	return rc;
}

/* The text of batches show, on stdout. */
static int print_show(const zl_batch *b)
{
	zl_buf text;
	zl_buf_init(&text, SIZE_MAX);
	int rc = zl_batch_text(&text, b);
	if (rc == 0)
		fwrite(text.data, 1, text.len, stdout);
	zl_buf_release(&text);
	return rc;
}

static int cmd_show(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	int rc = parse(cli, "show", argc, argv, vals, 1);
	if (rc >= 0)
		return rc;
	zl_err err;
	zl_state *st = NULL;
	zl_batch b = { 0 };
	json_t *result = NULL;
	char id[ZL_UUID_LEN];
	if (zl_cli_open_state(cli, &st, &err) || st->ops->batch_resolve(st, argv[0], id, &err) ||
	    st->ops->batch_get(st, id, &b, &err)) {
		rc = zl_cli_fail(&err);
		goto out;
	}
	result = b.result ? json_loads(b.result, JSON_PRESERVE_ORDER, NULL) : NULL;
	if (vals[0]) {
		json_t *o = zl_cli_batch_json(&b);
		json_t *files = json_array();
		char t[40];
		for (size_t i = 0; i < b.nfiles; i++)
			json_array_append_new(files, json_pack("{s:s, s:s, s:I, s:s}", "bucket", b.files[i].bucket, "key",
			                                       b.files[i].key, "size", (json_int_t)b.files[i].size, "received",
			                                       zl_time_format(b.files[i].received_at, t, sizeof t)));
		json_object_set_new(o, "fileList", files);
		json_object_set(o, "result", result ? result : json_null());
		print_json(o);
		json_decref(o);
	} else if (print_show(&b)) {
		zl_err_set(&err, ZL_ENOMEM, "batch %s: out of memory", b.id);
		rc = zl_cli_fail(&err);
		goto out;
	}
	rc = ZL_EXIT_OK;
out:
	json_decref(result);
	zl_batch_release(&b);
	zl_state_close(st);
	return rc;
}

static int cmd_reprocess(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	int rc = parse(cli, "reprocess", argc, argv, vals, 1);
	if (rc >= 0)
		return rc;
	zl_err err;
	zl_rt *rt = NULL;
	zl_store *store = NULL;
	char id[ZL_UUID_LEN];
	if (zl_cli_open_rt(cli, 1, 0, &rt, &store, &err) || zl_rt_reprocess(rt, argv[0], id, &err))
		rc = zl_cli_fail(&err);
	else
		rc = zl_cli_drain(rt);
	zl_cli_close_rt(rt, store);
	return rc;
}

static int cmd_unlock(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	int rc = parse(cli, "unlock", argc, argv, vals, 1);
	if (rc >= 0)
		return rc;
	zl_err err;
	zl_rt *rt = NULL;
	zl_store *store = NULL;
	char id[ZL_UUID_LEN];
	if (zl_cli_open_rt(cli, 0, 1, &rt, &store, &err) || zl_rt_unlock(rt, argv[0], vals[0] != NULL, id, &err)) {
		rc = zl_cli_fail(&err);
	} else {
		printf("unlocked batch %s: it is open again and loads at the next sweep\n", id);
		rc = ZL_EXIT_OK;
	}
	zl_cli_close_rt(rt, store);
	return rc;
}

static int cmd_delete(zl_cli *cli, int argc, char **argv)
{
	const char *vals[3];
	zl_batch_filter f = { 0 };
	int rc = parse(cli, "delete", argc, argv, vals, 0);
	if (rc >= 0)
		return rc;
	if (!vals[D_STATUS])
		return zl_cli_usage_error(cli->prog, "--status complete|error is required");
	if (parse_status(cli, vals[D_STATUS], ZL_STATUS_BIT(ZL_BATCH_COMPLETE) | ZL_STATUS_BIT(ZL_BATCH_ERROR),
	                 &f.status_mask) ||
	    parse_time(cli, "until", vals[D_UNTIL], &f.until))
		return ZL_EXIT_USAGE;
	zl_err err;
	zl_state *st = NULL;
	zl_batch *v = NULL;
	size_t n = 0, deleted = 0;
	if (zl_cli_open_state(cli, &st, &err) || st->ops->batch_list(st, &f, &v, &n, &err)) {
		rc = zl_cli_fail(&err);
		goto out;
	}
	rc = ZL_EXIT_OK;
	for (size_t i = 0; i < n; i++) {
		if (!vals[D_YES]) {
			printf("would delete %s %s %s\n", v[i].id, zl_batch_status_name(v[i].status), zl_cli_q(v[i].prefix));
			continue;
		}
		if (st->ops->batch_delete(st, v[i].id, &err)) {
			rc = zl_cli_fail(&err);
			continue;
		}
		printf("deleted %s %s %s\n", v[i].id, zl_batch_status_name(v[i].status), zl_cli_q(v[i].prefix));
		deleted++;
	}
	if (vals[D_YES])
		printf("%zu batch%s deleted\n", deleted, deleted == 1 ? "" : "es");
	else
		printf("%zu batch%s would be deleted; run again with --yes to delete\n", n, n == 1 ? "" : "es");
out:
	zl_batch_list_free(v, n);
	zl_state_close(st);
	return rc;
}

int zl_cmd_batches(zl_cli *cli, int argc, char **argv)
{
	return zl_cli_dispatch(cli, "batches", batch_cmds, argc, argv);
}
