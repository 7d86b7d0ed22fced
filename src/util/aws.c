#include "util/aws.h"
#include "util/buf.h"
#include "util/http.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FILE_CAP ((size_t)1 << 20)
#define CREDS_BODY_CAP ((size_t)64 << 10)
#define TOKEN_MAX ((size_t)16 << 10)
#define CONTAINER_HOST "http://169.254.170.2"
#define IMDS_HOST "http://169.254.169.254"
#define FAILED_REFRESH_PAUSE_MS 10000

void zl_aws_creds_release(zl_aws_creds *c)
{
	if (!c)
		return;
	free(c->access_key);
	free(c->secret_key);
	free(c->session_token);
	memset(c, 0, sizeof *c);
}

static int creds_set(zl_aws_creds *c, const char *id, const char *secret, const char *token,
                     int64_t expires_ms, const char *source)
{
	memset(c, 0, sizeof *c);
	c->access_key = strdup(id);
	c->secret_key = strdup(secret);
	c->session_token = token && *token ? strdup(token) : NULL;
	c->expires_ms = expires_ms;
	c->source = source;
	if (!c->access_key || !c->secret_key || (token && *token && !c->session_token)) {
		zl_aws_creds_release(c);
		return ZL_ENOMEM;
	}
	return 0;
}

int zl_aws_creds_copy(zl_aws_creds *dst, const zl_aws_creds *src)
{
	return creds_set(dst, src->access_key, src->secret_key, src->session_token, src->expires_ms, src->source);
}

int zl_aws_creds_need_refresh(const zl_aws_creds *c, int64_t now_ms)
{
	return c->expires_ms > 0 && c->expires_ms - now_ms < ZL_AWS_REFRESH_MS;
}

int zl_aws_parse_json_creds(const char *json, size_t len, zl_aws_creds *out, zl_err *err)
{
	memset(out, 0, sizeof *out);
	json_error_t je;
	int rc = 0;
	json_t *root = json_loadb(json, len, 0, &je);
	if (!json_is_object(root)) {
		rc = zl_err_set(err, ZL_EINVAL, "credentials response is not a JSON object%s%s", root ? "" : ": ",
		                root ? "" : je.text);
		goto out;
	}
	const char *code = json_string_value(json_object_get(root, "Code"));
	const char *msg = json_string_value(json_object_get(root, "Message"));
	if (code && strcmp(code, "Success") != 0) {
		rc = zl_err_set(err, ZL_EINVAL, "credentials response: Code %s%s%s", code, msg ? ": " : "", msg ? msg : "");
		goto out;
	}
	const char *id = json_string_value(json_object_get(root, "AccessKeyId"));
	const char *secret = json_string_value(json_object_get(root, "SecretAccessKey"));
	const char *token = json_string_value(json_object_get(root, "Token"));
	const char *exp = json_string_value(json_object_get(root, "Expiration"));
	int64_t expires = 0;
	if (!id || !*id || !secret || !*secret) {
		rc = zl_err_set(err, ZL_EINVAL, "credentials response lacks AccessKeyId or SecretAccessKey");
		goto out;
	}
	if (exp && zl_time_parse(exp, &expires)) {
		rc = zl_err_set(err, ZL_EINVAL, "credentials response: bad Expiration \"%s\"", exp);
		goto out;
	}
	if (creds_set(out, id, secret, token, expires, "container"))
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
out:
	json_decref(root);
	return rc;
}

/* ---- INI files ---- */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Whether the header text [b, e) names section; runs of blanks compare as one space. */
static int section_eq(const char *b, const char *e, const char *section)
{
	const char *s = section;
	while (b < e && *s) {
		if (is_space(*b) && *s == ' ') {
			while (b < e && is_space(*b))
				b++;
			s++;
		} else if (*b++ != *s++) {
			return 0;
		}
	}
	return b == e && !*s;
}

