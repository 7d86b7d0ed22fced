/* zload trigger BUCKET/PREFIX: put the original loader's marker object, for deployments whose
 * event pipeline needs an event to run (zload's own sweeper does not). */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRIGGER_NAME "lambda-vertica-trigger-file.dummy"

static const zl_cmd trigger_cmd = { "trigger", zl_cmd_trigger, "BUCKET/PREFIX",
	"Put a small marker object, BUCKET/PREFIX/" TRIGGER_NAME ", so that an event reaches the\n"
	"loader (the original's cron-driven trigger file). zload serve does not need it: its sweeper\n"
	"loads batches by age on its own. Give the prefix a filenameFilterRegex that rejects it.", NULL };

int zl_cmd_trigger(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	int npos, rc = zl_cli_parse(cli, &trigger_cmd, argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos != 1 || !strchr(argv[0], '/'))
		return zl_cli_usage_error(cli->prog, "expected BUCKET/PREFIX");
	char *bucket = strdup(argv[0]);
	char *prefix = strchr(bucket, '/');
	*prefix++ = '\0';
	size_t n = strlen(prefix);
	while (n && prefix[n - 1] == '/')
		prefix[--n] = '\0';
	char key[2048];
	snprintf(key, sizeof key, "%s%s%s", prefix, n ? "/" : "", TRIGGER_NAME);
	static const char body[] = "zload trigger file: an event for the loader, not data\n";
	zl_err err;
	zl_store *store = NULL;
	if (zl_cli_open_store(cli, &store, 1, &err) || store->ops->put(store, bucket, key, body, sizeof body - 1, &err)) {
		rc = zl_cli_fail(&err);
	} else {
		printf("put %s/%s\n", bucket, key);
		rc = ZL_EXIT_OK;
	}
	zl_store_close(store);
	free(bucket);
	return rc;
}
