/* zl_state_copy (`zload state migrate`) on two in-memory stores: what it copies and counts, what
 * makes it refuse (live leases, a destination that is not empty nor an earlier copy), a dry run,
 * and running it again after a finished or an interrupted copy. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/state_copy.h"
#include "state_mem.h"
#include "util/timeutil.h"

#define T0 ((int64_t)1700000000000)
#define NOW (T0 + 100000)
#define DST "mem:copy-dst"

typedef struct fixture {
	zl_state *src, *dst;
} fixture;

static int setup(void **state)
{
	fixture *fx = calloc(1, sizeof *fx);
	zl_err err = { 0 };
	if (!fx || zl_state_mem_register() || zl_state_open("mem:copy-src", &fx->src, &err) ||
	    zl_state_open("mem:copy-dst", &fx->dst, &err))
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fixture *fx = *state;
	zl_state_close(fx->src);
	zl_state_close(fx->dst);
	zl_state_mem_drop("copy-src");
	zl_state_mem_drop("copy-dst");
	free(fx);
	return 0;
}

static const zl_notice hook = { "https://hooks.example/ok", "success", "S", "{}", 3 };

/* Claims b/KEY into prefix at t; the batch id goes to id (may be NULL). */
static void claim(zl_state *st, const char *prefix, const char *key, int64_t t, char *id)
{
	char fid[128];
	zl_object o = { .bucket = (char *)"b", .key = (char *)key, .size = 10 };
	zl_append_result r;
	zl_err err = { 0 };
	snprintf(fid, sizeof fid, "b/%s", key);
	assert_int_equal(st->ops->claim_append(st, fid, prefix, &o, t, NULL, &r, &err), 0);
	if (id)
		strcpy(id, r.batch_id);
}

/* Two configurations; a complete batch of two files with a pending notice; a locked batch whose
 * lease ended; a scheduled retry; an open batch; the file and notice of a deleted batch. */
static void build(zl_state *st, char done[ZL_UUID_LEN], char stale[ZL_UUID_LEN])
{
	char id[ZL_UUID_LEN];
	zl_err err = { 0 };

	assert_int_equal(st->ops->config_put(st, "b/a", "{\"s3Prefix\":\"b/a\"}", &err), 0);
	assert_int_equal(st->ops->config_put(st, "b/z", "{\"s3Prefix\":\"b/z\",\"password\":\"<sealed>\"}", &err), 0);
	claim(st, "b/a", "a/1.csv", T0 + 1, done);
	claim(st, "b/a", "a/2.csv", T0 + 2, NULL);
	assert_int_equal(st->ops->batch_lock(st, done, ZL_LOCK_OPEN, "o", T0 + 3, T0 + 100, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, done, "o", ZL_BATCH_COMPLETE, T0 + 4, 0, "{}", NULL, &hook, 1, &err), 0);
	claim(st, "b/l", "l/1.csv", T0 + 10, stale);
	assert_int_equal(st->ops->batch_lock(st, stale, ZL_LOCK_OPEN, "dead", T0 + 11, NOW - 1, &err), 0);
	claim(st, "b/r", "r/1.csv", T0 + 20, id);
	assert_int_equal(st->ops->batch_lock(st, id, ZL_LOCK_OPEN, "o", T0 + 21, T0 + 100, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, id, "o", ZL_BATCH_LOCKED, T0 + 22, NOW + 5000, "{}", "refused", NULL,
	                                       0, &err), 0);
	claim(st, "b/o", "o/1.csv", T0 + 30, NULL);
	claim(st, "b/d", "d/1.csv", T0 + 40, id);
	assert_int_equal(st->ops->batch_lock(st, id, ZL_LOCK_OPEN, "o", T0 + 41, T0 + 100, &err), 0);
	assert_int_equal(st->ops->batch_finish(st, id, "o", ZL_BATCH_ERROR, T0 + 42, 0, "{}", "x", &hook, 1, &err), 0);
	assert_int_equal(st->ops->batch_delete(st, id, &err), 0);
}

static size_t nbatches(zl_state *st)
{
	zl_batch *v = NULL;
	size_t n = 0;
	zl_err err = { 0 };
	assert_int_equal(st->ops->batch_list(st, NULL, &v, &n, &err), 0);
	zl_batch_list_free(v, n);
	return n;
}

static size_t nnotices(zl_state *st)
{
	zl_notice_rec *v = NULL;
	size_t n = 0;
	zl_err err = { 0 };
	assert_int_equal(st->ops->notice_list(st, NULL, &v, &n, &err), 0);
	zl_notice_list_free(v, n);
	return n;
}

static size_t nconfigs(zl_state *st)
{
	zl_strvec p, j;
	zl_err err = { 0 };
	zl_strvec_init(&p);
	zl_strvec_init(&j);
	assert_int_equal(st->ops->config_list(st, &p, &j, &err), 0);
	size_t n = p.n;
	zl_strvec_release(&p);
	zl_strvec_release(&j);
	return n;
}