int zl_ini_get(const char *text, const char *section, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);
	int in = 0;
	for (const char *p = text; p && *p;) {
		const char *eol = strchr(p, '\n');
		const char *end = eol ? eol : p + strlen(p), *next = eol ? eol + 1 : end;
		int indented = *p == ' ' || *p == '\t';
		const char *b = p, *e = end;
		while (b < e && is_space(*b))
			b++;
		while (e > b && is_space(e[-1]))
			e--;
		p = next;
		if (b == e || *b == '#' || *b == ';')
			continue;
		if (*b == '[') {
			const char *close = memchr(b, ']', (size_t)(e - b));
			const char *sb = b + 1, *se = close ? close : b + 1;
			while (sb < se && is_space(*sb))
				sb++;
			while (se > sb && is_space(se[-1]))
				se--;
			in = close && section_eq(sb, se, section);
			continue;
		}
		if (!in || indented)
			continue;
		const char *eq = memchr(b, '=', (size_t)(e - b));
		if (!eq)
			continue;
		const char *ke = eq;
		while (ke > b && is_space(ke[-1]))
			ke--;
		if ((size_t)(ke - b) != kl || strncasecmp(b, key, kl) != 0)
			continue;
		const char *v = eq + 1;
		while (v < e && is_space(*v))
			v++;
		if ((size_t)(e - v) >= n)
			return 0;
		memcpy(out, v, (size_t)(e - v));
		out[e - v] = '\0';
		return 1;
	}
	return 0;
}

/* A file named by env (a leading "~/" expanded), else $HOME/rel. Returns 0 when neither. */
static int file_path(const char *env, const char *rel, char *out, size_t n)
{
	const char *v = getenv(env), *home = getenv("HOME");
	if (v && *v) {
		if (strncmp(v, "~/", 2) == 0 && home)
			return (size_t)snprintf(out, n, "%s/%s", home, v + 2) < n;
		return (size_t)snprintf(out, n, "%s", v) < n;
	}
	return home && *home && (size_t)snprintf(out, n, "%s/%s", home, rel) < n;
}

/* The whole of a small text file, or NULL when absent, unreadable or larger than FILE_CAP. */
static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	zl_buf b;
	zl_buf_init(&b, FILE_CAP);
	char chunk[8192];
	size_t got;
	int ok = 1;
	while (ok && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
		ok = zl_buf_add(&b, chunk, got) == 0;
	ok = ok && !ferror(f);
	fclose(f);
	if (!ok || zl_buf_addc(&b, '\0')) {
		zl_buf_release(&b);
		return NULL;
	}
	return zl_buf_take(&b);
}

const char *zl_aws_profile(void)
{
	const char *p = getenv("AWS_PROFILE");
	if (!p || !*p)
		p = getenv("AWS_DEFAULT_PROFILE");
	return p && *p ? p : "default";
}

/* key of profile in config file text: "[default]" or "[profile default]" for the default
 * profile, "[profile NAME]" for others. */
static int config_text_get(const char *text, const char *profile, const char *key, char *out, size_t n)
{
	char section[300];
	if (strcmp(profile, "default") == 0 && zl_ini_get(text, "default", key, out, n))
		return 1;
	snprintf(section, sizeof section, "profile %s", profile);
	return zl_ini_get(text, section, key, out, n);
}

int zl_aws_config_get(const char *profile, const char *key, char *out, size_t n)
{
	char path[4096];
	if (!profile)
		profile = zl_aws_profile();
	if (!file_path("AWS_CONFIG_FILE", ".aws/config", path, sizeof path))
		return 0;
	char *text = read_text(path);
	int found = text && config_text_get(text, profile, key, out, n);
	free(text);
	return found;
}

void zl_aws_region(const char *profile, char *out, size_t n)
{
	const char *v = getenv("AWS_REGION");
	if (!v || !*v)
		v = getenv("AWS_DEFAULT_REGION");
	if (v && *v)
		snprintf(out, n, "%s", v);
	else if (!zl_aws_config_get(profile, "region", out, n) || !*out)
		snprintf(out, n, "us-east-1");
}

