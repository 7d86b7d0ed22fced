/* zload serve: the daemon. Parses its options, starts the runtime with its intakes and runs it. */
#include "cli/cli.h"
#include "core/scrub.h"
#include "intake/webhook.h"
#include "runtime/intake.h"
#include "store/store_dir.h"
#include "target/pool.h"
#include "util/log.h"
#include "util/secret_file.h"

#include <stdlib.h>
#include <string.h>

enum { S_WORKERS, S_IDLE, S_NO_WATCH, S_SETTLE, S_RESCAN, S_WEBHOOK, S_TOKEN, S_TOKEN_FILE, S_MAX_BODY,
       S_MAX_CONNS, S_MAX_PER_IP, S_HOOK_IDLE, S_SQS, S_SQS_WAIT, S_METRICS, S_METRICS_TOKEN_FILE, S_TARGET_IDLE,
       S_COUNT };
const zl_opt zl_serve_opts[] = {
	{ "workers", 0, "N", "batches loaded at once (default 4)" },
	{ "exit-when-idle", 0, "SECONDS", "exit 0 once nothing can progress without a new event for SECONDS" },
	{ "no-watch", 0, NULL, "do not watch the dir: store; only sweep and load" },
	{ "settle-ms", 0, "MS", "a file found by a scan is claimed once unchanged this long (default 1000)" },
	{ "rescan", 0, "SECONDS", "rescan the dir: store this often for files missed (default 60; 0: never)" },
	{ "webhook", 0, "[ADDR:]PORT", "take event bodies on POST /events, GET /healthz for probes (PORT alone: on 127.0.0.1)" },
	{ "webhook-token", 0, "TOKEN", "require \"Authorization: Bearer TOKEN\" (env ZLOAD_WEBHOOK_TOKEN); visible in ps" },
	{ "webhook-token-file", 0, "PATH", "the token is the file's first line (env ZLOAD_WEBHOOK_TOKEN_FILE)" },
	{ "webhook-max-body", 0, "BYTES", "larger bodies are refused with 413 (default 1048576)" },
	{ "webhook-max-conns", 0, "N", "open webhook connections in all (default 1024)" },
	{ "webhook-max-per-ip", 0, "N", "open webhook connections from one address (default 64)" },
	{ "webhook-idle-timeout", 0, "SECONDS", "close a webhook connection silent this long (default 10)" },
	{ "sqs", 0, "QUEUE_URL", "consume S3 event messages from an SQS queue (long polling)" },
	{ "sqs-wait", 0, "SECONDS", "long-poll wait of each SQS receive, 0-20 (default 20)" },
	{ "metrics", 0, "[ADDR:]PORT", "serve GET /metrics (Prometheus), / (status page) and /batches/ID (PORT alone: on 127.0.0.1); the webhook's server serves them too" },
	{ "metrics-token-file", 0, "PATH", "require \"Authorization: Bearer TOKEN\" on --metrics, TOKEN the file's first line (env ZLOAD_METRICS_TOKEN_FILE)" },
	{ "target-idle-secs", 0, "SECONDS", "keep a target connection open this long between batches (default 60; 0: close it after each batch)" },
	{ 0 }
};

static const zl_cmd serve_cmd = { "serve", zl_cmd_serve, NULL,
	"Run the loader: watch the dir: store for complete files (and scan it at start-up), run the\n"
	"sweeper every second (due batches, expired leases, retries), and load batches with a pool of\n"
	"workers. SIGTERM or SIGINT: stop taking events, finish in-flight batches, exit 0.", zl_serve_opts };

typedef struct serve_args {
	long workers, idle_secs, settle_ms, rescan_secs, max_body, max_conns, max_per_ip, hook_idle, sqs_wait, target_idle;
	char *token;      /* owned; NULL: none */
	char *metrics_token; /* owned; NULL: none */
} serve_args;

/* Overwrites an argument in place so that ps and /proc/PID/cmdline no longer show it. */
static void hide_arg(const char *arg)
{
	memset((char *)arg, 'x', strlen(arg));
}

/* The webhook's bearer token (caller frees; NULL: none), from the first of --webhook-token-file,
 * --webhook-token, ZLOAD_WEBHOOK_TOKEN_FILE, ZLOAD_WEBHOOK_TOKEN (empty: none). */
