/* Secrets at rest: the local provider's AES-256-GCM seals and their associated data, the master
 * key file (creation, mode, rotation), references, the original's KMS forms recognised, and
 * sealing or revealing the secret fields of a JSON object. KMS calls are tested against moto by
 * tests/integration/t_secrets.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config_secrets.h"
#include "core/notify_config.h"
#include "core/scrub.h"
#include "secret/secret.h"

static char dir[64], key_file[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/zl-secret-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(key_file, sizeof key_file, "%s/conf/zload/master.key", dir);
	setenv("ZLOAD_MASTER_KEY_FILE", key_file, 1);
	unsetenv("ZLOAD_MASTER_KEY");
	unsetenv("ZLOAD_SECRETS");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static zl_secrets *open_local(void)
{
	zl_secrets *s = NULL;
	zl_err err = { 0 };
	assert_int_equal(zl_secrets_open(NULL, &s, &err), 0);
	assert_string_equal(zl_secrets_name(s), "local");
	return s;
}

static char *seal(zl_secrets *s, const char *prefix, const char *path, const char *plain)
{
	char *out = NULL;
	zl_err err = { 0 };
	assert_int_equal(zl_secret_seal(s, prefix, path, plain, &out, &err), 0);
	return out;
}

/* Reveals stored; returns the code and leaves the plain text (or the message) in buf. */
static int reveal(zl_secrets *s, const char *prefix, const char *path, const char *stored, char *buf, size_t n)
{
	char *plain = NULL;
	zl_err err = { 0 };
	int rc = zl_secret_reveal(s, prefix, path, stored, &plain, &err);
	const char *src = rc ? err.msg : plain;
	size_t k = strlen(src) < n ? strlen(src) : n - 1;
	memcpy(buf, src, k);
	buf[k] = '\0';
	zl_secret_free(plain);
	return rc;
}

