/* The Vertica target, on zload's own protocol client (src/vertica/). One transaction per batch:
 * every COPY says NO COMMIT, the ledger row goes in beside them, then COMMIT. Three load modes:
 * stream (each object through COPY ... FROM LOCAL STDIN), mount (one COPY naming the objects
 * under the nodes' bucket mount) and s3 (one COPY naming s3:// URLs that Vertica reads). */
#include "target/dialect.h"
#include "target/dialect_vertica.h"
#include "target/target.h"
#include "util/aws.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strvec.h"
#include "util/version.h"
#include "secret/secret.h"
#include "vertica/vclient.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define REJECT_REASONS 5   /* rejected rows named in an error */

const zl_target_ops zl_target_vertica_ops;

static const zl_field vertica_fields[] = {
	{ "name", ZL_FT_STRING, 0, NULL, NULL, "name of this target in messages and results" },
	{ "type", ZL_FT_ENUM, 0, "vertica", NULL, "target type (an entry with clusterEndpoint and no type is vertica)" },
	{ "clusterEndpoint", ZL_FT_STRING, 1, NULL, NULL, "host name or address of a Vertica node" },
	{ "clusterPort", ZL_FT_INT, 0, NULL, NULL, "port (default 5433)" },
	{ "clusterDB", ZL_FT_STRING, 0, NULL, NULL, "database name (default: the server's)" },
	{ "database", ZL_FT_STRING, 0, NULL, "clusterDB", NULL },
	{ "connectUser", ZL_FT_STRING, 1, NULL, NULL, "user name" },
	{ "user", ZL_FT_STRING, 0, NULL, "connectUser", NULL },
	{ "connectPassword", ZL_FT_SECRET, 0, NULL, NULL, "password" },
	{ "password", ZL_FT_SECRET, 0, NULL, "connectPassword", NULL },
	{ "targetTable", ZL_FT_STRING, 1, NULL, NULL, "table to load (regular or Flex), optionally schema.table" },
	{ "columns", ZL_FT_ARRAY, 0, NULL, NULL, "columns the file's fields go to, in order (default: all)" },
	{ "columnList", ZL_FT_STRING, 0, NULL, NULL, "the same as a comma-separated string (the original's form)" },
	{ "copyOptions", ZL_FT_STRING, 0, NULL, NULL, "COPY options as they are (parsers, ON ANY NODE, DIRECT...): they replace the format's" },
	{ "preLoadStatement", ZL_FT_STRING, 0, NULL, NULL, "SQL run in the load transaction before the COPYs" },
	{ "presql", ZL_FT_STRING, 0, NULL, "preLoadStatement", NULL },
	{ "postLoadStatement", ZL_FT_STRING, 0, NULL, NULL, "SQL run in the load transaction after the COPYs" },
	{ "postsql", ZL_FT_STRING, 0, NULL, "postLoadStatement", NULL },
	{ "truncateTarget", ZL_FT_BOOL, 0, NULL, NULL, "TRUNCATE the table before each batch (Vertica commits a TRUNCATE)" },
	{ "ledgerTable", ZL_FT_STRING, 0, NULL, NULL, "table recording loaded batches (default zload_ledger)" },
	{ "rejectedTable", ZL_FT_STRING, 0, NULL, NULL, "REJECTED DATA AS TABLE for rows Vertica rejects (default zload_rejects; \"\": none)" },
	{ "maxRejectedRows", ZL_FT_INT, 0, NULL, NULL, "rejected rows a batch may have and still complete (default 0)" },
	{ "loadMode", ZL_FT_ENUM, 0, "stream|mount|s3", NULL, "stream: zload sends each object; mount: the nodes read s3MountDir; s3: Vertica reads S3" },
	{ "s3MountDir", ZL_FT_STRING, 0, NULL, NULL, "where the nodes mount the buckets, for loadMode mount (default /mnt/s3/)" },
	{ "tls", ZL_FT_ENUM, 0, "disable|prefer|require|verify-ca|verify-full", NULL, "TLS (default prefer, as vsql)" },
	{ "tlsRootCert", ZL_FT_STRING, 0, NULL, NULL, "PEM file of the CA for verify-ca and verify-full" },
	{ "useSSL", ZL_FT_BOOL, 0, NULL, NULL, "the original's switch: true means tls require" },
	{ "loadBalance", ZL_FT_BOOL, 0, NULL, NULL, "let the first node redirect the connection (Vertica's connection load balancing)" },
	{ "backupHosts", ZL_FT_ARRAY, 0, NULL, NULL, "\"host\" or \"host:port\" tried in order when clusterEndpoint does not answer" },
	{ "connectTimeoutSecs", ZL_FT_INT, 0, NULL, NULL, "connection timeout per node (default 10)" },
	{ "awsRegion", ZL_FT_STRING, 0, NULL, NULL, "loadMode s3: AWSRegion (default: the loader's region)" },
	{ "awsAccessKeyId", ZL_FT_STRING, 0, NULL, NULL, "loadMode s3: key id for AWSAuth (default: the loader's credentials)" },
	{ "awsSecretAccessKey", ZL_FT_SECRET, 0, NULL, NULL, "loadMode s3: secret for AWSAuth" },
	{ "awsSessionToken", ZL_FT_SECRET, 0, NULL, NULL, "loadMode s3: session token (AWSSessionToken)" },
	{ "s3Endpoint", ZL_FT_STRING, 0, NULL, NULL, "loadMode s3: host:port of an S3-compatible store (AWSEndpoint)" },
	{ "s3Https", ZL_FT_BOOL, 0, NULL, NULL, "loadMode s3: false for an endpoint without TLS (AWSEnableHttps=0)" },
	{ 0 }
};

