/* zload serve: the daemon. The main thread takes events (directory watcher) and runs the
 * sweeper every second; a pool of workers loads the batches it locks. */
#include "cli/cli.h"
#include "intake/sqs.h"
#include "intake/watch_dir.h"
#include "intake/webhook.h"
#include "store/store_dir.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

enum { S_WORKERS, S_IDLE, S_NO_WATCH, S_SETTLE, S_WEBHOOK, S_TOKEN, S_MAX_BODY, S_SQS, S_SQS_WAIT, S_COUNT };
const zl_opt zl_serve_opts[] = {
	{ "workers", 0, "N", "batches loaded at once (default 4)" },
	{ "exit-when-idle", 0, "SECONDS", "exit 0 once nothing is pending for SECONDS" },
	{ "no-watch", 0, NULL, "do not watch the dir: store; only sweep and load" },
	{ "settle-ms", 0, "MS", "a file found by a scan, not by its close event, is taken once unchanged for MS (default 1000)" },
	{ "webhook", 0, "ADDR:PORT", "take event bodies on POST /events (GET /healthz for probes)" },
	{ "webhook-token", 0, "TOKEN", "require \"Authorization: Bearer TOKEN\" (env ZLOAD_WEBHOOK_TOKEN)" },
	{ "webhook-max-body", 0, "BYTES", "larger bodies are refused with 413 (default 1048576)" },
	{ "sqs", 0, "QUEUE_URL", "consume S3 event messages from an SQS queue (long polling)" },
	{ "sqs-wait", 0, "SECONDS", "long-poll wait of each SQS receive, 0-20 (default 20)" },
	{ 0 }
};

static const zl_cmd serve_cmd = { "serve", zl_cmd_serve, NULL,
	"Run the loader: watch the dir: store for complete files (and scan it at start-up), run the\n"
	"sweeper every second (due batches, expired leases, retries), and load batches with a pool of\n"
	"workers. SIGTERM or SIGINT: stop taking events, finish in-flight batches, exit 0.", zl_serve_opts };

typedef struct serve {
	zl_cli *cli;
	zl_store *store;
	zl_engine intake;        /* the main thread's engine */
	zl_engine hook;          /* the webhook thread's engine (same owner id) */
	int64_t hook_reloaded;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	zl_strvec queue;         /* locked batch ids waiting for a worker */
	size_t head;
	int busy;                /* workers loading now */
	int stopping;
	volatile int cancel;     /* set at shutdown: aborts an SQS long poll */
	zl_sqs *sqs;
	int sqs_wait;
} serve;

static void enqueue(serve *s, const char *id)
{
	pthread_mutex_lock(&s->mu);
	zl_strvec_push(&s->queue, id);
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void *worker(void *arg)
{
	serve *s = arg;
	zl_engine e;
	zl_err err;
	if (zl_engine_open(&e, s->cli->state_url, s->store, &err)) {
		ZL_LOG(ZL_ERROR, "worker cannot open the state store", ZL_S("error", err.msg));
		return NULL;
	}
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stopping && s->head == s->queue.n)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stopping)
			break;
		char *id = s->queue.v[s->head];
		s->queue.v[s->head++] = NULL;
		s->busy++;
		pthread_mutex_unlock(&s->mu);

		/* The batch is locked by the intake engine's owner id: load it under that id. */
		memcpy(e.owner, s->intake.owner, sizeof e.owner);
		zl_load_summary sum;
		if (zl_engine_reload(&e, &err) || zl_engine_load(&e, id, &sum, &err))
			ZL_LOG(ZL_ERROR, "load failed", ZL_S("batch", id), ZL_S("error", err.msg));
		free(id);

		pthread_mutex_lock(&s->mu);
		s->busy--;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	zl_engine_close(&e);
	return NULL;
}

