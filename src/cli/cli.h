/* Command-line plumbing shared by the commands: global options, option tables, output helpers.
 * Commands return exit codes: 0 ok, 1 operation failed, 2 usage error. */
#ifndef ZL_CLI_H
#define ZL_CLI_H

#include <stdio.h>

#include "runtime/runtime.h"
#include "util/err.h"

enum { ZL_EXIT_OK = 0, ZL_EXIT_FAIL = 1, ZL_EXIT_USAGE = 2 };

typedef struct zl_cli {
	const char *state_url;   /* --state, $ZLOAD_STATE, or the default */
	const char *store_url;   /* --store, $ZLOAD_STORE, or NULL */
	const char *secrets_spec; /* --secrets, or NULL ($ZLOAD_SECRETS, else local) */
	zl_secrets *secrets;     /* opened by zl_cli_secrets; closed by main */
	const char *prog;        /* "zload batches list", for messages */
} zl_cli;

/* One option of a command; a table ends with { 0 }. */
typedef struct zl_opt {
	const char *name;      /* long name without "--" */
	char short_name;       /* or 0 */
	const char *arg;       /* argument placeholder, NULL for a flag */
	const char *help;
} zl_opt;

/* One command of a family; a table ends with { 0 }. */
typedef struct zl_cmd {
	const char *name;
	int (*run)(zl_cli *cli, int argc, char **argv);
	const char *args;      /* positional arguments, for usage */
	const char *summary;
	const zl_opt *opts;    /* for help; NULL when none */
} zl_cmd;

/* The options every command accepts (--state, --store, --log-format, -v). */
extern const zl_opt zl_global_opts[];

/* Parses argv (argv[0] is the command name) against opts and the global options. vals[i] is
 * set to the argument of opts[i] ("1" for a flag), NULL when absent; positional arguments are
 * moved to the front of argv and *npos set. Prints the error and returns ZL_EXIT_USAGE on bad
 * usage; on --help prints help and returns -1. Returns 0 otherwise. */
int zl_cli_parse(zl_cli *cli, const zl_cmd *cmd, int argc, char **argv, const char **vals, int *npos);
/* Sets the log format before anything is parsed, so that even the first usage error is in it:
 * JSON when the last "--log-format json" (or --log-format=json) anywhere on the command line,
 * up to a lone "--", says so, else when $ZLOAD_LOG_FORMAT is "json"; text otherwise. */
void zl_cli_log_early(int argc, char **argv);
/* Parses the global options before the command name. Returns the index of the command name;
 * 0 after a usage error (printed); -i when argv[i] is an option that is not global. */
int zl_cli_parse_globals(zl_cli *cli, int argc, char **argv);
/* Prints usage of one command to f. */
void zl_cli_usage(FILE *f, const char *prog, const zl_cmd *cmd);
/* Runs the command of a family named by argv[0] (argv[0] is the family name). */
int zl_cli_dispatch(zl_cli *cli, const char *family, const zl_cmd *table, int argc, char **argv);
/* Prints "zload: message" to stderr (a JSON line in JSON mode: zl_log_cli) and returns ZL_EXIT_FAIL. */
int zl_cli_fail(const zl_err *err);
/* Prints "PROG: message" and "Try 'PROG --help'." (one JSON line with a "hint" in JSON mode) and
 * returns ZL_EXIT_USAGE. */
int zl_cli_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The secrets provider of --secrets, opened on first use (it reads no key until one is needed). */
int zl_cli_secrets(zl_cli *cli, zl_secrets **out, zl_err *err);
/* Opens the state store (and, when needed, the object store) for a command. */
int zl_cli_open_state(zl_cli *cli, zl_state **st, zl_err *err);
/* required: no store configured is an error saying how to give one. */
int zl_cli_open_store(zl_cli *cli, zl_store **store, int required, zl_err *err);
/* The runtime of a one-shot command: the store (required with need_store), no workers; every load
 * prints "loaded batch=ID status=S rows=N[ error=...]". Close with zl_cli_close_rt. */
int zl_cli_open_rt(zl_cli *cli, int need_store, int no_load, zl_rt **rt, zl_store **store, zl_err *err);
void zl_cli_close_rt(zl_rt *rt, zl_store *store);
/* How long a one-shot command goes on delivering the notifications of the batches it finished. */
#define ZL_CLI_NOTIFY_WAIT_MS 5000
/* Loads what the runtime queued, then delivers the notifications of what finished (for up to
 * ZL_CLI_NOTIFY_WAIT_MS; the rest is left for zload serve); ZL_EXIT_FAIL when some batch did not
 * end complete. */
int zl_cli_drain(zl_rt *rt);
/* zl_cli_drain with, on a terminal's stderr in text mode, a live line of the loads in progress
 * ("loading N batches: X rows, Y MB, Z MB/s", redrawn every 0.5 s), gone before it returns. */
int zl_cli_drain_live(zl_rt *rt);

/* Parses the value of --opt as an integer in [min, max]; prints a usage error (2) otherwise. */
int zl_cli_int(zl_cli *cli, const char *opt, const char *v, long min, long max, long *out);
/* s made safe for one line of human output (quoted as git quotes paths when it holds control
 * characters, quotes or backslashes). Valid until 8 more calls; not thread-safe. */
const char *zl_cli_q(const char *s);

/* Reads a whole file ("-" for stdin) up to cap bytes. Caller frees. */
int zl_cli_read_file(const char *path, size_t cap, char **out, size_t *len, zl_err *err);

/* Validates a configuration's JSON text (zl_config_parse) and stores it under its s3Prefix, replacing
 * the one stored there; prints "stored configuration for P (N targets)". Errors start with source.
 * `config put`, `config add-target` and `setup` all store through it. */
int zl_cli_config_store(zl_cli *cli, zl_state *st, const char *source, const char *text, zl_err *err);
/* The configuration stored for prefix with target appended to its targets, as JSON text (caller
 * frees); neither validated nor stored. ZL_ENOTFOUND when prefix has none. */
struct json_t;
int zl_cli_config_with_target(zl_state *st, const char *prefix, struct json_t *target, char **out, zl_err *err);

/* Command families and commands, one file each in cli/. */
int zl_cmd_config(zl_cli *cli, int argc, char **argv);
int zl_cmd_batches(zl_cli *cli, int argc, char **argv);
int zl_cmd_files(zl_cli *cli, int argc, char **argv);
int zl_cmd_event(zl_cli *cli, int argc, char **argv);
int zl_cmd_flush(zl_cli *cli, int argc, char **argv);
int zl_cmd_serve(zl_cli *cli, int argc, char **argv);
int zl_cmd_lambda(zl_cli *cli, int argc, char **argv);
int zl_cmd_backfill(zl_cli *cli, int argc, char **argv);
int zl_cmd_trigger(zl_cli *cli, int argc, char **argv);
int zl_cmd_setup(zl_cli *cli, int argc, char **argv);
int zl_cmd_encrypt(zl_cli *cli, int argc, char **argv);
int zl_cmd_secrets(zl_cli *cli, int argc, char **argv);
int zl_cmd_config_set_password(zl_cli *cli, int argc, char **argv);
int zl_cmd_notifications(zl_cli *cli, int argc, char **argv);
int zl_cmd_state(zl_cli *cli, int argc, char **argv);
int zl_cmd_status(zl_cli *cli, int argc, char **argv);

extern const zl_opt zl_event_opts[], zl_flush_opts[], zl_serve_opts[], zl_setup_opts[], zl_encrypt_opts[],
	zl_set_password_opts[], zl_status_opts[];

#endif
