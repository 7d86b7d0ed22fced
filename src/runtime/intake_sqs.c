/* An SQS queue as an intake, on its own thread: a message is deleted only after its records are
 * claimed. One that cannot be parsed stays, for the queue's redrive policy; one whose claim
 * failed is received again. */
#include "intake/sqs.h"
#include "obs/metrics.h"
#include "runtime/runtime_int.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct sqs_intake {
	zl_rt *rt;
	zl_sqs *q;
	int wait_secs;
	volatile int cancel;     /* aborts a long poll at stop */
	pthread_t th;
	int started;
} sqs_intake;

/* One message's outcome, once the receive's records are claimed. */
static void settle(sqs_intake *si, const zl_sqs_msg *m, int rc, zl_err *err, const zl_body_summary *sum)
{
	if (rc == ZL_EINVAL)
		ZL_LOG(ZL_ERROR, "sqs: message cannot be parsed, left for the redrive policy", ZL_S("message", m->id),
		       ZL_S("error", err->msg));
	else if (rc)
		ZL_LOG(ZL_WARN, "sqs: message not claimed, will be received again", ZL_S("message", m->id),
		       ZL_S("error", err->msg));
	else if (zl_sqs_delete(si->q, m->receipt, err))
		ZL_LOG(ZL_WARN, "sqs: delete failed (the message will come again; its files are claimed)",
		       ZL_S("message", m->id), ZL_S("error", err->msg));
	else
		ZL_LOG(ZL_DEBUG, "sqs: message handled", ZL_S("message", m->id), ZL_I("queued", (long long)sum->queued),
		       ZL_I("duplicate", (long long)sum->duplicate));
}

/* The records of one receive are claimed together (one state transaction where the state has
 * group commit); each message is deleted only once all of its records are. */
static void handle(sqs_intake *si, const zl_sqs_msg *msgs, size_t n)
{
	zl_text bodies[16];
	int rcs[16];
	zl_err errs[16];
	zl_body_summary sums[16];
	for (size_t at = 0; at < n; at += 16) {
		size_t k = n - at < 16 ? n - at : 16;
		for (size_t i = 0; i < k; i++)
			bodies[i] = (zl_text){ msgs[at + i].body, msgs[at + i].body_len };
		zl_rt_submit_bodies(si->rt, ZL_INTAKE_SQS, bodies, k, rcs, errs, sums);
		for (size_t i = 0; i < k; i++)
			settle(si, &msgs[at + i], rcs[i], &errs[i], &sums[i]);
	}
}

static void *sqs_loop(void *arg)
{
	sqs_intake *si = arg;
	int64_t backoff = 0;
	while (!si->cancel) {
		zl_sqs_msg *msgs = NULL;
		size_t n = 0;
		zl_err err;
		if (zl_sqs_receive(si->q, si->wait_secs, 10, &msgs, &n, &err)) {
			if (!si->cancel) {
				backoff = backoff ? (backoff * 2 > 30000 ? 30000 : backoff * 2) : 1000;
				ZL_LOG(ZL_WARN, "sqs: receive failed", ZL_S("error", err.msg), ZL_I("retry_ms", backoff));
				for (int64_t t = 0; t < backoff && !si->cancel; t += 100)
					zl_sleep_ms(100);
			}
			continue;
		}
		backoff = 0;
		handle(si, msgs, n);
		zl_sqs_msgs_free(msgs, n);
	}
	return NULL;
}

static void sqs_stop(void *ctx)
{
	sqs_intake *si = ctx;
	if (!si)
		return;
	si->cancel = 1;
	if (si->started)
		pthread_join(si->th, NULL);
	zl_sqs_close(si->q);
	free(si);
}

static int sqs_start(zl_rt *rt, const void *cfgp, void **ctx, zl_err *err)
{
	const zl_sqs_cfg *cfg = cfgp;
	sqs_intake *si = calloc(1, sizeof *si);
	if (!si)
		return zl_err_set(err, ZL_ENOMEM, "out of memory");
	si->rt = rt;
	si->wait_secs = cfg->wait_secs;
	int rc = zl_sqs_open(cfg->queue_url, &si->cancel, &si->q, err);
	if (rc == 0 && !(si->started = pthread_create(&si->th, NULL, sqs_loop, si) == 0))
		rc = zl_err_set(err, ZL_ENOMEM, "cannot start the SQS thread");
	if (rc) {
		sqs_stop(si);
		return rc;
	}
	ZL_LOG(ZL_INFO, "consuming SQS queue", ZL_S("queue", cfg->queue_url), ZL_I("wait_secs", cfg->wait_secs));
	*ctx = si;
	return 0;
}

const zl_intake_ops zl_intake_sqs = {
	.name = "sqs",
	.start = sqs_start,
	.stop = sqs_stop,
};