static void test_local_round_trip(void **state)
{
	(void)state;
	zl_secrets *s = open_local();
	char buf[512];
	struct stat st;
	assert_int_equal(stat(key_file, &st), -1); /* nothing read or made before the first use */
	char *a = seal(s, "bucket/in", "targets[0].password", "hunter2 with spaces\nand a newline");
	assert_int_equal(strncmp(a, "enc:local:v1:", 13), 0);
	assert_null(strstr(a, "hunter2"));
	assert_true(zl_secret_is_protected(a));
	assert_int_equal(reveal(s, "bucket/in", "targets[0].password", a, buf, sizeof buf), 0);
	assert_string_equal(buf, "hunter2 with spaces\nand a newline");

	/* The key file was made on first use, readable by its owner only, in a private directory. */
	assert_int_equal(stat(key_file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	char parent[160];
	snprintf(parent, sizeof parent, "%s/conf/zload", dir);
	assert_int_equal(stat(parent, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	/* Two seals of one value differ (fresh nonces); both open. */
	char *b = seal(s, "bucket/in", "targets[0].password", "hunter2 with spaces\nand a newline");
	assert_string_not_equal(a, b);
	assert_int_equal(reveal(s, "bucket/in", "targets[0].password", b, buf, sizeof buf), 0);

	/* A second handle (another process) reads the same key. */
	zl_secrets *s2 = open_local();
	assert_int_equal(reveal(s2, "bucket/in", "targets[0].password", a, buf, sizeof buf), 0);
	assert_string_equal(buf, "hunter2 with spaces\nand a newline");
	zl_secrets_close(s2);
	free(a);
	free(b);
	zl_secrets_close(s);
}

static void test_local_associated_data(void **state)
{
	(void)state;
	zl_secrets *s = open_local();
	char buf[512];
	char *a = seal(s, "bucket/in", "targets[db1].password", "s3cret");
	/* Moved to another configuration, or another field of the same one: it does not open. */
	assert_int_equal(reveal(s, "bucket/other", "targets[db1].password", a, buf, sizeof buf), ZL_EINVAL);
	assert_string_equal(buf, "targets[db1].password: does not open: it was sealed for another configuration or "
	                         "field, or altered");
	assert_int_equal(reveal(s, "bucket/in", "targets[db2].password", a, buf, sizeof buf), ZL_EINVAL);
	assert_int_equal(reveal(s, "bucket/in", "targets[db1].awsSecretAccessKey", a, buf, sizeof buf), ZL_EINVAL);
	/* One byte of the ciphertext changed: it does not open. */
	char *t = strdup(a);
	char *mid = t + 13 + 9 + 20; /* inside the ciphertext, clear of base64's padding bits */
	*mid = *mid == 'A' ? 'B' : 'A';
	assert_int_equal(reveal(s, "bucket/in", "targets[db1].password", t, buf, sizeof buf), ZL_EINVAL);
	/* Malformed: a key id of the wrong length, bad base64. */
	assert_int_equal(reveal(s, "bucket/in", "targets[db1].password", "enc:local:v1:abc:AAAA", buf, sizeof buf),
	                 ZL_EINVAL);
	assert_string_equal(buf, "targets[db1].password: malformed sealed value (expected enc:local:v1:KEYID:BASE64)");
	memcpy(t + 13, "00000000", 8);
	assert_int_equal(reveal(s, "bucket/in", "targets[db1].password", t, buf, sizeof buf), ZL_EINVAL);
	assert_non_null(strstr(buf, "sealed with master key 00000000, which"));
	free(t);
	free(a);
	zl_secrets_close(s);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_key_file_checks(void **state)
{
	(void)state;
	char buf[512], path[160], msg[512];
	zl_err err = { 0 };
	char *out = NULL;
	zl_secrets *s = open_local();
	char *a = seal(s, "b", "password", "pw");
	zl_secrets_close(s);

	/* A key file others can read is refused, and the message says how to fix it. */
	assert_int_equal(chmod(key_file, 0644), 0);
	s = open_local();
	assert_int_equal(reveal(s, "b", "password", a, buf, sizeof buf), ZL_EINVAL);
	snprintf(msg, sizeof msg, "password: %s: mode 0644 lets others read the master key; chmod 600 %s", key_file,
	         key_file);
	assert_string_equal(buf, msg);
	zl_secrets_close(s);
	assert_int_equal(chmod(key_file, 0600), 0);

	/* A missing key file: sealing makes one, opening says what is missing. */
	snprintf(path, sizeof path, "%s/elsewhere.key", dir);
	setenv("ZLOAD_MASTER_KEY_FILE", path, 1);
	s = open_local();
	assert_int_equal(reveal(s, "b", "password", a, buf, sizeof buf), ZL_ENOTFOUND);
	assert_non_null(strstr(buf, "elsewhere.key does not exist"));
	zl_secrets_close(s);

	/* A damaged key file names its line. */
	write_text(path, "0123abcd 00ff\n", 0600);
	s = open_local();
	assert_int_equal(zl_secret_seal(s, "b", "password", "pw", &out, &err), ZL_EINVAL);
	snprintf(msg, sizeof msg, "password: %s:1: expected \"KEYID HEX64\" (a zload master key)", path);
	assert_string_equal(err.msg, msg);
	zl_secrets_close(s);

	/* "local:FILE" names the file on the command line. */
	char spec[200];
	snprintf(spec, sizeof spec, "local:%s", key_file);
	assert_int_equal(zl_secrets_open(spec, &s, &err), 0);
	assert_int_equal(reveal(s, "b", "password", a, buf, sizeof buf), 0);
	assert_string_equal(buf, "pw");
	zl_secrets_close(s);
	setenv("ZLOAD_MASTER_KEY_FILE", key_file, 1);
	free(a);
}

static void test_master_key_env(void **state)
{
	(void)state;
	char buf[256];
	setenv("ZLOAD_MASTER_KEY", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 1);
	zl_secrets *s = open_local();
	char *a = seal(s, "b", "password", "from-env-key");
	struct stat st;
	assert_int_equal(stat(key_file, &st), -1); /* no file was read or made */
	assert_int_equal(reveal(s, "b", "password", a, buf, sizeof buf), 0);
	assert_string_equal(buf, "from-env-key");
	zl_err err = { 0 };
	assert_int_equal(zl_secrets_new_key(s, &err), ZL_EINVAL);
	zl_secrets_close(s);
	setenv("ZLOAD_MASTER_KEY", "0001", 1);
	s = open_local();
	char *out = NULL;
	assert_int_equal(zl_secret_seal(s, "b", "password", "x", &out, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "password: ZLOAD_MASTER_KEY: expected 64 hex digits (32 bytes)");
	zl_secrets_close(s);
	unsetenv("ZLOAD_MASTER_KEY");
	free(a);
}

static void test_rotation(void **state)
{
	(void)state;
	char buf[256];
	zl_err err = { 0 };
	zl_secrets *s = open_local();
	char *old = seal(s, "b", "password", "rotate-me");
	assert_int_equal(zl_secrets_new_key(s, &err), 0);
	/* The newest key seals; the older still opens. */
	char *fresh = NULL;
	assert_int_equal(zl_secret_reseal(s, "b", "password", old, &fresh, &err), 0);
	assert_memory_not_equal(old + 13, fresh + 13, 8);
	assert_int_equal(reveal(s, "b", "password", old, buf, sizeof buf), 0);
	assert_int_equal(reveal(s, "b", "password", fresh, buf, sizeof buf), 0);
	assert_string_equal(buf, "rotate-me");
	/* References stay references. */
	char *ref = NULL;
	assert_int_equal(zl_secret_reseal(s, "b", "password", "env:PGPASSWORD", &ref, &err), 0);
	assert_string_equal(ref, "env:PGPASSWORD");
	free(ref);
	/* After the old keys are dropped only the re-sealed value opens, in this and a new handle. */
	assert_int_equal(zl_secrets_drop_old_keys(s, &err), 0);
	assert_int_equal(reveal(s, "b", "password", old, buf, sizeof buf), ZL_EINVAL);
	zl_secrets_close(s);
	s = open_local();
	assert_int_equal(reveal(s, "b", "password", old, buf, sizeof buf), ZL_EINVAL);
	assert_int_equal(reveal(s, "b", "password", fresh, buf, sizeof buf), 0);
	struct stat st;
	assert_int_equal(stat(key_file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 8 + 1 + 64 + 1);
	zl_secrets_close(s);
	free(old);
	free(fresh);
}

struct racer {
	char *sealed;
};

static void *race_seal(void *arg)
{
	struct racer *r = arg;
	zl_secrets *s = NULL;
	zl_err err = { 0 };
	if (zl_secrets_open("local", &s, &err) == 0)
		zl_secret_seal(s, "b", "password", "raced", &r->sealed, &err);
	zl_secrets_close(s);
	return NULL;
}

/* Loaders that make the first key at once agree on one: both seals open afterwards. */
static void test_first_key_race(void **state)
{
	(void)state;
	pthread_t t[4];
	struct racer r[4] = { { 0 } };
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race_seal, &r[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	zl_secrets *s = open_local();
	char buf[64];
	for (int i = 0; i < 4; i++) {
		assert_non_null(r[i].sealed);
		assert_int_equal(reveal(s, "b", "password", r[i].sealed, buf, sizeof buf), 0);
		assert_string_equal(buf, "raced");
		free(r[i].sealed);
	}
	zl_secrets_close(s);
}

static void test_references(void **state)
{
	(void)state;
	char buf[256], path[160];
	zl_secrets *s = open_local();
	setenv("ZL_TEST_PW", "from-the-environment", 1);
	assert_true(zl_secret_is_protected("env:ZL_TEST_PW"));
	assert_int_equal(reveal(s, "b", "targets[0].password", "env:ZL_TEST_PW", buf, sizeof buf), 0);
	assert_string_equal(buf, "from-the-environment");
	assert_int_equal(reveal(s, "b", "targets[0].password", "env:ZL_TEST_UNSET", buf, sizeof buf), ZL_EINVAL);
	assert_string_equal(buf, "targets[0].password: environment variable ZL_TEST_UNSET is not set");
	snprintf(path, sizeof path, "%s/pw", dir);
	write_text(path, "from-a-file\n", 0600);
	char ref[200];
	snprintf(ref, sizeof ref, "file:%s", path);
	assert_true(zl_secret_is_protected(ref));
	assert_int_equal(reveal(s, "b", "targets[0].password", ref, buf, sizeof buf), 0);
	assert_string_equal(buf, "from-a-file");
	snprintf(ref, sizeof ref, "file:%s/missing", dir);
	assert_int_equal(reveal(s, "b", "targets[0].password", ref, buf, sizeof buf), ZL_EIO);
	assert_non_null(strstr(buf, "targets[0].password: "));
	assert_non_null(strstr(buf, "/missing"));
	/* A plain value is its own plain text (until it is sealed). */
	assert_false(zl_secret_is_protected("hunter2"));
	assert_int_equal(reveal(s, "b", "password", "hunter2", buf, sizeof buf), 0);
	assert_string_equal(buf, "hunter2");
	zl_secrets_close(s);
}

/* The original loader's KMS ciphertexts are recognised as sealed, so `config put` and the upgrade
 * leave them as they are; plain values that merely look like base64 or arrays are not. */
static void test_kms_forms(void **state)
{
	(void)state;
	char arr[400] = "[1,2,2,0,120";
	for (int i = 0; i < 40; i++)
		snprintf(arr + strlen(arr), sizeof arr - strlen(arr), ",%d", (i * 37) % 256);
	strcat(arr, "]");
	assert_true(zl_secret_is_protected(arr));
	/* base64 of 01 02 02 00 and 20 more bytes: a KMS blob as the Redshift loader stores it */
	assert_true(zl_secret_is_protected("AQICAHgAAQIDBAUGBwgJCgsMDQ4PEBESEw=="));
	assert_false(zl_secret_is_protected("aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ="));  /* "hello world hello world" */
	assert_false(zl_secret_is_protected("[1,2,3]"));
	assert_false(zl_secret_is_protected("[1,2,2,0,999,1,1,1,1,1,1,1,1,1,1,1,1]"));
	assert_false(zl_secret_is_protected("enc:kms:AQICAH"));
	/* Without a provider a sealed value says so instead of being used as the password. */
	char buf[256];
	assert_int_equal(reveal(NULL, "b", "password", arr, buf, sizeof buf), ZL_EINVAL);
	assert_string_equal(buf, "password: the value is a KMS ciphertext, and no secrets provider is open");
	assert_int_equal(reveal(NULL, "b", "password", "enc:local:v1:0123abcd:AAAA", buf, sizeof buf), ZL_EINVAL);
	assert_string_equal(buf, "password: the value is sealed, and no secrets provider is open");
}

static void test_open_specs(void **state)
{
	(void)state;
	zl_secrets *s = NULL;
	zl_err err = { 0 };
	assert_int_equal(zl_secrets_open("kms", &s, &err), 0);
	assert_string_equal(zl_secrets_name(s), "kms:alias/LambaVerticaLoaderKey");
	zl_secrets_close(s);
	assert_int_equal(zl_secrets_open("kms:arn:aws:kms:us-east-1:123456789012:key/abcd", &s, &err), 0);
	assert_string_equal(zl_secrets_name(s), "kms:arn:aws:kms:us-east-1:123456789012:key/abcd");
	zl_secrets_close(s);
	setenv("ZLOAD_SECRETS", "kms:alias/other", 1);
	assert_int_equal(zl_secrets_open(NULL, &s, &err), 0);
	assert_string_equal(zl_secrets_name(s), "kms:alias/other");
	zl_secrets_close(s);
	unsetenv("ZLOAD_SECRETS");
	assert_int_equal(zl_secrets_open("vault", &s, &err), ZL_EINVAL);
	assert_null(s);
	assert_string_equal(err.msg, "--secrets \"vault\": expected local, local:KEYFILE, kms or kms:ALIAS_OR_ARN");
}

static const zl_field fields[] = {
	{ "host", ZL_FT_STRING, 0, NULL, NULL, "" },
	{ "connectPassword", ZL_FT_SECRET, 0, NULL, NULL, "" },
	{ "password", ZL_FT_SECRET, 0, NULL, "connectPassword", NULL },
	{ "token", ZL_FT_SECRET, 0, NULL, NULL, "" },
	{ NULL, 0, 0, NULL, NULL, NULL },
};

static void test_json_fields(void **state)
{
	(void)state;
	zl_secrets *s = open_local();
	zl_err err = { 0 };
	int sealed = 0;
	json_t *t = json_pack("{s:s, s:s, s:s}", "host", "db1", "password", "pw-one", "token", "env:TOKEN");
	assert_int_equal(zl_secrets_seal_json(s, "b/in", "targets[0]", t, fields, &sealed, &err), 0);
	assert_int_equal(sealed, 1); /* the reference stays */
	assert_string_equal(json_string_value(json_object_get(t, "host")), "db1");
	assert_string_equal(json_string_value(json_object_get(t, "token")), "env:TOKEN");
	const char *pw = json_string_value(json_object_get(t, "password"));
	assert_int_equal(strncmp(pw, "enc:local:v1:", 13), 0);
	/* Sealing again changes nothing. */
	sealed = 0;
	assert_int_equal(zl_secrets_seal_json(s, "b/in", "targets[0]", t, fields, &sealed, &err), 0);
	assert_int_equal(sealed, 0);
	/* An alias seals under the canonical field's path: it opens as connectPassword. */
	char buf[64];
	assert_int_equal(reveal(s, "b/in", "targets[0].connectPassword", pw, buf, sizeof buf), 0);
	assert_string_equal(buf, "pw-one");

	setenv("TOKEN", "tok", 1);
	json_t *plain = NULL;
	assert_int_equal(zl_secrets_reveal_json(s, "b/in", "targets[0]", t, fields, &plain, &err), 0);
	assert_string_equal(json_string_value(json_object_get(plain, "password")), "pw-one");
	assert_string_equal(json_string_value(json_object_get(plain, "token")), "tok");
	assert_string_equal(json_string_value(json_object_get(t, "password")), pw); /* the original is untouched */
	const char *p = json_string_value(json_object_get(plain, "password"));
	zl_secrets_wipe_json(plain, fields);
	assert_memory_equal(p, "\0\0\0\0\0\0", 6);
	json_decref(plain);

	/* Revealed under another configuration: the error names the field. */
	assert_int_equal(zl_secrets_reveal_json(s, "b/other", "targets[0]", t, fields, &plain, &err), ZL_EINVAL);
	assert_null(plain);
	assert_string_equal(err.msg, "targets[0].connectPassword: does not open: it was sealed for another "
	                             "configuration or field, or altered");
	unsetenv("TOKEN");
	json_decref(t);
	zl_secrets_close(s);
}

/* A configuration's secrets sealed together, targets' and the notification settings', each under
 * its own path: the load reveals a target's, the sender the notification secrets. */
static void test_config_seal(void **state)
{
	(void)state;
	static const char text[] =
		"{\"s3Prefix\": \"/b/in/\", \"targets\": ["
		"{\"type\": \"postgres\", \"name\": \"dw\", \"targetTable\": \"t\", \"password\": \"pg-pw-1\"},"
		"{\"type\": \"postgres\", \"targetTable\": \"t\", \"conninfo\": \"host=h password=pg-pw-2\"}],"
		"\"notify\": {\"failure\": [\"mailto:a@example.com\"], \"webhookSecret\": \"hook-secret\","
		"\"smtp\": {\"url\": \"smtps://mail\", \"from\": \"z@example.com\", \"user\": \"z\", \"password\": \"smtp-pw\"}}}";
	static const char *const plain[] = { "pg-pw-1", "pg-pw-2", "hook-secret", "smtp-pw" };
	zl_secrets *s = open_local();
	zl_config *c = NULL, *sc = NULL;
	zl_err err = { 0 };
	int sealed = 0;
	assert_int_equal(zl_config_parse(text, &c, &err), 0);
	json_t *copy = json_deep_copy(c->json);
	assert_int_equal(zl_config_seal(c, s, copy, &sealed, &err), 0);
	assert_int_equal(sealed, 4);
	char *stored = json_dumps(copy, JSON_COMPACT);
	for (size_t i = 0; i < 4; i++)
		assert_null(strstr(stored, plain[i]));

	/* The stored configuration as a loader reads it. */
	assert_int_equal(zl_config_parse(stored, &sc, &err), 0);
	json_t *t = NULL;
	assert_int_equal(zl_config_target_reveal(sc, 0, s, &t, &err), 0);
	assert_string_equal(json_string_value(json_object_get(t, "password")), "pg-pw-1");
	zl_strvec scrub;
	zl_strvec_init(&scrub);
	assert_int_equal(zl_config_target_plain(sc, 0, t, &scrub), 0);
	assert_int_equal(scrub.n, 1);
	zl_config_target_wipe(sc, 0, t);
	assert_int_equal(zl_config_target_reveal(sc, 1, s, &t, &err), 0);
	assert_string_equal(json_string_value(json_object_get(t, "conninfo")), "host=h password=pg-pw-2");
	assert_int_equal(zl_config_target_plain(sc, 1, t, &scrub), 0);
	assert_int_equal(scrub.n, 3); /* the conninfo, and the password inside it */
	zl_config_target_wipe(sc, 1, t);
	char msg[128] = "FATAL: password=pg-pw-2 for pg-pw-1 refused";
	zl_scrub_buf(msg, sizeof msg, &scrub);
	assert_string_equal(msg, "FATAL: password=******** for ******** refused");
	zl_scrub_release(&scrub);

	zl_notify_cfg n;
	char *hook = NULL, *smtp = NULL;
	assert_int_equal(zl_config_notify_reveal(sc, s, &n, &hook, &smtp, &err), 0);
	assert_string_equal(n.webhook_secret, "hook-secret");
	assert_string_equal(n.smtp_password, "smtp-pw");
	assert_string_equal(n.smtp_user, "z");
	zl_secret_free(hook);
	zl_secret_free(smtp);
	assert_int_equal(strncmp(sc->notify.webhook_secret, "enc:local:v1:", 13), 0); /* the config keeps the seal */

	/* Each value opens only under its own path: the webhook secret's seal in the SMTP password fails. */
	json_t *moved = json_deep_copy(copy);
	json_t *smtp_obj = json_object_get(json_object_get(moved, "notify"), "smtp");
	json_object_set(smtp_obj, "password", json_object_get(json_object_get(moved, "notify"), "webhookSecret"));
	char *moved_text = json_dumps(moved, JSON_COMPACT);
	zl_config *mc = NULL;
	assert_int_equal(zl_config_parse(moved_text, &mc, &err), 0);
	assert_int_equal(zl_config_notify_reveal(mc, s, &n, &hook, &smtp, &err), ZL_EINVAL);
	assert_string_equal(err.msg, "notify.smtp.password: does not open: it was sealed for another configuration or "
	                             "field, or altered");
	assert_null(hook);
	zl_config_free(mc);
	free(moved_text);
	json_decref(moved);
	free(stored);
	json_decref(copy);
	zl_config_free(sc);
	zl_config_free(c);
	zl_secrets_close(s);
}

static void expect_redacted(const char *url, const char *want)
{
	char *got = zl_url_redacted(url);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_url_redacted(void **state)
{
	expect_redacted("sqlite:/var/lib/zload/state.db", "sqlite:/var/lib/zload/state.db");
	expect_redacted("postgresql://loader@127.0.0.1:5432/dw?schema=zload", "postgresql://loader@127.0.0.1:5432/dw?schema=zload");
	expect_redacted("postgresql://loader:s3cret@db.example:5432/dw?schema=zload",
	                "postgresql://loader:********@db.example:5432/dw?schema=zload");
	expect_redacted("postgresql://u:p@ss/w@rd@host/db", "postgresql://u:********@host/db");
	expect_redacted("postgresql://host/dw?user=u&password=pw1&schema=z", "postgresql://host/dw?user=u&password=********&schema=z");
	expect_redacted("postgres://u:pw1@h/d?password=pw2", "postgres://u:********@h/d?password=********");
	expect_redacted("postgresql://u:@h/d?password=", "postgresql://u:@h/d?password=");
	expect_redacted("postgresql:host=db password=s3cret dbname=ops", "postgresql:host=db password=******** dbname=ops");
	expect_redacted("postgresql:password='p w\\'x' host=db", "postgresql:password='********' host=db");
	expect_redacted("postgresql://u:password=x@h/d", "postgresql://u:********@h/d");
	expect_redacted("postgresql://h/d?mypassword=x", "postgresql://h/d?mypassword=x");
	expect_redacted("", "");

	zl_strvec sv;
	zl_strvec_init(&sv);
	assert_int_equal(zl_scrub_add_url(&sv, "postgresql://u:secret1@h/d?password=secret2"), 0);
	assert_int_equal(zl_scrub_add_url(&sv, "sqlite:/x/state.db"), 0);
	assert_int_equal(sv.n, 2);
	char msg[128] = "connection to h failed: secret1 secret2";
	zl_scrub_buf(msg, sizeof msg, &sv);
	assert_string_equal(msg, "connection to h failed: ******** ********");
	zl_scrub_release(&sv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_local_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_associated_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_file_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_master_key_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_key_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_references, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kms_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_specs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_seal, setup, teardown),
		cmocka_unit_test(test_url_redacted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