static void ingest_one(serve *s, const char *bucket, const char *key)
{
	zl_err err;
	zl_object obj = { 0 };
	if (s->store->ops->head(s->store, bucket, key, &obj, &err)) {
		ZL_LOG(ZL_WARN, "cannot read new object", ZL_S("bucket", bucket), ZL_S("key", key), ZL_S("error", err.msg));
		return;
	}
	int64_t now = zl_now_ms();
	zl_ingest_result res;
	if (zl_engine_ingest(&s->intake, &obj, now, &res, &err)) {
		ZL_LOG(ZL_ERROR, "cannot queue object", ZL_S("bucket", bucket), ZL_S("key", key), ZL_S("error", err.msg));
	} else if (res.outcome == ZL_INGEST_QUEUED) {
		ZL_LOG(ZL_INFO, "file queued", ZL_S("batch", res.batch_id), ZL_S("prefix", res.config->prefix),
		       ZL_S("bucket", bucket), ZL_S("key", key));
		if (res.due && zl_engine_lock(&s->intake, res.batch_id, res.config->prefix, ZL_LOCK_OPEN, now, res.due, &err) == 0)
			enqueue(s, res.batch_id);
	} else if (res.outcome != ZL_INGEST_DUPLICATE) {
		ZL_LOG(ZL_DEBUG, "file not queued", ZL_S("outcome", zl_ingest_outcome_name(res.outcome)),
		       ZL_S("bucket", bucket), ZL_S("key", key));
	}
	zl_object_release(&obj);
}

static void on_file(void *ud, const char *bucket, const char *key)
{
	ingest_one(ud, bucket, key);
}

/* POST /events: answers 2xx only once every record is claimed, so a sender that got an error retries. */
static int on_webhook(void *ud, const char *body, size_t len, zl_buf *reply)
{
	serve *s = ud;
	zl_err err;
	zl_strvec due;
	zl_body_summary sum;
	zl_strvec_init(&due);
	int64_t now = zl_mono_ms();
	if (now - s->hook_reloaded >= 1000 && zl_engine_reload(&s->hook, &err) == 0)
		s->hook_reloaded = now;
	int rc = zl_engine_ingest_body(&s->hook, body, len, &due, NULL, NULL, &sum, &err);
	for (size_t i = 0; i < due.n; i++)
		enqueue(s, due.v[i]);
	zl_strvec_release(&due);
	if (rc == ZL_EINVAL) {
		ZL_LOG(ZL_WARN, "webhook: malformed body refused", ZL_S("error", err.msg));
		json_t *j = json_pack("{s:s}", "error", err.msg);
		char *t = json_dumps(j, JSON_COMPACT);
		zl_buf_adds(reply, t);
		free(t);
		json_decref(j);
		return 400;
	}
	zl_buf_printf(reply, "{\"records\":%zu,\"queued\":%zu,\"duplicate\":%zu,\"filtered\":%zu,\"unrouted\":%zu,"
	              "\"ignored\":%zu,\"malformed\":%zu,\"failed\":%zu}", sum.records, sum.queued, sum.duplicate,
	              sum.filtered, sum.unrouted, sum.ignored, sum.malformed, sum.failed);
	return rc ? 503 : 200;
}

/* The SQS consumer: a message is deleted only after its records are claimed. One that cannot be
 * parsed stays, for the queue's redrive policy; one whose claim failed is received again. */