static int webhook_token(const char *opt_token, const char *opt_file, char **token, zl_err *err)
{
	const char *env_file = getenv("ZLOAD_WEBHOOK_TOKEN_FILE"), *env = getenv("ZLOAD_WEBHOOK_TOKEN");
	*token = NULL;
	if (opt_file)
		return zl_secret_file_read(opt_file, token, err) ? zl_err_prefix(err, "--webhook-token-file") : 0;
	if (opt_token) {
		*token = strdup(opt_token);
		hide_arg(opt_token);
		ZL_LOG(ZL_WARN, "a token on the command line is visible in ps until it is overwritten",
		       ZL_S("option", "--webhook-token"), ZL_S("instead", "--webhook-token-file or ZLOAD_WEBHOOK_TOKEN_FILE"));
	} else if (env_file && *env_file) {
		return zl_secret_file_read(env_file, token, err) ? zl_err_prefix(err, "ZLOAD_WEBHOOK_TOKEN_FILE") : 0;
	} else if (env && *env) {
		*token = strdup(env);
	}
	return (opt_token || (env && *env)) && !*token ? zl_err_set(err, ZL_ENOMEM, "out of memory") : 0;
}

static int parse_args(zl_cli *cli, const char **vals, serve_args *a)
{
	*a = (serve_args){ .workers = 4, .idle_secs = -1, .settle_ms = 1000, .rescan_secs = 60,
	                   .max_body = ZL_WEBHOOK_MAX_BODY, .max_conns = ZL_WEBHOOK_MAX_CONNS,
	                   .max_per_ip = ZL_WEBHOOK_MAX_PER_IP, .hook_idle = ZL_WEBHOOK_IDLE_SECS, .sqs_wait = 20,
	                   .target_idle = ZL_POOL_IDLE_SECS };
	if ((vals[S_WORKERS] && zl_cli_int(cli, "workers", vals[S_WORKERS], 1, 1024, &a->workers)) ||
	    (vals[S_IDLE] && zl_cli_int(cli, "exit-when-idle", vals[S_IDLE], 0, 1L << 30, &a->idle_secs)) ||
	    (vals[S_SETTLE] && zl_cli_int(cli, "settle-ms", vals[S_SETTLE], 0, 3600000, &a->settle_ms)) ||
	    (vals[S_RESCAN] && zl_cli_int(cli, "rescan", vals[S_RESCAN], 0, 1L << 30, &a->rescan_secs)) ||
	    /* a zero body cap would mean the buffer's default (64 MiB), not "refuse every body" */
	    (vals[S_MAX_BODY] && zl_cli_int(cli, "webhook-max-body", vals[S_MAX_BODY], 1, 1L << 30, &a->max_body)) ||
	    (vals[S_MAX_CONNS] && zl_cli_int(cli, "webhook-max-conns", vals[S_MAX_CONNS], 1, 1000000, &a->max_conns)) ||
	    (vals[S_MAX_PER_IP] && zl_cli_int(cli, "webhook-max-per-ip", vals[S_MAX_PER_IP], 1, 1000000, &a->max_per_ip)) ||
	    (vals[S_HOOK_IDLE] && zl_cli_int(cli, "webhook-idle-timeout", vals[S_HOOK_IDLE], 1, 86400, &a->hook_idle)) ||
	    (vals[S_SQS_WAIT] && zl_cli_int(cli, "sqs-wait", vals[S_SQS_WAIT], 0, 20, &a->sqs_wait)) ||
	    (vals[S_TARGET_IDLE] && zl_cli_int(cli, "target-idle-secs", vals[S_TARGET_IDLE], 0, 86400, &a->target_idle)))
		return ZL_EXIT_USAGE;
	/* The environment's token is ambient configuration: it only matters with --webhook. */
	if (vals[S_TOKEN] && !vals[S_WEBHOOK])
		return zl_cli_usage_error(cli->prog, "--webhook-token needs --webhook");
	if (vals[S_TOKEN_FILE] && !vals[S_WEBHOOK])
		return zl_cli_usage_error(cli->prog, "--webhook-token-file needs --webhook");
	if (vals[S_TOKEN] && vals[S_TOKEN_FILE])
		return zl_cli_usage_error(cli->prog, "give --webhook-token or --webhook-token-file, not both");
	/* An empty token would switch authentication off: refuse it as an option, and take an empty
	 * ZLOAD_WEBHOOK_TOKEN as unset (the log then says auth=none). */
	if (vals[S_TOKEN] && !*vals[S_TOKEN])
		return zl_cli_usage_error(cli->prog, "--webhook-token: empty token");
	zl_err err;
	if (vals[S_WEBHOOK] && webhook_token(vals[S_TOKEN], vals[S_TOKEN_FILE], &a->token, &err))
		return zl_cli_fail(&err);
	if (vals[S_METRICS_TOKEN_FILE] && !vals[S_METRICS])
		return zl_cli_usage_error(cli->prog, "--metrics-token-file needs --metrics");
	const char *mfile = vals[S_METRICS_TOKEN_FILE] ? vals[S_METRICS_TOKEN_FILE] : getenv("ZLOAD_METRICS_TOKEN_FILE");
	if (vals[S_METRICS] && mfile && *mfile && zl_secret_file_read(mfile, &a->metrics_token, &err)) {
		zl_err_prefix(&err, "%s", vals[S_METRICS_TOKEN_FILE] ? "--metrics-token-file" : "ZLOAD_METRICS_TOKEN_FILE");
		return zl_cli_fail(&err);
	}
	return 0;
}

