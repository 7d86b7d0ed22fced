/* Group commit across threads: bodies that threads submit while a group is being claimed wait,
 * and the first of them to find no group in progress takes every body waiting (up to the queue's
 * max) and claims them together with zl_rt_submit_bodies, in one state transaction. A body that
 * arrives alone is claimed at once: nobody waits for company. Each caller gets its own body's
 * outcome, exactly as zl_rt_submit_body would give it. */
#ifndef ZL_COMMIT_QUEUE_H
#define ZL_COMMIT_QUEUE_H

#include <stddef.h>

#include "runtime/runtime.h"

#define ZL_COMMIT_GROUP_MAX 64 /* bodies claimed together at most */

typedef struct zl_commit_queue zl_commit_queue;

/* A queue submitting to rt for intake (static storage), groups of at most max_group bodies (0 or
 * more than ZL_COMMIT_GROUP_MAX: ZL_COMMIT_GROUP_MAX), at most max_leaders groups at once (1 where
 * the state takes one writer at a time). */
int zl_commit_queue_new(zl_rt *rt, const char *intake, size_t max_group, int max_leaders, zl_commit_queue **out,
                        zl_err *err);
/* Once no submit is running. NULL is a no-op. */
void zl_commit_queue_free(zl_commit_queue *q);
/* Submits one body, as zl_rt_submit_body does without a record callback: returns once its records
 * are answered, with its outcome in *sum and the return code (ZL_EINVAL: the body is malformed,
 * err says why; another error: a record was not recorded). Thread-safe; body must stay valid. */
int zl_commit_queue_submit(zl_commit_queue *q, const char *body, size_t len, zl_body_summary *sum, zl_err *err);
/* Groups claimed so far, and bodies in them (tests). */
void zl_commit_queue_stats(zl_commit_queue *q, size_t *groups, size_t *bodies);

#endif
