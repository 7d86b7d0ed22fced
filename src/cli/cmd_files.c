/* zload files show|delete|reprocess BUCKET/KEY */
#include "cli/cli.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int cmd_show(zl_cli *cli, int argc, char **argv);
static int cmd_delete(zl_cli *cli, int argc, char **argv);
static int cmd_reprocess(zl_cli *cli, int argc, char **argv);

static const zl_opt show_opts[] = { { "json", 0, NULL, "print JSON" }, { 0 } };

static const zl_cmd file_cmds[] = {
	{ "show", cmd_show, "BUCKET/KEY", "which batch holds a file, when it arrived, the batch's status", show_opts },
	{ "delete", cmd_delete, "BUCKET/KEY", "forget a file, so its next event loads it again", NULL },
	{ "reprocess", cmd_reprocess, "BUCKET/KEY", "forget a file and re-trigger its event (copy in place)", NULL },
	{ 0 }
};

static int parse_one(zl_cli *cli, const zl_cmd *cmd, int argc, char **argv, const char **vals)
{
	int npos, rc = zl_cli_parse(cli, cmd, argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos != 1)
		return zl_cli_usage_error(cli->prog, "expected %s", cmd->args);
	return -1;
}

static void print_json(const zl_file_rec *f)
{
	char t[40];
	json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:I, s:s, s:s, s:s?}", "file", f->file_id, "bucket", f->bucket,
	                      "key", f->key, "etag", f->etag, "prefix", f->prefix, "size", (json_int_t)f->size,
	                      "received", zl_time_format(f->received_at, t, sizeof t), "batch", f->batch_id,
	                      "status", f->batch_status[0] ? f->batch_status : NULL);
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", s);
	free(s);
	json_decref(o);
}

static int cmd_show(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	int rc = parse_one(cli, &file_cmds[0], argc, argv, vals);
	if (rc >= 0)
		return rc;
	zl_err err;
	zl_state *st = NULL;
	zl_file_rec f = { 0 };
	if (zl_cli_open_state(cli, &st, &err) || st->ops->file_get(st, argv[0], &f, &err)) {
		rc = zl_cli_fail(&err);
		goto out;
	}
	char t[40];
	if (vals[0])
		print_json(&f);
	else
		printf("file      %s\nprefix    %s\nsize      %lld\nreceived  %s\nbatch     %s\nstatus    %s\n",
		       zl_cli_q(f.file_id), zl_cli_q(f.prefix), (long long)f.size, zl_time_format(f.received_at, t, sizeof t),
		       f.batch_id, f.batch_status[0] ? f.batch_status : "(batch deleted)");
	rc = ZL_EXIT_OK;
out:
	zl_file_rec_release(&f);
	zl_state_close(st);
	return rc;
}

/* delete and reprocess: forget the record, and with retrigger copy the object onto itself. */
static int forget(zl_cli *cli, const zl_cmd *cmd, int retrigger, int argc, char **argv)
{
	const char *vals[1];
	int rc = parse_one(cli, cmd, argc, argv, vals);
	if (rc >= 0)
		return rc;
	zl_err err;
	zl_rt *rt = NULL;
	zl_store *store = NULL;
	zl_file_rec f = { 0 };
	if (zl_cli_open_rt(cli, retrigger, 1, &rt, &store, &err) || zl_rt_forget(rt, argv[0], retrigger, &f, &err)) {
		rc = zl_cli_fail(&err);
	} else {
		char name[4096];
		snprintf(name, sizeof name, "%s/%s", f.bucket, f.key);
		if (retrigger)
			printf("forgot file %s and re-triggered %s\n", zl_cli_q(f.file_id), zl_cli_q(name));
		else
			printf("forgot file %s: its next event will load it again\n", zl_cli_q(f.file_id));
		rc = ZL_EXIT_OK;
	}
	zl_file_rec_release(&f);
	zl_cli_close_rt(rt, store);
	return rc;
}

static int cmd_delete(zl_cli *cli, int argc, char **argv) { return forget(cli, &file_cmds[1], 0, argc, argv); }

static int cmd_reprocess(zl_cli *cli, int argc, char **argv) { return forget(cli, &file_cmds[2], 1, argc, argv); }

int zl_cmd_files(zl_cli *cli, int argc, char **argv)
{
	return zl_cli_dispatch(cli, "files", file_cmds, argc, argv);
}