/* Starts the intakes the options ask for. */
static int add_intakes(zl_rt *rt, zl_store *store, const char **vals, const serve_args *a, zl_err *err)
{
	const char *root = zl_store_dir_root(store);
	int rc = 0;
	if (root && !vals[S_NO_WATCH]) {
		zl_watch_cfg w = { root, a->settle_ms, a->rescan_secs * 1000 };
		rc = zl_rt_add_intake(rt, &zl_intake_watch, &w, err);
	}
	if (rc == 0 && vals[S_WEBHOOK]) {
		zl_webhook_opts w = { .listen = vals[S_WEBHOOK], .token = a->token, .max_body = (size_t)a->max_body,
		                      .max_conns = (unsigned)a->max_conns, .max_per_ip = (unsigned)a->max_per_ip,
		                      .idle_secs = (unsigned)a->hook_idle };
		rc = zl_rt_add_intake(rt, &zl_intake_webhook, &w, err);
	}
	/* --metrics at the webhook's address: one server serves both, guarded by the webhook's token */
	if (rc == 0 && vals[S_METRICS] && !(vals[S_WEBHOOK] && strcmp(vals[S_METRICS], vals[S_WEBHOOK]) == 0)) {
		zl_webhook_opts m = { .listen = vals[S_METRICS], .option = "--metrics", .token = a->metrics_token };
		rc = zl_rt_add_intake(rt, &zl_intake_pages, &m, err);
	}
	if (rc == 0 && vals[S_SQS]) {
		zl_sqs_cfg q = { vals[S_SQS], (int)a->sqs_wait };
		rc = zl_rt_add_intake(rt, &zl_intake_sqs, &q, err);
	}
	return rc;
}

int zl_cmd_serve(zl_cli *cli, int argc, char **argv)
{
	const char *vals[S_COUNT];
	serve_args a = { 0 };
	zl_store *store = NULL;
	zl_rt *rt = NULL;
	int npos, rc = zl_cli_parse(cli, &serve_cmd, argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos)
		return zl_cli_usage_error(cli->prog, "takes no arguments");
	if ((rc = parse_args(cli, vals, &a)))
		goto out;

	zl_err err;
	rc = ZL_EXIT_FAIL;
	zl_secrets *secrets = NULL;
	if (zl_cli_secrets(cli, &secrets, &err) || zl_cli_open_store(cli, &store, 0, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	zl_pool_configure(a.target_idle, (int)a.workers); /* as many idle per target as batches load at once */
	zl_rt_opts o = { .state_url = cli->state_url, .store = store, .secrets = secrets, .workers = (int)a.workers,
	                 .signals = 1, .notify_thread = 1 };
	if (zl_rt_new(&o, &rt, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	long nconfigs = zl_rt_configurations(rt);
	if (!store && nconfigs > 0) { /* every batch would end in error */
		zl_log_cli(ZL_ERROR, "zload", "%s", ZL_NO_STORE_MSG);
		goto out;
	}
	if (add_intakes(rt, store, vals, &a, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	char *state_shown = zl_url_redacted(cli->state_url);
	ZL_LOG(ZL_INFO, "serving", ZL_S("state", state_shown ? state_shown : ""),
	       ZL_S("store", cli->store_url ? cli->store_url : "none"), ZL_S("secrets", zl_secrets_name(secrets)),
	       ZL_I("workers", a.workers), ZL_I("configurations", nconfigs));
	free(state_shown);
	zl_rt_run_opts ro = { .idle_secs = a.idle_secs };
	rc = zl_rt_run(rt, &ro, &err) ? zl_cli_fail(&err) : ZL_EXIT_OK;
out:
	zl_rt_free(rt);
	zl_store_close(store);
	if (a.token)
		explicit_bzero(a.token, strlen(a.token));
	free(a.token);
	if (a.metrics_token)
		explicit_bzero(a.metrics_token, strlen(a.metrics_token));
	free(a.metrics_token);
	return rc;
}
