/* AWS configuration and credentials (INI files, profiles, region, endpoints, container
 * credentials JSON and refresh), URL encoding and s3: store URLs. No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_s3.h"
#include "util/aws.h"
#include "util/buf.h"
#include "util/http.h"
#include "util/timeutil.h"

static char dir[64];
static char cfg_path[128], cred_path[128];

static const char *const aws_env[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE",
	"AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
	"AWS_ENDPOINT_URL_DYNAMODB", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", NULL
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A clean AWS environment whose shared files are in a temporary directory; no instance metadata. */
static int setup(void **state)
{
	for (const char *const *v = aws_env; *v; v++)
		unsetenv(*v);
	snprintf(dir, sizeof dir, "/tmp/zl-test-aws.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cfg_path, sizeof cfg_path, "%s/config", dir);
	snprintf(cred_path, sizeof cred_path, "%s/credentials", dir);
	setenv("AWS_CONFIG_FILE", cfg_path, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", cred_path, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	return 0;
}

static int teardown(void **state)
{
	unlink(cfg_path);
	unlink(cred_path);
	rmdir(dir);
	return 0;
}

static const char config_text[] =
	"# shared config\n"
	"[default]\n"
	"region = eu-west-1\n"
	"aws_access_key_id = CFGDEFAULT\n"
	"aws_secret_access_key = cfgdefaultsecret\n"
	"\n"
	"[profile  dev ]\n"
	"Region=ap-south-1\n"
	"endpoint_url = http://127.0.0.1:4566/\n"
	"s3 =\n"
	"  region = nested-should-not-match\n"
	"aws_access_key_id = CFGDEV\n"
	"aws_secret_access_key = cfgdevsecret\n"
	"\n"
	"[profile onlyconfig]\n"
	"aws_access_key_id = CFGONLY\n"
	"aws_secret_access_key = cfgonlysecret\n"
	"aws_session_token = cfgonlytoken\n"
	"\n"
	"[prod]\n"
	"region = not-a-config-profile-section\n"
	"\n"
	"[profile halfkey]\n"
	"aws_access_key_id = HALF\n";

static const char credentials_text[] =
	"[default]\n"
	"aws_access_key_id = CREDDEFAULT\n"
	"aws_secret_access_key = creddefaultsecret\n"
	"; comment\n"
	"[dev]\n"
	"aws_access_key_id=CREDDEV\r\n"
	"aws_secret_access_key=creddevsecret\r\n"
	"aws_session_token = creddevtoken  \n"
	"[profile onlyconfig]\n"
	"aws_access_key_id = LITERALSECTIONNAME\n"
	"aws_secret_access_key = x\n";

static void test_ini(void **state)
{
	char v[64];
	assert_int_equal(zl_ini_get(config_text, "default", "region", v, sizeof v), 1);
	assert_string_equal(v, "eu-west-1");
	/* blanks inside the brackets, case-insensitive key, indented sub-key skipped */
	assert_int_equal(zl_ini_get(config_text, "profile dev", "REGION", v, sizeof v), 1);
	assert_string_equal(v, "ap-south-1");
	assert_int_equal(zl_ini_get(config_text, "profile dev", "s3", v, sizeof v), 1);
	assert_string_equal(v, "");
	assert_int_equal(zl_ini_get(config_text, "profile dev", "missing", v, sizeof v), 0);
	assert_int_equal(zl_ini_get(config_text, "dev", "region", v, sizeof v), 0);
	assert_int_equal(zl_ini_get(credentials_text, "dev", "aws_access_key_id", v, sizeof v), 1);
	assert_string_equal(v, "CREDDEV");
	assert_int_equal(zl_ini_get(credentials_text, "dev", "aws_session_token", v, sizeof v), 1);
	assert_string_equal(v, "creddevtoken");
	/* a value that does not fit is not found */
	assert_int_equal(zl_ini_get(credentials_text, "dev", "aws_secret_access_key", v, 5), 0);
	assert_int_equal(zl_ini_get("", "default", "region", v, sizeof v), 0);
	assert_int_equal(zl_ini_get("[default\nregion = x\n", "default", "region", v, sizeof v), 0);
}

static void check_creds(const char *profile, int want, const char *id, const char *secret, const char *token)
{
	zl_aws_creds c;
	zl_err err;
	int rc = zl_aws_creds_from_files(profile, &c, &err);
	assert_int_equal(rc, want);
	if (want == 1) {
		assert_string_equal(c.access_key, id);
		assert_string_equal(c.secret_key, secret);
		if (token)
			assert_string_equal(c.session_token, token);
		else
			assert_null(c.session_token);
		assert_int_equal(c.expires_ms, 0);
	}
	zl_aws_creds_release(&c);
}

static void test_profiles(void **state)
{
	check_creds("default", 0, NULL, NULL, NULL); /* no files yet */
	write_file(cfg_path, config_text);
	check_creds("default", 1, "CFGDEFAULT", "cfgdefaultsecret", NULL);
	write_file(cred_path, credentials_text);
	/* the credentials file comes before the config file */
	check_creds("default", 1, "CREDDEFAULT", "creddefaultsecret", NULL);
	check_creds("dev", 1, "CREDDEV", "creddevsecret", "creddevtoken");
	/* in the credentials file "[profile onlyconfig]" is a profile of that literal name */
	check_creds("onlyconfig", 1, "CFGONLY", "cfgonlysecret", "cfgonlytoken");
	check_creds("profile onlyconfig", 1, "LITERALSECTIONNAME", "x", NULL);
	check_creds("nosuch", 0, NULL, NULL, NULL);
	zl_aws_creds c;
	zl_err err;
	assert_int_equal(zl_aws_creds_from_files("halfkey", &c, &err), ZL_EINVAL);
	assert_non_null(strstr(err.msg, "profile \"halfkey\""));
	assert_non_null(strstr(err.msg, "no aws_secret_access_key"));

	/* AWS_PROFILE selects the profile */
	assert_string_equal(zl_aws_profile(), "default");
	setenv("AWS_PROFILE", "dev", 1);
	assert_string_equal(zl_aws_profile(), "dev");
	check_creds(NULL, 1, "CREDDEV", "creddevsecret", "creddevtoken");
	char v[64];
	assert_int_equal(zl_aws_config_get(NULL, "region", v, sizeof v), 1);
	assert_string_equal(v, "ap-south-1");
	unsetenv("AWS_PROFILE");
	unlink(cred_path);
}

static void test_region(void **state)
{
	char r[64];
	unlink(cfg_path);
	zl_aws_region(NULL, r, sizeof r);
	assert_string_equal(r, "us-east-1"); /* no files, no environment */
	write_file(cfg_path, config_text);
	zl_aws_region(NULL, r, sizeof r);
	assert_string_equal(r, "eu-west-1");
	zl_aws_region("dev", r, sizeof r);
	assert_string_equal(r, "ap-south-1");
	zl_aws_region("prod", r, sizeof r); /* "[prod]" is no profile section in the config file */
	assert_string_equal(r, "us-east-1");
	setenv("AWS_DEFAULT_REGION", "us-west-2", 1);
	zl_aws_region("dev", r, sizeof r);
	assert_string_equal(r, "us-west-2");
	setenv("AWS_REGION", "eu-central-1", 1);
	zl_aws_region("dev", r, sizeof r);
	assert_string_equal(r, "eu-central-1");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
}

static void test_endpoint(void **state)
{
	char e[256];
	zl_err err;
	unlink(cfg_path);
	assert_int_equal(zl_aws_endpoint("s3", "eu-west-1", NULL, e, sizeof e, &err), 0);
	assert_string_equal(e, "https://s3.eu-west-1.amazonaws.com");
	assert_int_equal(zl_aws_endpoint("sqs", "us-east-1", NULL, e, sizeof e, &err), 0);
	assert_string_equal(e, "https://sqs.us-east-1.amazonaws.com");
	assert_int_equal(zl_aws_endpoint("dynamodb", "cn-north-1", NULL, e, sizeof e, &err), 0);
	assert_string_equal(e, "https://dynamodb.cn-north-1.amazonaws.com.cn");
	write_file(cfg_path, config_text);
	assert_int_equal(zl_aws_endpoint("s3", "ap-south-1", "dev", e, sizeof e, &err), 0);
	assert_string_equal(e, "http://127.0.0.1:4566"); /* the profile's endpoint_url, slash removed */
	setenv("AWS_ENDPOINT_URL", "http://localhost:5000/", 1);
	assert_int_equal(zl_aws_endpoint("s3", "us-east-1", "dev", e, sizeof e, &err), 0);
	assert_string_equal(e, "http://localhost:5000");
	setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000", 1);
	setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000", 1);
	assert_int_equal(zl_aws_endpoint("s3", "us-east-1", "dev", e, sizeof e, &err), 0);
	assert_string_equal(e, "http://127.0.0.1:9000");
	assert_int_equal(zl_aws_endpoint("dynamodb", "us-east-1", NULL, e, sizeof e, &err), 0);
	assert_string_equal(e, "http://127.0.0.1:8000");
	assert_int_equal(zl_aws_endpoint("sqs", "us-east-1", NULL, e, sizeof e, &err), 0);
	assert_string_equal(e, "http://localhost:5000"); /* no AWS_ENDPOINT_URL_SQS: the global one */
	assert_int_equal(zl_aws_endpoint("s3", "us-east-1", NULL, e, 10, &err), ZL_EINVAL);
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_S3");
	unsetenv("AWS_ENDPOINT_URL_DYNAMODB");
}

static void test_container_json(void **state)
{
	const char json[] = "{\"AccessKeyId\":\"ASIAEXAMPLE\",\"SecretAccessKey\":\"s3cr3t\",\"Token\":\"tok==\","
	                    "\"Expiration\":\"2026-11-25T21:43:38Z\",\"RoleArn\":\"arn:aws:iam::1:role/x\"}";
	zl_aws_creds c;
	zl_err err;
	assert_int_equal(zl_aws_parse_json_creds(json, strlen(json), &c, &err), 0);
	assert_string_equal(c.access_key, "ASIAEXAMPLE");
	assert_string_equal(c.secret_key, "s3cr3t");
	assert_string_equal(c.session_token, "tok==");
	assert_int_equal(c.expires_ms, 1795643018000);
	/* refreshed when fewer than 5 minutes remain */
	assert_false(zl_aws_creds_need_refresh(&c, c.expires_ms - 60 * 60 * 1000));
	assert_false(zl_aws_creds_need_refresh(&c, c.expires_ms - ZL_AWS_REFRESH_MS));
	assert_true(zl_aws_creds_need_refresh(&c, c.expires_ms - ZL_AWS_REFRESH_MS + 1));
	assert_true(zl_aws_creds_need_refresh(&c, c.expires_ms + 1000));
	zl_aws_creds copy;
	assert_int_equal(zl_aws_creds_copy(&copy, &c), 0);
	assert_string_equal(copy.session_token, "tok==");
	assert_int_equal(copy.expires_ms, c.expires_ms);
	zl_aws_creds_release(&copy);
	zl_aws_creds_release(&c);

	/* static credentials never need a refresh */
	const char plain[] = "{\"AccessKeyId\":\"AKIA\",\"SecretAccessKey\":\"s\"}";
	assert_int_equal(zl_aws_parse_json_creds(plain, strlen(plain), &c, &err), 0);
	assert_null(c.session_token);
	assert_false(zl_aws_creds_need_refresh(&c, INT64_MAX / 2));
	zl_aws_creds_release(&c);

	/* instance metadata form, and failures */
	const char imds[] = "{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"B\","
	                    "\"Token\":\"C\",\"Expiration\":\"2026-11-25T22:43:38.250+01:00\"}";
	assert_int_equal(zl_aws_parse_json_creds(imds, strlen(imds), &c, &err), 0);
	assert_int_equal(c.expires_ms, 1795643018250);
	zl_aws_creds_release(&c);
	const char failed[] = "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"no role\"}";
	assert_int_equal(zl_aws_parse_json_creds(failed, strlen(failed), &c, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "credentials response: Code AssumeRoleUnauthorizedAccess: no role");
	const char nosecret[] = "{\"AccessKeyId\":\"A\"}";
	assert_int_equal(zl_aws_parse_json_creds(nosecret, strlen(nosecret), &c, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "credentials response lacks AccessKeyId or SecretAccessKey");
	const char badexp[] = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"B\",\"Expiration\":\"soon\"}";
	assert_int_equal(zl_aws_parse_json_creds(badexp, strlen(badexp), &c, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "credentials response: bad Expiration \"soon\"");
	assert_int_equal(zl_aws_parse_json_creds("<html>", 6, &c, &err), ZL_EINVAL);
}

static void test_provider_chain(void **state)
{
	zl_aws_provider *p;
	zl_aws_creds c;
	zl_err err;
	unlink(cfg_path);
	assert_int_equal(zl_aws_provider_new(NULL, &p, &err), 0);
	assert_int_equal(zl_aws_provider_get(p, &c, &err), ZL_EINVAL);
	assert_non_null(strstr(err.msg, "no AWS credentials"));
	assert_non_null(strstr(err.msg, "AWS_EC2_METADATA_DISABLED"));
	write_file(cred_path, credentials_text);
	assert_int_equal(zl_aws_provider_get(p, &c, &err), 0);
	assert_string_equal(c.source, "shared files");
	assert_string_equal(c.access_key, "CREDDEFAULT");
	zl_aws_creds_release(&c);
	zl_aws_provider_free(p);

	/* the environment comes first; a lone key id is an error */
	setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
	assert_int_equal(zl_aws_provider_new("dev", &p, &err), 0);
	assert_int_equal(zl_aws_provider_get(p, &c, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	assert_int_equal(zl_aws_provider_get(p, &c, &err), 0);
	assert_string_equal(c.source, "environment");
	assert_string_equal(c.access_key, "ENVKEY");
	assert_string_equal(c.session_token, "envtoken");
	zl_aws_creds_release(&c);
	zl_aws_provider_free(p);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");

	/* an explicit profile is used over AWS_PROFILE */
	setenv("AWS_PROFILE", "default", 1);
	assert_int_equal(zl_aws_provider_new("dev", &p, &err), 0);
	assert_int_equal(zl_aws_provider_get(p, &c, &err), 0);
	assert_string_equal(c.access_key, "CREDDEV");
	zl_aws_creds_release(&c);
	zl_aws_provider_free(p);
	unsetenv("AWS_PROFILE");
	unlink(cred_path);
}

static void test_encoding(void **state)
{
	zl_buf b;
	zl_buf_init(&b, 0);
	assert_int_equal(zl_http_encode(&b, "dt=2026-11-25/a b+c~_.-é(1).csv", 1), 0);
	assert_string_equal(zl_buf_str(&b), "dt%3D2026-11-25/a%20b%2Bc~_.-%C3%A9%281%29.csv");
	zl_buf_reset(&b);
	assert_int_equal(zl_http_encode(&b, "a/b=c", 0), 0);
	assert_string_equal(zl_buf_str(&b), "a%2Fb%3Dc");
	zl_buf_release(&b);
	char s[] = "a%20b+c%2Fd", t[] = "a%20b+c", bad[] = "x%2";
	assert_int_equal(zl_http_decode(s, 1), 0);
	assert_string_equal(s, "a b c/d");
	assert_int_equal(zl_http_decode(t, 0), 0);
	assert_string_equal(t, "a b+c");
	assert_int_equal(zl_http_decode(bad, 0), ZL_EINVAL);
	char hex[65];
	zl_http_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(zl_http_date_ms("Wed, 25 Nov 2026 21:43:38 GMT"), 1795643018000);

	zl_http_resp r;
	zl_http_resp_init(&r);
	zl_buf_adds(&r.headers, "HTTP/1.1 200 OK\r\nETag: \"abc\"\r\ncontent-length:  42 \r\n\r\n");
	char v[16];
	assert_int_equal(zl_http_resp_header(&r, "Content-Length", v, sizeof v), 1);
	assert_string_equal(v, "42");
	assert_int_equal(zl_http_resp_header(&r, "etag", v, sizeof v), 1);
	assert_string_equal(v, "\"abc\"");
	assert_int_equal(zl_http_resp_header(&r, "ETa", v, sizeof v), 0);
	zl_http_resp_release(&r);
}

static void check_url(const char *store_url, const char *bucket, const char *key, const char *query, const char *want)
{
	zl_store *s;
	zl_err err;
	zl_buf b;
	zl_buf_init(&b, 0);
	assert_int_equal(zl_store_open(store_url, &s, &err), 0);
	assert_int_equal(zl_store_s3_url(s, bucket, key, query, &b), 0);
	assert_string_equal(zl_buf_str(&b), want);
	zl_buf_release(&b);
	zl_store_close(s);
}

static void check_open_fails(const char *store_url, const char *msg)
{
	zl_store *s = NULL;
	zl_err err;
	assert_int_equal(zl_store_open(store_url, &s, &err), ZL_EINVAL);
	assert_null(s);
	assert_string_equal(err.msg, msg);
}

static void test_s3_urls(void **state)
{
	unlink(cfg_path);
	/* AWS: virtual-hosted, region from the environment; dotted buckets path-style over https */
	setenv("AWS_REGION", "eu-west-1", 1);
	check_url("s3:", "bkt", "dt=2026-11-25/a b.csv", NULL, "https://bkt.s3.eu-west-1.amazonaws.com/dt%3D2026-11-25/a%20b.csv");
	check_url("s3://", "my.bkt", "k", NULL, "https://s3.eu-west-1.amazonaws.com/my.bkt/k");
	check_url("s3://", "My_Bucket", "k", NULL, "https://s3.eu-west-1.amazonaws.com/My_Bucket/k");
	check_url("s3://?region=us-west-2", "bkt", NULL, "list-type=2", "https://bkt.s3.us-west-2.amazonaws.com/?list-type=2");
	unsetenv("AWS_REGION");
	zl_store *s;
	zl_err err;
	assert_int_equal(zl_store_open("s3://?region=ap-south-1", &s, &err), 0);
	assert_string_equal(zl_store_s3_region(s), "ap-south-1");
	zl_store_close(s);
	/* an IP address or localhost: path-style unless told otherwise */
	check_url("s3://?endpoint=http://127.0.0.1:9000&region=us-east-1", "bkt", "a+b", NULL, "http://127.0.0.1:9000/bkt/a%2Bb");
	check_url("s3://?endpoint=http%3A%2F%2Flocalhost%3A9000%2F", "bkt", NULL, "list-type=2",
	          "http://localhost:9000/bkt?list-type=2");
	check_url("s3://?endpoint=http://127.0.0.1:9000&path_style=0", "bkt", "k", NULL, "http://bkt.127.0.0.1:9000/k");
	check_url("s3://?endpoint=https://minio.example:9000/base&path_style=1", "bkt", "é", NULL,
	          "https://minio.example:9000/base/bkt/%C3%A9");
	check_url("s3://?endpoint=https://minio.example", "bkt", "k", NULL, "https://bkt.minio.example/k");
	/* the environment's endpoint */
	setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:4566", 1);
	check_url("s3:", "bkt", "k", NULL, "http://127.0.0.1:4566/bkt/k");
	unsetenv("AWS_ENDPOINT_URL_S3");
	check_open_fails("s3://bkt", "store URL \"s3://bkt\": expected s3:// or s3://?endpoint=URL&region=REGION&path_style=1");
	check_open_fails("s3://?endpoint=ftp://x",
	                 "s3 endpoint \"ftp://x\": expected http://HOST[:PORT] or https://...");
	check_open_fails("s3://?path_style=2", "s3 store URL: path_style must be 0 or 1, not \"2\"");
	check_open_fails("s3://?bucket=x",
	                 "s3 store URL: unknown parameter \"bucket\" (known: endpoint, region, path_style, profile)");
	check_open_fails("gs://x", "store URL \"gs://x\": unknown scheme \"gs\" (known: dir, s3)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ini),
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_region),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_container_json),
		cmocka_unit_test(test_provider_chain),
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_s3_urls),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