int zl_aws_endpoint(const char *service, const char *region, const char *profile, char *out, size_t n,
                    zl_err *err)
{
	char name[96] = "AWS_ENDPOINT_URL_", cfg[2048];
	size_t at = strlen(name);
	for (const char *s = service; *s && at + 1 < sizeof name; s++) {
		char c = *s;
		name[at++] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_';
	}
	name[at] = '\0';
	const char *v = getenv(name);
	if (!v || !*v)
		v = getenv("AWS_ENDPOINT_URL");
	if ((!v || !*v) && zl_aws_config_get(profile, "endpoint_url", cfg, sizeof cfg))
		v = cfg;
	int len;
	if (v && *v) {
		size_t vl = strlen(v);
		while (vl > 0 && v[vl - 1] == '/')
			vl--;
		len = snprintf(out, n, "%.*s", (int)vl, v);
	} else {
		len = snprintf(out, n, "https://%s.%s.amazonaws.com%s", service, region,
		               strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
	}
	if (len < 0 || (size_t)len >= n)
		return zl_err_set(err, ZL_EINVAL, "%s endpoint URL too long", service);
	return 0;
}

/* ---- the credentials chain ---- */

static int creds_from_env(zl_aws_creds *out, zl_err *err)
{
	const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");
	if (!token || !*token)
		token = getenv("AWS_SECURITY_TOKEN");
	int has_id = id && *id, has_secret = secret && *secret;
	if (!has_id && !has_secret)
		return 0;
	if (!has_id || !has_secret)
		return zl_err_set(err, ZL_EINVAL, "%s is set but %s is not", has_id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
		                  has_id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	if (creds_set(out, id, secret, token, 0, "environment"))
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	return 1;
}

/* Keys of one section of text (config file form when is_config). 1 found, 0 none, <0 error. */
static int creds_from_text(const char *text, const char *path, const char *profile, int is_config,
                           zl_aws_creds *out, zl_err *err)
{
	char id[256], secret[256];
	char *token = malloc(TOKEN_MAX);
	int rc = 0;
	if (!token)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
#define GET(k, o, n) (is_config ? config_text_get(text, profile, k, o, n) : zl_ini_get(text, profile, k, o, n))
	if (!GET("aws_access_key_id", id, sizeof id) || !*id)
		goto out;
	if (!GET("aws_secret_access_key", secret, sizeof secret) || !*secret) {
		rc = zl_err_set(err, ZL_EINVAL, "profile \"%s\" in %s has aws_access_key_id but no aws_secret_access_key",
		                profile, path);
		goto out;
	}
	if (!GET("aws_session_token", token, TOKEN_MAX))
		token[0] = '\0';
#undef GET
	rc = creds_set(out, id, secret, token, 0, "shared files") ? zl_err_set(err, ZL_ENOMEM, "out of memory") : 1;
out:
	free(token);
	return rc;
}

int zl_aws_creds_from_files(const char *profile, zl_aws_creds *out, zl_err *err)
{
	char path[4096];
	int rc = 0;
	if (!profile)
		profile = zl_aws_profile();
	memset(out, 0, sizeof *out);
	for (int is_config = 0; is_config < 2 && rc == 0; is_config++) {
		if (!file_path(is_config ? "AWS_CONFIG_FILE" : "AWS_SHARED_CREDENTIALS_FILE",
		               is_config ? ".aws/config" : ".aws/credentials", path, sizeof path))
			continue;
		char *text = read_text(path);
		if (text)
			rc = creds_from_text(text, path, profile, is_config, out, err);
		free(text);
	}
	return rc;
}

static int fetch_json_creds(const char *what, const zl_http_req *req, const char *source, zl_aws_creds *out,
                            zl_err *err)
{
	zl_http_resp resp;
	zl_http_resp_init(&resp);
	int rc = zl_http_perform(req, &resp, err);
	if (rc) {
		zl_err_prefix(err, "%s", what);
		goto out;
	}
	if (resp.status != 200) {
		rc = zl_err_set(err, resp.status >= 500 ? ZL_ETRANSIENT : ZL_EINVAL, "%s: HTTP %ld%s%.200s", what,
		                resp.status, resp.body.len ? ": " : "", zl_buf_str(&resp.body));
		goto out;
	}
	if ((rc = zl_aws_parse_json_creds(resp.body.data, resp.body.len, out, err))) {
		zl_err_prefix(err, "%s", what);
		goto out;
	}
	out->source = source;
out:
	zl_http_resp_release(&resp);
	return rc;
}

/* ECS/EKS/Greengrass container credentials. 1 found, 0 not configured, <0 error. */
static int creds_from_container(zl_aws_creds *out, zl_err *err)
{
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *token_file = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *token = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	if ((!rel || !*rel) && (!full || !*full))
		return 0;
	zl_buf url, auth;
	zl_buf_init(&url, 0);
	zl_buf_init(&auth, 0);
	char *file_token = NULL;
	int rc;
	if (rel && *rel)
		rc = zl_buf_printf(&url, "%s%s%s", CONTAINER_HOST, rel[0] == '/' ? "" : "/", rel);
	else
		rc = zl_buf_adds(&url, full);
	if (rc) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	if (token_file && *token_file) {
		if (!(file_token = read_text(token_file))) {
			rc = zl_err_set(err, ZL_EINVAL, "container credentials: cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s",
			                token_file);
			goto out;
		}
		size_t n = strlen(file_token);
		while (n > 0 && (file_token[n - 1] == '\n' || is_space(file_token[n - 1])))
			file_token[--n] = '\0';
		token = file_token;
	}
	const char *hdrs[2] = { NULL, NULL };
	if (token && *token) {
		if (zl_buf_printf(&auth, "Authorization: %s", token)) {
			rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
			goto out;
		}
		hdrs[0] = auth.data;
	}
	zl_http_req req = { .url = url.data, .headers = hdrs, .connect_timeout_ms = 1000, .timeout_ms = 2000,
		                .attempts = 3, .body_cap = CREDS_BODY_CAP };
	char what[300];
	snprintf(what, sizeof what, "container credentials from %.250s", url.data);
	rc = fetch_json_creds(what, &req, "container", out, err);
	if (rc == 0)
		rc = 1;
out:
	zl_buf_release(&url);
	zl_buf_release(&auth);
	free(file_token);
	return rc;
}

/* EC2 instance metadata (IMDSv2). 1 found, 0 not on EC2 (why in note), <0 error. */
static int creds_from_imds(zl_aws_creds *out, char *note, size_t note_n, zl_err *err)
{
	const char *off = getenv("AWS_EC2_METADATA_DISABLED");
	if (off && strcasecmp(off, "true") == 0) {
		snprintf(note, note_n, "instance metadata disabled by AWS_EC2_METADATA_DISABLED");
		return 0;
	}
	const char *base = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (!base || !*base)
		base = IMDS_HOST;
	size_t bl = strlen(base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	char url[1024], role[256], tokhdr[256];
	zl_http_resp resp;
	zl_http_resp_init(&resp);
	zl_err e;
	int rc = 0;
	snprintf(url, sizeof url, "%.*s/latest/api/token", (int)bl, base);
	const char *ttl[] = { "X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL };
	zl_http_req req = { .method = "PUT", .url = url, .headers = ttl, .connect_timeout_ms = 1000,
		                .timeout_ms = 1000, .attempts = 1, .body_cap = 4096 };
	if (zl_http_perform(&req, &resp, &e) || resp.status != 200 || resp.body.len == 0) {
		snprintf(note, note_n, "no EC2 instance metadata at %.*s (%.300s)", bl > 100 ? 100 : (int)bl, base,
		         resp.status ? "token refused" : e.msg);
		goto out;
	}
	snprintf(tokhdr, sizeof tokhdr, "X-aws-ec2-metadata-token: %.*s", (int)strcspn(resp.body.data, "\r\n"),
	         resp.body.data);
	const char *tok[] = { tokhdr, NULL };
	snprintf(url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/", (int)bl, base);
	req = (zl_http_req){ .url = url, .headers = tok, .connect_timeout_ms = 1000, .timeout_ms = 1000,
		                 .attempts = 2, .body_cap = 4096 };
	if ((rc = zl_http_perform(&req, &resp, err))) {
		zl_err_prefix(err, "instance metadata");
		goto out;
	}
	if (resp.status == 404) {
		snprintf(note, note_n, "the EC2 instance has no IAM role");
		goto out;
	}
	if (resp.status != 200 || resp.body.len == 0) {
		rc = zl_err_set(err, ZL_ETRANSIENT, "instance metadata: HTTP %ld listing the IAM role", resp.status);
		goto out;
	}
	snprintf(role, sizeof role, "%.*s", (int)strcspn(resp.body.data, "\r\n"), resp.body.data);
	snprintf(url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/%s", (int)bl, base, role);
	req.body_cap = CREDS_BODY_CAP;
	if ((rc = fetch_json_creds("instance metadata credentials", &req, "instance metadata", out, err)) == 0)
		rc = 1;
out:
	zl_http_resp_release(&resp);
	return rc;
}

/* The first link of the chain that has credentials. */
static int resolve(const char *profile, zl_aws_creds *out, zl_err *err)
{
	char note[512] = "";
	int rc;
	if (!profile)
		profile = zl_aws_profile();
	if ((rc = creds_from_env(out, err)) || (rc = zl_aws_creds_from_files(profile, out, err)) ||
	    (rc = creds_from_container(out, err)) || (rc = creds_from_imds(out, note, sizeof note, err)))
		return rc < 0 ? rc : 0;
	return zl_err_set(err, ZL_EINVAL,
	                  "no AWS credentials: none in the environment (AWS_ACCESS_KEY_ID), in profile \"%s\" of the "
	                  "shared files, or from container credentials; %s",
	                  profile, note);
}

struct zl_aws_provider {
	pthread_mutex_t mu;
	char *profile; /* NULL: AWS_PROFILE at each resolution */
	zl_aws_creds cur;
	int have;
	int64_t retry_after; /* after a failed refresh of still-valid credentials */
};

int zl_aws_provider_new(const char *profile, zl_aws_provider **out, zl_err *err)
{
	zl_aws_provider *p = calloc(1, sizeof *p);
	if (!p || (profile && !(p->profile = strdup(profile)))) {
		free(p);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&p->mu, NULL);
	*out = p;
	return 0;
}

int zl_aws_provider_get(zl_aws_provider *p, zl_aws_creds *out, zl_err *err)
{
	int rc = 0;
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&p->mu);
	int64_t now = zl_now_ms();
	if (!p->have || (zl_aws_creds_need_refresh(&p->cur, now) && now >= p->retry_after)) {
		zl_aws_creds fresh;
		zl_err e;
		memset(&fresh, 0, sizeof fresh);
		if (resolve(p->profile, &fresh, &e) == 0) {
			zl_aws_creds_release(&p->cur);
			p->cur = fresh;
			p->have = 1;
			char exp[40] = "never";
			if (fresh.expires_ms)
				zl_time_format(fresh.expires_ms, exp, sizeof exp);
			ZL_LOG(ZL_DEBUG, "aws credentials loaded", ZL_S("source", fresh.source), ZL_S("expires", exp));
		} else if (p->have && p->cur.expires_ms > now) {
			p->retry_after = now + FAILED_REFRESH_PAUSE_MS;
			ZL_LOG(ZL_WARN, "aws credentials refresh failed; the current ones are still valid",
			       ZL_S("error", e.msg));
		} else {
			rc = zl_err_set(err, e.code, "%s", e.msg);
			goto out;
		}
	}
	if (zl_aws_creds_copy(out, &p->cur))
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
out:
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void zl_aws_provider_free(zl_aws_provider *p)
{
	if (!p)
		return;
	zl_aws_creds_release(&p->cur);
	pthread_mutex_destroy(&p->mu);
	free(p->profile);
	free(p);
}
