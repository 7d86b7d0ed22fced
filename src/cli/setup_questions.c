/* The questions of `zload setup`, their checks, and the configuration built from the answers. */
#include "cli/setup_questions.h"
#include "core/route.h"
#include "target/target.h"
#include "util/quote.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/* The target types the questions know how to describe. */
static const char *const setup_types[] = { "vertica", "postgres", "sqlite", NULL };

static int check_prefix(const char *s, const zl_setup_answers *a, zl_err *why);
static int check_regex(const char *s, const zl_setup_answers *a, zl_err *why);
static int check_type(const char *s, const zl_setup_answers *a, zl_err *why);
static int check_host(const char *s, const zl_setup_answers *a, zl_err *why);
static int check_port(const char *s, const zl_setup_answers *a, zl_err *why);
static int check_name(const char *s, const zl_setup_answers *a, zl_err *why);
static int check_abs_path(const char *s, const zl_setup_answers *a, zl_err *why);
static int check_table(const char *s, const zl_setup_answers *a, zl_err *why);
static int check_load_mode(const char *s, const zl_setup_answers *a, zl_err *why);
static int check_count(const char *s, const zl_setup_answers *a, zl_err *why);
static int check_timeout(const char *s, const zl_setup_answers *a, zl_err *why);
static int check_sns_arn(const char *s, const zl_setup_answers *a, zl_err *why);

#define T ZL_SETUP_TARGET_PATH
#define REQ ZL_SQ_REQUIRED

const zl_setup_question zl_setup_questions[] = {
	{ "S3 prefix", "Enter the S3 Bucket & Prefix to watch for files (bucket/prefix)", NULL, check_prefix, "s3Prefix", REQ, ZL_SQ_ALWAYS },
	{ "filename filter", "Enter a Filename Filter Regex", ".*\\.csv", check_regex, "filenameFilterRegex", 0, ZL_SQ_ALWAYS },
	{ "target type", "Enter the target type (vertica, postgres, sqlite)", "vertica", check_type, T "type", REQ, ZL_SQ_ALWAYS },
	{ "cluster endpoint", "Enter the Cluster Endpoint (a Vertica node's host name or address)", NULL, check_host, T "clusterEndpoint", REQ, ZL_SQ_VERTICA },
	{ "cluster port", "Enter the Cluster Port", "5433", check_port, T "clusterPort", REQ | ZL_SQ_INT, ZL_SQ_VERTICA },
	{ "database", "Enter the Database Name (optional: the server's default)", NULL, check_name, T "clusterDB", 0, ZL_SQ_VERTICA },
	{ "host", "Enter the database host", NULL, check_host, T "host", REQ, ZL_SQ_POSTGRES },
	{ "port", "Enter the database port", "5432", check_port, T "port", REQ | ZL_SQ_INT, ZL_SQ_POSTGRES },
	{ "database", "Enter the Database Name", NULL, check_name, T "database", REQ, ZL_SQ_POSTGRES },
	{ "database file", "Enter the SQLite database file (an absolute path)", NULL, check_abs_path, T "path", REQ, ZL_SQ_SQLITE },
	{ "user", "Enter the Database Username", NULL, check_name, T "connectUser", REQ, ZL_SQ_VERTICA },
	{ "user", "Enter the Database Username", NULL, check_name, T "user", REQ, ZL_SQ_POSTGRES },
	{ "password", "Enter the Database Password (not shown; optional)", NULL, NULL, T "connectPassword", ZL_SQ_SECRET, ZL_SQ_VERTICA },
	{ "password", "Enter the Database Password (not shown; optional: PGPASSWORD, ~/.pgpass)", NULL, NULL, T "password", ZL_SQ_SECRET, ZL_SQ_POSTGRES },
	{ "target table", "Enter the Table to be Loaded (table or schema.table)", NULL, check_table, T "targetTable", REQ, ZL_SQ_ALWAYS },
	{ "load mode", "Enter the load mode (stream: zload sends the files; mount: the nodes read them under a mount; s3: Vertica reads S3)", "stream", check_load_mode, T "loadMode", 0, ZL_SQ_VERTICA },
	{ "mount directory", "Enter the S3 Mount Directory of the Vertica nodes", "/mnt/s3/", check_abs_path, T "s3MountDir", 0, ZL_SQ_VERTICA_MOUNT },
	{ "COPY options", "Enter additional COPY options (optional)", NULL, NULL, T "copyOptions", 0, ZL_SQ_SERVER },
	{ "pre-load SQL", "Enter SQL to run before each load (optional)", NULL, NULL, T "preLoadStatement", 0, ZL_SQ_ALWAYS },
	{ "post-load SQL", "Enter SQL to run after each load (optional)", NULL, NULL, T "postLoadStatement", 0, ZL_SQ_ALWAYS },
	{ "batch size", "How many files should be buffered before loading?", "1", check_count, "batchSize", ZL_SQ_INT, ZL_SQ_ALWAYS },
	{ "batch timeout", "How old should we allow a Batch to be before loading (seconds, 0: no limit)?", "30", check_timeout, "batchTimeoutSecs", ZL_SQ_INT, ZL_SQ_ALWAYS },
	{ "success topic", "Enter the SNS Topic ARN for Successful Loads (optional)", NULL, check_sns_arn, "successTopicARN", 0, ZL_SQ_ALWAYS },
	{ "failure topic", "Enter the SNS Topic ARN for Failed Loads (optional)", NULL, check_sns_arn, "failureTopicARN", 0, ZL_SQ_ALWAYS },
};
const size_t zl_setup_nquestions = sizeof zl_setup_questions / sizeof zl_setup_questions[0];

