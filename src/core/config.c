#include "core/config.h"
#include "core/fields.h"
#include "core/route.h"
#include "target/target.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_ATTEMPTS 5
#define DEFAULT_LEASE_SECS 60

static const zl_field config_fields[] = {
	{ "s3Prefix", ZL_FT_STRING, 1, NULL, NULL, "bucket/prefix the configuration watches; hive partitions as dt=*" },
	{ "filenameFilterRegex", ZL_FT_STRING, 0, NULL, NULL, "PCRE2 pattern the file name must match" },
	{ "batchSize", ZL_FT_INT, 0, NULL, NULL, "load when the open batch holds this many files (default 1)" },
	{ "batchSizeBytes", ZL_FT_INT, 0, NULL, NULL, "load when the open batch holds this many bytes (0: no limit)" },
	{ "batchTimeoutSecs", ZL_FT_INT, 0, NULL, NULL, "load when the first file of the open batch is this old (0: never)" },
	{ "dedupe", ZL_FT_ENUM, 0, "key|key+etag", NULL, "file identity: key, or key+etag so an overwritten object loads again" },
	{ "maxAttempts", ZL_FT_INT, 0, NULL, NULL, "load attempts before a batch with transient failures ends in error (default 5)" },
	{ "leaseSecs", ZL_FT_INT, 0, NULL, NULL, "lock lease of a loading batch, renewed while loading (default 60)" },
	{ "format", ZL_FT_OBJECT, 0, NULL, NULL, "file format, see below" },
	{ "targets", ZL_FT_ARRAY, 1, NULL, NULL, "one or more target tables, see below" },
	{ "loadClusters", ZL_FT_ARRAY, 0, NULL, "targets", NULL },
	{ "copyOptions", ZL_FT_STRING, 0, NULL, NULL, "COPY options for every target that takes them and sets none (the original's place)" },
	{ "s3MountDir", ZL_FT_STRING, 0, NULL, NULL, "where the Vertica nodes mount the buckets, for loadMode mount (default /mnt/s3/)" },
	{ "successTopicARN", ZL_FT_STRING, 0, NULL, NULL, "SNS topic ARN notified when a batch completes (the original's field)" },
	{ "failureTopicARN", ZL_FT_STRING, 0, NULL, NULL, "SNS topic ARN notified when a batch ends in error (the original's field)" },
	{ "notify", ZL_FT_OBJECT, 0, NULL, NULL, "notification destinations and their settings, see below" },
	{ "maxNotifyAttempts", ZL_FT_INT, 0, NULL, NULL, "deliveries of a notification before it is marked failed (default 10)" },
	/* The original loader's items carry these; accepted as they are and not used. */
	{ "version", ZL_FT_ANY, 0, NULL, NULL, "kept from the original loader's items; not used" },
	{ "currentBatch", ZL_FT_ANY, 0, NULL, NULL, "kept from the original loader's items; not used" },
	{ "lastBatchRotation", ZL_FT_ANY, 0, NULL, NULL, "kept from the original loader's items; not used" },
	{ "lastUpdate", ZL_FT_ANY, 0, NULL, NULL, "kept from the original loader's items; not used" },
	{ 0 }
};

static const zl_field format_fields[] = {
	{ "type", ZL_FT_ENUM, 0, "csv|text|jsonl", NULL, "csv (default), text (PostgreSQL text format: tab-delimited, \\N for NULL) or JSON lines" },
	{ "delimiter", ZL_FT_CHAR, 0, NULL, NULL, "field delimiter (default , for csv, tab for text)" },
	{ "quote", ZL_FT_CHAR, 0, NULL, NULL, "CSV quote character (default \")" },
	{ "escape", ZL_FT_CHAR, 0, NULL, NULL, "CSV character escaping a quote inside quotes (default: the quote)" },
	{ "null", ZL_FT_STRING, 0, NULL, NULL, "string read as NULL (default: csv unquoted empty, text \\N)" },
	{ "header", ZL_FT_BOOL, 0, NULL, NULL, "CSV files start with a line of column names (skipped in every file)" },
	{ "compression", ZL_FT_ENUM, 0, "auto|none|gzip|zstd|bzip2", NULL, "auto: by extension and magic bytes" },
	{ 0 }
};

