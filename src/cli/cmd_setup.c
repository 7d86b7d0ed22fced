/* zload setup [--add-target PREFIX]: asks for a load configuration (or one more target), as the
 * original's setup.js and addAdditionalClusterEndpoint.js did; shows it with the password masked,
 * offers to test the connection to the target, and stores it through the path `config put` and
 * `config add-target` use. The questions and their checks are in setup_questions.c. */
#include "cli/cli.h"
#include "cli/setup_questions.h"
#include "cli/term_input.h"
#include "core/config.h"
#include "core/config_secrets.h"
#include "core/scrub.h"
#include "core/route.h"
#include "target/target.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/quote.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const zl_opt zl_setup_opts[] = {
	{ "add-target", 0, "PREFIX", "ask only the target's questions and add the target to PREFIX's configuration" },
	{ 0 }
};

enum { O_ADD_TARGET };

static const zl_cmd setup_cmd = { "setup", zl_cmd_setup, NULL,
	"Ask for a load configuration question by question (as the original's setup.js did), show it, test\n"
	"the connection to its target and store it. With --add-target, ask for one more target of a stored\n"
	"configuration (the original's addAdditionalClusterEndpoint.js).", zl_setup_opts };

#define ASK_AGAIN 1 /* build_config: the answer to one question must change */

typedef struct setup_session {
	zl_cli *cli;
	zl_term term;
	zl_state *st;
	char *add_to;             /* --add-target: the configuration's prefix, normalised; else NULL */
	zl_setup_answers answers;
	char *text;               /* the configuration to store, as JSON text */
	zl_config *config;        /* text, parsed and validated */
	size_t target;            /* the index of the asked target in config */
} setup_session;

/* Prints one line of dialogue, control characters escaped; with no dialogue (JSON logs, no
 * terminal), logs it at level instead. */
static void say(setup_session *s, zl_log_level level, const char *prefix, const char *msg)
{
	if (!s->term.out) {
		zl_log_cli(level, s->cli->prog, "%s%s", prefix + strspn(prefix, " "), msg);
		return;
	}
	zl_buf b;
	zl_buf_init(&b, 0);
	zl_escape_ctl(&b, msg);
	zl_term_say(&s->term, "%s%s\n", prefix, zl_buf_str(&b));
	zl_buf_release(&b);
}

/* Asks question i until an answer passes its check. */
static int ask_question(setup_session *s, size_t i, zl_err *err)
{
	const zl_setup_question *q = &zl_setup_questions[i];
	char prompt[512];
	char *line = NULL;
	zl_err why;
	int rc;
	snprintf(prompt, sizeof prompt, "%s%s%s%s: ", q->prompt, q->dflt ? " [" : "", q->dflt ? q->dflt : "", q->dflt ? "]" : "");
	for (;;) {
		rc = zl_term_read_line(&s->term, prompt, (q->flags & ZL_SQ_SECRET) != 0, &line, &why);
		if (rc == 0)
			rc = zl_setup_answer(&s->answers, i, line, &why);
		zl_term_free(line);
		line = NULL;
		if (rc == ZL_ENOTFOUND) {
			rc = zl_err_set(err, ZL_EINVAL, "the input ended before the answer to \"%s\"; nothing stored", q->name);
			goto out;
		}
		if (rc != ZL_EINVAL)
			break;
		say(s, ZL_WARN, "  ", why.msg); /* why, then the same question again */
	}
	if (rc)
		*err = why;
out:
	return rc;
}

/* Asks "prompt [Y/n]" until the answer is yes or no (empty: dflt). */
static int ask_yes_no(setup_session *s, const char *prompt, int dflt, int *yes, zl_err *err)
{
	char full[256];
	char *line = NULL;
	int rc;
	snprintf(full, sizeof full, "%s %s ", prompt, dflt ? "[Y/n]" : "[y/N]");
	for (;;) {
		if ((rc = zl_term_read_line(&s->term, full, 0, &line, err))) {
			if (rc == ZL_ENOTFOUND)
				rc = zl_err_set(err, ZL_EINVAL, "the input ended before the answer to \"%s\"; nothing stored", prompt);
			goto out;
		}
		const char *a = line + strspn(line, " \t");
		size_t n = strcspn(a, " \t");
		int alone = a[n + strspn(a + n, " \t")] == '\0'; /* one word on the line */
		int is_yes = alone && ((n == 1 && (*a == 'y' || *a == 'Y')) || (n == 3 && strncasecmp(a, "yes", 3) == 0));
		int is_no = alone && ((n == 1 && (*a == 'n' || *a == 'N')) || (n == 2 && strncasecmp(a, "no", 2) == 0));
		if (n == 0 || is_yes || is_no) {
			*yes = n == 0 ? dflt : is_yes;
			break;
		}
		zl_term_free(line);
		line = NULL;
		say(s, ZL_WARN, "  ", "answer y or n");
	}
out:
	zl_term_free(line);
	return rc;
}

