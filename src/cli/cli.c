#include "cli/cli.h"
#include "cli/live_line.h"
#include "obs/metrics.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/quote.h"
#include "util/timeutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const zl_opt zl_global_opts[] = {
	{ "state", 0, "URL", "state store (env ZLOAD_STATE; default sqlite:$XDG_STATE_HOME/zload/state.db)" },
	{ "store", 0, "URL", "object store: dir:PATH or s3://[?endpoint=URL&region=R&path_style=1] (env ZLOAD_STORE)" },
	{ "secrets", 0, "local|kms[:KEY]", "how passwords are sealed: local master key, or AWS KMS (env ZLOAD_SECRETS; default local)" },
	{ "log-format", 0, "text|json", "log line format (default text)" },
	{ "verbose", 'v', NULL, "log debug messages" },
	{ 0 }
};

enum { G_STATE, G_STORE, G_SECRETS, G_LOGFMT, G_VERBOSE, G_COUNT };

static void print_opts(FILE *f, const zl_opt *opts)
{
	for (const zl_opt *o = opts; o && o->name; o++) {
		char left[64];
		if (o->short_name)
			snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "",
			         o->arg ? o->arg : "");
		else
			snprintf(left, sizeof left, "    --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-30s %s\n", left, o->help);
	}
}

void zl_cli_usage(FILE *f, const char *prog, const zl_cmd *cmd)
{
	fprintf(f, "usage: %s%s%s%s\n\n%s\n", prog, cmd->opts ? " [options]" : "", cmd->args ? " " : "",
	        cmd->args ? cmd->args : "", cmd->summary);
	if (cmd->opts && cmd->opts[0].name) {
		fprintf(f, "\noptions:\n");
		print_opts(f, cmd->opts);
	}
	fprintf(f, "\nglobal options:\n");
	print_opts(f, zl_global_opts);
	fprintf(f, "  %-30s %s\n", "-h, --help", "show this help");
}

int zl_cli_usage_error(const char *prog, const char *fmt, ...)
{
	char hint[160];
	snprintf(hint, sizeof hint, "Try '%s --help'.", prog);
	va_list ap;
	va_start(ap, fmt);
	zl_log_cliv(ZL_ERROR, prog, hint, fmt, ap);
	va_end(ap);
	return ZL_EXIT_USAGE;
}

int zl_cli_fail(const zl_err *err)
{
	zl_log_cli(ZL_ERROR, "zload", "%s", err->msg);
	return ZL_EXIT_FAIL;
}

const char *zl_cli_q(const char *s)
{
	static zl_buf ring[8];
	static unsigned next;
	zl_buf *b = &ring[next++ % 8];
	if (!b->cap)
		zl_buf_init(b, 0);
	zl_buf_reset(b);
	zl_quote_c(b, s ? s : "");
	return zl_buf_str(b);
}

int zl_cli_int(zl_cli *cli, const char *opt, const char *v, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (!*v || *end || errno)
		return zl_cli_usage_error(cli->prog, "--%s: \"%s\" is not a number", opt, v);
	if (n < min)
		return zl_cli_usage_error(cli->prog, "--%s: must be at least %ld", opt, min);
	if (n > max)
		return zl_cli_usage_error(cli->prog, "--%s: must be at most %ld", opt, max);
	*out = n;
	return 0;
}

/* Finds an option by long name (len chars) or short letter; returns its index or -1. */
static int find_opt(const zl_opt *opts, const char *name, size_t len, char letter)
{
	for (int i = 0; opts && opts[i].name; i++)
		if (letter ? opts[i].short_name == letter
		           : strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
			return i;
	return -1;
}

static void apply_globals(zl_cli *cli, const char **g)
{
	if (g[G_STATE])
		cli->state_url = g[G_STATE];
	if (g[G_STORE])
		cli->store_url = g[G_STORE];
	if (g[G_SECRETS])
		cli->secrets_spec = g[G_SECRETS];
}

/* Applies --log-format and -v (globals given more than once: json and verbose stick). */
static int apply_logging(zl_cli *cli, const char **g)
{
	static int json = -1, verbose;
	if (json < 0) /* the default: what main set from the environment and the scan of argv */
		json = zl_log_json();
	if (g[G_LOGFMT] && strcmp(g[G_LOGFMT], "json") && strcmp(g[G_LOGFMT], "text"))
		return zl_cli_usage_error(cli->prog, "--log-format must be text or json, not \"%s\"", g[G_LOGFMT]);
	if (g[G_LOGFMT] || g[G_VERBOSE]) {
		json = g[G_LOGFMT] ? strcmp(g[G_LOGFMT], "json") == 0 : json;
		verbose = verbose || g[G_VERBOSE];
		zl_log_setup(verbose ? ZL_DEBUG : ZL_INFO, json);
	}
	return 0;
}

void zl_cli_log_early(int argc, char **argv)
{
	const char *env = getenv("ZLOAD_LOG_FORMAT");
	int json = env && strcmp(env, "json") == 0;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *v = NULL;
		if (strcmp(argv[i], "--log-format") == 0 && i + 1 < argc)
			v = argv[++i];
		else if (strncmp(argv[i], "--log-format=", 13) == 0)
			v = argv[i] + 13;
		if (v && (strcmp(v, "json") == 0 || strcmp(v, "text") == 0))
			json = strcmp(v, "json") == 0;
	}
	zl_log_setup(ZL_INFO, json);
}