#undef T
#undef REQ

_Static_assert(sizeof zl_setup_questions / sizeof zl_setup_questions[0] <= ZL_SETUP_MAX, "ZL_SETUP_MAX too small");

/* The conditions of zl_setup_when: a predicate over the answers, and its words for --help. */
static int when_vertica(const zl_setup_answers *a);
static int when_postgres(const zl_setup_answers *a);
static int when_sqlite(const zl_setup_answers *a);
static int when_server(const zl_setup_answers *a);
static int when_vertica_mount(const zl_setup_answers *a);

static const struct {
	int (*holds)(const zl_setup_answers *a);
	const char *words;
} conditions[ZL_SQ_NCONDITIONS] = {
	[ZL_SQ_ALWAYS] = { NULL, NULL },
	[ZL_SQ_VERTICA] = { when_vertica, "vertica" },
	[ZL_SQ_POSTGRES] = { when_postgres, "postgres" },
	[ZL_SQ_SQLITE] = { when_sqlite, "sqlite" },
	[ZL_SQ_SERVER] = { when_server, "vertica, postgres" },
	[ZL_SQ_VERTICA_MOUNT] = { when_vertica_mount, "vertica, load mode mount" },
};

static int type_is(const zl_setup_answers *a, const char *type)
{
	const char *t = zl_setup_get(a, ZL_SETUP_TARGET_PATH "type");
	return t && strcmp(t, type) == 0;
}

static int when_vertica(const zl_setup_answers *a) { return type_is(a, "vertica"); }
static int when_postgres(const zl_setup_answers *a) { return type_is(a, "postgres"); }
static int when_sqlite(const zl_setup_answers *a) { return type_is(a, "sqlite"); }
static int when_server(const zl_setup_answers *a) { return when_vertica(a) || when_postgres(a); }

static int when_vertica_mount(const zl_setup_answers *a)
{
	const char *mode = zl_setup_get(a, ZL_SETUP_TARGET_PATH "loadMode");
	return when_vertica(a) && mode && strcmp(mode, "mount") == 0;
}

