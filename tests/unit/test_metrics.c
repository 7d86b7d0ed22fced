/* The metrics registry: exposition text, label escaping and bounds, histograms, the plot's series,
 * EMF lines and the table of loads in progress. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs/metrics.h"
#include "util/buf.h"
#include "util/timeutil.h"

static int reset(void **state)
{
	zl_metrics_reset();
	return 0;
}

/* The rendered exposition (caller frees). */
static char *render(const zl_gauges *g)
{
	zl_buf b;
	zl_buf_init(&b, 0);
	zl_metrics_render(&b, g);
	char *s = strdup(zl_buf_str(&b));
	zl_buf_release(&b);
	return s;
}

static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

static void test_counters(void **state)
{
	zl_metrics_events("webhook", "queued", 3);
	zl_metrics_events("webhook", "queued", 2);
	zl_metrics_events("webhook", "duplicate", 1);
	zl_metrics_events("webhook", "failed", 0); /* nothing: no line */
	zl_metrics_claimed("b/m");
	zl_metrics_loaded("b/m", "wh", 1000, 123456789);
	zl_metrics_loaded("b/m", "wh", 1, 1);
	zl_metrics_retry();
	zl_metrics_notification("exec", "sent");
	char *t = render(NULL);
	assert_true(has_line(t, "zload_events_total{intake=\"webhook\",outcome=\"queued\"} 5"));
	assert_true(has_line(t, "zload_events_total{intake=\"webhook\",outcome=\"duplicate\"} 1"));
	assert_null(strstr(t, "outcome=\"failed\""));
	assert_true(has_line(t, "zload_files_claimed_total{prefix=\"b/m\"} 1"));
	assert_true(has_line(t, "zload_rows_loaded_total{prefix=\"b/m\",target=\"wh\"} 1001"));
	assert_true(has_line(t, "zload_bytes_loaded_total{prefix=\"b/m\",target=\"wh\"} 123456790"));
	assert_true(has_line(t, "zload_retries_total 1"));
	assert_true(has_line(t, "zload_notifications_total{destination_type=\"exec\",outcome=\"sent\"} 1"));
	assert_true(has_line(t, "# TYPE zload_events_total counter"));
	assert_true(has_line(t, "# TYPE zload_batch_load_seconds histogram"));
	assert_null(strstr(t, "zload_open_batches{")); /* no gauges given */
	free(t);
}

static void test_label_escaping(void **state)
{
	zl_metrics_claimed("we\"ird\\pre\nfix");
	char *t = render(NULL);
	assert_true(has_line(t, "zload_files_claimed_total{prefix=\"we\\\"ird\\\\pre\\nfix\"} 1"));
	free(t);
}

static void test_label_bound(void **state)
{
	char p[32];
	for (int i = 0; i < ZL_METRICS_MAX_SERIES + 10; i++) {
		snprintf(p, sizeof p, "p%d", i);
		zl_metrics_claimed(p);
	}
	char *t = render(NULL);
	assert_true(has_line(t, "zload_files_claimed_total{prefix=\"p0\"} 1"));
	snprintf(p, sizeof p, "p%d", ZL_METRICS_MAX_SERIES - 1);
	char line[96];
	snprintf(line, sizeof line, "zload_files_claimed_total{prefix=\"%s\"} 1", p);
	assert_true(has_line(t, line));
	assert_null(strstr(t, "prefix=\"p512\""));
	assert_true(has_line(t, "zload_files_claimed_total{prefix=\"other\"} 10"));
	free(t);
}

