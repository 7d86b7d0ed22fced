/* The local provider: AES-256-GCM under a master key kept in a file only its owner can read.
 *
 * Key file: one line per key, "KEYID HEX64", newest first; KEYID is the first 8 hex digits of the
 * key's SHA-256, so a sealed value names the key it needs. ZLOAD_MASTER_KEY (64 hex digits), when
 * set, is the only key and no file is read. A sealed body is KEYID ":" base64(nonce 12 | ciphertext
 * | tag 16). */
#include "secret/secret_int.h"
#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NONCE_LEN 12
#define TAG_LEN 16
#define MAX_KEYS 64

static void key_id(const unsigned char key[ZL_KEY_LEN], char id[ZL_KEYID_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_Digest(key, ZL_KEY_LEN, md, &n, EVP_sha256(), NULL);
	snprintf(id, ZL_KEYID_LEN, "%02x%02x%02x%02x", md[0], md[1], md[2], md[3]);
}

static int hex_key(const char *hex, unsigned char key[ZL_KEY_LEN])
{
	for (int i = 0; i < ZL_KEY_LEN; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", hex[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", hex[2 * i + 1]))
			return -1;
		key[i] = (unsigned char)v;
	}
	return 0;
}

void zl_local_release(zl_secrets *s)
{
	if (s->keys)
		explicit_bzero(s->keys, s->nkeys * sizeof *s->keys);
	free(s->keys);
	s->keys = NULL;
	s->nkeys = 0;
	s->keys_loaded = 0;
}

/* Parses the key file's text into s->keys. */
static int parse_keys(zl_secrets *s, const char *text, zl_err *err)
{
	zl_master_key *keys = calloc(MAX_KEYS, sizeof *keys);
	size_t n = 0, line = 0;
	if (!keys)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	for (const char *p = text; *p; line++) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char id[16], hex[80];
		if (len > 0 && p[0] != '#') {
			if (n == MAX_KEYS || len != 8 + 1 + 64 || sscanf(p, "%15s %79s", id, hex) != 2 || strlen(id) != 8 ||
			    strlen(hex) != 64 || hex_key(hex, keys[n].key)) {
				explicit_bzero(keys, MAX_KEYS * sizeof *keys);
				free(keys);
				explicit_bzero(hex, sizeof hex);
				return zl_err_set(err, ZL_EINVAL, "%s:%zu: expected \"KEYID HEX64\" (a zload master key)",
				                  s->key_file, line + 1);
			}
			key_id(keys[n].key, keys[n].id);
			n++;
		}
		explicit_bzero(hex, sizeof hex);
		p = nl ? nl + 1 : p + len;
	}
	if (n == 0) {
		free(keys);
		return zl_err_set(err, ZL_EINVAL, "%s: holds no master key", s->key_file);
	}
	s->keys = keys;
	s->nkeys = n;
	s->keys_loaded = 1;
	return 0;
}

/* Reads the key file; ZL_ENOTFOUND when there is none. Refuses a file others may read. */
static int read_keys(zl_secrets *s, zl_err *err)
{
	const char *env = getenv("ZLOAD_MASTER_KEY");
	if (env && *env) {
		zl_master_key *k = calloc(1, sizeof *k);
		if (!k)
			return zl_err_set(err, ZL_ENOMEM, "out of memory");
		if (strlen(env) != 64 || hex_key(env, k->key)) {
			free(k);
			return zl_err_set(err, ZL_EINVAL, "ZLOAD_MASTER_KEY: expected 64 hex digits (32 bytes)");
		}
		key_id(k->key, k->id);
		s->keys = k;
		s->nkeys = 1;
		s->keys_loaded = 1;
		return 0;
	}
	int fd = open(s->key_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? ZL_ENOTFOUND
		                       : zl_err_set(err, ZL_EIO, "%s: %s", s->key_file, strerror(errno));
	struct stat st;
	char text[MAX_KEYS * 80];
	ssize_t got = 0, k;
	int rc = 0;
	if (fstat(fd, &st) == 0 && (st.st_mode & 077)) {
		rc = zl_err_set(err, ZL_EINVAL, "%s: mode %04o lets others read the master key; chmod 600 %s",
		                s->key_file, (unsigned)(st.st_mode & 07777), s->key_file);
		goto out;
	}
	while ((k = read(fd, text + got, sizeof text - 1 - (size_t)got)) > 0)
		got += k;
	if (k < 0) {
		rc = zl_err_set(err, ZL_EIO, "%s: %s", s->key_file, strerror(errno));
		goto out;
	}
	text[got] = '\0';
	rc = parse_keys(s, text, err);
out:
	explicit_bzero(text, sizeof text);
	close(fd);
	return rc;
}

/* Writes keys to a new file beside the key file and puts it in place: rename when replacing,
 * link when creating (so that two loaders creating a key at once agree on the first). */
static int write_keys(zl_secrets *s, const zl_master_key *keys, size_t n, int replace, zl_err *err)
{
	char tmp[4200], line[80];
	if (zl_mkdirs_for(s->key_file, 0700))
		return zl_err_set(err, ZL_EIO, "%s: %s", s->key_file, strerror(errno));
	snprintf(tmp, sizeof tmp, "%s.XXXXXX", s->key_file);
	int fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
	if (fd < 0)
		return zl_err_set(err, ZL_EIO, "%s: %s", tmp, strerror(errno));
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		int len = snprintf(line, sizeof line, "%s ", keys[i].id);
		for (int b = 0; b < ZL_KEY_LEN; b++)
			len += snprintf(line + len, sizeof line - (size_t)len, "%02x", keys[i].key[b]);
		line[len++] = '\n';
		if (write(fd, line, (size_t)len) != len)
			rc = zl_err_set(err, ZL_EIO, "%s: %s", tmp, strerror(errno));
	}
	explicit_bzero(line, sizeof line);
	if (rc == 0 && fsync(fd))
		rc = zl_err_set(err, ZL_EIO, "%s: %s", tmp, strerror(errno));
	close(fd);
	if (rc == 0 && replace && rename(tmp, s->key_file))
		rc = zl_err_set(err, ZL_EIO, "%s: %s", s->key_file, strerror(errno));
	if (rc == 0 && !replace && link(tmp, s->key_file))
		rc = errno == EEXIST ? ZL_EEXIST : zl_err_set(err, ZL_EIO, "%s: %s", s->key_file, strerror(errno));
	unlink(tmp);
	return rc;
}