/* The configuration the answers make, as JSON text: on its own, or with --add-target the stored
 * one with the new target appended. */
static int answers_to_text(setup_session *s, char **text, zl_err *err)
{
	json_t *built = NULL;
	*text = NULL;
	int rc = zl_setup_build(&s->answers, &built, err);
	if (rc)
		goto out;
	if (s->add_to)
		rc = zl_cli_config_with_target(s->st, s->add_to, built, text, err);
	else if (!(*text = json_dumps(built, JSON_COMPACT | JSON_PRESERVE_ORDER)))
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
out:
	json_decref(built);
	return rc;
}

/* Builds and validates the configuration as `config put` will. A message about one of the
 * answers forgets that answer and returns ASK_AGAIN. */
static int build_config(setup_session *s, zl_err *err)
{
	zl_err verr;
	int rc = answers_to_text(s, &s->text, err);
	if (rc)
		goto out;
	if ((rc = zl_config_parse(s->text, &s->config, &verr)) == 0) {
		s->target = s->config->ntargets - 1;
		goto out;
	}
	json_t *j = json_loads(s->text, 0, NULL);
	json_t *targets = json_object_get(j, "targets") ? json_object_get(j, "targets") : json_object_get(j, "loadClusters");
	size_t last = json_array_size(targets) ? json_array_size(targets) - 1 : 0;
	json_decref(j);
	int k = zl_setup_question_of_error(&s->answers, verr.msg, last);
	if (k < 0) {
		*err = verr;
		goto out;
	}
	say(s, ZL_WARN, "  ", verr.msg);
	zl_setup_forget(&s->answers, (size_t)k);
	free(s->text);
	s->text = NULL;
	rc = ASK_AGAIN;
out:
	return rc;
}

/* Asks every question that applies, until the configuration they make is valid. */
static int collect(setup_session *s, zl_err *err)
{
	int rc = 0, i;
	do {
		while (rc == 0 && (i = zl_setup_next(&s->answers)) >= 0)
			rc = ask_question(s, (size_t)i, err);
	} while (rc == 0 && (rc = build_config(s, err)) == ASK_AGAIN);
	return rc;
}

static void show_summary(setup_session *s)
{
	zl_buf b;
	zl_buf_init(&b, 0);
	zl_setup_summary(&s->answers, &b);
	if (s->add_to)
		zl_term_say(&s->term, "\nThe target to add to %s:\n%s", zl_cli_q(s->add_to), zl_buf_str(&b));
	else
		zl_term_say(&s->term, "\nThe configuration for %s:\n%s", zl_cli_q(s->config->prefix), zl_buf_str(&b));
	zl_buf_release(&b);
	char *stored = NULL;
	zl_err err;
	if (!s->add_to && s->st->ops->config_get(s->st, s->config->prefix, &stored, &err) == 0)
		zl_term_say(&s->term, "A configuration for %s is stored already: storing replaces it.\n",
		        zl_cli_q(s->config->prefix));
	free(stored);
}

/* Connects to the asked target as a load would, and says how it went; *ok is set when it worked. */
static void test_connection(setup_session *s, int *ok)
{
	const zl_target_cfg *tc = &s->config->targets[s->target];
	zl_target *t = NULL;
	zl_err err;
	zl_term_say(&s->term, "Connecting to the %s target...\n", tc->ops->type);
	zl_secrets *secrets = NULL;
	json_t *conn = NULL; /* a password given as env:NAME or file:/path is read as a load would */
	*ok = zl_cli_secrets(s->cli, &secrets, &err) == 0 &&
	      zl_config_target_reveal(s->config, s->target, secrets, &conn, &err) == 0 &&
	      tc->ops->connect(conn, &t, &err) == 0;
	if (*ok) {
		tc->ops->close(t);
		say(s, ZL_INFO, "", "connection test: ok");
	} else {
		zl_strvec plain;
		zl_strvec_init(&plain);
		if (conn && zl_config_target_plain(s->config, s->target, conn, &plain) == 0)
			zl_scrub_buf(err.msg, sizeof err.msg, &plain);
		zl_scrub_release(&plain);
		say(s, ZL_WARN, "connection test failed: ", err.msg);
	}
	zl_config_target_wipe(s->config, s->target, conn);
}

