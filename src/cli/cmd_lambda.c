/* zload lambda: the AWS Lambda custom runtime (the bootstrap runs it). Configuration comes from
 * the environment; a failure before the loop is posted to /runtime/init/error. */
#include "cli/cli.h"
#include "core/scrub.h"
#include "runtime/lambda.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

static const zl_cmd lambda_cmd = { "lambda", zl_cmd_lambda, NULL,
	"Run as an AWS Lambda custom runtime: take invocations from $AWS_LAMBDA_RUNTIME_API (S3 events,\n"
	"SNS-wrapped ones, SQS batches, EventBridge Scheduled Events), record and load within each one,\n"
	"and answer before its deadline. No batch's load starts with less than ZLOAD_LAMBDA_MARGIN_MS\n"
	"(default 10000) left; such batches go back to open for the next invocation.", NULL };

/* Reports a start-up failure to Lambda as well as to stderr. */
static int init_fail(const char *api, const zl_err *err)
{
	zl_err perr;
	ZL_LOG(ZL_ERROR, "lambda: start-up failed", ZL_S("error", err->msg));
	if (zl_lambda_init_error(api, "InitError", err->msg, &perr))
		ZL_LOG(ZL_ERROR, "lambda: init error not posted", ZL_S("error", perr.msg));
	return zl_cli_fail(err);
}

int zl_cmd_lambda(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	int npos, rc = zl_cli_parse(cli, &lambda_cmd, argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos)
		return zl_cli_usage_error(cli->prog, "takes no arguments");
	if (!getenv("ZLOAD_LOG_FORMAT")) /* CloudWatch gets JSON lines */
		zl_log_setup(zl_log_enabled(ZL_DEBUG) ? ZL_DEBUG : ZL_INFO, 1);
	const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
	if (!api || !*api) {
		zl_log_cli(ZL_ERROR, "zload", "AWS_LAMBDA_RUNTIME_API is not set: zload lambda runs inside AWS Lambda "
		                              "(or next to a Runtime API emulator)");
		return ZL_EXIT_FAIL;
	}
	zl_lambda_opts lo = { .api = api, .margin_ms = ZL_LAMBDA_MARGIN_MS };
	const char *margin = getenv("ZLOAD_LAMBDA_MARGIN_MS");
	zl_err err;
	zl_store *store = NULL;
	zl_rt *rt = NULL;
	zl_secrets *secrets = NULL;
	rc = ZL_EXIT_FAIL;
	if (margin && *margin) {
		char *end;
		long long v = strtoll(margin, &end, 10);
		if (*end || v < 0 || v > 3600000) {
			zl_err_set(&err, ZL_EINVAL, "ZLOAD_LAMBDA_MARGIN_MS: \"%s\" is not a number of ms in [0, 3600000]", margin);
			rc = init_fail(api, &err);
			goto out;
		}
		lo.margin_ms = v;
	}
	if (zl_cli_secrets(cli, &secrets, &err) || zl_cli_open_store(cli, &store, 0, &err)) {
		rc = init_fail(api, &err);
		goto out;
	}
	zl_rt_opts o = { .state_url = cli->state_url, .store = store, .secrets = secrets };
	if (zl_rt_new(&o, &rt, &err)) {
		rc = init_fail(api, &err);
		goto out;
	}
	long nconfigs = zl_rt_configurations(rt);
	if (!store && nconfigs > 0) {
		zl_err_set(&err, ZL_EINVAL, "%s", ZL_NO_STORE_MSG);
		rc = init_fail(api, &err);
		goto out;
	}
	char *state_shown = zl_url_redacted(cli->state_url);
	ZL_LOG(ZL_INFO, "lambda: runtime ready", ZL_S("state", state_shown ? state_shown : ""),
	       ZL_S("store", cli->store_url ? cli->store_url : "none"), ZL_S("secrets", zl_secrets_name(secrets)),
	       ZL_I("configurations", nconfigs), ZL_I("margin_ms", lo.margin_ms));
	free(state_shown);
	if (zl_lambda_run(rt, &lo, &err))
		rc = zl_cli_fail(&err);
out:
	zl_rt_free(rt);
	zl_store_close(store);
	return rc;
}