static int random_key(zl_master_key *k, zl_err *err)
{
	if (RAND_bytes(k->key, ZL_KEY_LEN) != 1)
		return zl_err_set(err, ZL_EIO, "no random bytes for a master key");
	key_id(k->key, k->id);
	return 0;
}

/* Loads the keys, creating the key file with a first key when create is set and there is none.
 * Called with s->mu held. */
static int load_keys(zl_secrets *s, int create, zl_err *err)
{
	if (s->keys_loaded)
		return 0;
	int rc = read_keys(s, err);
	if (rc != ZL_ENOTFOUND)
		return rc;
	if (!create)
		return zl_err_set(err, ZL_ENOTFOUND, "master key file %s does not exist (was the value sealed on another machine? copy its key file, or set ZLOAD_MASTER_KEY_FILE)",
		                  s->key_file);
	zl_master_key k;
	if ((rc = random_key(&k, err)))
		return rc;
	rc = write_keys(s, &k, 1, 0, err);
	explicit_bzero(&k, sizeof k);
	if (rc && rc != ZL_EEXIST)
		return rc;
	rc = read_keys(s, err); /* ours, or the one another loader made first */
	return rc == ZL_ENOTFOUND ? zl_err_set(err, ZL_EIO, "%s: vanished after it was made", s->key_file) : rc;
}

