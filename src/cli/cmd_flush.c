/* zload flush PREFIX: load a prefix's open batch now, whether or not it is due. */
#include "cli/cli.h"
#include "util/timeutil.h"

#include <string.h>

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
	zl_engine e;
	zl_store *store = NULL;
	zl_batch *v = NULL;
	size_t n = 0, flushed = 0;
	if (zl_cli_open_engine(cli, &e, &store, &err))
		return zl_cli_fail(&err);
	rc = ZL_EXIT_FAIL;
	const char *prefix = argv[0];
	if (!zl_engine_config(&e, prefix)) {
		fprintf(stderr, "zload: no configuration for prefix \"%s\"\n", prefix);
		goto out;
	}
	zl_batch_filter f = { .status_mask = ZL_STATUS_BIT(ZL_BATCH_OPEN), .prefix = prefix };
	if (e.st->ops->batch_list(e.st, &f, &v, &n, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	rc = ZL_EXIT_OK;
	for (size_t i = 0; i < n; i++) {
		if (v[i].file_count == 0)
			continue;
		int lrc = zl_engine_lock(&e, v[i].id, prefix, ZL_LOCK_OPEN, zl_now_ms(), "flush", &err);
		if (lrc == ZL_EBUSY)
			continue; /* a loader took it meanwhile */
		if (lrc) {
			rc = zl_cli_fail(&err);
			continue;
		}
		flushed++;
		if (zl_cli_load_and_report(&e, v[i].id) != ZL_EXIT_OK)
			rc = ZL_EXIT_FAIL;
	}
	if (!flushed)
		printf("nothing to flush for %s: no open batch holds files\n", prefix);
out:
	zl_batch_list_free(v, n);
	zl_engine_close(&e);
	zl_store_close(store);
	return rc;
}
