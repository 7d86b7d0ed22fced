/* zload config put|get|list|delete|add-target (set-password is in cmd_secrets.c) */
#include "cli/cli.h"
#include "core/config.h"
#include "core/config_secrets.h"
#include "core/route.h"
#include "target/target.h"
#include "util/buf.h"
#include "util/log.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_CAP (4u << 20)

static const zl_opt list_opts[] = { { "json", 0, NULL, "print a JSON array" }, { 0 } };

int zl_cli_config_store(zl_cli *cli, zl_state *st, const char *source, const char *text, zl_err *err)
{
	zl_config *c = NULL;
	zl_secrets *secrets = NULL;
	char *json = NULL;
	int sealed = 0;
	int rc = zl_config_parse(text, &c, err);
	if (rc) {
		zl_err_prefix(err, "%s", source);
		goto out;
	}
	if ((rc = zl_cli_secrets(cli, &secrets, err)) || (rc = zl_config_seal(c, secrets, c->json, &sealed, err))) {
		zl_err_prefix(err, "%s", source);
		goto out;
	}
	if (!(json = json_dumps(c->json, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = st->ops->config_put(st, c->prefix, json, err)))
		goto out;
	printf("stored configuration for %s (%zu target%s", c->prefix, c->ntargets, c->ntargets == 1 ? "" : "s");
	if (sealed)
		printf("; %d secret%s sealed by %s", sealed, sealed == 1 ? "" : "s", zl_secrets_name(secrets));
	printf(")\n");
out:
	free(json);
	for (size_t i = 0; c && i < c->ntargets; i++) /* the copies the targets read still hold plain texts */
		zl_secrets_wipe_json(c->targets[i].json, c->targets[i].ops->fields);
	zl_config_free(c);
	return rc;
}

/* Frees a configuration's text after wiping it: it may hold plain passwords. */
static void free_text(char *text, size_t len)
{
	if (text)
		explicit_bzero(text, len);
	free(text);
}

static int cmd_put(zl_cli *cli, int argc, char **argv);
static int cmd_get(zl_cli *cli, int argc, char **argv);
static int cmd_list(zl_cli *cli, int argc, char **argv);
static int cmd_delete(zl_cli *cli, int argc, char **argv);
static int cmd_add_target(zl_cli *cli, int argc, char **argv);

static const zl_cmd config_cmds[] = {
	{ "put", cmd_put, "FILE|-", "validate and store a configuration (replaces the one with the same s3Prefix)", NULL },
	{ "get", cmd_get, "PREFIX", "print a configuration as JSON, secrets masked", NULL },
	{ "list", cmd_list, NULL, "list the configurations", list_opts },
	{ "delete", cmd_delete, "PREFIX", "delete a configuration", NULL },
	{ "add-target", cmd_add_target, "PREFIX FILE|-", "add one target (a JSON object) to a configuration", NULL },
	{ "set-password", zl_cmd_config_set_password, "PREFIX TARGET", "set a target's password (read without echo, stored sealed)",
	  zl_set_password_opts },
	{ 0 }
};

/* Parses options and checks the positional count; returns -1 to go on, else an exit code. */
static int parse(zl_cli *cli, const char *name, int argc, char **argv, const char **vals, int want)
{
	const zl_cmd *cmd = NULL;
	for (const zl_cmd *c = config_cmds; c->name; c++)
		if (strcmp(c->name, name) == 0)
			cmd = c;
	int npos, rc = zl_cli_parse(cli, cmd, argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos != want)
		return zl_cli_usage_error(cli->prog, "expected %s", cmd->args ? cmd->args : "no arguments");
	return -1;
}

static int cmd_put(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	zl_err err;
	zl_state *st = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc = parse(cli, "put", argc, argv, vals, 1);
	if (rc >= 0)
		return rc;
	rc = ZL_EXIT_FAIL;
	if (zl_cli_read_file(argv[0], CONFIG_CAP, &text, &len, &err) || zl_cli_open_state(cli, &st, &err) ||
	    zl_cli_config_store(cli, st, argv[0], text, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	rc = ZL_EXIT_OK;
out:
	free_text(text, len);
	zl_state_close(st);
	return rc;
}

static int cmd_get(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	zl_err err;
	zl_state *st = NULL;
	char *json = NULL, *masked = NULL;
	zl_config *c = NULL;
	int rc = parse(cli, "get", argc, argv, vals, 1);
	if (rc >= 0)
		return rc;
	rc = ZL_EXIT_FAIL;
	char *trimmed = zl_prefix_normalised(argv[0]);
	if (!trimmed)
		goto out;
	if (zl_cli_open_state(cli, &st, &err) || st->ops->config_get(st, trimmed, &json, &err) ||
	    zl_config_parse(json, &c, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	masked = zl_config_dump_masked(c);
	printf("%s\n", masked);
	rc = ZL_EXIT_OK;
out:
	free(trimmed);
	free(json);
	free(masked);
	zl_config_free(c);
	zl_state_close(st);
	return rc;
}

static int cmd_list(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	zl_err err;
	zl_state *st = NULL;
	zl_strvec prefixes, jsons;
	zl_strvec_init(&prefixes);
	zl_strvec_init(&jsons);
	int rc = parse(cli, "list", argc, argv, vals, 0);
	if (rc >= 0)
		return rc;
	rc = ZL_EXIT_FAIL;
	if (zl_cli_open_state(cli, &st, &err) || st->ops->config_list(st, &prefixes, &jsons, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	json_t *arr = vals[0] ? json_array() : NULL;
	if (!arr)
		printf("%-40s %-8s %-10s %-10s %s\n", "PREFIX", "TARGETS", "BATCHSIZE", "TIMEOUT", "FILTER");
	for (size_t i = 0; i < jsons.n; i++) {
		json_t *j = json_loads(jsons.v[i], 0, NULL);
		zl_config *c = NULL;
		zl_err cerr;
		if (j && zl_config_from_json(j, &c, &cerr) == 0) {
			if (arr) {
				char *m = zl_config_dump_masked(c);
				json_array_append_new(arr, json_loads(m, JSON_PRESERVE_ORDER, NULL));
				free(m);
			} else {
				const char *re = json_string_value(json_object_get(c->json, "filenameFilterRegex"));
				printf("%-40s %-8zu %-10lld %-10lld %s\n", c->prefix, c->ntargets, (long long)c->batch_size,
				       (long long)(c->batch_timeout_ms / 1000), re ? re : "-");
			}
		} else if (!arr) {
			printf("%-40s (invalid: %s)\n", prefixes.v[i], j ? cerr.msg : "not JSON");
		}
		zl_config_free(c);
		json_decref(j);
	}
	if (arr) {
		char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s);
		free(s);
		json_decref(arr);
	}
	rc = ZL_EXIT_OK;
out:
	zl_strvec_release(&prefixes);
	zl_strvec_release(&jsons);
	zl_state_close(st);
	return rc;
}

/* Open batches of a deleted configuration wait for it to come back: say so. */
static void warn_open_batches(zl_state *st, const char *prefix)
{
	zl_batch_filter f = { .status_mask = ZL_STATUS_BIT(ZL_BATCH_OPEN), .prefix = prefix };
	zl_batch *v = NULL;
	size_t n = 0, waiting = 0;
	int64_t files = 0;
	zl_err err;
	if (st->ops->batch_list(st, &f, &v, &n, &err) != 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (v[i].file_count > 0) {
			waiting++;
			files += v[i].file_count;
		}
	if (waiting) {
		zl_buf ids;
		zl_buf_init(&ids, 0);
		for (size_t i = 0; i < n; i++)
			if (v[i].file_count > 0)
				zl_buf_printf(&ids, " %s", v[i].id);
		zl_log_cli(ZL_WARN, "zload", "%zu open batch%s of %s hold%s %lld file%s; %s only once a "
		           "configuration for %s is stored again:%s", waiting, waiting == 1 ? "" : "es", zl_cli_q(prefix),
		           waiting == 1 ? "s" : "", (long long)files, files == 1 ? "" : "s",
		           waiting == 1 ? "it loads" : "they load", zl_cli_q(prefix), zl_buf_str(&ids));
		zl_buf_release(&ids);
	}
	zl_batch_list_free(v, n);
}

static int cmd_delete(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	zl_err err;
	zl_state *st = NULL;
	int rc = parse(cli, "delete", argc, argv, vals, 1);
	if (rc >= 0)
		return rc;
	char *prefix = zl_prefix_normalised(argv[0]);
	if (!prefix || zl_cli_open_state(cli, &st, &err) || st->ops->config_delete(st, prefix, &err)) {
		rc = prefix ? zl_cli_fail(&err) : ZL_EXIT_FAIL;
	} else {
		printf("deleted configuration for %s\n", zl_cli_q(prefix));
		warn_open_batches(st, prefix);
		rc = ZL_EXIT_OK;
	}
	free(prefix);
	zl_state_close(st);
	return rc;
}

int zl_cli_config_with_target(zl_state *st, const char *prefix, json_t *target, char **out, zl_err *err)
{
	char *stored = NULL;
	json_t *conf = NULL;
	*out = NULL;
	int rc = st->ops->config_get(st, prefix, &stored, err);
	if (rc)
		goto out;
	conf = json_loads(stored, JSON_PRESERVE_ORDER, NULL);
	json_t *targets = json_object_get(conf, "targets");
	if (!targets)
		targets = json_object_get(conf, "loadClusters");
	json_array_append(targets, target);
	if (!(*out = json_dumps(conf, JSON_COMPACT | JSON_PRESERVE_ORDER)))
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
out:
	free(stored);
	json_decref(conf);
	return rc;
}

static int cmd_add_target(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	zl_err err;
	zl_state *st = NULL;
	char *text = NULL, *merged = NULL;
	json_t *target = NULL;
	size_t len = 0;
	int rc = parse(cli, "add-target", argc, argv, vals, 2);
	if (rc >= 0)
		return rc;
	rc = ZL_EXIT_FAIL;
	json_error_t je;
	char *prefix = zl_prefix_normalised(argv[0]);
	if (!prefix || zl_cli_read_file(argv[1], CONFIG_CAP, &text, &len, &err) || zl_cli_open_state(cli, &st, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	if (!(target = json_loads(text, JSON_REJECT_DUPLICATES, &je))) {
		zl_log_cli(ZL_ERROR, "zload", "%s: line %d, column %d: %s", argv[1], je.line, je.column, je.text);
		goto out;
	}
	if (zl_cli_config_with_target(st, prefix, target, &merged, &err) ||
	    zl_cli_config_store(cli, st, argv[1], merged, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	rc = ZL_EXIT_OK;
out:
	free(prefix);
	free_text(text, len);
	free_text(merged, merged ? strlen(merged) : 0);
	json_decref(target);
	zl_state_close(st);
	return rc;
}

int zl_cmd_config(zl_cli *cli, int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		zl_cli_dispatch(cli, "config", config_cmds, argc, argv);
		zl_buf b;
		zl_buf_init(&b, 0);
		zl_config_help(&b);
		printf("\n%s", zl_buf_str(&b));
		zl_buf_release(&b);
		return ZL_EXIT_OK;
	}
	return zl_cli_dispatch(cli, "config", config_cmds, argc, argv);
}