/* The target field a path names ("targets[].port" -> "port"), or NULL for a configuration field. */
static const char *target_field(const char *path)
{
	size_t n = strlen(ZL_SETUP_TARGET_PATH);
	return strncmp(path, ZL_SETUP_TARGET_PATH, n) == 0 ? path + n : NULL;
}

/* ---- the checks ---- */

static int has_blank(const char *s)
{
	for (; *s; s++)
		if (isspace((unsigned char)*s))
			return 1;
	return 0;
}

static int check_prefix(const char *s, const zl_setup_answers *a, zl_err *why)
{
	char *p = zl_prefix_normalised(s);
	int rc = 0;
	if (!p)
		rc = zl_err_set(why, ZL_ENOMEM, "out of memory");
	else if (!*p)
		rc = zl_err_set(why, ZL_EINVAL, "must name at least a bucket (bucket/prefix)");
	else if (*p == '/')
		rc = zl_err_set(why, ZL_EINVAL, "empty bucket name");
	else if (strcspn(p, " \t") < strcspn(p, "/"))
		rc = zl_err_set(why, ZL_EINVAL, "a bucket name has no blanks");
	free(p);
	return rc;
}

static int check_regex(const char *s, const zl_setup_answers *a, zl_err *why)
{
	int code;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &off, NULL);
	if (re) {
		pcre2_code_free(re);
		return 0;
	}
	PCRE2_UCHAR msg[256];
	pcre2_get_error_message(code, msg, sizeof msg);
	return zl_err_set(why, ZL_EINVAL, "not a valid regular expression: %s at offset %zu", (char *)msg, (size_t)off);
}

static int check_type(const char *s, const zl_setup_answers *a, zl_err *why)
{
	for (size_t i = 0; setup_types[i]; i++)
		if (strcmp(s, setup_types[i]) == 0 && zl_target_ops_find(s))
			return 0;
	return zl_err_set(why, ZL_EINVAL, "\"%s\" is not one of vertica, postgres, sqlite", s);
}

static int check_host(const char *s, const zl_setup_answers *a, zl_err *why)
{
	return has_blank(s) ? zl_err_set(why, ZL_EINVAL, "a host name has no blanks") : 0;
}

/* s as a whole number in [min, max]. */
static int whole_number(const char *s, long long min, long long max, long long *out, zl_err *why)
{
	char *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || errno)
		return zl_err_set(why, ZL_EINVAL, "\"%s\" is not a whole number", s);
	if (n < min || n > max)
		return zl_err_set(why, ZL_EINVAL, "must be between %lld and %lld", min, max);
	*out = n;
	return 0;
}

static int check_port(const char *s, const zl_setup_answers *a, zl_err *why)
{
	long long n;
	return whole_number(s, 1, 65535, &n, why);
}

static int check_name(const char *s, const zl_setup_answers *a, zl_err *why)
{
	return has_blank(s) ? zl_err_set(why, ZL_EINVAL, "a name has no blanks") : 0;
}

static int check_abs_path(const char *s, const zl_setup_answers *a, zl_err *why)
{
	return s[0] == '/' ? 0 : zl_err_set(why, ZL_EINVAL, "must be an absolute path (starting with /)");
}

/* A table name: blanks and semicolons only inside double quotes ("My Table"). */
static int check_table(const char *s, const zl_setup_answers *a, zl_err *why)
{
	int quoted = 0;
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && (isspace((unsigned char)*p) || *p == ';'))
			return zl_err_set(why, ZL_EINVAL, "not a table name (quote a name with blanks: \"My Table\")");
	}
	return quoted ? zl_err_set(why, ZL_EINVAL, "a double quote is not closed") : 0;
}

static int check_load_mode(const char *s, const zl_setup_answers *a, zl_err *why)
{
	static const char *const modes[] = { "stream", "mount", "s3" };
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (strcmp(s, modes[i]) == 0)
			return 0;
	return zl_err_set(why, ZL_EINVAL, "\"%s\" is not one of stream, mount, s3", s);
}

#define COUNT_MAX 2147483647LL

