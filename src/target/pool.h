/* The pool of target connections: process-wide and thread-safe. A connection a batch takes is
 * its own until it gives it back; idle ones are kept per key (the target type and the SHA-256 of
 * the canonical JSON of the target's revealed fields, so that any change of configuration opens
 * a new one), checked before reuse and closed once idle too long. Targets without a check op
 * are not pooled: get connects, put closes. The caller owns the connection get returns until put. */
#ifndef ZL_TARGET_POOL_H
#define ZL_TARGET_POOL_H

#include <jansson.h>
#include <stdint.h>

#include "target/target.h"
#include "util/err.h"

#define ZL_POOL_IDLE_SECS 60   /* default: an idle connection is closed after this long */
#define ZL_POOL_MAX_IDLE 4     /* default: idle connections kept per key */

/* idle_secs 0: every connection is closed when its batch gives it back (no pooling). For
 * `zload serve --target-idle-secs` and --workers; before any load or at any time. */
void zl_pool_configure(int64_t idle_secs, int max_idle_per_key);

/* An idle connection for cfg (the target's fields, secrets revealed) that its target's check
 * finds usable, else a new one. label names the target in zload_target_connections_total. */
int zl_pool_get(const zl_target_ops *ops, const json_t *cfg, const char *label, zl_target **out, zl_err *err);
/* Gives t back (t may be NULL). rc is the outcome of its batch: after ZL_ETRANSIENT, or when
 * the target's check says otherwise, t is closed; else it waits idle for the next batch
 * of the same key. */
void zl_pool_put(zl_target *t, const char *label, int rc);
/* Closes the idle connections older than the idle time (now_ms: zl_mono_ms()). Every get and
 * put does it too; the daemon also calls it from its loop. */
void zl_pool_expire(int64_t now_ms);
/* Closes every idle connection (at exit). */
void zl_pool_close_all(void);
/* Idle connections held now (tests). */
int zl_pool_idle_count(void);

#endif
