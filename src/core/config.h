/* A load configuration: parsed, validated and compiled from its JSON. zl_config_free frees all. */
#ifndef ZL_CONFIG_H
#define ZL_CONFIG_H

#include <jansson.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/notify_config.h"
#include "format/format.h"
#include "util/err.h"

struct zl_target_ops;

typedef struct zl_target_cfg {
	const char *name;                 /* "name" or "target-N"; points into json */
	const struct zl_target_ops *ops;  /* from the target registry by "type" */
	json_t *json;                     /* the target's object with the fields it inherits from the
	                                   * configuration (copyOptions, s3MountDir); owned by the config */
	const char *pre_sql;              /* preLoadStatement or NULL */
	const char *post_sql;             /* postLoadStatement or NULL */
	int parallelism;                  /* parts a batch is split into, each on its own connection (1..ZL_PARTS_MAX) */
} zl_target_cfg;

typedef struct zl_config {
	json_t *json;               /* the stored object, as given */
	const char *prefix;         /* s3Prefix without surrounding slashes: "bucket/path" */
	pcre2_code *filter;         /* compiled filenameFilterRegex or NULL */
	int64_t batch_size;         /* files; 0 = no limit */
	int64_t batch_size_bytes;   /* 0 = no limit */
	int64_t batch_timeout_ms;   /* age of the first file; 0 = no timeout */
	int dedupe_etag;            /* "dedupe": "key+etag" */
	int max_attempts;
	int64_t lease_ms;
	zl_format format;
	zl_target_cfg *targets;
	size_t ntargets;
	zl_notify_cfg notify;
} zl_config;

/* Parses and validates JSON text; errors name the field ("targets[1].targetTable: ...") and,
 * for JSON syntax errors, the line and column. */
int zl_config_parse(const char *text, zl_config **out, zl_err *err);
/* Same from a JSON value (the config takes its own reference). */
int zl_config_from_json(json_t *json, zl_config **out, zl_err *err);
void zl_config_free(zl_config *c);
/* Whether the file name (last key segment) passes filenameFilterRegex. */
int zl_config_accepts(const zl_config *c, const char *filename);
/* JSON text with secrets masked (for display). Caller frees. */
char *zl_config_dump_masked(const zl_config *c);
/* Appends the reference of every configuration field to out (for `config --help`). */
struct zl_buf;
void zl_config_help(struct zl_buf *out);

#endif
