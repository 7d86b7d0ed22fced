/* The outbox sender against the in-memory state and a fake destination (scheme "fake"), with
 * batches loaded by the engine: a finish queues one notice per destination and a scheduled retry
 * none; a destination down then up gets the message once, after the back-off, with every
 * attempt counted; one that stays down is failed after maxNotifyAttempts and can be queued again;
 * two senders never deliver one notice at the same time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_world.h"
#include "notify/notify.h"
#include "notify/sender.h"
#include "target_fault.h"
#include "util/timeutil.h"

/* The fake destination: "fake:NAME" is down while down is set. */
static struct {
	pthread_mutex_t mu;
	int down;
	int attempts, delivered;
	char last_body[4096], last_subject[128], last_event[16], last_target[64];
	int64_t last_id;
	int secret_seen;
} fake = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int fake_validate(const char *url, const char *target, const char *where, zl_err *err)
{
	return *target ? 0 : zl_err_set(err, ZL_EINVAL, "%s: fake: needs a name", where);
}

static int fake_send(const char *url, const char *target, const zl_notify_msg *m, const zl_notify_cfg *cfg,
                     long timeout_ms, zl_err *err)
{
	pthread_mutex_lock(&fake.mu);
	fake.attempts++;
	int down = fake.down;
	if (!down) {
		fake.delivered++;
		snprintf(fake.last_body, sizeof fake.last_body, "%.*s", (int)m->body_len, m->body);
		snprintf(fake.last_subject, sizeof fake.last_subject, "%s", m->subject);
		snprintf(fake.last_event, sizeof fake.last_event, "%s", m->event);
		snprintf(fake.last_target, sizeof fake.last_target, "%s", target);
		fake.last_id = m->id;
		fake.secret_seen = cfg && cfg->webhook_secret && strcmp(cfg->webhook_secret, "Hook-Secret-7") == 0;
	}
	pthread_mutex_unlock(&fake.mu);
	return down ? zl_err_set(err, ZL_ETRANSIENT, "fake %s: connection refused", target) : 0;
}

static const zl_notify_ops fake_ops = { .scheme = "fake", .validate = fake_validate, .send = fake_send };

static int setup(void **state)
{
	if (zl_notify_register(&fake_ops))
		return -1;
	pthread_mutex_lock(&fake.mu);
	fake.down = fake.attempts = fake.delivered = 0;
	fake.last_body[0] = '\0';
	pthread_mutex_unlock(&fake.mu);
	return zl_world_setup(state);
}

/* Loads one file in/KEY as its own batch (batchSize 1) and returns the batch's id. */
static void load_one(zl_world *w, const char *key, int first, zl_batch_status want, char id[ZL_UUID_LEN])
{
	zl_load_summary sum;
	zl_err err = { 0 };
	char path[64];
	snprintf(path, sizeof path, "in/%s", key);
	zl_world_put_csv(w, path, first, 2);
	zl_ingest_result r = zl_world_ingest(w, path, zl_now_ms(), 1);
	assert_int_equal(r.locked, 1);
	assert_int_equal(zl_engine_load(&w->e, &r.ticket, &sum, &err), 0);
	assert_int_equal(sum.status, want);
	strcpy(id, r.batch_id);
}