static void expect_counts(const zl_state_copy_counts *c, size_t configs, size_t batches, size_t files,
                          size_t notices, size_t kept)
{
	assert_int_equal(c->configs, configs);
	assert_int_equal(c->batches, batches);
	assert_int_equal(c->files, files);
	assert_int_equal(c->notices, notices);
	assert_int_equal(c->notices_kept, kept);
}

static void expect_empty(zl_state *st)
{
	assert_int_equal(nconfigs(st), 0);
	assert_int_equal(nbatches(st), 0);
	assert_int_equal(nnotices(st), 0);
}

static void test_copy_and_again(void **state)
{
	fixture *fx = *state;
	char done[ZL_UUID_LEN], stale[ZL_UUID_LEN];
	zl_state_copy_opts o = { .now = NOW, .page = 2 };
	zl_state_copy_counts c;
	zl_err err = { 0 };
	int64_t v1, v2;

	build(fx->src, done, stale);
	assert_int_equal(zl_state_copy(fx->src, DST, &o, &c, &err), 0);
	expect_counts(&c, 2, 4, 6, 2, 0);
	assert_int_equal(nbatches(fx->dst), 4);
	assert_int_equal(nnotices(fx->dst), 2);
	char *json = NULL;
	assert_int_equal(fx->dst->ops->config_get(fx->dst, "b/z", &json, &err), 0);
	assert_string_equal(json, "{\"s3Prefix\":\"b/z\",\"password\":\"<sealed>\"}");
	free(json);
	zl_file_rec f;
	assert_int_equal(fx->dst->ops->file_get(fx->dst, "b/d/1.csv", &f, &err), 0);
	assert_string_equal(f.batch_status, "");
	zl_file_rec_release(&f);

	/* again: nothing changes, the configurations are not stored again, no notice is queued twice */
	assert_int_equal(fx->dst->ops->config_version(fx->dst, &v1, &err), 0);
	assert_int_equal(zl_state_copy(fx->src, DST, &o, &c, &err), 0);
	expect_counts(&c, 2, 4, 6, 2, 2);
	assert_int_equal(fx->dst->ops->config_version(fx->dst, &v2, &err), 0);
	assert_int_equal(v2, v1);
	assert_int_equal(nnotices(fx->dst), 2);
	assert_int_equal(nbatches(fx->dst), 4);

	/* a notice delivered from the destination since is still the same notice */
	zl_notice_rec n;
	int claimed;
	assert_int_equal(fx->dst->ops->notice_claim(fx->dst, "s", NOW, NOW + 10, NULL, &n, &claimed, &err), 0);
	assert_int_equal(fx->dst->ops->notice_settle(fx->dst, n.id, "s", ZL_NOTICE_SENT, NOW, 0, NULL, &err), 0);
	zl_notice_rec_release(&n);
	assert_int_equal(zl_state_copy(fx->src, DST, &o, &c, &err), 0);
	assert_int_equal(c.notices_kept, 2);
	assert_int_equal(nnotices(fx->dst), 2);
}

static void test_copy_interrupted(void **state)
{
	fixture *fx = *state;
	char done[ZL_UUID_LEN], stale[ZL_UUID_LEN];
	zl_state_copy_opts o = { .now = NOW };
	zl_state_copy_counts c;
	zl_err err = { 0 };
	zl_batch b;

	build(fx->src, done, stale);
	/* an earlier copy stopped after the first file of the oldest batch */
	assert_int_equal(fx->src->ops->batch_get(fx->src, done, &b, &err), 0);
	assert_int_equal(fx->dst->ops->config_put(fx->dst, "b/a", "{\"s3Prefix\":\"b/a\"}", &err), 0);
	assert_int_equal(fx->dst->ops->batch_import(fx->dst, &b, &err), 0);
	assert_int_equal(fx->dst->ops->file_import(fx->dst, &b.files[0], &err), 0);
	zl_batch_release(&b);
	assert_int_equal(zl_state_copy(fx->src, DST, &o, &c, &err), 0);
	expect_counts(&c, 2, 4, 6, 2, 0);
	assert_int_equal(fx->dst->ops->batch_get(fx->dst, done, &b, &err), 0);
	assert_int_equal(b.nfiles, 2);
	assert_string_equal(b.files[0].file_id, "b/a/1.csv");
	assert_string_equal(b.files[1].file_id, "b/a/2.csv");
	zl_batch_release(&b);
}