typedef struct vertica_target {
	zl_target base;
	zl_vc *conn;
	json_t *cfg;             /* a copy of the target's fields, secrets revealed (wiped at close): the
	                          * connection outlives the batch that opened it (target/pool.h) */
	const char *table, *ledger, *rejected, *options, *mount_dir;
	zl_vmode mode;
	int truncate, truncated;  /* truncateTarget; done for this batch */
	int first_contact;        /* the batch has not talked to the database yet (set by begin) */
	int dirty;                /* the configuration's statements ran: the session is never reused */
	unsigned char s3_set[32]; /* loadMode s3: SHA-256 of the credentials the session holds ... */
	int s3_known;             /* ... when set */
	int64_t max_rejected, batch_rejected, last_rejected;
	zl_strvec columns;
	zl_buf sql;               /* the last COPY */
} vertica_target;

static const char *str_field(const json_t *cfg, const char *name)
{
	const char *s = json_string_value(zl_fields_get(vertica_fields, cfg, name));
	return s && *s ? s : NULL;
}

static long long int_field(const json_t *cfg, const char *name, long long dflt)
{
	json_t *v = zl_fields_get(vertica_fields, cfg, name);
	return v ? (long long)json_integer_value(v) : dflt;
}

static int bool_field(const json_t *cfg, const char *name)
{
	return json_is_true(zl_fields_get(vertica_fields, cfg, name));
}

static zl_vc_tls tls_mode(const json_t *cfg)
{
	static const struct { const char *name; zl_vc_tls mode; } modes[] = {
		{ "disable", ZL_VC_TLS_DISABLE }, { "prefer", ZL_VC_TLS_PREFER }, { "require", ZL_VC_TLS_REQUIRE },
		{ "verify-ca", ZL_VC_TLS_VERIFY_CA }, { "verify-full", ZL_VC_TLS_VERIFY_FULL },
	};
	const char *t = str_field(cfg, "tls");
	for (size_t i = 0; t && i < sizeof modes / sizeof modes[0]; i++)
		if (strcmp(t, modes[i].name) == 0)
			return modes[i].mode;
	return bool_field(cfg, "useSSL") ? ZL_VC_TLS_REQUIRE : ZL_VC_TLS_PREFER;
}

static int run(vertica_target *t, const char *sql, zl_vc_result *res, const char *what, zl_err *err)
{
	int rc = zl_vc_query(t->conn, sql, res, err);
	return rc && what ? zl_err_prefix(err, "%s", what) : rc;
}