int zl_cli_parse_globals(zl_cli *cli, int argc, char **argv)
{
	const char *g[G_COUNT] = { 0 };
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *a = argv[i];
		const char *name = a[1] == '-' ? a + 2 : a + 1;
		char letter = a[1] == '-' ? 0 : a[1];
		const char *eq = letter ? NULL : strchr(name, '=');
		int k = find_opt(zl_global_opts, name, eq ? (size_t)(eq - name) : strlen(name), letter);
		if (k < 0 || (letter && a[2]))
			return -i; /* not a global option: the caller decides (--help, --version, errors) */
		if (!zl_global_opts[k].arg)
			g[k] = "1";
		else if (eq)
			g[k] = eq + 1;
		else if (i + 1 < argc)
			g[k] = argv[++i];
		else
			return zl_cli_usage_error(cli->prog, "option --%s needs a value (%s)", zl_global_opts[k].name,
			                          zl_global_opts[k].arg), 0;
	}
	apply_globals(cli, g);
	return apply_logging(cli, g) ? 0 : i;
}

int zl_cli_parse(zl_cli *cli, const zl_cmd *cmd, int argc, char **argv, const char **vals, int *npos)
{
	const char *g[G_COUNT] = { 0 };
	int pos = 0, only_pos = 0;
	for (int i = 0; cmd->opts && cmd->opts[i].name; i++)
		vals[i] = NULL;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
			argv[pos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			zl_cli_usage(stdout, cli->prog, cmd);
			return -1;
		}
		const char *name = a[1] == '-' ? a + 2 : a + 1;
		char letter = a[1] == '-' ? 0 : a[1];
		if (!letter && !*name)
			return zl_cli_usage_error(cli->prog, "bad option \"%s\"", a);
		if (letter && a[2])
			return zl_cli_usage_error(cli->prog, "bad option \"%s\"", a);
		const char *eq = letter ? NULL : strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		const zl_opt *table = cmd->opts;
		const char **out = vals;
		int k = find_opt(table, name, len, letter);
		if (k < 0) {
			table = zl_global_opts;
			out = g;
			k = find_opt(table, name, len, letter);
		}
		if (k < 0)
			return zl_cli_usage_error(cli->prog, "unknown option \"%s\"", a);
		if (!table[k].arg) {
			if (eq)
				return zl_cli_usage_error(cli->prog, "option --%s takes no value", table[k].name);
			out[k] = "1";
		} else if (eq) {
			out[k] = eq + 1;
		} else if (i + 1 < argc) {
			out[k] = argv[++i];
		} else {
			return zl_cli_usage_error(cli->prog, "option --%s needs a value (%s)", table[k].name,
			                          table[k].arg);
		}
	}
	*npos = pos;
	apply_globals(cli, g);
	return apply_logging(cli, g);
}

int zl_cli_dispatch(zl_cli *cli, const char *family, const zl_cmd *table, int argc, char **argv)
{
	char prog[128];
	/* Global options may come between the family and its command: zload batches --state URL list */
	int skip = zl_cli_parse_globals(cli, argc, argv);
	if (skip == 0)
		return ZL_EXIT_USAGE;
	skip = (skip < 0 ? -skip : skip) - 1;
	if (skip > 0) {
		argv[skip] = argv[0];
		argv += skip;
		argc -= skip;
	}
	const char *sub = argc > 1 ? argv[1] : NULL;
	if (sub && (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0))
		sub = NULL;
	for (const zl_cmd *c = table; sub && c->name; c++)
		if (strcmp(c->name, sub) == 0) {
			snprintf(prog, sizeof prog, "zload %s %s", family, c->name);
			cli->prog = prog;
			return c->run(cli, argc - 1, argv + 1);
		}
	FILE *f = argc > 1 && !sub ? stdout : stderr;
	if (f == stderr && zl_log_json()) { /* one JSON line, not the usage text */
		char fam[96], hint[160];
		snprintf(fam, sizeof fam, "zload %s", family);
		snprintf(hint, sizeof hint, "Try '%s --help'.", fam);
		if (sub)
			zl_log_cli_hint(ZL_ERROR, fam, hint, "unknown command \"%s\"", sub);
		else
			zl_log_cli_hint(ZL_ERROR, fam, hint, "expected a command");
		return ZL_EXIT_USAGE;
	}
	if (argc > 1 && sub)
		fprintf(stderr, "zload %s: unknown command \"%s\"\n\n", family, sub);
	fprintf(f, "usage: zload %s COMMAND [options]\n\ncommands:\n", family);
	for (const zl_cmd *c = table; c->name; c++) {
		char left[96];
		snprintf(left, sizeof left, "%s %s", c->name, c->args ? c->args : "");
		fprintf(f, "  %-34s %s\n", left, c->summary);
	}
	fprintf(f, "\nRun 'zload %s COMMAND --help' for a command's options.\n", family);
	return f == stdout ? ZL_EXIT_OK : ZL_EXIT_USAGE;
}