static void test_histogram(void **state)
{
	zl_metrics_batch_seconds("wh", 0.07);
	zl_metrics_batch_seconds("wh", 0.1);  /* le is inclusive */
	zl_metrics_batch_seconds("wh", 7);
	zl_metrics_batch_seconds("wh", 5000); /* above every bound */
	zl_metrics_event_to_commit(0.02);
	char *t = render(NULL);
	assert_true(has_line(t, "zload_batch_load_seconds_bucket{target=\"wh\",le=\"0.05\"} 0"));
	assert_true(has_line(t, "zload_batch_load_seconds_bucket{target=\"wh\",le=\"0.1\"} 2"));
	assert_true(has_line(t, "zload_batch_load_seconds_bucket{target=\"wh\",le=\"5\"} 2"));
	assert_true(has_line(t, "zload_batch_load_seconds_bucket{target=\"wh\",le=\"10\"} 3"));
	assert_true(has_line(t, "zload_batch_load_seconds_bucket{target=\"wh\",le=\"600\"} 3"));
	assert_true(has_line(t, "zload_batch_load_seconds_bucket{target=\"wh\",le=\"+Inf\"} 4"));
	assert_true(has_line(t, "zload_batch_load_seconds_sum{target=\"wh\"} 5007.17"));
	assert_true(has_line(t, "zload_batch_load_seconds_count{target=\"wh\"} 4"));
	assert_true(has_line(t, "zload_event_to_commit_seconds_bucket{le=\"0.025\"} 1"));
	assert_true(has_line(t, "zload_event_to_commit_seconds_count 1"));
	free(t);
}

static void test_gauges(void **state)
{
	zl_prefix_gauges p[] = { { .prefix = "b/a", .open_batches = 2, .locked_batches = 1, .files_waiting = 7,
		                   .oldest_open_age_secs = 12.5 } };
	zl_gauges g = { .prefixes = p, .nprefixes = 1, .notifications_pending = 3, .state_ok = 1 };
	char *t = render(&g);
	assert_true(has_line(t, "zload_open_batches{prefix=\"b/a\"} 2"));
	assert_true(has_line(t, "zload_locked_batches{prefix=\"b/a\"} 1"));
	assert_true(has_line(t, "zload_files_waiting{prefix=\"b/a\"} 7"));
	assert_true(has_line(t, "zload_oldest_open_batch_age_seconds{prefix=\"b/a\"} 12.5"));
	assert_true(has_line(t, "zload_notifications_pending 3"));
	assert_true(has_line(t, "zload_state_up 1"));
	free(t);
	g.state_ok = 0; /* an unreadable state: no gauge values, and it says so */
	t = render(&g);
	assert_null(strstr(t, "zload_open_batches{"));
	assert_null(strstr(t, "zload_notifications_pending 3"));
	assert_true(has_line(t, "zload_state_up 0"));
	free(t);
}

static void test_series(void **state)
{
	zl_metrics_loaded("b/m", "wh", 40, 1);
	zl_metrics_loaded("b/m", "other", 2, 1);
	zl_metrics_batch_finished("b/m", "complete", 3);
	zl_metrics_batch_finished("b/m", "error", 9); /* not loaded: not in the plot */
	int64_t now = zl_now_ms();
	zl_series *s = malloc(sizeof *s);
	zl_metrics_series(now, s);
	assert_int_equal(s->start_ms, (now / ZL_SERIES_STEP_MS - ZL_SERIES_STEPS + 1) * ZL_SERIES_STEP_MS);
	if (s->rows[ZL_SERIES_STEPS - 1] == 0) /* the step ended between the calls and now */
		now -= ZL_SERIES_STEP_MS;
	zl_metrics_series(now, s);
	assert_true(s->rows[ZL_SERIES_STEPS - 1] == 42);
	assert_true(s->files[ZL_SERIES_STEPS - 1] == 3);
	assert_true(s->rows[0] == 0);
	/* an hour later the step has left the window */
	zl_metrics_series(now + (int64_t)ZL_SERIES_STEPS * ZL_SERIES_STEP_MS, s);
	for (int i = 0; i < ZL_SERIES_STEPS; i++)
		assert_true(s->rows[i] == 0 && s->files[i] == 0);
	/* a minute later it is six steps back */
	zl_metrics_series(now + 6 * ZL_SERIES_STEP_MS, s);
	assert_true(s->rows[ZL_SERIES_STEPS - 7] == 42);
	free(s);
}

/* The EMF lines since the last call, parsed. */
static json_t *emf(void)
{
	zl_buf b;
	zl_buf_init(&b, 0);
	zl_metrics_emf(&b, "zload-test", 1700000000000);
	json_t *a = json_array();
	char *text = strdup(zl_buf_str(&b));
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		json_error_t je;
		json_t *j = json_loads(line, 0, &je);
		assert_non_null(j);
		json_array_append_new(a, j);
	}
	free(text);
	zl_buf_release(&b);
	return a;
}

