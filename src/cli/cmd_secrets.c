/* zload secrets rotate, and zload config set-password PREFIX TARGET. */
#include "cli/cli.h"
#include "cli/term_input.h"
#include "core/config_secrets.h"
#include "core/route.h"
#include "target/target.h"
#include "util/log.h"
#include "util/strvec.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define REPLACE_TRIES 5

/* Re-seals the secrets of the configuration stored for prefix, storing it over the text read
 * (read again when someone changed it meanwhile). *count is the number of values re-sealed. */
static int reseal_one(zl_state *st, zl_secrets *s, const char *prefix, char *text, int *count, zl_err *err)
{
	int rc = 0;
	char *fresh = NULL;
	for (int tries = 0; tries < REPLACE_TRIES; tries++) {
		zl_config *c = NULL;
		json_t *copy = NULL;
		char *out = NULL;
		*count = 0;
		if ((rc = zl_config_parse(text, &c, err)) == 0 && !(copy = json_deep_copy(c->json)))
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		if (rc == 0 && (rc = zl_config_reseal(c, s, copy, count, err)) == 0 && *count &&
		    !(out = json_dumps(copy, JSON_COMPACT | JSON_PRESERVE_ORDER)))
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		if (rc == 0 && *count)
			rc = st->ops->config_replace(st, prefix, text, out, err);
		free(out);
		json_decref(copy);
		zl_config_free(c);
		if (rc != ZL_EBUSY)
			break;
		free(fresh); /* changed meanwhile: again, on what is stored now */
		fresh = NULL;
		if ((rc = st->ops->config_get(st, prefix, &fresh, err)))
			break;
		text = fresh;
	}
	free(fresh);
	return rc;
}

static const zl_cmd rotate_cmd = { "rotate", NULL, NULL,
	"Seal every stored secret anew. local: makes a new master key, re-seals every configuration with it,\n"
	"then drops the older keys (kept when a configuration could not be re-sealed). kms: re-seals with\n"
	"the key of --secrets, e.g. to move from local to kms or to another key. References (env:, file:)\n"
	"stay as they are. Loaders running meanwhile read the new key when they meet it.",
	NULL };