/* A one-value query's number (0 when there is no row). */
static int query_int(vertica_target *t, const char *sql, int64_t *out, zl_err *err)
{
	zl_vc_result res = { 0 };
	int rc = run(t, sql, &res, NULL, err);
	*out = rc == 0 && res.nrows && res.ncols && zl_vc_value(&res, 0, 0) ? strtoll(zl_vc_value(&res, 0, 0), NULL, 10)
	                                                                  : 0;
	zl_vc_result_release(&res);
	return rc;
}

/* Creates the ledger unless it is there (checked first: a loader may lack CREATE on the schema),
 * then ends the transaction the look-up opened. */
static int ledger_ensure(vertica_target *t, zl_err *err)
{
	zl_buf q;
	zl_buf_init(&q, 0);
	int64_t exists = 0;
	int rc = zl_dialect_vertica_table_exists(&q, t->ledger) ? zl_err_set(err, ZL_ENOMEM, "out of memory") : 0;
	rc = rc ? rc : query_int(t, zl_buf_str(&q), &exists, err);
	if (rc == 0 && !exists) {
		zl_buf_reset(&q);
		rc = zl_dialect_vertica_ledger_create(&q, t->ledger) ? zl_err_set(err, ZL_ENOMEM, "out of memory")
		                                                     : run(t, zl_buf_str(&q), NULL, "ledger", err);
	}
	rc = rc ? rc : run(t, "COMMIT", NULL, "ledger", err);
	zl_buf_release(&q);
	return rc;
}

/* SHA-256 of the values AWSAuth, AWSSessionToken and AWSRegion take; 0 when it cannot be told. */
static int s3_fingerprint(const char *id, const char *secret, const char *token, const char *region,
                          unsigned char out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int n = 0;
	const char *v[] = { id, secret, token ? token : "", region };
	int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (size_t i = 0; ok && i < 4; i++)
		ok = EVP_DigestUpdate(md, v[i], strlen(v[i]) + 1);
	ok = ok && EVP_DigestFinal_ex(md, out, &n) && n == 32;
	EVP_MD_CTX_free(md);
	return ok;
}

/* loadMode s3: the session's region and credentials for Vertica's own S3 reads. At connect
 * (always), and at the start of each batch, as the loader's own credentials may have been renewed
 * (temporary ones expire) since the session was given them: then they are set only when they
 * changed. */
static int s3_session(vertica_target *t, int always, zl_err *err)
{
	char region[64];
	zl_aws_creds creds = { 0 };
	zl_aws_provider *p = NULL;
	zl_buf q;
	zl_buf_init(&q, 0);
	int rc = 0;
	const char *id = str_field(t->cfg, "awsAccessKeyId"), *secret = str_field(t->cfg, "awsSecretAccessKey");
	const char *token = str_field(t->cfg, "awsSessionToken");
	if (!id || !secret) { /* the loader's own credentials */
		if ((rc = zl_aws_provider_new(NULL, &p, err)) || (rc = zl_aws_provider_get(p, &creds, err)))
			goto out;
		id = creds.access_key;
		secret = creds.secret_key;
		token = creds.session_token;
	}
	if (str_field(t->cfg, "awsRegion"))
		snprintf(region, sizeof region, "%s", str_field(t->cfg, "awsRegion"));
	else
		zl_aws_region(NULL, region, sizeof region);
	unsigned char fp[32];
	int known = s3_fingerprint(id, secret, token, region, fp);
	if (!always && known && t->s3_known && memcmp(fp, t->s3_set, 32) == 0)
		goto out;
	t->s3_known = 0;
	struct { const char *name, *value; } set[] = {
		{ "AWSRegion", region },
		{ "AWSEndpoint", str_field(t->cfg, "s3Endpoint") },
		{ "AWSEnableHttps", json_is_false(zl_fields_get(vertica_fields, t->cfg, "s3Https")) ? "0" : NULL },
		{ "AWSSessionToken", token },
	};
	zl_buf auth;
	zl_buf_init(&auth, 0);
	zl_buf_printf(&auth, "%s:%s", id, secret);
	rc = zl_dialect_vertica_session_set(&q, "AWSAuth", zl_buf_str(&auth)) ? ZL_ENOMEM : 0;
	explicit_bzero(auth.data, auth.len);
	zl_buf_release(&auth);
	/* the statement holds the secret: its error names the setting, not the text */
	rc = rc ? zl_err_set(err, rc, "out of memory") : run(t, zl_buf_str(&q), NULL, "ALTER SESSION SET AWSAuth", err);
	for (size_t i = 0; rc == 0 && i < sizeof set / sizeof set[0]; i++) {
		if (!set[i].value)
			continue;
		explicit_bzero(q.data, q.len);
		zl_buf_reset(&q);
		rc = zl_dialect_vertica_session_set(&q, set[i].name, set[i].value) ? zl_err_set(err, ZL_ENOMEM, "out of memory")
		                                                                   : run(t, zl_buf_str(&q), NULL, set[i].name, err);
	}
	if (rc == 0 && known) {
		memcpy(t->s3_set, fp, 32);
		t->s3_known = 1;
	}
out:
	if (q.data)
		explicit_bzero(q.data, q.len);
	zl_buf_release(&q);
	zl_aws_creds_release(&creds);
	zl_aws_provider_free(p);
	return rc;
}