static const zl_field target_common_fields[] = {
	{ "type", ZL_FT_STRING, 1, NULL, NULL, "target type" },
	{ 0 }
};

void zl_config_free(zl_config *c)
{
	if (!c)
		return;
	pcre2_code_free(c->filter);
	for (size_t i = 0; c->targets && i < c->ntargets; i++)
		json_decref(c->targets[i].json);
	free(c->targets);
	zl_notify_cfg_release(&c->notify);
	json_decref(c->json);
	free(c);
}

static int64_t int_field(const json_t *obj, const char *name, int64_t dflt)
{
	json_t *v = zl_fields_get(config_fields, obj, name);
	return v ? json_integer_value(v) : dflt;
}

static int parse_format(const json_t *fmt, zl_format *f, zl_err *err)
{
	zl_format_defaults(f);
	if (!fmt)
		return 0;
	int rc = zl_fields_check(format_fields, fmt, "format", err);
	if (rc)
		return rc;
	json_t *v;
	static const char *const types[] = { "csv", "jsonl", "text" };
	static const char *const comps[] = { "auto", "none", "gzip", "zstd", "bzip2" };
	if ((v = json_object_get(fmt, "type")))
		for (int i = 0; i < 3; i++)
			if (strcmp(json_string_value(v), types[i]) == 0)
				f->type = (zl_format_type)i;
	if (f->type == ZL_FMT_TEXT)
		f->delimiter = '\t';
	if ((v = json_object_get(fmt, "delimiter")))
		f->delimiter = json_string_value(v)[0];
	if ((v = json_object_get(fmt, "quote")))
		f->quote = json_string_value(v)[0];
	if ((v = json_object_get(fmt, "escape")))
		f->escape = json_string_value(v)[0];
	if ((v = json_object_get(fmt, "null")))
		f->null_string = json_string_value(v);
	if ((v = json_object_get(fmt, "header")))
		f->header = json_is_true(v);
	if ((v = json_object_get(fmt, "compression")))
		for (int i = 0; i < 5; i++)
			if (strcmp(json_string_value(v), comps[i]) == 0)
				f->compression = (zl_compression)i;
	if (f->type == ZL_FMT_CSV && f->delimiter == f->quote)
		return zl_err_set(err, ZL_EINVAL, "format.quote: must differ from format.delimiter");
	return 0;
}

/* Fields a configuration gives every target that has them and does not set its own. */
static const char *const inherited_fields[] = { "copyOptions", "s3MountDir", NULL };

/* The target's object as its type reads it: a copy with the configuration's inherited fields. */
static json_t *effective_target(const json_t *config, const json_t *t, const zl_field *fields)
{
	json_t *e = json_deep_copy(t);
	for (int k = 0; e && inherited_fields[k]; k++) {
		json_t *v = json_object_get(config, inherited_fields[k]);
		int known = 0;
		for (const zl_field *f = fields; f->name && !known; f++)
			known = strcmp(f->name, inherited_fields[k]) == 0;
		if (v && known && !zl_fields_get(fields, e, inherited_fields[k]))
			json_object_set(e, inherited_fields[k], v);
	}
	return e;
}

/* The original's loadClusters entries have no type: a clusterEndpoint makes them Vertica. */
static const char *target_type(const json_t *t)
{
	json_t *type = json_object_get(t, "type");
	if (!type && json_object_get(t, "clusterEndpoint"))
		return "vertica";
	return json_string_value(type);
}