static int cmd_rotate(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	zl_secrets *s = NULL;
	zl_state *st = NULL;
	zl_strvec prefixes, jsons;
	zl_strvec_init(&prefixes);
	zl_strvec_init(&jsons);
	zl_err err;
	int npos, rc = zl_cli_parse(cli, &rotate_cmd, argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos)
		return zl_cli_usage_error(cli->prog, "takes no arguments");
	rc = ZL_EXIT_FAIL;
	if (zl_cli_secrets(cli, &s, &err) || zl_cli_open_state(cli, &st, &err) ||
	    st->ops->config_list(st, &prefixes, &jsons, &err) || zl_secrets_new_key(s, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	int total = 0, configs = 0, failed = 0;
	for (size_t i = 0; i < prefixes.n; i++) {
		int count = 0;
		if (reseal_one(st, s, prefixes.v[i], jsons.v[i], &count, &err)) {
			zl_log_cli(ZL_ERROR, cli->prog, "%s: %s", zl_cli_q(prefixes.v[i]), err.msg);
			failed++;
			continue;
		}
		total += count;
		configs += count > 0;
	}
	printf("re-sealed %d secret%s in %d configuration%s with %s\n", total, total == 1 ? "" : "s", configs,
	       configs == 1 ? "" : "s", zl_secrets_name(s));
	if (failed) {
		zl_log_cli(ZL_ERROR, cli->prog, "%d configuration%s could not be re-sealed; older keys are kept", failed,
		           failed == 1 ? "" : "s");
		goto out;
	}
	if (zl_secrets_drop_old_keys(s, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	rc = ZL_EXIT_OK;
out:
	zl_strvec_release(&prefixes);
	zl_strvec_release(&jsons);
	zl_state_close(st);
	return rc;
}

static const zl_cmd secrets_cmds[] = {
	{ "rotate", cmd_rotate, NULL, "seal every stored secret anew (local: under a new master key)", NULL },
	{ 0 }
};

int zl_cmd_secrets(zl_cli *cli, int argc, char **argv)
{
	return zl_cli_dispatch(cli, "secrets", secrets_cmds, argc, argv);
}

/* ---- config set-password ---- */

const zl_opt zl_set_password_opts[] = {
	{ "field", 0, "FIELD", "the secret field to set (default: the target type's password field)" },
	{ 0 }
};

static const zl_cmd set_password_cmd = { "set-password", zl_cmd_config_set_password, "PREFIX TARGET",
	"Set the password of one target of a stored configuration: TARGET is its name, or target-N / N for\n"
	"the N-th (from 1). The password is read without echo (typed twice) on a terminal, else as one line\n"
	"of standard input, and stored sealed.",
	zl_set_password_opts };

/* The index of the target named by arg: its name, "target-N" or "N" (from 1); -1 when none. */
static long find_target(const zl_config *c, const char *arg)
{
	for (size_t i = 0; i < c->ntargets; i++)
		if (c->targets[i].name && strcmp(c->targets[i].name, arg) == 0)
			return (long)i;
	const char *num = strncmp(arg, "target-", 7) == 0 ? arg + 7 : arg;
	char *end;
	long n = strtol(num, &end, 10);
	return *num && !*end && n >= 1 && (size_t)n <= c->ntargets ? n - 1 : -1;
}

/* The type's password field: the first secret field whose name says so. */
static const char *password_field(const zl_field *fields)
{
	for (const zl_field *f = fields; f->name; f++)
		if (f->type == ZL_FT_SECRET && !f->alias_of && strstr(f->name, "assword"))
			return f->name;
	return NULL;
}

static int read_password(char **out, zl_err *err)
{
	zl_term term;
	char *again = NULL;
	zl_term_init(&term);
	int rc = zl_term_read_line(&term, term.tty ? "Password: " : "", 1, out, err);
	if (rc == 0 && term.tty && (rc = zl_term_read_line(&term, "Again: ", 1, &again, err)) == 0 &&
	    strcmp(*out, again) != 0)
		rc = zl_err_set(err, ZL_EINVAL, "the two passwords differ; nothing stored");
	zl_term_release(&term);
	if (rc == ZL_ENOTFOUND)
		rc = zl_err_set(err, ZL_EINVAL, "no password on standard input");
	zl_term_free(again);
	if (rc) {
		zl_term_free(*out);
		*out = NULL;
	}
	return rc;
}

int zl_cmd_config_set_password(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	zl_secrets *s = NULL;
	zl_state *st = NULL;
	zl_config *c = NULL;
	json_t *copy = NULL;
	char *prefix = NULL, *stored = NULL, *plain = NULL, *sealed = NULL, *text = NULL;
	zl_err err;
	int npos, rc = zl_cli_parse(cli, &set_password_cmd, argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos != 2)
		return zl_cli_usage_error(cli->prog, "expected PREFIX TARGET");
	rc = ZL_EXIT_FAIL;
	if (!(prefix = zl_prefix_normalised(argv[0])) || zl_cli_secrets(cli, &s, &err) ||
	    zl_cli_open_state(cli, &st, &err) || st->ops->config_get(st, prefix, &stored, &err) ||
	    zl_config_parse(stored, &c, &err)) {
		if (prefix)
			zl_cli_fail(&err);
		goto out;
	}
	long i = find_target(c, argv[1]);
	if (i < 0) {
		rc = zl_cli_usage_error(cli->prog, "%s has no target \"%s\" (give its name, or target-N for the N-th of %zu)",
		                        zl_cli_q(prefix), argv[1], c->ntargets);
		goto out;
	}
	const zl_field *fields = c->targets[i].ops->fields;
	const char *field = vals[0] ? zl_fields_secret_name(fields, vals[0]) : password_field(fields);
	if (!field) {
		rc = vals[0] ? zl_cli_usage_error(cli->prog, "--field %s: not a secret field of a %s target", vals[0],
		                                  c->targets[i].ops->type)
		             : zl_cli_usage_error(cli->prog, "a %s target has no password; give --field",
		                                  c->targets[i].ops->type);
		goto out;
	}
	char where[320], path[400];
	zl_config_target_where(c, (size_t)i, where, sizeof where);
	snprintf(path, sizeof path, "%s.%s", where, field);
	if (read_password(&plain, &err) || zl_secret_seal(s, c->prefix, path, plain, &sealed, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	/* The stored object, with the field set under its canonical name (an alias given is dropped). */
	copy = json_deep_copy(c->json);
	json_t *targets = json_object_get(copy, "targets");
	json_t *t = json_array_get(targets ? targets : json_object_get(copy, "loadClusters"), (size_t)i);
	const char *key;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(t, tmp, key, v)
		if (strcmp(key, field) != 0 && zl_fields_secret_name(fields, key) == field)
			json_object_del(t, key);
	json_object_set_new(t, field, json_string(sealed)); /* in its place when it was there */
	if (!(text = json_dumps(copy, JSON_COMPACT | JSON_PRESERVE_ORDER)) ||
	    st->ops->config_replace(st, c->prefix, stored, text, &err)) {
		if (!text)
			zl_err_set(&err, ZL_ENOMEM, "out of memory");
		zl_cli_fail(&err);
		goto out;
	}
	printf("stored the %s of %s target %s of %s (sealed by %s)\n", field, c->targets[i].ops->type, where,
	       zl_cli_q(c->prefix), zl_secrets_name(s));
	rc = ZL_EXIT_OK;
out:
	zl_term_free(plain);
	free(sealed);
	free(text);
	free(stored);
	free(prefix);
	json_decref(copy);
	zl_config_free(c);
	zl_state_close(st);
	return rc;
}