static int check_count(const char *s, const zl_setup_answers *a, zl_err *why)
{
	long long n;
	return whole_number(s, 0, COUNT_MAX, &n, why);
}

/* A batch with no size limit needs a timeout, or it never loads. */
static int check_timeout(const char *s, const zl_setup_answers *a, zl_err *why)
{
	long long n;
	int rc = whole_number(s, 0, COUNT_MAX, &n, why);
	const char *size = zl_setup_get(a, "batchSize");
	if (rc == 0 && n == 0 && size && strcmp(size, "0") == 0)
		rc = zl_err_set(why, ZL_EINVAL, "with a batch size of 0, a timeout of 0 would never load");
	return rc;
}

/* arn:PARTITION:sns:REGION:ACCOUNT:TOPIC */
static int check_sns_arn(const char *s, const zl_setup_answers *a, zl_err *why)
{
	const char *part[6] = { 0 };
	size_t len[6] = { 0 }, n = 0;
	for (const char *p = s; n < 6; n++) {
		part[n] = p;
		len[n] = n == 5 ? strlen(p) : strcspn(p, ":");
		if (n < 5 && p[len[n]] != ':')
			break;
		p += len[n] + 1;
	}
	int ok = n == 6 && len[0] == 3 && strncmp(part[0], "arn", 3) == 0 && len[1] && len[2] == 3 &&
	         strncmp(part[2], "sns", 3) == 0 && len[3] && len[4] && len[5] && !strchr(part[5], ':') && !has_blank(s);
	return ok ? 0 : zl_err_set(why, ZL_EINVAL, "not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC)");
}

/* ---- answers ---- */

void zl_setup_answers_init(zl_setup_answers *a, int target_only)
{
	memset(a, 0, sizeof *a);
	a->target_only = target_only;
}

void zl_setup_forget(zl_setup_answers *a, size_t i)
{
	if (i >= zl_setup_nquestions || !a->v[i])
		return;
	explicit_bzero(a->v[i], strlen(a->v[i]));
	free(a->v[i]);
	a->v[i] = NULL;
}

void zl_setup_answers_release(zl_setup_answers *a)
{
	for (size_t i = 0; i < zl_setup_nquestions; i++)
		zl_setup_forget(a, i);
}

int zl_setup_is_asked(const zl_setup_answers *a, size_t i)
{
	const zl_setup_question *q = &zl_setup_questions[i];
	if (a->target_only && !target_field(q->field))
		return 0;
	return !conditions[q->when].holds || conditions[q->when].holds(a);
}

int zl_setup_next(const zl_setup_answers *a)
{
	for (size_t i = 0; i < zl_setup_nquestions; i++)
		if (!a->v[i] && zl_setup_is_asked(a, i))
			return (int)i;
	return -1;
}

const char *zl_setup_get(const zl_setup_answers *a, const char *field)
{
	for (size_t i = 0; i < zl_setup_nquestions; i++)
		if (a->v[i] && strcmp(zl_setup_questions[i].field, field) == 0 && zl_setup_is_asked(a, i))
			return a->v[i];
	return NULL;
}

int zl_setup_answer(zl_setup_answers *a, size_t i, const char *line, zl_err *why)
{
	const zl_setup_question *q = &zl_setup_questions[i];
	size_t len = strlen(line);
	if (!(q->flags & ZL_SQ_SECRET)) { /* blanks around an answer are typing, not meaning */
		while (len && isspace((unsigned char)*line))
			line++, len--;
		while (len && isspace((unsigned char)line[len - 1]))
			len--;
	}
	if (len == 0 && q->dflt) {
		line = q->dflt;
		len = strlen(line);
	}
	for (size_t k = 0; k < len; k++)
		if ((unsigned char)line[k] < 0x20 && line[k] != '\t')
			return zl_err_set(why, ZL_EINVAL, "control characters are not allowed");
	if (len == 0 && (q->flags & ZL_SQ_REQUIRED))
		return zl_err_set(why, ZL_EINVAL, "an answer is required");
	char *v = strndup(line, len);
	if (!v)
		return zl_err_set(why, ZL_ENOMEM, "out of memory");
	json_t *utf8 = json_stringn(v, len); /* NULL unless valid UTF-8, as JSON needs */
	int rc = utf8 ? 0 : zl_err_set(why, ZL_EINVAL, "not valid UTF-8 text");
	json_decref(utf8);
	rc = rc == 0 && len && q->check ? q->check(v, a, why) : rc;
	if (rc) {
		explicit_bzero(v, len);
		free(v);
		return rc;
	}
	zl_setup_forget(a, i);
	a->v[i] = v;
	return 0;
}