static int parse_target(const json_t *config, json_t *t, size_t i, zl_target_cfg *tc, zl_err *err)
{
	char where[32];
	snprintf(where, sizeof where, "targets[%zu]", i);
	if (!json_is_object(t))
		return zl_err_set(err, ZL_EINVAL, "%s: expected a JSON object", where);
	json_t *type = json_object_get(t, "type");
	if (!type && target_type(t)) {
		tc->ops = zl_target_ops_find(target_type(t));
		if (!tc->ops)
			return zl_err_set(err, ZL_EINVAL, "%s.type: missing, and type \"%s\" is not built in", where,
			                  target_type(t));
	} else if (!type) {
		json_t *none = json_object();
		int rc = zl_fields_check(target_common_fields, none, where, err);
		json_decref(none);
		return rc ? rc : zl_err_set(err, ZL_EINVAL, "%s.type: missing required field", where);
	} else if (!json_is_string(type)) {
		return zl_err_set(err, ZL_EINVAL, "%s.type: expected a string", where);
	} else if (!(tc->ops = zl_target_ops_find(json_string_value(type)))) {
		return zl_err_set(err, ZL_EINVAL, "%s.type: unknown target type \"%s\" (known: %s)", where,
		                  json_string_value(type), zl_target_types());
	}
	json_t *par = json_object_get(t, "parallelism");
	if (par && !tc->ops->ledger_parts)
		return zl_err_set(err, ZL_EINVAL, "%s.parallelism: a %s target loads each batch in one transaction (only "
		                  "postgres targets load in parts)", where, tc->ops->type);
	int rc = zl_fields_check(tc->ops->fields, t, where, err);
	if (rc)
		return rc;
	if (par && (json_integer_value(par) < 1 || json_integer_value(par) > ZL_PARTS_MAX))
		return zl_err_set(err, ZL_EINVAL, "%s.parallelism: must be from 1 to %d (got %lld)", where, ZL_PARTS_MAX,
		                  (long long)json_integer_value(par));
	tc->parallelism = par ? (int)json_integer_value(par) : 1;
	if (!(tc->json = effective_target(config, t, tc->ops->fields)))
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	if (tc->ops->validate && (rc = tc->ops->validate(tc->json, where, err)))
		return rc;
	json_t *v = json_object_get(tc->json, "name");
	tc->name = json_is_string(v) ? json_string_value(v) : NULL;
	v = zl_fields_get(tc->ops->fields, tc->json, "preLoadStatement");
	tc->pre_sql = json_is_string(v) && *json_string_value(v) ? json_string_value(v) : NULL;
	v = zl_fields_get(tc->ops->fields, tc->json, "postLoadStatement");
	tc->post_sql = json_is_string(v) && *json_string_value(v) ? json_string_value(v) : NULL;
	return 0;
}

/* Trims slashes around s3Prefix in place: "/b/x/" -> "b/x". */
static int normalise_prefix(json_t *json, zl_err *err)
{
	char *p = zl_prefix_normalised(json_string_value(json_object_get(json, "s3Prefix")));
	int rc = 0;
	if (!p)
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	else if (!*p)
		rc = zl_err_set(err, ZL_EINVAL, "s3Prefix: must name at least a bucket");
	else if (*p == '/')
		rc = zl_err_set(err, ZL_EINVAL, "s3Prefix: empty bucket name");
	else
		json_object_set_new(json, "s3Prefix", json_string(p));
	free(p);
	return rc;
}