static void test_refuses_live_leases(void **state)
{
	fixture *fx = *state;
	char done[ZL_UUID_LEN], stale[ZL_UUID_LEN], live[ZL_UUID_LEN], want[512], t[40];
	zl_state_copy_opts o = { .now = NOW };
	zl_state_copy_counts c;
	zl_err err = { 0 };

	build(fx->src, done, stale);
	claim(fx->src, "b/v", "v/1.csv", T0 + 50, live);
	assert_int_equal(fx->src->ops->batch_lock(fx->src, live, ZL_LOCK_OPEN, "host:42", T0 + 51, NOW + 30000, &err), 0);
	assert_int_equal(zl_state_copy(fx->src, DST, &o, &c, &err), ZL_EBUSY);
	snprintf(want, sizeof want,
	         "the source is in use: batch %s (prefix b/v) is locked by host:42 until %s; stop the loaders"
	         " (zload serve) or wait until the leases end, then run again",
	         live, zl_time_format(NOW + 30000, t, sizeof t));
	assert_string_equal(err.msg, want);
	expect_empty(fx->dst);
	o.dry_run = 1;
	assert_int_equal(zl_state_copy(fx->src, DST, &o, &c, &err), ZL_EBUSY);

	/* once the lease has ended, the batch is copied as it is */
	o = (zl_state_copy_opts){ .now = NOW + 30000 };
	assert_int_equal(zl_state_copy(fx->src, DST, &o, &c, &err), 0);
	assert_int_equal(c.batches, 5);

	/* a notification a sender holds */
	zl_notice_rec n;
	int claimed;
	assert_int_equal(fx->src->ops->notice_claim(fx->src, "snd", NOW, NOW + 60000, NULL, &n, &claimed, &err), 0);
	assert_int_equal(claimed, 1);
	assert_int_equal(zl_state_copy(fx->src, DST, &o, &c, &err), ZL_EBUSY);
	snprintf(want, sizeof want, "notification %lld (batch %s) is being sent by snd until %s", (long long)n.id,
	         n.batch_id, zl_time_format(NOW + 60000, t, sizeof t));
	assert_non_null(strstr(err.msg, want));
	zl_notice_rec_release(&n);
}

static void test_refuses_other_destination(void **state)
{
	fixture *fx = *state;
	char done[ZL_UUID_LEN], stale[ZL_UUID_LEN], mine[ZL_UUID_LEN], want[512];
	zl_state_copy_opts o = { .now = NOW };
	zl_state_copy_counts c;
	zl_err err = { 0 };

	build(fx->src, done, stale);
	/* another configuration for a prefix of the source */
	assert_int_equal(fx->dst->ops->config_put(fx->dst, "b/z", "{\"s3Prefix\":\"b/z\"}", &err), 0);
	assert_int_equal(zl_state_copy(fx->src, DST, &o, &c, &err), ZL_EBUSY);
	assert_string_equal(err.msg, "the destination has another configuration for prefix \"b/z\"");
	assert_int_equal(nconfigs(fx->dst), 1);
	assert_int_equal(nbatches(fx->dst), 0);
	assert_int_equal(fx->dst->ops->config_delete(fx->dst, "b/z", &err), 0);

	/* a batch of its own */
	claim(fx->dst, "b/a", "a/9.csv", T0, mine);
	assert_int_equal(zl_state_copy(fx->src, DST, &o, &c, &err), ZL_EBUSY);
	snprintf(want, sizeof want,
	         "the destination holds batch %s (prefix b/a), which the source does not: copy into an empty store,"
	         " or one that an earlier migrate from this source wrote",
	         mine);
	assert_string_equal(err.msg, want);
	assert_int_equal(nconfigs(fx->dst), 0);
	assert_int_equal(nbatches(fx->dst), 1);
}

static void test_refuses_changed_destination(void **state)
{
	fixture *fx = *state;
	char done[ZL_UUID_LEN], stale[ZL_UUID_LEN];
	zl_state_copy_opts o = { .now = NOW };
	zl_state_copy_counts c;
	zl_err err = { 0 };

	build(fx->src, done, stale);
	assert_int_equal(zl_state_copy(fx->src, DST, &o, &c, &err), 0);
	/* the destination went on loading: the stale batch was reclaimed there */
	assert_int_equal(fx->dst->ops->batch_lock(fx->dst, stale, ZL_LOCK_EXPIRED, "new", NOW, NOW + 10, &err), 0);
	assert_int_equal(zl_state_copy(fx->src, DST, &o, &c, &err), ZL_EBUSY);
	assert_non_null(strstr(err.msg, "the destination was changed after an earlier migrate: batch "));
	assert_non_null(strstr(err.msg, stale));
}

static void test_dry_run(void **state)
{
	fixture *fx = *state;
	char done[ZL_UUID_LEN], stale[ZL_UUID_LEN];
	zl_state_copy_opts o = { .now = NOW, .dry_run = 1, .page = 1 };
	zl_state_copy_counts c;
	zl_err err = { 0 };

	build(fx->src, done, stale);
	assert_int_equal(zl_state_copy(fx->src, DST, &o, &c, &err), 0);
	expect_counts(&c, 2, 4, 6, 2, 0);
	assert_int_equal(zl_state_copy(fx->src, DST, &o, &c, &err), 0);
	expect_empty(fx->dst);
	o.dry_run = 0;
	assert_int_equal(zl_state_copy(fx->src, "nosuch:x", &o, &c, &err), ZL_EINVAL);
	assert_non_null(strstr(err.msg, "opening the destination: "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_copy_and_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_interrupted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_live_leases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_other_destination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_changed_destination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