static zl_notice_rec only_notice(zl_world *w, const char *batch_id)
{
	zl_notice_filter f = { .batch_id = batch_id };
	zl_notice_rec *v = NULL;
	size_t n = 0;
	zl_err err = { 0 };
	assert_int_equal(w->e.st->ops->notice_list(w->e.st, &f, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	zl_notice_rec r = v[0];
	memset(&v[0], 0, sizeof v[0]);
	zl_notice_list_free(v, n);
	return r;
}

static zl_send_outcome send_at(zl_world *w, const char *owner, int64_t now)
{
	zl_notify_send_opts o = { .owner = owner, .timeout_ms = 1000 };
	zl_send_outcome out = -1;
	zl_err err = { 0 };
	assert_int_equal(zl_notify_send_one(&w->e, &o, now, &out, &err), 0);
	return out;
}

static void test_down_then_up_delivered_once(void **state)
{
	zl_world *w = *state;
	char id[ZL_UUID_LEN];
	zl_world_config_t1(w, "{\"batchSize\": 1, \"notify\": {\"success\": [\"fake:ok\"], \"failure\": [\"fake:bad\"],"
	                      " \"webhookSecret\": \"Hook-Secret-7\"}}");
	load_one(w, "f1.csv", 1, ZL_BATCH_COMPLETE, id);
	zl_notice_rec n = only_notice(w, id);
	assert_string_equal(n.dest, "fake:ok");
	assert_string_equal(n.event, "success");
	assert_int_equal(n.status, ZL_NOTICE_PENDING);
	assert_int_equal(n.max_attempts, 10);
	char subject[128];
	snprintf(subject, sizeof subject, "Lambda Vertica Batch Load %s OK", id);
	assert_string_equal(n.subject, subject);

	/* down: the attempt is counted and the notice is due again after the back-off (1 s, jittered) */
	fake.down = 1;
	int64_t t = zl_now_ms();
	assert_int_equal(send_at(w, "s1", t), ZL_SEND_RETRY);
	zl_notice_rec after = only_notice(w, id);
	assert_int_equal(after.status, ZL_NOTICE_PENDING);
	assert_int_equal(after.attempts, 1);
	assert_true(after.next_at >= t + 500 && after.next_at <= t + 1000 + 100);
	assert_string_equal(after.last_error, "fake ok: connection refused");
	assert_null(after.owner);
	assert_int_equal(send_at(w, "s1", t + 1), ZL_SEND_NONE); /* not due yet */
	/* still down at the second try */
	assert_int_equal(send_at(w, "s1", after.next_at), ZL_SEND_RETRY);
	zl_notice_rec second = only_notice(w, id);
	assert_int_equal(second.attempts, 2);
	assert_true(second.next_at - after.next_at >= 1000 && second.next_at - after.next_at <= 2000 + 100);
	/* up: delivered once, with the message as queued and the configuration's settings */
	fake.down = 0;
	assert_int_equal(send_at(w, "s1", second.next_at), ZL_SEND_SENT);
	assert_int_equal(send_at(w, "s1", second.next_at + 3600000), ZL_SEND_NONE);
	assert_int_equal(fake.attempts, 3);
	assert_int_equal(fake.delivered, 1);
	assert_string_equal(fake.last_body, n.body);
	assert_string_equal(fake.last_subject, subject);
	assert_string_equal(fake.last_event, "success");
	assert_string_equal(fake.last_target, "ok");
	assert_int_equal(fake.last_id, n.id);
	assert_int_equal(fake.secret_seen, 1);
	zl_notice_rec sent = only_notice(w, id);
	assert_int_equal(sent.status, ZL_NOTICE_SENT);
	assert_int_equal(sent.attempts, 3);
	assert_int_equal(sent.sent_at, second.next_at);
	/* the message names the batch and its file */
	json_t *m = json_loads(sent.body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(m, "status")), "ok");
	assert_string_equal(json_string_value(json_object_get(m, "batchId")), id);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(m, "files"), 0), "key")),
	                    "in/f1.csv");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(m, "targets"), 0), "rows")), 2);
	json_decref(m);
	zl_notice_rec_release(&n);
	zl_notice_rec_release(&after);
	zl_notice_rec_release(&second);
	zl_notice_rec_release(&sent);
}

static void test_failed_after_max_then_requeued(void **state)
{
	zl_world *w = *state;
	zl_err err = { 0 };
	char id[ZL_UUID_LEN];
	zl_world_config_t1(w, "{\"batchSize\": 1, \"maxNotifyAttempts\": 3, \"notify\": {\"failure\": [\"fake:bad\"]}}");
	assert_int_equal(zl_fault_set("t1", &(zl_fault){ .ops = ZL_FAULT_MASK(ZL_FOP_COPY), .countdown = 1,
	                                                 .code = ZL_ELOAD }), 0);
	load_one(w, "f1.csv", 1, ZL_BATCH_ERROR, id);
	zl_notice_rec n = only_notice(w, id);
	assert_string_equal(n.event, "failure");
	json_t *m = json_loads(n.body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(m, "status")), "error");
	assert_string_equal(json_string_value(json_object_get(m, "error")), "target t1: injected fault in copy");
	json_decref(m);

	fake.down = 1;
	int64_t t = zl_now_ms();
	assert_int_equal(send_at(w, "s", t), ZL_SEND_RETRY);
	assert_int_equal(send_at(w, "s", t + 10000), ZL_SEND_RETRY);
	assert_int_equal(send_at(w, "s", t + 20000), ZL_SEND_FAILED);
	assert_int_equal(send_at(w, "s", t + 99999999), ZL_SEND_NONE);
	zl_notice_rec f = only_notice(w, id);
	assert_int_equal(f.status, ZL_NOTICE_FAILED);
	assert_int_equal(f.attempts, 3);
	assert_string_equal(f.last_error, "fake bad: connection refused");
	assert_int_equal(fake.attempts, 3);
	assert_int_equal(fake.delivered, 0);

	/* queued again (notifications retry): delivered at the next pass */
	size_t count = 0;
	fake.down = 0;
	assert_int_equal(w->e.st->ops->notice_requeue(w->e.st, f.id, t + 30000, &count, &err), 0);
	assert_int_equal(count, 1);
	assert_int_equal(send_at(w, "s", t + 30000), ZL_SEND_SENT);
	assert_int_equal(fake.delivered, 1);
	zl_notice_rec_release(&n);
	zl_notice_rec_release(&f);
}

