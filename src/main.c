/* zload: the command table and global options. */
#include "cli/cli.h"
#include "state/state.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ZL_VERSION
#define ZL_VERSION "0.1.0"
#endif

static const zl_cmd commands[] = {
	{ "config", zl_cmd_config, "COMMAND", "store, show and delete load configurations", NULL },
	{ "serve", zl_cmd_serve, NULL, "run the loader daemon: watch, batch and load", zl_serve_opts },
	{ "event", zl_cmd_event, "[FILE|-]", "process S3 event JSON (default: stdin)", zl_event_opts },
	{ "flush", zl_cmd_flush, "PREFIX", "load the open batch of a prefix now", zl_flush_opts },
	{ "backfill", zl_cmd_backfill, "BUCKET[/PREFIX]", "queue every stored object not yet recorded", NULL },
	{ "trigger", zl_cmd_trigger, "BUCKET/PREFIX", "put a marker object that makes the store emit an event", NULL },
	{ "batches", zl_cmd_batches, "COMMAND", "list, show, reprocess, unlock and delete batches", NULL },
	{ "files", zl_cmd_files, "COMMAND", "show and forget file records", NULL },
	{ 0 }
};

static void usage(FILE *f)
{
	fprintf(f, "usage: zload [global options] COMMAND [options] [args]\n\n"
	           "zload loads files that land in object storage into databases, in batches, exactly once.\n\n"
	           "commands:\n");
	for (const zl_cmd *c = commands; c->name; c++) {
		char left[64];
		snprintf(left, sizeof left, "%s %s", c->name, c->args ? c->args : "");
		fprintf(f, "  %-26s %s\n", left, c->summary);
	}
	fprintf(f, "\nglobal options (before or after the command):\n");
	for (const zl_opt *o = zl_global_opts; o->name; o++) {
		char left[48];
		char shortopt[8] = "";
		if (o->short_name)
			snprintf(shortopt, sizeof shortopt, "-%c, ", o->short_name);
		snprintf(left, sizeof left, "%s--%s%s%s", shortopt, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-26s %s\n", left, o->help);
	}
	fprintf(f, "  %-26s %s\n  %-26s %s\n\nRun 'zload COMMAND --help' for more.\n", "-h, --help",
	        "show this help", "--version", "show the version");
}

int main(int argc, char **argv)
{
	zl_cli cli = { 0 };
	char *default_state = NULL;
	int rc = ZL_EXIT_USAGE;
	cli.state_url = getenv("ZLOAD_STATE");
	cli.store_url = getenv("ZLOAD_STORE");
	const char *lf = getenv("ZLOAD_LOG_FORMAT");
	zl_log_setup(ZL_INFO, lf && strcmp(lf, "json") == 0);

	/* Global options may come before the command; commands accept them too. */
	cli.prog = "zload";
	int i = zl_cli_parse_globals(&cli, argc, argv);
	if (i == 0)
		return ZL_EXIT_USAGE;
	if (i < 0) {
		const char *a = argv[-i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return ZL_EXIT_OK;
		}
		if (strcmp(a, "--version") == 0) {
			printf("zload %s\n", ZL_VERSION);
			return ZL_EXIT_OK;
		}
		fprintf(stderr, "zload: unknown option \"%s\"\nTry 'zload --help'.\n", a);
		return ZL_EXIT_USAGE;
	}
	if (i >= argc) {
		usage(stderr);
		return ZL_EXIT_USAGE;
	}
	if (!cli.state_url || !*cli.state_url)
		cli.state_url = default_state = zl_state_default_url();
	const zl_cmd *cmd = NULL;
	for (const zl_cmd *c = commands; c->name; c++)
		if (strcmp(c->name, argv[i]) == 0)
			cmd = c;
	if (!cmd) {
		fprintf(stderr, "zload: unknown command \"%s\"\nTry 'zload --help'.\n", argv[i]);
		goto out;
	}
	char prog[64];
	snprintf(prog, sizeof prog, "zload %s", cmd->name);
	cli.prog = prog;
	rc = cmd->run(&cli, argc - i, argv + i);
out:
	free(default_state);
	return rc;
}
