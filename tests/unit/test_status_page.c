/* The status page, the batch page and the error page, rendered from hand-built snapshots: one
 * self-contained document (no script, stylesheet, font or image fetched; the refresh meta), data
 * escaped (a hostile prefix, a key with a newline, quotes), the plot's points, the loads in
 * progress beside their batches, open batches' due times, the batch page's text as `batches show`
 * prints it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs/batch_text.h"
#include "obs/html.h"
#include "obs/status_page.h"

#define NOW 1795643018000LL /* 2026-11-25T21:43:38.000Z */
#define HOSTILE "<img src=x onerror=alert(1)>"

#define ID_OPEN "01a00000-0000-7000-8000-000000000001"
#define ID_LOCKED "01a00000-0000-7000-8000-000000000002"
#define ID_DONE "01a00000-0000-7000-8000-000000000003"
#define ID_ERR "01a00000-0000-7000-8000-000000000004"
#define ID_ELSEWHERE "01a00000-0000-7000-8000-000000000005"

/* ---- fixtures: everything static, nothing to free but the page */

static zl_snap_batch open_b[3], locked_b[1], recent_b[1], error_b[1];
static zl_snap_prefix prefixes[2];
static zl_notice_rec pending[1], failed[1];
static zl_snapshot snap;
static zl_progress loads[3];
static zl_series series;

static void set_batch(zl_snap_batch *sb, const char *id, const char *prefix, zl_batch_status st, int64_t files)
{
	memset(sb, 0, sizeof *sb);
	snprintf(sb->b.id, sizeof sb->b.id, "%s", id);
	sb->b.prefix = (char *)prefix;
	sb->b.status = st;
	sb->b.file_count = files;
	sb->b.bytes = files * 1000;
	sb->b.created_at = sb->b.first_at = NOW - 12000;
	sb->rows = sb->load_ms = -1;
}

static void set_progress(zl_progress *l, const char *id, const char *target, int64_t rows, int64_t bytes)
{
	memset(l, 0, sizeof *l);
	snprintf(l->batch_id, sizeof l->batch_id, "%s", id);
	snprintf(l->prefix, sizeof l->prefix, "b/in");
	snprintf(l->target, sizeof l->target, "%s", target);
	l->started_ms = NOW - 3000;
	l->rows = rows;
	l->bytes = bytes;
	l->objects_done = 1;
	l->objects = 3;
}

static char *targets_v[] = { "wh (sqlite)", "pg (postgres)" };
static char *problems_v[] = { "batch " ID_ERR " of b/in is in error: cannot read b/in/x\ny.csv" };

/* Prefix b/in: three open batches (due now, due later, stuck), one loading, one complete, one in
 * error; prefix HOSTILE with nothing. One pending notification; one problem. */