static void *sqs_loop(void *arg)
{
	serve *s = arg;
	zl_engine e;
	zl_err err;
	int64_t backoff = 0, reloaded = 0;
	if (zl_engine_open(&e, s->cli->state_url, s->store, &err)) {
		ZL_LOG(ZL_ERROR, "sqs: cannot open the state store", ZL_S("error", err.msg));
		return NULL;
	}
	memcpy(e.owner, s->intake.owner, sizeof e.owner);
	while (!s->cancel) {
		zl_sqs_msg *msgs = NULL;
		size_t n = 0;
		if (zl_sqs_receive(s->sqs, s->sqs_wait, 10, &msgs, &n, &err)) {
			if (!s->cancel) {
				backoff = backoff ? (backoff * 2 > 30000 ? 30000 : backoff * 2) : 1000;
				ZL_LOG(ZL_WARN, "sqs: receive failed", ZL_S("error", err.msg), ZL_I("retry_ms", backoff));
				for (int64_t t = 0; t < backoff && !s->cancel; t += 100)
					zl_sleep_ms(100);
			}
			continue;
		}
		backoff = 0;
		if (n && zl_mono_ms() - reloaded >= 1000 && zl_engine_reload(&e, &err) == 0)
			reloaded = zl_mono_ms();
		for (size_t i = 0; i < n; i++) {
			zl_strvec due;
			zl_body_summary sum;
			zl_strvec_init(&due);
			int rc = zl_engine_ingest_body(&e, msgs[i].body, msgs[i].body_len, &due, NULL, NULL, &sum, &err);
			for (size_t j = 0; j < due.n; j++)
				enqueue(s, due.v[j]);
			zl_strvec_release(&due);
			if (rc == ZL_EINVAL)
				ZL_LOG(ZL_ERROR, "sqs: message cannot be parsed, left for the redrive policy",
				       ZL_S("message", msgs[i].id), ZL_S("error", err.msg));
			else if (rc)
				ZL_LOG(ZL_WARN, "sqs: message not claimed, will be received again", ZL_S("message", msgs[i].id),
				       ZL_S("error", err.msg));
			else if (zl_sqs_delete(s->sqs, msgs[i].receipt, &err))
				ZL_LOG(ZL_WARN, "sqs: delete failed (the message will come again; its files are claimed)",
				       ZL_S("message", msgs[i].id), ZL_S("error", err.msg));
			else
				ZL_LOG(ZL_DEBUG, "sqs: message handled", ZL_S("message", msgs[i].id), ZL_I("queued", (long long)sum.queued),
				       ZL_I("duplicate", (long long)sum.duplicate));
		}
		zl_sqs_msgs_free(msgs, n);
	}
	zl_engine_close(&e);
	return NULL;
}

/* The sweeper's tick: reload configurations, lock due batches and hand them to workers. */
static void sweep(serve *s)
{
	zl_err err;
	zl_strvec locked;
	zl_strvec_init(&locked);
	if (zl_engine_reload(&s->intake, &err) || zl_engine_sweep(&s->intake, zl_now_ms(), &locked, &err))
		ZL_LOG(ZL_WARN, "sweep failed", ZL_S("error", err.msg));
	for (size_t i = 0; i < locked.n; i++)
		enqueue(s, locked.v[i]);
	zl_strvec_release(&locked);
}

static int idle_now(serve *s)
{
	int64_t pending;
	zl_err err;
	pthread_mutex_lock(&s->mu);
	int local = s->busy || s->head < s->queue.n;
	pthread_mutex_unlock(&s->mu);
	return !local && zl_engine_pending(&s->intake, &pending, &err) == 0 && pending == 0;
}

/* Queued batches no worker started: give them back (locked -> open). */
static void release_queued(serve *s)
{
	zl_err err;
	for (size_t i = s->head; i < s->queue.n; i++) {
		if (s->intake.st->ops->batch_unlock(s->intake.st, s->queue.v[i], zl_now_ms(), &err) == 0)
			ZL_LOG(ZL_INFO, "batch released at shutdown", ZL_S("batch", s->queue.v[i]));
	}
}

static int parse_positive(zl_cli *cli, const char *opt, const char *v, long *out)
{
	char *end;
	*out = strtol(v, &end, 10);
	/* a zero body cap would mean the buffer's default (64 MiB), not "refuse every body" */
	if (*end || *out < 0 || (*out == 0 && (strcmp(opt, "workers") == 0 || strcmp(opt, "webhook-max-body") == 0 ||
	                                 strcmp(opt, "settle-ms") == 0)))
		return zl_cli_usage_error(cli->prog, "--%s: \"%s\" is not a valid number", opt, v);
	return 0;
}