/* The summary, the connection test if wanted, and the store if wanted. *stored says which. */
static int confirm_and_store(setup_session *s, int *stored, zl_err *err)
{
	int yes = 0, connected = 1;
	int rc;
	*stored = 0;
	show_summary(s);
	if ((rc = ask_yes_no(s, "Test the connection to the target now?", 1, &yes, err)))
		goto out;
	if (yes)
		test_connection(s, &connected);
	rc = connected ? ask_yes_no(s, "Store it?", 1, &yes, err)
	               : ask_yes_no(s, "The connection test failed. Store it anyway?", 0, &yes, err);
	if (rc || !yes)
		goto out;
	if ((rc = zl_cli_config_store(s->cli, s->st, "setup", s->text, err)) == 0)
		*stored = 1;
out:
	return rc;
}

static void print_help(void)
{
	zl_buf b;
	zl_buf_init(&b, 0);
	zl_setup_help(&b);
	printf("\nQuestions, in the order asked (field they fill, prompt, [default]); --add-target asks\n"
	       "those of targets[] only. An empty answer takes the default; a refused answer says why\n"
	       "and is asked again.\n%s"
	       "Then it shows the configuration (the password masked) and asks \"Test the connection to\n"
	       "the target now? [Y/n]\" and \"Store it? [Y/n]\" (after a failed test: \"Store it anyway?\n"
	       "[y/N]\"). It stores through the same validation as 'zload config put'.\n\n"
	       "With no terminal, each answer is one line of standard input, in the order above (only\n"
	       "the questions that apply to the target type take a line), then one line per y/n\n"
	       "question; prompts go to stderr (with --log-format json and stderr not a terminal: to the\n"
	       "terminal if there is one, else nowhere, and remarks on answers are log lines). Input that\n"
	       "ends early stores nothing (exit 1).\n",
	       zl_buf_str(&b));
	zl_buf_release(&b);
}

/* Opens the state, checks --add-target's configuration, asks, confirms and stores. */
static int run_setup(zl_cli *cli, setup_session *s, const char *add_target, int *stored, zl_err *err)
{
	char *stored_json = NULL;
	s->cli = cli;
	/* a DynamoDB state's tables are created here when absent */
	int rc = zl_state_init(cli->state_url, NULL, err);
	if (rc == 0)
		rc = zl_cli_open_state(cli, &s->st, err);
	if (rc)
		goto out;
	if (add_target) { /* the configuration must exist before anyone types a target */
		if (!(s->add_to = zl_prefix_normalised(add_target))) {
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
			goto out;
		}
		if ((rc = s->st->ops->config_get(s->st, s->add_to, &stored_json, err)))
			goto out;
	}
	if (s->term.tty)
		zl_term_say(&s->term, "%s. An empty answer takes the [default]; Ctrl-C stops without storing.\n\n",
		        s->add_to ? "A target to add to the configuration" : "A new load configuration");
	if ((rc = collect(s, err)) == 0)
		rc = confirm_and_store(s, stored, err);
out:
	free(stored_json);
	return rc;
}

int zl_cmd_setup(zl_cli *cli, int argc, char **argv)
{
	const char *vals[1];
	setup_session s = { 0 };
	zl_err err;
	int npos, stored = 0;
	int rc = zl_cli_parse(cli, &setup_cmd, argc, argv, vals, &npos);
	if (rc < 0)
		print_help();
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos)
		return zl_cli_usage_error(cli->prog, "takes no arguments (options only)");
	zl_term_init(&s.term);
	zl_setup_answers_init(&s.answers, vals[O_ADD_TARGET] != NULL);
	if (run_setup(cli, &s, vals[O_ADD_TARGET], &stored, &err))
		rc = zl_cli_fail(&err);
	else if (!stored) {
		zl_log_cli(ZL_ERROR, "zload", "nothing stored");
		rc = ZL_EXIT_FAIL;
	}
	zl_term_release(&s.term);
	free(s.add_to);
	free(s.text);
	zl_config_free(s.config);
	zl_setup_answers_release(&s.answers);
	zl_state_close(s.st);
	return rc;
}
