/* A batch loaded in parts (parallelism 2) against a real PostgreSQL (ZLOAD_TEST_PG, set by
 * tests/conformance/with_pg.sh; skipped without it), through the fault target: every operation
 * of every transaction of the protocol (pre, each part, post) fails in turn, before or after it
 * ran, transiently or for good; the batch is then retried (or reprocessed) until complete, and
 * every row, the preLoadStatement and the postLoadStatement are there exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_world.h"
#include "target/pool.h"
#include "target_fault.h"
#include "util/timeutil.h"

#define NFILES 4
#define ROWS_PER_FILE 3

static PGconn *pg;

static void pg_exec(const char *sql)
{
	PGresult *res = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(pg));
	PQclear(res);
}

/* The one value of a query, as text (caller frees). */
static char *pg_text(const char *sql)
{
	PGresult *res = PQexec(pg, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		fail_msg("%s: %s", sql, PQerrorMessage(pg));
	char *v = strdup(PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static void expect_text(const char *sql, const char *want)
{
	char *got = pg_text(sql);
	if (strcmp(got, want) != 0)
		fail_msg("%s: expected [%s], got [%s]", sql, want, got);
	free(got);
}

static int setup(void **state)
{
	const char *url = getenv("ZLOAD_TEST_PG");
	if (!url)
		return 0;
	zl_pool_configure(0, 1); /* a connect per transaction: the fault plan counts them */
	const char *keys[] = { "dbname", NULL }, *vals[] = { url, NULL };
	pg = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(pg) != CONNECTION_OK)
		fail_msg("cannot connect to %s: %s", url, PQerrorMessage(pg));
	pg_exec("DROP TABLE IF EXISTS t1, audit, zload_ledger");
	pg_exec("CREATE TABLE t1 (id int, name text); CREATE TABLE audit (what text)");
	return zl_world_setup(state);
}

static int teardown(void **state)
{
	if (!pg)
		return 0;
	PQfinish(pg);
	pg = NULL;
	return zl_world_teardown(state);
}

/* The configuration: one fault_pg target "p" with parallelism 2, pre and post into audit. */
static void config_parts(zl_world *w)
{
	json_t *t = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "name", "p", "type", "fault_pg", "conninfo",
	                      getenv("ZLOAD_TEST_PG"), "targetTable", "t1", "parallelism", 2, "preLoadStatement",
	                      "INSERT INTO audit VALUES ('pre')", "postLoadStatement", "INSERT INTO audit VALUES ('post')");
	json_t *targets = json_array();
	json_array_append_new(targets, t);
	zl_world_config(w, ZL_WORLD_PREFIX, "{\"batchSize\": 4, \"maxAttempts\": 20}", targets);
}

/* A full batch of NFILES new files (names from tag), locked; its ticket. */
static zl_ticket new_batch(zl_world *w, int tag)
{
	zl_ingest_result r = { 0 };
	int64_t now = zl_now_ms();
	for (int i = 0; i < NFILES; i++) {
		char key[64];
		snprintf(key, sizeof key, "in/c%d_f%d.csv", tag, i);
		zl_world_put_csv(w, key, 1000 * tag + 10 * i, ROWS_PER_FILE);
		r = zl_world_ingest(w, key, now, 1);
	}
	assert_int_equal(r.locked, 1);
	return r.ticket;
}

/* Loads until complete: a scheduled retry is swept when due, an error reprocessed; returns the
 * attempts it took. */
static int load_until_complete(zl_world *w, zl_ticket k)
{
	zl_err err = { 0 };
	zl_load_summary sum;
	for (int round = 1; round <= 8; round++) {
		assert_int_equal(zl_engine_load(&w->e, &k, &sum, &err), 0);
		if (sum.status == ZL_BATCH_COMPLETE)
			return round;
		if (sum.status == ZL_BATCH_LOCKED)
			k = zl_world_sweep_one(w, sum.retry_at, k.batch_id);
		else
			assert_int_equal(zl_engine_lock(&w->e, k.batch_id, ZL_WORLD_PREFIX, ZL_LOCK_FINISHED, zl_now_ms(),
			                                "reprocess", &k, &err), 0);
	}
	fail_msg("batch %s not complete after 8 rounds: %s", k.batch_id, sum.error);
	return 0;
}

/* Every row of the batch once, pre and post once, the ledger's five rows. */
static void expect_once(const char *batch_id, int tag)
{
	char q[512];
	snprintf(q, sizeof q, "SELECT count(*) || ' ' || count(DISTINCT id) FROM t1 WHERE id / 1000 = %d", tag);
	expect_text(q, "12 12");
	expect_text("SELECT coalesce(string_agg(what, ' ' ORDER BY what DESC), '') FROM audit", "pre post");
	snprintf(q, sizeof q, "SELECT string_agg(part::text, ' ' ORDER BY part) FROM zload_ledger WHERE batch_id = '%s'",
	         batch_id);
	expect_text(q, "-2 0 1 2");
}

static void test_clean(void **state)
{
	if (!pg)
		skip();
	zl_world *w = *state;
	config_parts(w);
	assert_int_equal(zl_fault_set("p", &(zl_fault){ 0 }), 0);
	zl_ticket k = new_batch(w, 1);
	assert_int_equal(load_until_complete(w, k), 1);
	expect_once(k.batch_id, 1);
	zl_fault_stats fs = zl_fault_stats_of("p");
	/* four transactions (pre, two parts, post), each on its own connection */
	assert_int_equal(fs.calls[ZL_FOP_CONNECT], 4);
	assert_int_equal(fs.calls[ZL_FOP_BEGIN], 4);
	assert_int_equal(fs.calls[ZL_FOP_LEDGER_HAS], 4);
	assert_int_equal(fs.calls[ZL_FOP_EXEC], 2);
	assert_int_equal(fs.calls[ZL_FOP_COPY], NFILES);
	assert_int_equal(fs.calls[ZL_FOP_LEDGER_INSERT], 4);
	assert_int_equal(fs.calls[ZL_FOP_COMMIT], 4);
	zl_batch b = zl_world_batch(w, k.batch_id);
	char *parts = zl_world_result_field(&b, 0, "note");
	assert_string_equal(parts, "loaded in 2 parts, each committed on its own");
	free(parts);
	zl_batch_release(&b);
}

/* Each call of each operation fails in turn, each way, in a new batch each time. */
static void test_every_step(void **state)
{
	if (!pg)
		skip();
	zl_world *w = *state;
	static const struct { zl_fault_op op; int calls; } ops[] = {
		{ ZL_FOP_CONNECT, 4 }, { ZL_FOP_BEGIN, 4 }, { ZL_FOP_LEDGER_HAS, 4 }, { ZL_FOP_EXEC, 2 },
		{ ZL_FOP_COPY, NFILES }, { ZL_FOP_LEDGER_INSERT, 4 }, { ZL_FOP_COMMIT, 4 },
	};
	static const struct { int code, after; } ways[] = { { ZL_ETRANSIENT, 0 }, { ZL_ETRANSIENT, 1 }, { ZL_ELOAD, 0 } };
	config_parts(w);
	int tag = 10, faulted = 0;
	for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
		for (int call = 1; call <= ops[o].calls; call++)
			for (size_t k = 0; k < sizeof ways / sizeof ways[0]; k++, tag++) {
				pg_exec("TRUNCATE audit");
				zl_fault plan = { .ops = ZL_FAULT_MASK(ops[o].op), .countdown = call, .code = ways[k].code,
				                  .after = ways[k].after };
				assert_int_equal(zl_fault_set("p", &plan), 0);
				zl_ticket t = new_batch(w, tag);
				int rounds = load_until_complete(w, t);
				if (zl_fault_stats_of("p").hits != 1)
					fail_msg("%s call %d: the fault did not fire once", zl_fault_op_name(ops[o].op), call);
				faulted += rounds > 1; /* the faulted attempt did not complete the batch */
				expect_once(t.batch_id, tag);
			}
	assert_int_equal(faulted, tag - 10);
}

int main(void)
{
	assert_int_equal(zl_fault_register(), 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_step, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
