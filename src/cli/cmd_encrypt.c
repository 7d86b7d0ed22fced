/* zload encrypt [VALUE|-]: seal a value for a configuration, as the original's encryptValue.js did:
 * seal it, check that it opens again, print the form to store. */
#include "cli/cli.h"
#include "cli/term_input.h"
#include "core/route.h"
#include "target/target.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

const zl_opt zl_encrypt_opts[] = {
	{ "prefix", 0, "PREFIX", "the configuration's s3Prefix (local: the value opens only there)" },
	{ "field", 0, "PATH", "targets[NAME].FIELD, targets[N].FIELD or notify.webhookSecret (local: it opens only there)" },
	{ 0 }
};
enum { O_PREFIX, O_FIELD };

static const zl_cmd encrypt_cmd = { "encrypt", zl_cmd_encrypt, "[VALUE|-]",
	"Seal VALUE (read without echo when not given, or from stdin with -) with the secrets provider and\n"
	"print what to store in a configuration. The local provider binds the value to one field of one\n"
	"configuration, so it needs --prefix and --field; KMS ciphertexts open anywhere the key is usable.\n"
	"Storing a plain value with 'zload config put' seals it the same way.",
	zl_encrypt_opts };

/* The canonical name of a target type's secret field (an alias gives its field), or NULL. */
static const char *secret_field(const char *name)
{
	char types[256];
	snprintf(types, sizeof types, "%s", zl_target_types());
	for (char *save = NULL, *t = strtok_r(types, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		const zl_target_ops *ops = zl_target_ops_find(t);
		const char *canon = ops ? zl_fields_secret_name(ops->fields, name) : NULL;
		if (canon)
			return canon;
	}
	return NULL;
}

/* --field checked and written with the field's canonical name: "targets[db].password". */
static int field_path(zl_cli *cli, const char *field, char *out, size_t n)
{
	const char *dot = strrchr(field, '.');
	const char *canon = dot ? secret_field(dot + 1) : NULL;
	if (strcmp(field, "notify.webhookSecret") == 0 || strcmp(field, "notify.smtp.password") == 0) {
		snprintf(out, n, "%s", field);
		return 0;
	}
	if (!dot || strncmp(field, "targets[", 8) != 0 || dot[-1] != ']')
		return zl_cli_usage_error(cli->prog, "--field \"%s\": expected targets[NAME].FIELD, targets[N].FIELD, "
		                          "notify.webhookSecret or notify.smtp.password", field);
	if (!canon)
		return zl_cli_usage_error(cli->prog, "--field \"%s\": %s is not a secret field of any target type", field,
		                          dot + 1);
	snprintf(out, n, "%.*s.%s", (int)(dot - field), field, canon);
	return 0;
}

/* The value: the argument (wiped from the command line at once), else one line of stdin. */
static int read_value(zl_cli *cli, int npos, char **argv, char **value, zl_err *err)
{
	if (npos == 1 && strcmp(argv[0], "-") != 0) {
		zl_log_cli(ZL_WARN, cli->prog, "a value given as an argument shows in ps and in the shell's history; "
		                               "give - or nothing to type it unseen");
		*value = strdup(argv[0]);
		explicit_bzero(argv[0], strlen(argv[0]));
		return *value ? 0 : zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	zl_term term;
	zl_term_init(&term);
	int rc = zl_term_read_line(&term, term.tty ? "Value to encrypt: " : "", 1, value, err);
	zl_term_release(&term);
	if (rc == ZL_ENOTFOUND)
		return zl_err_set(err, ZL_EINVAL, "no value on standard input");
	if (rc == 0 && !**value) {
		zl_term_free(*value);
		*value = NULL;
		return zl_err_set(err, ZL_EINVAL, "the value is empty");
	}
	return rc;
}

int zl_cmd_encrypt(zl_cli *cli, int argc, char **argv)
{
	const char *vals[2];
	char path[512] = "", *value = NULL, *sealed = NULL, *back = NULL, *prefix = NULL;
	zl_secrets *s = NULL;
	zl_err err;
	int npos, rc = zl_cli_parse(cli, &encrypt_cmd, argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos > 1)
		return zl_cli_usage_error(cli->prog, "expected at most one VALUE");
	if (zl_cli_secrets(cli, &s, &err))
		return zl_cli_fail(&err);
	if (strcmp(zl_secrets_name(s), "local") == 0 && (!vals[O_PREFIX] || !vals[O_FIELD]))
		return zl_cli_usage_error(cli->prog, "the local provider binds a value to one field of one configuration: "
		                                     "give --prefix and --field (or store the plain value with config put, "
		                                     "which seals it)");
	if (vals[O_FIELD] && (rc = field_path(cli, vals[O_FIELD], path, sizeof path)))
		return rc;
	if (vals[O_PREFIX] && !(prefix = zl_prefix_normalised(vals[O_PREFIX]))) {
		zl_err_set(&err, ZL_ENOMEM, "out of memory");
		return zl_cli_fail(&err);
	}
	rc = ZL_EXIT_FAIL;
	if (read_value(cli, npos, argv, &value, &err) || zl_secret_seal(s, prefix, path, value, &sealed, &err) ||
	    zl_secret_reveal(s, prefix, path, sealed, &back, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	if (strcmp(back, value) != 0) {
		zl_log_cli(ZL_ERROR, cli->prog, "the sealed value did not open to the value given; nothing printed");
		goto out;
	}
	printf("%s\n", sealed);
	rc = ZL_EXIT_OK;
out:
	zl_secret_free(value);
	zl_secret_free(back);
	free(sealed);
	free(prefix);
	return rc;
}