static void test_emf(void **state)
{
	zl_metrics_loaded("b/m", "wh", 10, 100);
	zl_metrics_batch_seconds("wh", 1.5);
	json_t *a = emf();
	assert_int_equal(json_array_size(a), 3); /* rows, bytes, load seconds */
	json_t *rows = json_array_get(a, 0);
	assert_string_equal(json_string_value(json_object_get(rows, "prefix")), "b/m");
	assert_string_equal(json_string_value(json_object_get(rows, "target")), "wh");
	assert_true(json_number_value(json_object_get(rows, "zload_rows_loaded_total")) == 10);
	json_t *cw = json_array_get(json_object_get(json_object_get(rows, "_aws"), "CloudWatchMetrics"), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(rows, "_aws"), "Timestamp")), 1700000000000);
	assert_string_equal(json_string_value(json_object_get(cw, "Namespace")), "zload-test");
	assert_string_equal(json_string_value(json_array_get(json_array_get(json_object_get(cw, "Dimensions"), 0), 1)),
	                    "target");
	json_t *m = json_array_get(json_object_get(cw, "Metrics"), 0);
	assert_string_equal(json_string_value(json_object_get(m, "Name")), "zload_rows_loaded_total");
	assert_string_equal(json_string_value(json_object_get(m, "Unit")), "Count");
	json_t *secs = json_array_get(a, 2);
	json_t *vals = json_object_get(secs, "zload_batch_load_seconds");
	assert_int_equal(json_array_size(vals), 1);
	assert_true(json_number_value(json_array_get(vals, 0)) == 1.5);
	json_decref(a);
	/* nothing changed: no line; then only the increase */
	a = emf();
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	zl_metrics_loaded("b/m", "wh", 5, 0);
	a = emf();
	assert_int_equal(json_array_size(a), 1);
	assert_true(json_number_value(json_object_get(json_array_get(a, 0), "zload_rows_loaded_total")) == 5);
	json_decref(a);
}

static void test_progress(void **state)
{
	int a = zl_progress_begin("01a00000-0000-7000-8000-000000000001", "b/m", "wh", 3);
	int b = zl_progress_begin("01a00000-0000-7000-8000-000000000002", "b/n", "pg", 1);
	assert_true(a >= 0 && b >= 0 && a != b);
	zl_progress_add(a, 10, 1000);
	zl_progress_add(a, 5, 500);
	zl_progress_object_done(a);
	zl_progress v[8];
	assert_int_equal(zl_progress_list(v, 8), 2);
	const zl_progress *pa = strcmp(v[0].target, "wh") == 0 ? &v[0] : &v[1];
	assert_int_equal(pa->rows, 15);
	assert_int_equal(pa->bytes, 1500);
	assert_int_equal(pa->objects_done, 1);
	assert_int_equal(pa->objects, 3);
	assert_string_equal(pa->prefix, "b/m");
	assert_true(v[0].started_ms <= v[1].started_ms);
	zl_progress_end(a);
	assert_int_equal(zl_progress_list(v, 8), 1);
	assert_string_equal(v[0].target, "pg");
	zl_progress_end(b);
	assert_int_equal(zl_progress_list(v, 8), 0);
	/* a full table: begin says -1 and the other calls ignore it */
	int slots[80], n = 0;
	for (; n < 80; n++)
		if ((slots[n] = zl_progress_begin("x", "p", "t", 1)) < 0)
			break;
	assert_true(n > 0 && n < 80);
	zl_progress_add(-1, 1, 1);
	zl_progress_end(-1);
	for (int i = 0; i < n; i++)
		zl_progress_end(slots[i]);
	assert_int_equal(zl_progress_list(v, 8), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_counters, reset),
		cmocka_unit_test_setup(test_label_escaping, reset),
		cmocka_unit_test_setup(test_label_bound, reset),
		cmocka_unit_test_setup(test_histogram, reset),
		cmocka_unit_test_setup(test_gauges, reset),
		cmocka_unit_test_setup(test_series, reset),
		cmocka_unit_test_setup(test_emf, reset),
		cmocka_unit_test_setup(test_progress, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