int zl_cmd_serve(zl_cli *cli, int argc, char **argv)
{
	const char *vals[S_COUNT];
	int npos, rc = zl_cli_parse(cli, &serve_cmd, argc, argv, vals, &npos);
	if (rc)
		return rc < 0 ? ZL_EXIT_OK : rc;
	if (npos)
		return zl_cli_usage_error(cli->prog, "takes no arguments");
	long workers = 4, idle_secs = -1, max_body = 1 << 20, sqs_wait = 20, settle_ms = 1000;
	if ((vals[S_WORKERS] && parse_positive(cli, "workers", vals[S_WORKERS], &workers)) ||
	    (vals[S_SETTLE] && parse_positive(cli, "settle-ms", vals[S_SETTLE], &settle_ms)) ||
	    (vals[S_IDLE] && parse_positive(cli, "exit-when-idle", vals[S_IDLE], &idle_secs)) ||
	    (vals[S_MAX_BODY] && parse_positive(cli, "webhook-max-body", vals[S_MAX_BODY], &max_body)) ||
	    (vals[S_SQS_WAIT] && parse_positive(cli, "sqs-wait", vals[S_SQS_WAIT], &sqs_wait)))
		return ZL_EXIT_USAGE;
	if (sqs_wait > 20)
		return zl_cli_usage_error(cli->prog, "--sqs-wait: at most 20 seconds");
	const char *token = vals[S_TOKEN] ? vals[S_TOKEN] : getenv("ZLOAD_WEBHOOK_TOKEN");
	/* The environment's token is ambient configuration: it only matters with --webhook. */
	if (vals[S_TOKEN] && !vals[S_WEBHOOK])
		return zl_cli_usage_error(cli->prog, "--webhook-token needs --webhook");
	/* An empty token would switch authentication off: refuse it as an option, and take an empty
	 * ZLOAD_WEBHOOK_TOKEN as unset (the log then says auth=none). */
	if (vals[S_TOKEN] && !*vals[S_TOKEN])
		return zl_cli_usage_error(cli->prog, "--webhook-token: empty token");
	if (token && !*token)
		token = NULL;

	serve s = { .cli = cli };
	zl_err err;
	zl_watch_dir *watch = NULL;
	zl_webhook *hook = NULL;
	int hook_open = 0, sqs_started = 0;
	pthread_t sqs_thread;
	pthread_t *threads = NULL;
	long started = 0;
	int sfd = -1, engine_open = 0;
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cv, NULL);
	zl_strvec_init(&s.queue);
	rc = ZL_EXIT_FAIL;

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL); /* before any thread, so all inherit it */
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	if (zl_cli_open_engine(cli, &s.intake, &s.store, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	engine_open = 1;
	const char *root = zl_store_dir_root(s.store);
	zl_watch_opts wopts = { .settle_ms = settle_ms };
	if (root && !vals[S_NO_WATCH] && zl_watch_dir_open(root, &wopts, on_file, &s, &watch, &err)) {
		zl_cli_fail(&err);
		goto out;
	}
	if (vals[S_WEBHOOK]) {
		if (zl_engine_open(&s.hook, cli->state_url, s.store, &err)) {
			zl_cli_fail(&err);
			goto out;
		}
		hook_open = 1;
		memcpy(s.hook.owner, s.intake.owner, sizeof s.hook.owner);
		if (zl_webhook_start(vals[S_WEBHOOK], token, (size_t)max_body, on_webhook, &s, &hook, &err)) {
			zl_cli_fail(&err);
			goto out;
		}
		ZL_LOG(ZL_INFO, "webhook listening", ZL_S("listen", vals[S_WEBHOOK]), ZL_I("port", zl_webhook_port(hook)),
		       ZL_S("auth", token ? "bearer" : "none"));
	}
	if (vals[S_SQS]) {
		s.sqs_wait = (int)sqs_wait;
		if (zl_sqs_open(vals[S_SQS], &s.cancel, &s.sqs, &err)) {
			zl_cli_fail(&err);
			goto out;
		}
		sqs_started = pthread_create(&sqs_thread, NULL, sqs_loop, &s) == 0;
		ZL_LOG(ZL_INFO, "consuming SQS queue", ZL_S("queue", vals[S_SQS]), ZL_I("wait_secs", sqs_wait));
	}
	threads = calloc((size_t)workers, sizeof *threads);
	for (started = 0; threads && started < workers; started++)
		if (pthread_create(&threads[started], NULL, worker, &s) != 0)
			break;
	ZL_LOG(ZL_INFO, "serving", ZL_S("state", cli->state_url), ZL_S("store", cli->store_url ? cli->store_url : "none"),
	       ZL_I("workers", started), ZL_I("configurations", (long long)s.intake.nconfigs));
	/* Files that landed while no loader ran: the claim skips those already recorded. */
	s.intake.quiet_duplicates = 1;
	if (watch && zl_watch_dir_scan(watch, zl_now_ms(), &err))
		ZL_LOG(ZL_WARN, "start-up scan failed", ZL_S("error", err.msg));
	s.intake.quiet_duplicates = 0;

	int64_t next_sweep = 0, idle_since = 0;
	for (;;) {
		int64_t now = zl_mono_ms();
		if (now >= next_sweep) {
			sweep(&s);
			next_sweep = now + 1000;
			if (idle_secs >= 0) {
				if (!idle_now(&s) || (watch && zl_watch_dir_pending(watch)))
					idle_since = 0;
				else if (!idle_since)
					idle_since = now;
				else if (now - idle_since >= idle_secs * 1000) {
					ZL_LOG(ZL_INFO, "idle: exiting", ZL_I("idle_secs", idle_secs));
					break;
				}
			}
		}
		struct pollfd fds[2] = { { .fd = sfd, .events = POLLIN }, { .fd = watch ? zl_watch_dir_fd(watch) : -1, .events = POLLIN } };
		int64_t timeout = next_sweep - zl_mono_ms(), settle = watch ? zl_watch_dir_next_ms(watch, zl_now_ms()) : -1;
		if (settle >= 0 && settle < timeout)
			timeout = settle;
		if (poll(fds, 2, timeout < 0 ? 0 : (int)timeout) < 0)
			continue;
		if (fds[0].revents & POLLIN) {
			ZL_LOG(ZL_INFO, "signal received: finishing in-flight batches", ZL_I("pid", getpid()));
			break;
		}
		if ((fds[1].revents & POLLIN) && zl_watch_dir_dispatch(watch, zl_now_ms(), &err))
			ZL_LOG(ZL_WARN, "watcher failed", ZL_S("error", err.msg));
		if (watch) {
			/* Files found by a scan settle: a duplicate among them is expected. */
			s.intake.quiet_duplicates = 1;
			zl_watch_dir_tick(watch, zl_now_ms());
			s.intake.quiet_duplicates = 0;
		}
	}
	rc = ZL_EXIT_OK;
out:
	s.cancel = 1;
	if (sqs_started)
		pthread_join(sqs_thread, NULL);
	zl_sqs_close(s.sqs);
	zl_webhook_stop(hook); /* no new events; then let workers finish */
	if (hook_open)
		zl_engine_close(&s.hook);
	pthread_mutex_lock(&s.mu);
	s.stopping = 1;
	pthread_cond_broadcast(&s.cv);
	pthread_mutex_unlock(&s.mu);
	for (long i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	if (engine_open) {
		release_queued(&s);
		zl_engine_close(&s.intake);
	}
	free(threads);
	zl_watch_dir_close(watch);
	zl_store_close(s.store);
	zl_strvec_release(&s.queue);
	if (sfd >= 0)
		close(sfd);
	pthread_mutex_destroy(&s.mu);
	pthread_cond_destroy(&s.cv);
	return rc;
}