int zl_config_from_json(json_t *in, zl_config **out, zl_err *err)
{
	int rc;
	*out = NULL;
	zl_config *c = calloc(1, sizeof *c);
	if (!c)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	c->json = json_deep_copy(in);
	if ((rc = zl_fields_check(config_fields, c->json, "", err)))
		goto out;
	if ((rc = normalise_prefix(c->json, err)))
		goto out;
	c->prefix = json_string_value(json_object_get(c->json, "s3Prefix"));

	json_t *re = json_object_get(c->json, "filenameFilterRegex");
	if (re && *json_string_value(re)) {
		int code;
		PCRE2_SIZE off;
		c->filter = pcre2_compile((PCRE2_SPTR)json_string_value(re), PCRE2_ZERO_TERMINATED,
		                          PCRE2_UTF, &code, &off, NULL);
		if (!c->filter) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(code, msg, sizeof msg);
			rc = zl_err_set(err, ZL_EINVAL, "filenameFilterRegex: %s at offset %zu", (char *)msg,
			                (size_t)off);
			goto out;
		}
	}
	c->batch_size = int_field(c->json, "batchSize", 1);
	c->batch_size_bytes = int_field(c->json, "batchSizeBytes", 0);
	c->batch_timeout_ms = int_field(c->json, "batchTimeoutSecs", 0) * 1000;
	c->max_attempts = (int)int_field(c->json, "maxAttempts", DEFAULT_MAX_ATTEMPTS);
	c->lease_ms = int_field(c->json, "leaseSecs", DEFAULT_LEASE_SECS) * 1000;
	if (c->max_attempts < 1) {
		rc = zl_err_set(err, ZL_EINVAL, "maxAttempts: must be at least 1");
		goto out;
	}
	if (c->lease_ms < 1000) {
		rc = zl_err_set(err, ZL_EINVAL, "leaseSecs: must be at least 1");
		goto out;
	}
	if (c->batch_size == 0 && c->batch_size_bytes == 0 && c->batch_timeout_ms == 0) {
		rc = zl_err_set(err, ZL_EINVAL,
		                "batchSize: 0 with no batchSizeBytes or batchTimeoutSecs would never load");
		goto out;
	}
	json_t *dd = json_object_get(c->json, "dedupe");
	c->dedupe_etag = dd && strcmp(json_string_value(dd), "key+etag") == 0;
	if ((rc = parse_format(json_object_get(c->json, "format"), &c->format, err)))
		goto out;

	json_t *targets = zl_fields_get(config_fields, c->json, "targets");
	c->ntargets = json_array_size(targets);
	if (c->ntargets == 0) {
		rc = zl_err_set(err, ZL_EINVAL, "targets: at least one target is required");
		goto out;
	}
	c->targets = calloc(c->ntargets, sizeof *c->targets);
	if (!c->targets) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < c->ntargets; i++) {
		if ((rc = parse_target(c->json, json_array_get(targets, i), i, &c->targets[i], err)))
			goto out;
		for (size_t j = 0; j < i && c->targets[i].name; j++)
			if (c->targets[j].name && strcmp(c->targets[i].name, c->targets[j].name) == 0) {
				rc = zl_err_set(err, ZL_EINVAL, "targets[%zu].name: \"%s\" is used twice", i,
				                c->targets[i].name);
				goto out;
			}
	}
	if ((rc = zl_notify_cfg_parse(c->json, &c->notify, err)))
		goto out;
	*out = c;
	c = NULL;
	rc = 0;
out:
	zl_config_free(c);
	return rc;
}

int zl_config_parse(const char *text, zl_config **out, zl_err *err)
{
	json_error_t je;
	*out = NULL;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return zl_err_set(err, ZL_EINVAL, "line %d, column %d: %s", je.line, je.column, je.text);
	int rc = zl_config_from_json(j, out, err);
	json_decref(j);
	return rc;
}

int zl_config_accepts(const zl_config *c, const char *filename)
{
	if (!c->filter)
		return 1;
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(c->filter, NULL);
	if (!md)
		return 0;
	int rc = pcre2_match(c->filter, (PCRE2_SPTR)filename, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	return rc >= 0;
}

char *zl_config_dump_masked(const zl_config *c)
{
	json_t *copy = json_deep_copy(c->json);
	const char *tkey = json_object_get(copy, "targets") ? "targets" : "loadClusters";
	json_t *targets = json_object_get(copy, tkey);
	for (size_t i = 0; i < c->ntargets; i++)
		json_array_set_new(targets, i, zl_fields_mask(c->targets[i].ops->fields, json_array_get(targets, i)));
	json_t *notify = json_object_get(copy, "notify");
	if (notify)
		json_object_set_new(copy, "notify", zl_notify_cfg_masked(notify));
	char *s = json_dumps(copy, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(copy);
	return s;
}

void zl_config_help(zl_buf *out)
{
	zl_buf_adds(out, "Configuration fields:\n");
	zl_fields_help(config_fields, out);
	zl_buf_adds(out, "\nformat fields:\n");
	zl_fields_help(format_fields, out);
	zl_notify_cfg_help(out);
	for (const char *types = zl_target_types(); types && *types;) {
		const char *comma = strchr(types, ',');
		char type[32];
		size_t n = comma ? (size_t)(comma - types) : strlen(types);
		snprintf(type, sizeof type, "%.*s", (int)n, types);
		const zl_target_ops *ops = zl_target_ops_find(type);
		if (ops) {
			zl_buf_printf(out, "\ntarget fields (type \"%s\"):\n", type);
			zl_fields_help(ops->fields, out);
		}
		types = comma ? comma + 1 : NULL;
		while (types && *types == ' ')
			types++;
	}
}