int zl_setup_build(const zl_setup_answers *a, json_t **out, zl_err *err)
{
	json_t *target = json_object(), *conf = a->target_only ? NULL : json_object();
	int rc = 0;
	*out = NULL;
	if (!target || (!a->target_only && !conf)) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < zl_setup_nquestions; i++) {
		const zl_setup_question *q = &zl_setup_questions[i];
		if (!a->v[i] || !*a->v[i] || !zl_setup_is_asked(a, i))
			continue;
		const char *tf = target_field(q->field);
		if (conf && tf && !json_object_get(conf, "targets") && /* where the first target question is */
		    json_object_set_new(conf, "targets", json_pack("[O]", target))) {
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
			goto out;
		}
		json_t *v = q->flags & ZL_SQ_INT ? json_integer(strtoll(a->v[i], NULL, 10)) : json_string(a->v[i]);
		if (json_object_set_new(tf ? target : conf, tf ? tf : q->field, v)) {
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
			goto out;
		}
	}
	*out = json_incref(conf ? conf : target);
out:
	json_decref(target);
	json_decref(conf);
	return rc;
}

int zl_setup_question_of_error(const zl_setup_answers *a, const char *msg, size_t target_index)
{
	char prefix[48];
	int n = snprintf(prefix, sizeof prefix, "targets[%zu].", target_index);
	const char *field = msg;
	int in_target = strncmp(msg, prefix, (size_t)n) == 0;
	if (in_target)
		field = msg + n;
	for (size_t i = 0; i < zl_setup_nquestions; i++) {
		const char *tf = target_field(zl_setup_questions[i].field);
		const char *name = in_target ? tf : tf ? NULL : zl_setup_questions[i].field;
		size_t len = name ? strlen(name) : 0;
		if (name && zl_setup_is_asked(a, i) && strncmp(field, name, len) == 0 && field[len] == ':')
			return (int)i;
	}
	return -1;
}

void zl_setup_summary(const zl_setup_answers *a, zl_buf *out)
{
	for (size_t i = 0; i < zl_setup_nquestions; i++) {
		const zl_setup_question *q = &zl_setup_questions[i];
		if (!a->v[i] || !zl_setup_is_asked(a, i))
			continue;
		zl_buf_printf(out, "  %-18s ", q->name);
		if (!*a->v[i])
			zl_buf_adds(out, "(none)");
		else if (q->flags & ZL_SQ_SECRET)
			zl_buf_adds(out, "********");
		else
			zl_escape_ctl(out, a->v[i]);
		zl_buf_addc(out, '\n');
	}
}

void zl_setup_help(zl_buf *out)
{
	for (size_t i = 0; i < zl_setup_nquestions; i++) {
		const zl_setup_question *q = &zl_setup_questions[i];
		const char *words = conditions[q->when].words;
		zl_buf_printf(out, "  %-28s %s", q->field, q->prompt);
		if (q->dflt)
			zl_buf_printf(out, " [%s]", q->dflt);
		if (q->flags & ZL_SQ_REQUIRED)
			zl_buf_adds(out, " (required)");
		if (words)
			zl_buf_printf(out, " (%s)", words);
		zl_buf_addc(out, '\n');
	}
}
