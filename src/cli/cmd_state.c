/* zload state init: create what a state store needs; zload state migrate: copy every record of
 * one state store into another. */
#include "cli/cli.h"
#include "core/scrub.h"
#include "state/state_copy.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int cmd_migrate(zl_cli *cli, int argc, char **argv);
static int cmd_init(zl_cli *cli, int argc, char **argv);

static const zl_opt init_opts[] = { { 0 } };

enum { M_FROM, M_TO, M_DRY_RUN, M_JSON };
static const zl_opt migrate_opts[] = {
	{ "from", 0, "URL", "the state store to copy (required)" },
	{ "to", 0, "URL", "the store to copy into, created on first use: empty, or written by an earlier migrate from --from (required)" },
	{ "dry-run", 0, NULL, "count what would be copied and write nothing (--to is not opened)" },
	{ "json", 0, NULL, "print the summary as JSON" },
	{ 0 }
};

static const zl_cmd state_cmds[] = {
	{ "init", cmd_init, NULL,
	  "create the store of --state where it is absent (DynamoDB: the three tables, billed on demand); safe to run again",
	  init_opts },
	{ "migrate", cmd_migrate, NULL,
	  "copy configurations, batches, file records and notifications into another state store (stop the loaders first)",
	  migrate_opts },
	{ 0 }
};

/* The two stores as the command shows them (passwords hidden), and the passwords to scrub from
 * messages. */
typedef struct migrate_names {
	char *from, *to;
	zl_strvec secrets;
} migrate_names;

static int names_init(migrate_names *m, const char *from, const char *to, zl_err *err)
{
	zl_strvec_init(&m->secrets);
	m->from = zl_url_redacted(from);
	m->to = zl_url_redacted(to);
	if (!m->from || !m->to || zl_scrub_add_url(&m->secrets, from) || zl_scrub_add_url(&m->secrets, to))
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	return 0;
}

static void names_release(migrate_names *m)
{
	free(m->from);
	free(m->to);
	zl_scrub_release(&m->secrets);
}

static const char *plural(size_t n, const char *one, const char *many) { return n == 1 ? one : many; }

static void print_summary(const migrate_names *m, const zl_state_copy_counts *c, int dry_run, int json)
{
	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I}", "from", m->from, "to", m->to, "dryRun", dry_run,
		                      "configurations", (json_int_t)c->configs, "batches", (json_int_t)c->batches, "files",
		                      (json_int_t)c->files, "notifications", (json_int_t)c->notices);
		char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s);
		free(s);
		json_decref(o);
		return;
	}
	printf("%s %s -> %s: %zu %s, %zu %s, %zu %s, %zu %s%s\n", dry_run ? "would migrate" : "migrated", m->from, m->to,
	       c->configs, plural(c->configs, "configuration", "configurations"), c->batches,
	       plural(c->batches, "batch", "batches"), c->files, plural(c->files, "file", "files"), c->notices,
	       plural(c->notices, "notification", "notifications"), dry_run ? " (dry run: nothing written)" : "");
}

/* Opens the source and copies (the destination is opened once the source's checks pass). */
static int migrate(const char *from, const char *to, const migrate_names *m, int dry_run, zl_state_copy_counts *c,
                   zl_err *err)
{
	zl_state *src = NULL;
	zl_state_copy_opts o = { .now = zl_now_ms(), .dry_run = dry_run };
	int ret;

	if ((ret = zl_state_open(from, &src, err)))
		zl_err_prefix(err, "--from %s", m->from);
	else if ((ret = zl_state_copy(src, to, &o, c, err)))
		zl_err_prefix(err, "cannot migrate %s -> %s", m->from, m->to);
	zl_state_close(src);
	return ret;
}

static int cmd_init(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	int npos, created = 0, rc = zl_cli_parse(cli, &state_cmds[0], argc, argv, vals, &npos);
	zl_err err = { 0 };
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos)
		return zl_cli_usage_error(cli->prog, "takes no arguments (give the store with --state URL)");
	char *shown = zl_url_redacted(cli->state_url);
	if ((rc = zl_state_init(cli->state_url, &created, &err))) {
		zl_err_prefix(&err, "cannot initialise the state %s", shown ? shown : "");
		rc = zl_cli_fail(&err);
	} else {
		if (created)
			printf("state %s ready: created %d table%s\n", shown ? shown : "", created, created == 1 ? "" : "s");
		else
			printf("state %s ready\n", shown ? shown : "");
		rc = ZL_EXIT_OK;
	}
	free(shown);
	return rc;
}

static int cmd_migrate(zl_cli *cli, int argc, char **argv)
{
	const char *vals[4];
	int npos, rc = zl_cli_parse(cli, &state_cmds[1], argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos)
		return zl_cli_usage_error(cli->prog, "takes no arguments (give the stores with --from and --to)");
	if (!vals[M_FROM] || !*vals[M_FROM] || !vals[M_TO] || !*vals[M_TO])
		return zl_cli_usage_error(cli->prog, "needs --from URL and --to URL");
	if (strcmp(vals[M_FROM], vals[M_TO]) == 0)
		return zl_cli_usage_error(cli->prog, "--from and --to name the same store");

	migrate_names m;
	zl_state_copy_counts c;
	zl_err err = { 0 };
	int dry_run = vals[M_DRY_RUN] != NULL;
	if ((rc = names_init(&m, vals[M_FROM], vals[M_TO], &err)) ||
	    (rc = migrate(vals[M_FROM], vals[M_TO], &m, dry_run, &c, &err))) {
		zl_scrub_buf(err.msg, sizeof err.msg, &m.secrets);
		rc = zl_cli_fail(&err);
	} else {
		print_summary(&m, &c, dry_run, vals[M_JSON] != NULL);
		rc = ZL_EXIT_OK;
	}
	names_release(&m);
	return rc;
}

int zl_cmd_state(zl_cli *cli, int argc, char **argv)
{
	return zl_cli_dispatch(cli, "state", state_cmds, argc, argv);
}
