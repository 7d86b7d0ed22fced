/* zload flush PREFIX: load a prefix's open batch now, whether or not it is due. */
#include "cli/cli.h"

const zl_opt zl_flush_opts[] = { { 0 } };

static const zl_cmd flush_cmd = { "flush", zl_cmd_flush, "PREFIX",
	"Load the open batch of PREFIX (an s3Prefix) now, whatever its size or age.", zl_flush_opts };

int zl_cmd_flush(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	int npos, rc = zl_cli_parse(cli, &flush_cmd, argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos != 1)
		return zl_cli_usage_error(cli->prog, "expected PREFIX");
	zl_err err;
	zl_rt *rt = NULL;
	zl_store *store = NULL;
	size_t n = 0;
	if (zl_cli_open_rt(cli, 1, 0, &rt, &store, &err) || zl_rt_flush(rt, argv[0], &n, &err)) {
		rc = zl_cli_fail(&err);
		goto out;
	}
	if (!n)
		printf("nothing to flush for %s: no open batch holds files\n", zl_cli_q(argv[0]));
	rc = zl_cli_drain_live(rt);
out:
	zl_cli_close_rt(rt, store);
	return rc;
}
