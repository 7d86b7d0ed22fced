/* The questions `zload setup` asks (after the original's setup.js and addAdditionalClusterEndpoint.js),
 * the check of each answer, and the configuration the answers make. No terminal and no state here:
 * cmd_setup.c asks and stores, the unit tests answer directly. zl_setup_answers owns its strings and
 * wipes them on release (one is a password); zl_setup_build's JSON is the caller's. */
#ifndef ZL_SETUP_QUESTIONS_H
#define ZL_SETUP_QUESTIONS_H

#include <jansson.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

enum {
	ZL_SQ_REQUIRED = 1, /* an empty answer with no default is refused */
	ZL_SQ_SECRET = 2,   /* read without echo, kept as typed, masked in the summary */
	ZL_SQ_INT = 4,      /* stored as a JSON integer */
};

/* When a question is asked (besides the mode: --add-target asks only the target's questions). */
typedef enum {
	ZL_SQ_ALWAYS = 0,
	ZL_SQ_VERTICA,        /* the target type is vertica */
	ZL_SQ_POSTGRES,
	ZL_SQ_SQLITE,
	ZL_SQ_SERVER,         /* vertica or postgres: a database server */
	ZL_SQ_VERTICA_MOUNT,  /* vertica with loadMode mount */
	ZL_SQ_NCONDITIONS
} zl_setup_when;

#define ZL_SETUP_MAX 32
#define ZL_SETUP_TARGET_PATH "targets[]." /* field paths of the target's questions start so */

typedef struct zl_setup_answers zl_setup_answers;

typedef struct zl_setup_question {
	const char *name;    /* short label, for the summary */
	const char *prompt;
	const char *dflt;    /* taken on an empty answer; NULL: none */
	/* Checks a non-empty answer; ZL_EINVAL and why ("not a number: ...") when refused. NULL: any. */
	int (*check)(const char *answer, const zl_setup_answers *a, zl_err *why);
	const char *field;   /* where the answer goes: "s3Prefix", "targets[].clusterPort" */
	unsigned flags;      /* ZL_SQ_* */
	zl_setup_when when;
} zl_setup_question;

/* The questions in the order they are asked. */
extern const zl_setup_question zl_setup_questions[];
extern const size_t zl_setup_nquestions;

struct zl_setup_answers {
	char *v[ZL_SETUP_MAX]; /* the accepted answer to question i ("" for an empty optional one), or NULL */
	int target_only;       /* --add-target: the target's questions only, and zl_setup_build makes a target */
};

void zl_setup_answers_init(zl_setup_answers *a, int target_only);
/* Wipes and frees the answers. */
void zl_setup_answers_release(zl_setup_answers *a);
/* Whether question i is asked, given the mode and the answers so far (the target type). */
int zl_setup_is_asked(const zl_setup_answers *a, size_t i);
/* The next question to ask (asked and not answered yet), or -1 when every one has its answer. */
int zl_setup_next(const zl_setup_answers *a);
/* Takes line as the answer to question i: surrounding blanks trimmed (not from a secret), the
 * default when empty, then checked. 0 when recorded; ZL_EINVAL and why otherwise (nothing recorded). */
int zl_setup_answer(zl_setup_answers *a, size_t i, const char *line, zl_err *why);
/* Forgets the answer to question i, so that it is asked again. */
void zl_setup_forget(zl_setup_answers *a, size_t i);
/* The answer recorded for the question of a field path ("targets[].type"), or NULL. */
const char *zl_setup_get(const zl_setup_answers *a, const char *field);
/* The configuration the answers make (with target_only, the target object alone): every asked
 * question with a non-empty answer, in the order asked. Caller decrefs. */
int zl_setup_build(const zl_setup_answers *a, json_t **out, zl_err *err);
/* The question a validation message is about ("targets[2].path: ..." with target_index 2 -> the
 * path question), so that it can be asked again; -1 when the message names none of the asked ones. */
int zl_setup_question_of_error(const zl_setup_answers *a, const char *msg, size_t target_index);
/* One line per asked question, "  label  answer"; a secret shows as ******** ("(none)" when empty). */
void zl_setup_summary(const zl_setup_answers *a, zl_buf *out);
/* Every question, in order: field path, prompt, default, when it is asked (for --help). */
void zl_setup_help(zl_buf *out);

#endif