static void vt_close(zl_target *base)
{
	vertica_target *t = (vertica_target *)base;
	if (!t)
		return;
	zl_vc_close(t->conn);
	if (t->cfg)
		zl_secrets_wipe_json(t->cfg, vertica_fields);
	json_decref(t->cfg);
	zl_strvec_release(&t->columns);
	zl_buf_release(&t->sql);
	free(t);
}

/* columns (an array) or columnList ("a, b, c"). */
static int read_columns(vertica_target *t, zl_err *err)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(t->cfg, "columns"), i, c) {
		if (!json_is_string(c))
			return zl_err_set(err, ZL_EINVAL, "columns[%zu]: expected a string", i);
		if (zl_strvec_push(&t->columns, json_string_value(c)))
			return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	for (const char *p = str_field(t->cfg, "columnList"); p && *p;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		char *name = strndup(p, n);
		if (!name || (n && zl_strvec_push_take(&t->columns, name)))
			return zl_err_set(err, ZL_ENOMEM, "out of memory");
		if (!n)
			free(name);
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

/* Connects (again, after a loss) with the target's fields; loadMode s3 sets the session's
 * credentials. */
static int open_session(vertica_target *t, zl_err *err)
{
	const char *backups[16];
	size_t nbackup = 0, i;
	json_t *h;
	json_array_foreach(json_object_get(t->cfg, "backupHosts"), i, h)
		if (json_is_string(h) && nbackup < sizeof backups / sizeof backups[0])
			backups[nbackup++] = json_string_value(h);
	const json_t *cfg = t->cfg;
	zl_vc_opts o = {
		.host = str_field(cfg, "clusterEndpoint"), .port = (int)int_field(cfg, "clusterPort", 5433),
		.backup_hosts = backups, .nbackup = nbackup, .database = str_field(cfg, "clusterDB"),
		.user = str_field(cfg, "connectUser"), .password = str_field(cfg, "connectPassword"),
		.tls = tls_mode(cfg), .tls_root_cert = str_field(cfg, "tlsRootCert"),
		.load_balance = bool_field(cfg, "loadBalance"),
		.connect_timeout_ms = (int)int_field(cfg, "connectTimeoutSecs", 10) * 1000,
		.client_label = "zload-" ZL_VERSION,
		.client_version = ZL_VERSION,
	};
	zl_vc_close(t->conn);
	t->conn = NULL;
	int rc = zl_vc_connect(&o, &t->conn, err);
	if (rc == 0 && t->mode == ZL_VMODE_S3)
		rc = s3_session(t, 1, err);
	return rc;
}

static int vt_connect(const json_t *cfg, zl_target **out, zl_err *err)
{
	static const char *const modes[] = { "stream", "mount", "s3" };
	*out = NULL;
	vertica_target *t = calloc(1, sizeof *t);
	int rc = 0;
	if (!t)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	t->base.ops = &zl_target_vertica_ops;
	zl_strvec_init(&t->columns);
	zl_buf_init(&t->sql, 0);
	if (!(t->cfg = json_deep_copy(cfg))) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	cfg = t->cfg;
	t->table = str_field(cfg, "targetTable");
	t->ledger = str_field(cfg, "ledgerTable") ? str_field(cfg, "ledgerTable") : "zload_ledger";
	json_t *rej = json_object_get(cfg, "rejectedTable");
	t->rejected = rej ? str_field(cfg, "rejectedTable") : "zload_rejects";
	t->options = str_field(cfg, "copyOptions");
	t->mount_dir = str_field(cfg, "s3MountDir") ? str_field(cfg, "s3MountDir") : "/mnt/s3/";
	t->truncate = bool_field(cfg, "truncateTarget");
	t->max_rejected = int_field(cfg, "maxRejectedRows", 0);
	for (int i = 0; i < 3; i++)
		if (str_field(cfg, "loadMode") && strcmp(str_field(cfg, "loadMode"), modes[i]) == 0)
			t->mode = (zl_vmode)i;
	t->base.server_copy = t->mode != ZL_VMODE_STREAM;
	if ((rc = read_columns(t, err)) || (rc = open_session(t, err)))
		goto out;
	rc = ledger_ensure(t, err);
out:
	if (rc) {
		vt_close(&t->base);
		return rc;
	}
	*out = &t->base;
	return 0;
}

static int ledger_select(vertica_target *t, const zl_ledger_key *k, int *has, zl_err *err)
{
	zl_buf q;
	zl_vc_result res = { 0 };
	zl_buf_init(&q, 0);
	int rc = zl_dialect_vertica_ledger_select(&q, t->ledger, k->batch_id, k->target)
	             ? zl_err_set(err, ZL_ENOMEM, "out of memory")
	             : run(t, zl_buf_str(&q), &res, "ledger", err);
	*has = rc == 0 && res.nrows > 0;
	zl_vc_result_release(&res);
	zl_buf_release(&q);
	return rc;
}

/* The first contact of a batch (loadMode s3: the credentials, when they changed; then the ledger
 * check). A connection found dead here, when nothing of the batch has been sent, is replaced once
 * by a new session, on which the batch starts again. */
static int first_contact(vertica_target *t, const zl_ledger_key *k, int *has, zl_err *err)
{
	int rc = t->mode == ZL_VMODE_S3 ? s3_session(t, 0, err) : 0;
	rc = rc ? rc : ledger_select(t, k, has, err);
	if (rc == 0 || zl_vc_ok(t->conn))
		return rc;
	ZL_LOG(ZL_INFO, "vertica: reconnecting", ZL_S("reason", err->msg));
	memset(err, 0, sizeof *err);
	if ((rc = open_session(t, err)))
		return rc;
	t->base.reopened++;
	return ledger_select(t, k, has, err);
}

static int vt_ledger_has(zl_target *base, const zl_ledger_key *k, int *has, zl_err *err)
{
	vertica_target *t = (vertica_target *)base;
	if (!t->first_contact)
		return ledger_select(t, k, has, err);
	t->first_contact = 0;
	return first_contact(t, k, has, err);
}

static int vt_ledger_insert(zl_target *base, const zl_ledger_key *k, zl_err *err)
{
	vertica_target *t = (vertica_target *)base;
	zl_buf q;
	zl_buf_init(&q, 0);
	int rc = zl_dialect_vertica_ledger_insert(&q, t->ledger, k->batch_id, k->target, k->prefix)
	             ? zl_err_set(err, ZL_ENOMEM, "out of memory")
	             : run(t, zl_buf_str(&q), NULL, "ledger", err);
	if (rc && strcmp(err->sqlstate, "23505") == 0) /* the key is ENABLED: Vertica enforces it */
		rc = zl_err_set(err, ZL_EEXIST, "batch %s is already in the ledger for target %s", k->batch_id, k->target);
	zl_buf_release(&q);
	return rc;
}

/* A batch starts: in Vertica (autocommit off) the transaction opens with its first statement. */
static int vt_begin(zl_target *base, zl_err *err)
{
	vertica_target *t = (vertica_target *)base;
	t->truncated = 0;
	t->batch_rejected = t->last_rejected = 0;
	t->first_contact = 1;
	return 0;
}

/* A statement of the configuration (preLoadStatement, postLoadStatement). Vertica has no
 * DISCARD ALL or RESET ALL: what such a statement can leave in the session (SET SEARCH_PATH,
 * SET ROLE, SET TIME ZONE, SET SESSION AUTOCOMMIT / CHARACTERISTICS / RESOURCE_POOL / MEMORYCAP,
 * ALTER SESSION SET, local temporary tables, ...) has no one reset, and a partial list would let
 * the rest reach the next batch. So a session that ran one is never reused: the pool closes it
 * (vt_check says no), and the next batch opens a new one. */
static int vt_exec(zl_target *base, const char *sql, zl_err *err)
{
	vertica_target *t = (vertica_target *)base;
	if (!sql || !*sql)
		return 0;
	t->dirty = 1;
	return run(t, sql, NULL, NULL, err);
}

static int vt_commit(zl_target *base, zl_err *err)
{
	return run((vertica_target *)base, "COMMIT", NULL, "commit", err);
}

static void vt_rollback(zl_target *base)
{
	vertica_target *t = (vertica_target *)base;
	zl_err err;
	if (zl_vc_ok(t->conn))
		zl_vc_query(t->conn, "ROLLBACK", NULL, &err);
}

/* truncateTarget: once per batch, before its first COPY. */
static int truncate_once(vertica_target *t, zl_err *err)
{
	if (!t->truncate || t->truncated)
		return 0;
	zl_buf q;
	zl_buf_init(&q, 0);
	int rc = zl_dialect_vertica_truncate(&q, t->table) ? zl_err_set(err, ZL_ENOMEM, "out of memory")
	                                                   : run(t, zl_buf_str(&q), NULL, "truncateTarget", err);
	zl_buf_release(&q);
	t->truncated = rc == 0;
	return rc;
}

/* After a COPY, with the result of zl_dialect_vertica_copy_counts (sent in the COPY's query):
 * counts its rejected rows; over maxRejectedRows the batch fails, naming the object and the first
 * rejected rows with Vertica's reasons. */
static int check_rejected(vertica_target *t, const char *what, const zl_vc_result *counts, zl_err *err)
{
	int64_t rejected = 0;
	zl_vc_result res = { 0 };
	if (counts->nrows && counts->ncols > 1 && zl_vc_value(counts, 0, 1))
		rejected = strtoll(zl_vc_value(counts, 0, 1), NULL, 10);
	t->last_rejected = rejected;
	t->batch_rejected += rejected;
	if (t->batch_rejected <= t->max_rejected)
		return 0;
	zl_buf msg, q;
	zl_buf_init(&msg, sizeof err->msg - 1);
	zl_buf_init(&q, 0);
	zl_buf_printf(&msg, "%s: %lld row%s rejected (maxRejectedRows %lld)", what, (long long)rejected,
	              rejected == 1 ? "" : "s", (long long)t->max_rejected);
	if (t->rejected && zl_dialect_vertica_rejects(&q, t->rejected, REJECT_REASONS) == 0 &&
	    zl_vc_query(t->conn, zl_buf_str(&q), &res, err) == 0) {
		for (size_t i = 0; i < res.nrows; i++)
			zl_buf_printf(&msg, "%s row %s: %s", i ? ";" : ":", zl_vc_value(&res, i, 0) ? zl_vc_value(&res, i, 0) : "?",
			              zl_vc_value(&res, i, 1) ? zl_vc_value(&res, i, 1) : "?");
		if ((int64_t)res.nrows < rejected)
			zl_buf_adds(&msg, "; ...");
	}
	zl_vc_result_release(&res);
	int rc = zl_err_set(err, ZL_ELOAD, "%s", zl_buf_str(&msg));
	zl_buf_release(&msg);
	zl_buf_release(&q);
	return rc;
}

static int copy_sql(vertica_target *t, const zl_format *fmt, const char *const *sources, size_t n)
{
	zl_vcopy_spec spec = { .table = t->table, .columns = (const char *const *)t->columns.v,
	                       .ncolumns = t->columns.n, .format = fmt, .options = t->options,
	                       .rejected_table = t->rejected, .mode = t->mode, .sources = sources, .nsources = n };
	zl_buf_reset(&t->sql);
	return zl_dialect_vertica_copy(&t->sql, &spec);
}

static int vt_copy(zl_target *base, const char *name, zl_reader *r, const zl_format *fmt, int64_t *rows,
                   zl_err *err)
{
	vertica_target *t = (vertica_target *)base;
	zl_vc_copy_result res = { 0 };
	zl_vc_result counts = { 0 };
	int rc = truncate_once(t, err);
	if (rc)
		return rc;
	if (copy_sql(t, fmt, NULL, 0))
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	/* the counts go in the COPY's query: one round trip less per object */
	if ((rc = zl_vc_copy_local_stdin_then(t->conn, zl_buf_str(&t->sql), zl_dialect_vertica_copy_counts, r, &res,
	                                      &counts, err)) == 0 &&
	    (rc = check_rejected(t, name, &counts, err)) == 0)
		*rows += res.rows_loaded;
	else if (rc && !strstr(err->msg, name))
		zl_err_prefix(err, "%s", name);
	zl_vc_result_release(&counts);
	zl_vc_copy_result_release(&res);
	return rc;
}

static int vt_copy_batch(zl_target *base, const zl_file_rec *files, size_t n, const zl_format *fmt, int64_t *rows,
                         zl_err *err)
{
	vertica_target *t = (vertica_target *)base;
	zl_strvec sources;
	zl_vc_result res = { 0 };
	zl_strvec_init(&sources);
	size_t dirlen = strlen(t->mount_dir);
	int slash = dirlen && t->mount_dir[dirlen - 1] == '/';
	int rc = truncate_once(t, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char *s = NULL;
		int k = t->mode == ZL_VMODE_S3 ? asprintf(&s, "s3://%s/%s", files[i].bucket, files[i].key)
		                               : asprintf(&s, "%s%s%s/%s", t->mount_dir, slash ? "" : "/", files[i].bucket,
		                                          files[i].key);
		if (k < 0 || zl_strvec_push_take(&sources, s))
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	if (rc == 0 && copy_sql(t, fmt, (const char *const *)sources.v, sources.n))
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	zl_buf q;
	zl_buf_init(&q, 0);
	/* the counts in the same query (res: theirs, the accepted rows first); a failed COPY's error
	 * is the one returned */
	if (rc == 0 && zl_buf_printf(&q, "%s;\n%s", zl_buf_str(&t->sql), zl_dialect_vertica_copy_counts))
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	if (rc == 0 && (rc = run(t, zl_buf_str(&q), &res, NULL, err)) == 0) {
		*rows = res.nrows && res.ncols && zl_vc_value(&res, 0, 0) ? strtoll(zl_vc_value(&res, 0, 0), NULL, 10) : 0;
		rc = check_rejected(t, n == 1 ? sources.v[0] : "the batch's COPY", &res, err);
	}
	zl_buf_release(&q);
	zl_vc_result_release(&res);
	zl_strvec_release(&sources);
	return rc;
}

static const char *vt_last_sql(zl_target *base) { return zl_buf_str(&((vertica_target *)base)->sql); }

static int64_t vt_last_rejected(zl_target *base) { return ((vertica_target *)base)->last_rejected; }

/* For the pool: idle outside a transaction, nothing but ParameterStatus or notices arrived, and no
 * statement of the configuration ran in the session (vt_exec). */
static int vt_check(zl_target *base)
{
	vertica_target *t = (vertica_target *)base;
	return !t->dirty && t->conn && zl_vc_idle_ok(t->conn);
}

const zl_target_ops zl_target_vertica_ops = {
	.type = "vertica",
	.fields = vertica_fields,
	.connect = vt_connect,
	.close = vt_close,
	.ledger_has = vt_ledger_has,
	.begin = vt_begin,
	.exec = vt_exec,
	.copy = vt_copy,
	.ledger_insert = vt_ledger_insert,
	.commit = vt_commit,
	.rollback = vt_rollback,
	.last_sql = vt_last_sql,
	.copy_batch = vt_copy_batch,
	.last_rejected = vt_last_rejected,
	.check = vt_check,
};
