/* Leader/follower group commit: a waiting submitter is a follower while max_leaders groups are in
 * progress; then it leads, claiming the bodies at the head of the queue, its own among them or
 * not, and leads again until its own body is answered. Groups grow while the state commits. */
#include "runtime/commit_queue.h"
#include "util/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* One submitter's body and, once answered, its outcome; on the submitter's stack. */
typedef struct waiter {
	pthread_cond_t cv;    /* answered, or its turn to lead */
	zl_text body;
	int done;
	int rc;
	zl_err *err;
	zl_body_summary *sum;
	struct waiter *next;
} waiter;

/* A leader's group: arrays of max_group, as zl_rt_submit_bodies takes them. */
typedef struct group {
	int busy;
	waiter **w;
	zl_text *bodies;
	int *rcs;
	zl_err *errs;
	zl_body_summary *sums;
} group;

struct zl_commit_queue {
	zl_rt *rt;
	const char *intake;
	size_t max_group;
	int max_leaders;
	pthread_mutex_t mu;
	waiter *head, *tail;  /* bodies not yet taken into a group */
	int leading;          /* groups in progress */
	size_t groups, grouped_bodies;
	group *g;             /* max_leaders */
};

static int group_alloc(group *g, size_t n)
{
	g->w = calloc(n, sizeof *g->w);
	g->bodies = calloc(n, sizeof *g->bodies);
	g->rcs = calloc(n, sizeof *g->rcs);
	g->errs = calloc(n, sizeof *g->errs);
	g->sums = calloc(n, sizeof *g->sums);
	return g->w && g->bodies && g->rcs && g->errs && g->sums ? 0 : ZL_ENOMEM;
}

int zl_commit_queue_new(zl_rt *rt, const char *intake, size_t max_group, int max_leaders, zl_commit_queue **out,
                        zl_err *err)
{
	zl_commit_queue *q = calloc(1, sizeof *q);
	*out = NULL;
	if (!q)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	if (max_group == 0 || max_group > ZL_COMMIT_GROUP_MAX)
		max_group = ZL_COMMIT_GROUP_MAX;
	*q = (zl_commit_queue){ .rt = rt, .intake = intake, .max_group = max_group,
	                        .max_leaders = max_leaders > 0 ? max_leaders : 1 };
	pthread_mutex_init(&q->mu, NULL);
	int rc = (q->g = calloc((size_t)q->max_leaders, sizeof *q->g)) ? 0 : ZL_ENOMEM;
	for (int i = 0; rc == 0 && i < q->max_leaders; i++)
		rc = group_alloc(&q->g[i], max_group);
	if (rc) {
		zl_commit_queue_free(q);
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	}
	*out = q;
	return 0;
}

void zl_commit_queue_free(zl_commit_queue *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->mu);
	for (int i = 0; q->g && i < q->max_leaders; i++) {
		free(q->g[i].w);
		free(q->g[i].bodies);
		free(q->g[i].rcs);
		free(q->g[i].errs);
		free(q->g[i].sums);
	}
	free(q->g);
	free(q);
}

/* Takes the bodies at the head of the queue into a free group (under mu); returns it. */
static group *take_group(zl_commit_queue *q, size_t *n)
{
	group *g = q->g;
	while (g->busy) /* one is free: fewer than max_leaders lead */
		g++;
	g->busy = 1;
	*n = 0;
	while (q->head && *n < q->max_group) {
		waiter *w = q->head;
		q->head = w->next;
		g->w[*n] = w;
		g->bodies[*n] = w->body;
		(*n)++;
	}
	if (!q->head)
		q->tail = NULL;
	return g;
}

/* Claims the group (without mu) and hands each waiter its outcome (under mu). */
static void claim_group(zl_commit_queue *q, group *g, size_t n)
{
	pthread_mutex_unlock(&q->mu);
	if (n > 1)
		ZL_LOG(ZL_DEBUG, "bodies claimed together", ZL_S("intake", q->intake), ZL_I("bodies", (long long)n));
	zl_rt_submit_bodies(q->rt, q->intake, g->bodies, n, g->rcs, g->errs, g->sums);
	pthread_mutex_lock(&q->mu);
	for (size_t i = 0; i < n; i++) {
		waiter *w = g->w[i];
		w->rc = g->rcs[i];
		*w->err = g->errs[i];
		*w->sum = g->sums[i];
		w->done = 1;
		pthread_cond_signal(&w->cv);
	}
	g->busy = 0;
	q->groups++;
	q->grouped_bodies += n;
}

int zl_commit_queue_submit(zl_commit_queue *q, const char *body, size_t len, zl_body_summary *sum, zl_err *err)
{
	waiter me = { .body = { body, len }, .err = err, .sum = sum };
	pthread_cond_init(&me.cv, NULL);
	pthread_mutex_lock(&q->mu);
	if (q->tail)
		q->tail->next = &me;
	else
		q->head = &me;
	q->tail = &me;
	while (!me.done) {
		if (q->leading >= q->max_leaders || !q->head) { /* !head: mine is in a group in progress */
			pthread_cond_wait(&me.cv, &q->mu);
			continue;
		}
		size_t n;
		q->leading++;
		group *g = take_group(q, &n);
		claim_group(q, g, n);
		q->leading--;
		if (q->head) /* the first body waiting leads next (only the woken contend for mu) */
			pthread_cond_signal(&q->head->cv);
	}
	pthread_mutex_unlock(&q->mu);
	pthread_cond_destroy(&me.cv);
	return me.rc;
}

void zl_commit_queue_stats(zl_commit_queue *q, size_t *groups, size_t *bodies)
{
	pthread_mutex_lock(&q->mu);
	*groups = q->groups;
	*bodies = q->grouped_bodies;
	pthread_mutex_unlock(&q->mu);
}