static void fixture(int healthy)
{
	set_batch(&open_b[0], ID_OPEN, "b/in", ZL_BATCH_OPEN, 7);
	open_b[0].due = "batchSize";
	set_batch(&open_b[1], "01a00000-0000-7000-8000-0000000000a1", "b/in", ZL_BATCH_OPEN, 2);
	open_b[1].due_at = NOW + 180000;
	set_batch(&open_b[2], "01a00000-0000-7000-8000-0000000000a2", "b/in", ZL_BATCH_OPEN, 1);
	open_b[2].stuck = 1;
	snprintf(open_b[2].why_stuck, sizeof open_b[2].why_stuck, "due for 90 s & no loader took it");
	set_batch(&locked_b[0], ID_LOCKED, "b/in", ZL_BATCH_LOCKED, 3);
	locked_b[0].b.owner = "host-1 pid 42";
	locked_b[0].b.lease_until = NOW + 25000;
	locked_b[0].b.attempts = 2;
	set_batch(&recent_b[0], ID_DONE, "b/in", ZL_BATCH_COMPLETE, 4);
	recent_b[0].b.finished_at = NOW - 60000;
	recent_b[0].rows = 4321;
	recent_b[0].load_ms = 1500;
	set_batch(&error_b[0], ID_ERR, "b/in", ZL_BATCH_ERROR, 1);
	error_b[0].b.finished_at = NOW - 7200000;
	error_b[0].b.error = "cannot read b/in/x\ny.csv: \"quoted\" & 'single'";

	memset(prefixes, 0, sizeof prefixes);
	prefixes[0] = (zl_snap_prefix){ .prefix = "b/in", .configured = 1, .targets = { targets_v, 2, 2 },
		                        .batch_size = 100, .batch_timeout_ms = 60000, .open = open_b, .nopen = 3,
		                        .locked = locked_b, .nlocked = 1, .recent = recent_b, .nrecent = 1,
		                        .errors = error_b, .nerrors = 1, .files_waiting = 10,
		                        .oldest_open_at = NOW - 12000 };
	prefixes[1] = (zl_snap_prefix){ .prefix = HOSTILE "\"'" };

	memset(pending, 0, sizeof pending);
	snprintf(pending[0].batch_id, sizeof pending[0].batch_id, "%s", ID_DONE);
	pending[0].dest = "exec:/usr/local/bin/notify <x>";
	pending[0].event = "success";
	pending[0].attempts = 2;
	pending[0].max_attempts = 5;
	pending[0].next_at = NOW + 30000;
	pending[0].last_error = "exit status 3";

	memset(failed, 0, sizeof failed);
	snprintf(failed[0].batch_id, sizeof failed[0].batch_id, "%s", ID_ERR);
	failed[0].id = 7;
	failed[0].dest = "mailto:ops@example.com";
	failed[0].event = "failure";
	failed[0].attempts = failed[0].max_attempts = 10;
	failed[0].next_at = NOW - 600000;
	failed[0].last_error = "smtp: 550 <ops@example.com>: no such user";

	snap = (zl_snapshot){ .taken_at = NOW, .v = prefixes, .n = 2, .notices_pending = 4, .notices_failed = 1,
		              .pending = pending, .npending = 1, .failed = failed, .nfailed = 1 };
	if (!healthy)
		snap.problems = (zl_strvec){ problems_v, 1, 1 };

	set_progress(&loads[0], ID_LOCKED, "wh", 1234, 56789);
	set_progress(&loads[1], ID_LOCKED, "pg", 999, 4096);
	set_progress(&loads[2], ID_ELSEWHERE, "wh", 5, 6);

	memset(&series, 0, sizeof series);
	series.start_ms = NOW - (ZL_SERIES_STEPS - 1) * (int64_t)ZL_SERIES_STEP_MS;
	series.rows[100] = 1000;  /* 100 rows/s: the top of the left axis */
	series.rows[359] = 500;
	series.files[100] = 20;   /* 2 files/s: the top of the right axis */
}