static void test_retry_scheduled_notifies_nothing(void **state)
{
	zl_world *w = *state;
	zl_notice_rec *v = NULL;
	size_t n = 9;
	zl_err err = { 0 };
	char id[ZL_UUID_LEN];
	zl_world_config_t1(w, "{\"batchSize\": 1, \"maxAttempts\": 3, \"notify\": {\"success\": [\"fake:ok\"],"
	                      " \"failure\": [\"fake:bad\"]}}");
	assert_int_equal(zl_fault_set("t1", &(zl_fault){ .ops = ZL_FAULT_MASK(ZL_FOP_CONNECT), .countdown = 1,
	                                                 .code = ZL_ETRANSIENT }), 0);
	load_one(w, "f1.csv", 1, ZL_BATCH_LOCKED, id);
	assert_int_equal(w->e.st->ops->notice_list(w->e.st, NULL, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	zl_notice_list_free(v, n);
	/* the retry completes: one success notice */
	zl_batch b = zl_world_batch(w, id);
	zl_ticket k = zl_world_sweep_one(w, b.lease_until, id);
	zl_batch_release(&b);
	zl_load_summary sum;
	assert_int_equal(zl_engine_load(&w->e, &k, &sum, &err), 0);
	assert_int_equal(sum.status, ZL_BATCH_COMPLETE);
	zl_notice_rec one = only_notice(w, id);
	assert_string_equal(one.dest, "fake:ok");
	json_t *m = json_loads(one.body, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(m, "attempts")), 2);
	json_decref(m);
	zl_notice_rec_release(&one);
}

/* Two senders on one state, in two threads, while the destination is up: each notice once. */
typedef struct racer {
	zl_world *w;
	zl_engine e;
	char owner[32];
	int sent;
} racer;

static void *race(void *arg)
{
	racer *r = arg;
	zl_notify_send_opts o = { .owner = r->owner, .timeout_ms = 1000 };
	zl_err err = { 0 };
	for (;;) {
		zl_send_outcome out;
		assert_int_equal(zl_notify_send_one(&r->e, &o, zl_now_ms(), &out, &err), 0);
		if (out == ZL_SEND_NONE)
			break;
		r->sent += out == ZL_SEND_SENT;
	}
	return NULL;
}

static void test_two_senders_each_notice_once(void **state)
{
	zl_world *w = *state;
	zl_err err = { 0 };
	zl_world_config_t1(w, "{\"batchSize\": 1, \"notify\": {\"success\": [\"fake:a\", \"fake:b\", \"fake:c\"]}}");
	for (int i = 0; i < 10; i++) {
		char key[32], id[ZL_UUID_LEN];
		snprintf(key, sizeof key, "f%d.csv", i);
		load_one(w, key, 10 * i, ZL_BATCH_COMPLETE, id);
	}
	racer r[2] = { { .w = w }, { .w = w } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		snprintf(r[i].owner, sizeof r[i].owner, "sender-%d", i);
		assert_int_equal(zl_engine_open(&r[i].e, w->state_url, w->store, NULL, &err), 0);
		assert_int_equal(zl_engine_reload(&r[i].e, &err), 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		zl_engine_close(&r[i].e);
	}
	assert_int_equal(r[0].sent + r[1].sent, 30);
	assert_int_equal(fake.delivered, 30);
	assert_int_equal(fake.attempts, 30);
	zl_notice_filter f = { .status_mask = ZL_STATUS_BIT(ZL_NOTICE_SENT) };
	zl_notice_rec *v = NULL;
	size_t n = 0;
	assert_int_equal(w->e.st->ops->notice_list(w->e.st, &f, &v, &n, &err), 0);
	assert_int_equal(n, 30);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(v[i].attempts, 1);
	zl_notice_list_free(v, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_down_then_up_delivered_once, setup, zl_world_teardown),
		cmocka_unit_test_setup_teardown(test_failed_after_max_then_requeued, setup, zl_world_teardown),
		cmocka_unit_test_setup_teardown(test_retry_scheduled_notifies_nothing, setup, zl_world_teardown),
		cmocka_unit_test_setup_teardown(test_two_senders_each_notice_once, setup, zl_world_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