int zl_cli_open_state(zl_cli *cli, zl_state **st, zl_err *err)
{
	return zl_state_open(cli->state_url, st, err);
}

int zl_cli_secrets(zl_cli *cli, zl_secrets **out, zl_err *err)
{
	int rc = cli->secrets ? 0 : zl_secrets_open(cli->secrets_spec, &cli->secrets, err);
	*out = cli->secrets;
	return rc;
}

int zl_cli_open_store(zl_cli *cli, zl_store **store, int required, zl_err *err)
{
	*store = NULL;
	if (!cli->store_url || !*cli->store_url)
		return required ? zl_err_set(err, ZL_EINVAL, "%s", ZL_NO_STORE_MSG) : 0;
	return zl_store_open(cli->store_url, store, err);
}

static void print_loaded(void *ud, const zl_ticket *k, const zl_load_summary *sum, int rc, const zl_err *err)
{
	zl_buf e;
	zl_buf_init(&e, 0);
	zl_escape_ctl(&e, rc ? err->msg : sum->error);
	zl_log_live_hide(1); /* stdout may be the terminal that shows the live line */
	if (rc)
		printf("loaded batch=%s status=failed error=%s\n", k->batch_id, zl_buf_str(&e));
	else
		printf("loaded batch=%s status=%s rows=%lld%s%s\n", k->batch_id,
		       sum->status == ZL_BATCH_LOCKED ? "retry" : zl_batch_status_name(sum->status), (long long)sum->rows,
		       e.len ? " error=" : "", zl_buf_str(&e));
	fflush(stdout);
	zl_log_live_hide(0);
	zl_buf_release(&e);
}

int zl_cli_open_rt(zl_cli *cli, int need_store, int no_load, zl_rt **rt, zl_store **store, zl_err *err)
{
	*rt = NULL;
	zl_secrets *secrets = NULL;
	int rc = zl_cli_secrets(cli, &secrets, err);
	if (rc || (rc = zl_cli_open_store(cli, store, need_store, err)))
		return rc;
	zl_rt_opts o = { .state_url = cli->state_url, .store = *store, .secrets = secrets, .no_load = no_load,
	                 .on_loaded = print_loaded };
	if ((rc = zl_rt_new(&o, rt, err))) {
		zl_store_close(*store);
		*store = NULL;
	}
	return rc;
}

void zl_cli_close_rt(zl_rt *rt, zl_store *store)
{
	zl_rt_free(rt);
	zl_store_close(store);
}

/* "loading N batches: X rows, Y MB, Z MB/s" of the loads in progress; nothing when none is. */
static void loads_progress(void *ud, zl_buf *text)
{
	(void)ud;
	enum { MAX = 256 };
	static zl_progress p[MAX]; /* only the ticker's thread draws */
	size_t n = zl_progress_list(p, MAX);
	if (!n)
		return;
	int64_t now = zl_now_ms(), rows = 0, bytes = 0;
	double rate = 0;
	size_t batches = 0;
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < i && strcmp(p[j].batch_id, p[i].batch_id) != 0)
			j++;
		batches += j == i; /* a batch loads into each of its targets */
		rows += p[i].rows;
		bytes += p[i].bytes;
		if (now > p[i].started_ms)
			rate += (double)p[i].bytes * 1000.0 / (double)(now - p[i].started_ms);
	}
	zl_buf_printf(text, "loading %zu batch%s: %lld rows, %.1f MB, %.1f MB/s", batches, batches == 1 ? "" : "es",
	              (long long)rows, (double)bytes / 1e6, rate / 1e6);
}

static int drain(zl_rt *rt, int live)
{
	zl_live_ticker *t = live ? zl_live_start(500, loads_progress, NULL) : NULL;
	int rc = zl_rt_drain(rt) ? ZL_EXIT_FAIL : ZL_EXIT_OK;
	zl_live_stop(t);
	zl_rt_notify_flush(rt, ZL_CLI_NOTIFY_WAIT_MS); /* a notification not delivered is not a failed load */
	return rc;
}

int zl_cli_drain(zl_rt *rt) { return drain(rt, 0); }

int zl_cli_drain_live(zl_rt *rt) { return drain(rt, 1); }

int zl_cli_read_file(const char *path, size_t cap, char **out, size_t *len, zl_err *err)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	*out = NULL;
	if (!f)
		return zl_err_set(err, ZL_EIO, "%s: %s", path, strerror(errno));
	zl_buf b;
	zl_buf_init(&b, cap);
	char chunk[65536];
	size_t n;
	int rc = 0;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (zl_buf_add(&b, chunk, n)) {
			rc = zl_err_set(err, ZL_EINVAL, "%s: larger than %zu bytes", path, cap);
			break;
		}
	if (rc == 0 && ferror(f))
		rc = zl_err_set(err, ZL_EIO, "%s: read error", path);
	if (f != stdin)
		fclose(f);
	if (rc) {
		zl_buf_release(&b);
		return rc;
	}
	*len = b.len;
	*out = zl_buf_take(&b);
	return 0;
}