int zl_local_seal(zl_secrets *s, const zl_buf *aad, const char *plain, char **out, zl_err *err)
{
	unsigned char *box = NULL;
	size_t plen = strlen(plain);
	char id[ZL_KEYID_LEN];
	unsigned char key[ZL_KEY_LEN];
	pthread_mutex_lock(&s->mu);
	int rc = load_keys(s, 1, err);
	if (rc == 0) {
		memcpy(id, s->keys[0].id, sizeof id);
		memcpy(key, s->keys[0].key, sizeof key);
	}
	pthread_mutex_unlock(&s->mu);
	if (rc)
		return rc;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len = 0, fin = 0;
	box = malloc(NONCE_LEN + plen + TAG_LEN);
	if (!ctx || !box) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	if (RAND_bytes(box, NONCE_LEN) != 1 || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, box) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *)aad->data, (int)aad->len) != 1 ||
	    EVP_EncryptUpdate(ctx, box + NONCE_LEN, &len, (const unsigned char *)plain, (int)plen) != 1 ||
	    EVP_EncryptFinal_ex(ctx, box + NONCE_LEN + len, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, box + NONCE_LEN + plen) != 1) {
		rc = zl_err_set(err, ZL_EIO, "AES-256-GCM sealing failed");
		goto out;
	}
	char *b64 = zl_b64_encode(box, NONCE_LEN + plen + TAG_LEN);
	size_t need = b64 ? strlen("enc:local:v1:") + strlen(id) + 1 + strlen(b64) + 1 : 0;
	if (b64 && (*out = malloc(need)))
		snprintf(*out, need, "enc:local:v1:%s:%s", id, b64);
	else
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	free(b64);
out:
	explicit_bzero(key, sizeof key);
	if (box)
		explicit_bzero(box, NONCE_LEN + plen + TAG_LEN);
	free(box);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int zl_local_open(zl_secrets *s, const zl_buf *aad, const char *body, char **out, zl_err *err)
{
	const char *colon = strchr(body, ':');
	size_t n = 0;
	unsigned char key[ZL_KEY_LEN], *box = NULL;
	char *plain = NULL;
	size_t clen = 0;
	int found = 0;
	if (!colon || colon - body != 8)
		return zl_err_set(err, ZL_EINVAL, "malformed sealed value (expected enc:local:v1:KEYID:BASE64)");
	pthread_mutex_lock(&s->mu);
	int rc = load_keys(s, 0, err);
	for (int pass = 0; rc == 0 && pass < 2 && !found; pass++) {
		if (pass) { /* a rotation elsewhere may have added the key since it was read */
			zl_local_release(s);
			rc = load_keys(s, 0, err);
		}
		for (size_t i = 0; rc == 0 && i < s->nkeys && !found; i++)
			if (strncmp(s->keys[i].id, body, 8) == 0) {
				memcpy(key, s->keys[i].key, sizeof key);
				found = 1;
			}
	}
	pthread_mutex_unlock(&s->mu);
	if (rc)
		return rc;
	if (!found)
		return zl_err_set(err, ZL_EINVAL, "sealed with master key %.8s, which %s does not hold", body,
		                  getenv("ZLOAD_MASTER_KEY") && *getenv("ZLOAD_MASTER_KEY") ? "ZLOAD_MASTER_KEY"
		                                                                          : s->key_file);
	box = zl_b64_decode(colon + 1, &n);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len = 0, fin = 0;
	if (!box || n < NONCE_LEN + TAG_LEN) {
		rc = zl_err_set(err, ZL_EINVAL, "malformed sealed value (bad base64 or too short)");
		goto out;
	}
	clen = n - NONCE_LEN - TAG_LEN;
	if (!ctx || !(plain = malloc(clen + 1))) {
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
		goto out;
	}
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, box) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *)aad->data, (int)aad->len) != 1 ||
	    EVP_DecryptUpdate(ctx, (unsigned char *)plain, &len, box + NONCE_LEN, (int)clen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, box + NONCE_LEN + clen) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + len, &fin) != 1) {
		rc = zl_err_set(err, ZL_EINVAL,
		                "does not open: it was sealed for another configuration or field, or altered");
		goto out;
	}
	plain[clen] = '\0';
	if (strlen(plain) != clen) {
		rc = zl_err_set(err, ZL_EINVAL, "the sealed value holds a NUL byte");
		goto out;
	}
	*out = plain;
	plain = NULL;
out:
	explicit_bzero(key, sizeof key);
	if (plain)
		explicit_bzero(plain, clen + 1);
	free(plain);
	free(box);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int zl_local_new_key(zl_secrets *s, zl_err *err)
{
	if (getenv("ZLOAD_MASTER_KEY") && *getenv("ZLOAD_MASTER_KEY"))
		return zl_err_set(err, ZL_EINVAL, "the master key comes from ZLOAD_MASTER_KEY: rotate it where it is set");
	pthread_mutex_lock(&s->mu);
	int rc = load_keys(s, 1, err);
	zl_master_key *keys = rc ? NULL : calloc(s->nkeys + 1, sizeof *keys);
	if (rc == 0 && !keys)
		rc = zl_err_set(err, ZL_ENOMEM, "out of memory");
	if (rc == 0 && s->nkeys + 1 > MAX_KEYS)
		rc = zl_err_set(err, ZL_EINVAL, "%s: holds %d keys already; finish a rotation (zload secrets rotate) first",
		                s->key_file, MAX_KEYS);
	if (rc == 0 && (rc = random_key(&keys[0], err)) == 0) {
		memcpy(keys + 1, s->keys, s->nkeys * sizeof *keys);
		if ((rc = write_keys(s, keys, s->nkeys + 1, 1, err)) == 0) {
			size_t n = s->nkeys + 1;
			zl_local_release(s);
			s->keys = keys;
			s->nkeys = n;
			s->keys_loaded = 1;
			keys = NULL;
		}
	}
	if (keys)
		explicit_bzero(keys, (s->nkeys + 1) * sizeof *keys);
	free(keys);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int zl_local_drop_old_keys(zl_secrets *s, zl_err *err)
{
	pthread_mutex_lock(&s->mu);
	int rc = load_keys(s, 0, err);
	if (rc == 0 && s->nkeys > 1 && !(getenv("ZLOAD_MASTER_KEY") && *getenv("ZLOAD_MASTER_KEY")) &&
	    (rc = write_keys(s, s->keys, 1, 1, err)) == 0) {
		explicit_bzero(s->keys + 1, (s->nkeys - 1) * sizeof *s->keys);
		s->nkeys = 1;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}
