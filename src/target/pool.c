/* The pool of target connections: one table of idle connections behind one lock; connecting,
 * checking and closing happen outside it. */
#include "target/pool.h"
#include "obs/metrics.h"
#include "util/timeutil.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IDLE_TOTAL 64 /* idle connections of all keys */

typedef struct idle_conn {
	zl_target *t;
	unsigned char key[32];
	int64_t since;   /* zl_mono_ms() when it was given back */
} idle_conn;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static idle_conn idle[MAX_IDLE_TOTAL];
static int nidle;
static int64_t idle_ms = ZL_POOL_IDLE_SECS * 1000;
static int max_per_key = ZL_POOL_MAX_IDLE;

void zl_pool_configure(int64_t idle_secs, int max_idle_per_key)
{
	pthread_mutex_lock(&mu);
	idle_ms = idle_secs * 1000;
	max_per_key = max_idle_per_key > 0 ? max_idle_per_key : 1;
	pthread_mutex_unlock(&mu);
	zl_pool_expire(zl_mono_ms());
}

/* SHA-256 of "type\n" + the canonical JSON of cfg (keys sorted); the text is wiped before it is
 * freed, as it holds the revealed secrets. */
static int pool_key(const zl_target_ops *ops, const json_t *cfg, unsigned char key[32], zl_err *err)
{
	char *text = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok = text && md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
	         EVP_DigestUpdate(md, ops->type, strlen(ops->type)) && EVP_DigestUpdate(md, "\n", 1) &&
	         EVP_DigestUpdate(md, text, strlen(text)) && EVP_DigestFinal_ex(md, key, &n) && n == 32;
	EVP_MD_CTX_free(md);
	if (text) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	return ok ? 0 : zl_err_set(err, ZL_ENOMEM, "cannot hash the target's connection fields");
}

/* Removes idle[i] (under mu); returns its connection. */
static zl_target *take(int i)
{
	zl_target *t = idle[i].t;
	idle[i] = idle[--nidle];
	return t;
}

/* Moves the idle connections past the idle time to out (under mu); returns how many. */
static int take_expired(int64_t now, zl_target **out)
{
	int n = 0;
	for (int i = nidle - 1; i >= 0; i--)
		if (now - idle[i].since >= idle_ms)
			out[n++] = take(i);
	return n;
}

static void close_all(zl_target **v, int n)
{
	for (int i = 0; i < n; i++)
		v[i]->ops->close(v[i]);
}

void zl_pool_expire(int64_t now_ms)
{
	zl_target *old[MAX_IDLE_TOTAL];
	pthread_mutex_lock(&mu);
	int n = take_expired(now_ms, old);
	pthread_mutex_unlock(&mu);
	close_all(old, n);
}

void zl_pool_close_all(void)
{
	zl_target *all[MAX_IDLE_TOTAL];
	pthread_mutex_lock(&mu);
	int n = 0;
	while (nidle)
		all[n++] = take(nidle - 1);
	pthread_mutex_unlock(&mu);
	close_all(all, n);
}

int zl_pool_idle_count(void)
{
	pthread_mutex_lock(&mu);
	int n = nidle;
	pthread_mutex_unlock(&mu);
	return n;
}

/* The most recently given back idle connection of key (under mu), or NULL. */
static zl_target *take_newest(const unsigned char key[32])
{
	int best = -1;
	for (int i = 0; i < nidle; i++)
		if (memcmp(idle[i].key, key, 32) == 0 && (best < 0 || idle[i].since > idle[best].since))
			best = i;
	return best < 0 ? NULL : take(best);
}

int zl_pool_get(const zl_target_ops *ops, const json_t *cfg, const char *label, zl_target **out, zl_err *err)
{
	unsigned char key[32];
	*out = NULL;
	if (!ops->check) {
		int rc = ops->connect(cfg, out, err);
		if (rc == 0)
			zl_metrics_target_connection(label, "opened");
		return rc;
	}
	int rc = pool_key(ops, cfg, key, err);
	if (rc)
		return rc;
	zl_pool_expire(zl_mono_ms());
	for (;;) {
		pthread_mutex_lock(&mu);
		zl_target *t = take_newest(key);
		pthread_mutex_unlock(&mu);
		if (!t)
			break;
		if (ops->check(t)) {
			zl_metrics_target_connection(label, "reused");
			*out = t;
			return 0;
		}
		ops->close(t); /* terminated by the server while idle, or broken */
	}
	if ((rc = ops->connect(cfg, out, err)))
		return rc;
	memcpy((*out)->pool_key, key, 32);
	(*out)->pooled = 1;
	zl_metrics_target_connection(label, "opened");
	return 0;
}

void zl_pool_put(zl_target *t, const char *label, int rc)
{
	if (!t)
		return;
	for (; t->reopened > 0; t->reopened--) /* reconnected by itself within the batch */
		zl_metrics_target_connection(label, "opened");
	pthread_mutex_lock(&mu);
	int keep = t->pooled && idle_ms > 0 && rc != ZL_ETRANSIENT;
	pthread_mutex_unlock(&mu);
	keep = keep && t->ops->check(t);
	zl_target *old[MAX_IDLE_TOTAL];
	int64_t now = zl_mono_ms();
	pthread_mutex_lock(&mu);
	int n = take_expired(now, old), same = 0;
	for (int i = 0; keep && i < nidle; i++)
		same += memcmp(idle[i].key, t->pool_key, 32) == 0;
	int cap = t->pool_keep > max_per_key ? t->pool_keep : max_per_key; /* the parts of one batch, in parallel */
	if (keep && same < cap && nidle < MAX_IDLE_TOTAL) {
		idle[nidle] = (idle_conn){ .t = t, .since = now };
		memcpy(idle[nidle++].key, t->pool_key, 32);
		t = NULL;
	}
	pthread_mutex_unlock(&mu);
	close_all(old, n);
	if (t)
		t->ops->close(t);
}