static char *render(void)
{
	zl_buf b;
	zl_buf_init(&b, 0);
	zl_status_page(&b, &snap, NULL, &series, loads, 3);
	return zl_buf_take(&b);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The text between the first `from` and the next `to` after it (the caller frees). */
static char *between(const char *s, const char *from, const char *to)
{
	const char *a = strstr(s, from);
	assert_non_null(a);
	a += strlen(from);
	const char *e = strstr(a, to);
	assert_non_null(e);
	return strndup(a, (size_t)(e - a));
}

/* A document that fetches nothing: no script, stylesheet, font, image, frame or URL. */
static void assert_self_contained(const char *page)
{
	assert_true(strncmp(page, "<!DOCTYPE html>\n", 16) == 0);
	assert_non_null(strstr(page, "<meta charset=\"utf-8\">"));
	assert_non_null(strstr(page, "</html>\n"));
	static const char *const banned[] = { "<script", "<link", "<img", "<iframe", "<object", "<embed",
		                              "@import", "url(", "src=", "http://", "https://", "//cdn", NULL };
	for (const char *const *b = banned; *b; b++)
		if (strstr(page, *b))
			fail_msg("the page holds \"%s\"", *b);
}

static void test_self_contained(void **state)
{
	fixture(1);
	prefixes[1].prefix = "b/other"; /* no hostile data here: nothing to except */
	pending[0].dest = "exec:/bin/true";
	char *page = render();
	assert_self_contained(page);
	assert_non_null(strstr(page, "<meta http-equiv=\"refresh\" content=\"5\">"));
	assert_int_equal(count(page, "<section class=\"prefix\""), 2);
	assert_non_null(strstr(page, "<section class=\"prefix\" id=\"prefix-0\" data-prefix=\"b/in\" data-configured=\"1\" "
	                             "data-open=\"3\" data-locked=\"1\" data-errors=\"1\" data-files-waiting=\"10\">"));
	assert_non_null(strstr(page, "id=\"problems\" class=\"problems healthy\" data-healthy=\"1\" data-count=\"0\""));
	/* the configuration */
	assert_non_null(strstr(page, "<span class=\"target\">wh (sqlite)</span>, <span class=\"target\">pg (postgres)</span>"));
	assert_non_null(strstr(page, "<li>batchSize: 100 files</li><li>batchSizeBytes: <span class=\"none\">none</span></li>"
	                             "<li>batchTimeoutSecs: 60 s</li>"));
	assert_non_null(strstr(page, "No valid configuration names this prefix."));
	/* the last load and the error */
	assert_non_null(strstr(page, "<tr class=\"batch recent\" data-batch=\"" ID_DONE "\" data-status=\"complete\" "
	                             "data-files=\"4\"><td><a class=\"id\" href=\"/batches/" ID_DONE "\">" ID_DONE
	                             "</a></td><td class=\"status-complete\">complete</td><td class=\"n\">4</td>"
	                             "<td class=\"n\">4321</td><td class=\"n\">1.5 s</td><td><time datetime=\""
	                             "2026-11-25T21:42:38.000Z\">2026-11-25T21:42:38.000Z</time> <span class=\"rel\">"
	                             "(1 min ago)</span></td></tr>"));
	assert_non_null(strstr(page, "<td class=\"err\">cannot read b/in/x<span class=\"ctl\">\\n</span>y.csv: "
	                             "&quot;quoted&quot; &amp; &#39;single&#39;</td>"));
	assert_non_null(strstr(page, "(2 h ago)"));
	/* notifications */
	assert_non_null(strstr(page, "<section id=\"notifications\" data-pending=\"4\" data-failed=\"1\">"));
	assert_non_null(strstr(page, "<td class=\"dest\">exec:/bin/true</td>"));
	assert_non_null(strstr(page, "<td class=\"n\">2/5</td>"));
	assert_non_null(strstr(page, "<td class=\"err\">exit status 3</td>"));
	char *fails = between(page, "<table class=\"failed\">", "</table>");
	assert_non_null(strstr(fails, "<th>last try</th>"));
	assert_non_null(strstr(fails, "<tr class=\"notice\" data-id=\"7\"><td class=\"dest\">mailto:ops@example.com</td>"
	                              "<td><a class=\"id\" href=\"/batches/" ID_ERR "\">" ID_ERR "</a></td><td>failure</td>"
	                              "<td class=\"n\">10/10</td><td><time datetime=\"2026-11-25T21:33:38.000Z\">"));
	assert_non_null(strstr(fails, "(10 min ago)</span></td><td class=\"err\">smtp: 550 &lt;ops@example.com&gt;: no such "
	                              "user</td></tr>"));
	free(fails);
	/* the order: problems, prefixes, notifications, loads elsewhere, the plot */
	const char *order[] = { "id=\"problems\"", "id=\"prefix-0\"", "id=\"prefix-1\"", "id=\"notifications\"",
		                "id=\"loads\"", "<svg id=\"throughput\"", "</html>" };
	for (size_t i = 1; i < sizeof order / sizeof *order; i++)
		assert_true(strstr(page, order[i - 1]) < strstr(page, order[i]));
	free(page);
}

static void test_problems(void **state)
{
	fixture(0);
	char *page = render();
	assert_non_null(strstr(page, "<section id=\"problems\" class=\"problems unhealthy\" data-healthy=\"0\" "
	                             "data-count=\"1\"><h2>1 problem</h2>"));
	assert_non_null(strstr(page, "<li class=\"problem\">batch " ID_ERR " of b/in is in error: cannot read "
	                             "b/in/x<span class=\"ctl\">\\n</span>y.csv</li>"));
	free(page);

	/* the state could not be read: the problem says why; the loads and the plot still show */
	zl_buf b;
	zl_buf_init(&b, 0);
	zl_status_page(&b, NULL, "state: database is locked <sqlite>", &series, loads, 3);
	page = zl_buf_take(&b);
	assert_self_contained(page);
	assert_non_null(strstr(page, "data-healthy=\"0\" data-count=\"1\"><h2>The state cannot be read</h2>\n<ul><li "
	                             "class=\"problem\">state: database is locked &lt;sqlite&gt;</li></ul>"));
	assert_null(strstr(page, "class=\"prefix\""));
	assert_int_equal(count(page, "<tr class=\"load\">"), 3);
	assert_non_null(strstr(page, "<svg id=\"throughput\""));
	free(page);
}

static void test_hostile(void **state)
{
	fixture(0);
	char *page = render();
	assert_null(strstr(page, "<img"));
	assert_null(strstr(page, "x\ny"));
	assert_null(strstr(page, "<x>"));
	assert_non_null(strstr(page, "data-prefix=\"&lt;img src=x onerror=alert(1)&gt;&quot;&#39;\""));
	assert_non_null(strstr(page, "<h2 class=\"prefix-name\">&lt;img src=x onerror=alert(1)&gt;&quot;&#39;</h2>"));
	assert_non_null(strstr(page, "<td class=\"dest\">exec:/usr/local/bin/notify &lt;x&gt;</td>"));
	free(page);

	/* a URL in data is there, escaped, but never as a reference */
	fixture(1);
	prefixes[1].prefix = "b/\"><a href=\"https://evil.example/\x01\">";
	pending[0].dest = "https://hooks.example/h?a=1&b=<2>";
	page = render();
	assert_non_null(strstr(page, "data-prefix=\"b/&quot;&gt;&lt;a href=&quot;https://evil.example/\\001&quot;&gt;\""));
	assert_non_null(strstr(page, "&lt;a href=&quot;https://evil.example/<span class=\"ctl\">\\001</span>&quot;&gt;</h2>"));
	assert_non_null(strstr(page, "<td class=\"dest\">https://hooks.example/h?a=1&amp;b=&lt;2&gt;</td>"));
	assert_int_equal(count(page, "https://"), 3);
	assert_null(strstr(page, "href=\"http"));
	assert_null(strstr(page, "\x01"));
	free(page);
}

static void test_open_batches(void **state)
{
	fixture(1);
	char *page = render();
	char *open = between(page, "<table class=\"open\">", "</table>");
	assert_int_equal(count(open, "<tr class=\"batch open"), 3);
	assert_non_null(strstr(open, "<tr class=\"batch open\" data-batch=\"" ID_OPEN "\" data-status=\"open\" "
	                             "data-files=\"7\"><td><a class=\"id\" href=\"/batches/" ID_OPEN "\">" ID_OPEN
	                             "</a></td><td class=\"n\">7</td><td class=\"n\" data-bytes=\"7000\">6.8 KiB</td>"
	                             "<td><time datetime=\"2026-11-25T21:43:26.000Z\">2026-11-25T21:43:26.000Z</time> "
	                             "<span class=\"rel\">(12 s ago)</span></td><td class=\"due\">due now (batchSize)</td>"));
	assert_non_null(strstr(open, "<td class=\"due\">falls due <time datetime=\"2026-11-25T21:46:38.000Z\">"
	                             "2026-11-25T21:46:38.000Z</time> <span class=\"rel\">(in 3 min)</span></td>"));
	assert_non_null(strstr(open, "<tr class=\"batch open stuck\""));
	assert_non_null(strstr(open, "<span class=\"stuck\">stuck: due for 90 s &amp; no loader took it</span>"));
	free(open);
	free(page);
}

static void test_loading(void **state)
{
	fixture(1);
	char *page = render();
	char *locked = between(page, "<table class=\"locked\">", "</table>");
	assert_non_null(strstr(locked, "<tr class=\"batch locked\" data-batch=\"" ID_LOCKED "\" data-status=\"locked\" "
	                               "data-files=\"3\"><td><a class=\"id\" href=\"/batches/" ID_LOCKED "\">"));
	assert_non_null(strstr(locked, "<td class=\"owner\">host-1 pid 42</td><td>lease until <time datetime=\""
	                               "2026-11-25T21:44:03.000Z\">2026-11-25T21:44:03.000Z</time> <span class=\"rel\">"
	                               "(in 25 s)</span></td><td class=\"n\">2</td>"));
	assert_non_null(strstr(locked, "<span class=\"load\" data-target=\"wh\" data-rows=\"1234\" data-bytes=\"56789\">"
	                               "wh: 1234 rows, 55.5 KiB, 1/3 objects, since 3 s ago</span>"));
	assert_non_null(strstr(locked, "<br><span class=\"load\" data-target=\"pg\" data-rows=\"999\" data-bytes=\"4096\">"
	                               "pg: 999 rows, 4.0 KiB, 1/3 objects, since 3 s ago</span>"));
	assert_null(strstr(locked, ID_ELSEWHERE));
	free(locked);
	/* the load of a batch the snapshot does not show loading is listed apart */
	char *other = between(page, "<section id=\"loads\">", "</section>");
	assert_int_equal(count(other, "<tr class=\"load\">"), 1);
	assert_non_null(strstr(other, "href=\"/batches/" ID_ELSEWHERE "\""));
	assert_non_null(strstr(other, "data-rows=\"5\" data-bytes=\"6\""));
	free(other);
	free(page);

	/* a locked batch without an owner waits for a retry; no load of it here */
	locked_b[0].b.owner = NULL;
	zl_buf b;
	zl_buf_init(&b, 0);
	zl_status_page(&b, &snap, NULL, &series, NULL, 0);
	page = zl_buf_take(&b);
	assert_non_null(strstr(page, "<span class=\"none\">waiting for a retry</span></td><td>retry at <time"));
	assert_non_null(strstr(page, "<span class=\"none\">not in this process</span>"));
	assert_null(strstr(page, "id=\"loads\""));
	free(page);
}

/* The points of <polyline class="CLS" points="...">, parsed. */
static size_t points(const char *page, const char *cls, double *x, double *y, size_t max)
{
	char from[64];
	snprintf(from, sizeof from, "<polyline class=\"%s\" points=\"", cls);
	char *pts = between(page, from, "\"");
	size_t n = 0;
	for (char *p = pts; *p && n < max;) {
		char *end;
		x[n] = strtod(p, &end);
		assert_int_equal(*end, ',');
		y[n] = strtod(end + 1, &p);
		n++;
		while (*p == ' ')
			p++;
	}
	free(pts);
	return n;
}

static void test_plot(void **state)
{
	fixture(1);
	char *page = render();
	char *svg = between(page, "<svg id=\"throughput\"", "</svg>");
	assert_int_equal(count(svg, "<polyline class=\"rows\""), 1);
	assert_int_equal(count(svg, "<polyline class=\"files\""), 1);
	assert_non_null(strstr(svg, "data-steps=\"360\" data-step-ms=\"10000\""));
	static double x[ZL_SERIES_STEPS + 1], y[ZL_SERIES_STEPS + 1];
	assert_int_equal(points(page, "rows", x, y, ZL_SERIES_STEPS + 1), ZL_SERIES_STEPS);
	/* 1000 rows in a 10 s step is 100 rows/s, the axis's top; 500 is half way; 0 the bottom */
	assert_true(y[100] < y[359] && y[359] < y[0]);
	assert_true(y[0] - y[359] > 0 && (y[0] - y[100]) / (y[0] - y[359]) > 1.99 && (y[0] - y[100]) / (y[0] - y[359]) < 2.01);
	for (int i = 1; i < ZL_SERIES_STEPS; i++)
		assert_true(x[i] > x[i - 1]);
	assert_int_equal(points(page, "files", x, y, ZL_SERIES_STEPS + 1), ZL_SERIES_STEPS);
	assert_true(y[100] < y[0]);
	/* axis labels: per second, both sides; times of day; a legend */
	assert_non_null(strstr(svg, "<text class=\"y-rows\""));
	assert_non_null(strstr(svg, ">100</text>"));
	assert_non_null(strstr(svg, ">50</text>"));
	assert_non_null(strstr(svg, ">2</text>"));
	assert_non_null(strstr(svg, ">20:43</text>"));
	assert_non_null(strstr(svg, ">21:43 UTC</text>"));
	assert_non_null(strstr(svg, "rows/s (left axis)"));
	assert_non_null(strstr(svg, "files/s (right axis)"));
	free(svg);
	free(page);

	/* no series: no plot, and the page says so */
	zl_buf b;
	zl_buf_init(&b, 0);
	zl_status_page(&b, &snap, NULL, NULL, NULL, 0);
	page = zl_buf_take(&b);
	assert_null(strstr(page, "<svg"));
	assert_non_null(strstr(page, "No series."));
	free(page);
}

static zl_file_rec files[2];

static void batch_fixture(zl_batch *b)
{
	memset(b, 0, sizeof *b);
	snprintf(b->id, sizeof b->id, "%s", ID_DONE);
	b->prefix = "b/in";
	b->status = ZL_BATCH_COMPLETE;
	b->created_at = b->first_at = NOW - 5000;
	b->locked_at = NOW - 4000;
	b->finished_at = NOW - 1000;
	b->owner = "host-1 pid 42";
	b->file_count = 2;
	b->bytes = 30;
	b->attempts = 1;
	b->result = "{\"attempt\":1,\"targets\":[{\"name\":\"wh\",\"type\":\"sqlite\",\"status\":\"complete\",\"rows\":8,"
	            "\"ms\":60,\"objects\":[{\"key\":\"in/a.csv\",\"rows\":5},{\"key\":\"in/x\\ny<.csv\",\"rows\":3,"
	            "\"rejected\":1}],\"statements\":[\"SELECT 1;\\nSELECT '<2>'\"]}],\"ms\":61}";
	memset(files, 0, sizeof files);
	files[0] = (zl_file_rec){ .bucket = "b", .key = "in/a.csv", .size = 10, .received_at = NOW - 5000 };
	files[1] = (zl_file_rec){ .bucket = "b", .key = "in/x\ny<.csv", .size = 20, .received_at = NOW - 4500 };
	b->files = files;
	b->nfiles = 2;
}

static const char show_text[] =
	"batch     " ID_DONE "\n"
	"prefix    b/in\n"
	"status    complete\n"
	"files     2 (30 bytes)\n"
	"attempts  1\n"
	"created   2026-11-25T21:43:33.000Z\n"
	"locked    2026-11-25T21:43:34.000Z by host-1 pid 42\n"
	"finished  2026-11-25T21:43:37.000Z\n"
	"\n"
	"FILES\n"
	"  b/in/a.csv  10 bytes  received 2026-11-25T21:43:33.000Z\n"
	"  \"b/in/x\\ny<.csv\"  20 bytes  received 2026-11-25T21:43:33.500Z\n"
	"\n"
	"TARGETS (attempt 1, 61 ms)\n"
	"  wh (sqlite): complete, 8 rows, 60 ms\n"
	"    in/a.csv: 5 rows\n"
	"    \"in/x\\ny<.csv\": 3 rows, 1 rejected\n"
	"    sql> SELECT 1;\\nSELECT '<2>'\n";

static void test_batch_text(void **state)
{
	zl_batch b;
	batch_fixture(&b);
	zl_buf out;
	zl_buf_init(&out, 0);
	assert_int_equal(zl_batch_text(&out, &b), 0);
	assert_string_equal(zl_buf_str(&out), show_text);
	/* all or nothing: past the cap, out is left as it was */
	zl_buf small;
	zl_buf_init(&small, 64);
	zl_buf_adds(&small, "kept");
	assert_int_equal(zl_batch_text(&small, &b), ZL_ENOMEM);
	assert_string_equal(zl_buf_str(&small), "kept");
	zl_buf_release(&small);
	zl_buf_release(&out);
}

/* s with the five character references undone (the caller frees). */
static char *unescape(const char *s)
{
	static const char *const refs[][2] = { { "&amp;", "&" }, { "&lt;", "<" }, { "&gt;", ">" },
		                               { "&quot;", "\"" }, { "&#39;", "'" } };
	char *out = malloc(strlen(s) + 1), *o = out;
	while (*s) {
		size_t i;
		for (i = 0; i < 5; i++)
			if (strncmp(s, refs[i][0], strlen(refs[i][0])) == 0)
				break;
		if (i < 5) {
			*o++ = refs[i][1][0];
			s += strlen(refs[i][0]);
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

static void test_batch_page(void **state)
{
	zl_batch b;
	batch_fixture(&b);
	zl_buf out;
	zl_buf_init(&out, 0);
	zl_batch_page(&out, &b);
	const char *page = zl_buf_str(&out);
	assert_self_contained(page);
	assert_null(strstr(page, "http-equiv=\"refresh\"")); /* finished: nothing changes */
	assert_non_null(strstr(page, "<a href=\"/\">&larr; status</a>"));
	assert_non_null(strstr(page, "<article class=\"batch\" data-batch=\"" ID_DONE "\" data-status=\"complete\" "
	                             "data-files=\"2\">"));
	assert_non_null(strstr(page, "<p class=\"status status-complete\">complete</p>"));
	assert_non_null(strstr(page, "  b/in/a.csv  10 bytes  received 2026-11-25T21:43:33.000Z\n"));
	assert_non_null(strstr(page, "  &quot;b/in/x\\ny&lt;.csv&quot;  20 bytes"));
	assert_null(strstr(page, "<.csv"));
	char *pre = between(page, "<pre class=\"show\">", "</pre>");
	char *text = unescape(pre);
	assert_string_equal(text, show_text);
	free(text);
	free(pre);

	/* a batch still loading reloads itself */
	b.status = ZL_BATCH_LOCKED;
	b.finished_at = 0;
	b.lease_until = NOW + 60000;
	zl_buf_reset(&out);
	zl_batch_page(&out, &b);
	assert_non_null(strstr(zl_buf_str(&out), "<meta http-equiv=\"refresh\" content=\"5\">"));
	assert_non_null(strstr(zl_buf_str(&out), "lease     until 2026-11-25T21:44:38.000Z\n"));
	zl_buf_release(&out);
}

static void test_error_page(void **state)
{
	zl_buf out;
	zl_buf_init(&out, 0);
	zl_error_page(&out, 404, "no batch \"<01a2>\"\n");
	const char *page = zl_buf_str(&out);
	assert_self_contained(page);
	assert_non_null(strstr(page, "<title>404 Not Found</title>"));
	assert_non_null(strstr(page, "<h1 class=\"error\" data-status=\"404\">404 Not Found</h1>"));
	assert_non_null(strstr(page, "<p class=\"message\">no batch &quot;&lt;01a2&gt;&quot;<span class=\"ctl\">\\n</span></p>"));
	zl_buf_reset(&out);
	zl_error_page(&out, 500, NULL);
	assert_non_null(strstr(zl_buf_str(&out), "<title>500 Internal Server Error</title>"));
	zl_buf_release(&out);
}

static void test_escape(void **state)
{
	zl_buf out;
	zl_buf_init(&out, 0);
	const char *s = "a&b<c>\"d'e\x01\x7f\tf\ng";
	zl_html_esc(&out, s, ZL_HTML_ATTR);
	assert_string_equal(zl_buf_str(&out), "a&amp;b&lt;c&gt;&quot;d&#39;e\\001\\177\\tf\\ng");
	zl_buf_reset(&out);
	zl_html_esc(&out, s, ZL_HTML_TEXT);
	assert_string_equal(zl_buf_str(&out), "a&amp;b&lt;c&gt;&quot;d&#39;e<span class=\"ctl\">\\001</span>"
	                                      "<span class=\"ctl\">\\177</span><span class=\"ctl\">\\t</span>f"
	                                      "<span class=\"ctl\">\\n</span>g");
	zl_buf_reset(&out);
	zl_html_esc(&out, s, ZL_HTML_PRE);
	assert_string_equal(zl_buf_str(&out), "a&amp;b&lt;c&gt;&quot;d&#39;e<span class=\"ctl\">\\001</span>"
	                                      "<span class=\"ctl\">\\177</span><span class=\"ctl\">\\t</span>f\ng");
	zl_buf_reset(&out);
	zl_html_esc(&out, NULL, ZL_HTML_TEXT);
	zl_html_esc(&out, "caf\xc3\xa9", ZL_HTML_TEXT); /* UTF-8 passes through */
	assert_string_equal(zl_buf_str(&out), "caf\xc3\xa9");
	zl_buf_release(&out);
}

static void test_link(void **state)
{
	/* an id that is not a UUID (none should be) cannot leave the path or the attribute */
	fixture(1);
	snprintf(recent_b[0].b.id, sizeof recent_b[0].b.id, "a/b?c#d\"<e> %%");
	char *page = render();
	assert_non_null(strstr(page, "<a class=\"id\" href=\"/batches/a%2Fb%3Fc%23d%22%3Ce%3E%20%25\">a/b?c#d&quot;&lt;e&gt; %</a>"));
	free(page);
}

static void test_times(void **state)
{
	zl_buf out;
	zl_buf_init(&out, 0);
	int64_t t[] = { NOW - 12000, NOW + 180000, NOW + 400, NOW - 5 * 3600000LL, NOW + 3 * 86400000LL, NOW - 59999 };
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		zl_html_rel(&out, t[i], NOW);
		zl_buf_addc(&out, '|');
	}
	assert_string_equal(zl_buf_str(&out), "12 s ago|in 3 min|now|5 h ago|in 3 d|59 s ago|");
	zl_buf_reset(&out);
	zl_html_when(&out, 0, NOW);
	zl_html_dur(&out, 350);
	zl_html_dur(&out, 4200);
	zl_html_dur(&out, 210000);
	zl_html_dur(&out, -1);
	zl_html_bytes(&out, 512);
	zl_html_bytes(&out, 1536);
	zl_html_bytes(&out, 3LL << 30);
	assert_string_equal(zl_buf_str(&out), "&mdash;350 ms4.2 s3.5 min&mdash;512 B1.5 KiB3.0 GiB");
	zl_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_contained),
		cmocka_unit_test(test_problems),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_open_batches),
		cmocka_unit_test(test_loading),
		cmocka_unit_test(test_plot),
		cmocka_unit_test(test_batch_text),
		cmocka_unit_test(test_batch_page),
		cmocka_unit_test(test_error_page),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_link),
		cmocka_unit_test(test_times),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
