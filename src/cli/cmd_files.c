/* zload files show|delete BUCKET/KEY */
#include "cli/cli.h"
#include "util/timeutil.h"

#include <string.h>

static int cmd_show(zl_cli *cli, int argc, char **argv);
static int cmd_delete(zl_cli *cli, int argc, char **argv);
static int cmd_reprocess(zl_cli *cli, int argc, char **argv);

static const zl_cmd file_cmds[] = {
	{ "show", cmd_show, "BUCKET/KEY", "which batch holds a file, when it arrived, the batch's status", NULL },
	{ "delete", cmd_delete, "BUCKET/KEY", "forget a file, so its next event loads it again", NULL },
	{ "reprocess", cmd_reprocess, "BUCKET/KEY", "forget a file and re-trigger its event (copy in place)", NULL },
	{ 0 }
};

static int parse_one(zl_cli *cli, const zl_cmd *cmd, int argc, char **argv)
{
	const char *vals[1];
	int npos, rc = zl_cli_parse(cli, cmd, argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos != 1)
		return zl_cli_usage_error(cli->prog, "expected %s", cmd->args);
	return -1;
}

static int cmd_show(zl_cli *cli, int argc, char **argv)
{
	int rc = parse_one(cli, &file_cmds[0], argc, argv);
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
	printf("file      %s\nprefix    %s\nsize      %lld\nreceived  %s\nbatch     %s\nstatus    %s\n", f.file_id,
	       f.prefix, (long long)f.size, zl_time_format(f.received_at, t, sizeof t), f.batch_id,
	       f.batch_status[0] ? f.batch_status : "(batch deleted)");
	rc = ZL_EXIT_OK;
out:
	zl_file_rec_release(&f);
	zl_state_close(st);
	return rc;
}

static int cmd_delete(zl_cli *cli, int argc, char **argv)
{
	int rc = parse_one(cli, &file_cmds[1], argc, argv);
	if (rc >= 0)
		return rc;
	zl_err err;
	zl_state *st = NULL;
	if (zl_cli_open_state(cli, &st, &err) || st->ops->file_delete(st, argv[0], &err)) {
		rc = zl_cli_fail(&err);
	} else {
		printf("forgot file %s: its next event will load it again\n", argv[0]);
		rc = ZL_EXIT_OK;
	}
	zl_state_close(st);
	return rc;
}

static int cmd_reprocess(zl_cli *cli, int argc, char **argv)
{
	int rc = parse_one(cli, &file_cmds[2], argc, argv);
	if (rc >= 0)
		return rc;
	zl_err err;
	zl_state *st = NULL;
	zl_store *store = NULL;
	zl_file_rec f = { 0 };
	rc = ZL_EXIT_FAIL;
	if (zl_cli_open_state(cli, &st, &err) || zl_cli_open_store(cli, &store, 1, &err) ||
	    st->ops->file_get(st, argv[0], &f, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	if (!store->ops->copy_in_place) {
		fprintf(stderr, "zload: this store cannot re-trigger events; use 'zload files delete' and send the event again\n");
		goto out;
	}
	/* Forget first: the event the copy triggers must find no record. */
	if (st->ops->file_delete(st, f.file_id, &err) || store->ops->copy_in_place(store, f.bucket, f.key, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	printf("forgot file %s and re-triggered %s/%s\n", f.file_id, f.bucket, f.key);
	rc = ZL_EXIT_OK;
out:
	zl_file_rec_release(&f);
	zl_store_close(store);
	zl_state_close(st);
	return rc;
}

int zl_cmd_files(zl_cli *cli, int argc, char **argv)
{
	return zl_cli_dispatch(cli, "files", file_cmds, argc, argv);
}
