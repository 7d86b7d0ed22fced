/* zload: the command table and global options. */
#include "cli/cli.h"
#include "state/state.h"
#include "util/log.h"
#include "util/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static int cmd_help(zl_cli *cli, int argc, char **argv);
static int cmd_version(zl_cli *cli, int argc, char **argv);

static const zl_cmd commands[] = {
	{ "config", zl_cmd_config, "COMMAND", "store, show and delete load configurations", NULL },
	{ "setup", zl_cmd_setup, NULL, "ask for a configuration (or one more target) and store it", zl_setup_opts },
	{ "serve", zl_cmd_serve, NULL, "run the loader daemon: watch, batch and load", zl_serve_opts },
	{ "lambda", zl_cmd_lambda, NULL, "run as an AWS Lambda custom runtime ($AWS_LAMBDA_RUNTIME_API)", NULL },
	{ "event", zl_cmd_event, "[FILE|-]", "process S3 event JSON (default: stdin)", zl_event_opts },
	{ "flush", zl_cmd_flush, "PREFIX", "load the open batch of a prefix now", zl_flush_opts },
	{ "backfill", zl_cmd_backfill, "BUCKET[/PREFIX]", "queue every stored object not yet recorded", NULL },
	{ "trigger", zl_cmd_trigger, "BUCKET/PREFIX", "put a marker object that makes the store emit an event", NULL },
	{ "encrypt", zl_cmd_encrypt, "[VALUE|-]", "seal a password to store in a configuration (encryptValue.js)", zl_encrypt_opts },
	{ "secrets", zl_cmd_secrets, "COMMAND", "rotate: seal every stored secret anew", NULL },
	{ "status", zl_cmd_status, NULL, "what is open, loading, loaded and failed; healthy or the problems", zl_status_opts },
	{ "batches", zl_cmd_batches, "COMMAND", "list, show, reprocess, unlock and delete batches", NULL },
	{ "files", zl_cmd_files, "COMMAND", "show and forget file records", NULL },
	{ "notifications", zl_cmd_notifications, "COMMAND", "list the notification outbox, queue failed ones again", NULL },
	{ "state", zl_cmd_state, "COMMAND", "init: create the store's tables; migrate: copy every record into another", NULL },
	{ "help", cmd_help, "[COMMAND]", "show help, of zload or of a command", NULL },
	{ "version", cmd_version, NULL, "show the version", NULL },
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
	fprintf(f, "  %-26s %s\n  %-26s %s\n\nRun 'zload COMMAND --help' or 'zload help COMMAND' for more.\n", "-h, --help",
	        "show this help", "-V, --version", "show the version");
}

static const zl_cmd *find_command(const char *name)
{
	for (const zl_cmd *c = commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* zload help [COMMAND [SUBCOMMAND]]: the same as COMMAND [SUBCOMMAND] --help. */
static int cmd_help(zl_cli *cli, int argc, char **argv)
{
	if (argc < 2) {
		usage(stdout);
		return ZL_EXIT_OK;
	}
	const zl_cmd *cmd = find_command(argv[1]);
	if (!cmd || cmd->run == cmd_help || cmd->run == cmd_version) {
		if (!cmd) {
			zl_log_cli_hint(ZL_ERROR, "zload help", "Try 'zload --help'.", "unknown command \"%s\"", argv[1]);
			return ZL_EXIT_USAGE;
		}
		usage(stdout);
		return ZL_EXIT_OK;
	}
	char *args[4] = { argv[1], NULL, NULL, NULL };
	int n = 1;
	if (argc > 2)
		args[n++] = argv[2];
	args[n++] = (char *)"--help";
	char prog[64];
	snprintf(prog, sizeof prog, "zload %s", cmd->name);
	cli->prog = prog;
	return cmd->run(cli, n, args);
}

static int cmd_version(zl_cli *cli, int argc, char **argv)
{
	printf("zload %s\n", ZL_VERSION);
	return ZL_EXIT_OK;
}

/* Run as "bootstrap" (the AWS Lambda package, see scripts/lambda-package.sh): with no command,
 * the command is "lambda"; and when neither CURL_CA_BUNDLE nor SSL_CERT_FILE is set, the CA
 * bundle shipped next to the binary (DIR/certs/ca-certificates.crt) becomes SSL_CERT_FILE, since
 * the Lambda image keeps its bundle elsewhere than the Debian libcurl looks. */
static int as_bootstrap(const char *argv0)
{
	const char *base = strrchr(argv0, '/');
	base = base ? base + 1 : argv0;
	if (strcmp(base, "bootstrap") != 0)
		return 0;
	const char *e1 = getenv("CURL_CA_BUNDLE"), *e2 = getenv("SSL_CERT_FILE");
	if ((e1 && *e1) || (e2 && *e2))
		return 1;
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0 && strchr(argv0, '/'))
		n = (ssize_t)snprintf(exe, sizeof exe, "%s", argv0);
	if (n <= 0 || (size_t)n >= sizeof exe)
		return 1;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return 1;
	*slash = '\0';
	char ca[4200];
	snprintf(ca, sizeof ca, "%s/certs/ca-certificates.crt", exe);
	if (access(ca, R_OK) == 0)
		setenv("SSL_CERT_FILE", ca, 0);
	return 1;
}

int main(int argc, char **argv)
{
	zl_cli cli = { 0 };
	char *default_state = NULL;
	int rc = ZL_EXIT_USAGE;
	int bootstrap = argc > 0 && as_bootstrap(argv[0]);
	cli.state_url = getenv("ZLOAD_STATE");
	cli.store_url = getenv("ZLOAD_STORE");
	zl_cli_log_early(argc, argv); /* before the first message, which may come before any option is parsed */

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
		if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
			printf("zload %s\n", ZL_VERSION);
			return ZL_EXIT_OK;
		}
		zl_log_cli_hint(ZL_ERROR, "zload", "Try 'zload --help'.", "unknown option \"%s\"", a);
		return ZL_EXIT_USAGE;
	}
	char *lambda_argv[] = { (char *)"lambda", NULL };
	if (i >= argc && bootstrap) {
		/* Lambda runs the bootstrap without arguments. */
		argv = lambda_argv;
		argc = 1;
		i = 0;
	}
	if (i >= argc) {
		if (zl_log_json()) /* one JSON line, not the usage text */
			zl_log_cli_hint(ZL_ERROR, "zload", "Try 'zload --help'.", "expected a command");
		else
			usage(stderr);
		return ZL_EXIT_USAGE;
	}
	if (!cli.state_url || !*cli.state_url)
		cli.state_url = default_state = zl_state_default_url();
	const zl_cmd *cmd = find_command(argv[i]);
	if (!cmd) {
		zl_log_cli_hint(ZL_ERROR, "zload", "Try 'zload --help'.", "unknown command \"%s\"", argv[i]);
		goto out;
	}
	char prog[64];
	snprintf(prog, sizeof prog, "zload %s", cmd->name);
	cli.prog = prog;
	rc = cmd->run(&cli, argc - i, argv + i);
out:
	zl_secrets_close(cli.secrets);
	free(default_state);
	return rc;
}
