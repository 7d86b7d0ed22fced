/* The status page (GET /), one batch's page (GET /batches/ID) and the error page: HTML drawn from
 * a snapshot, the plot's series and the loads in progress. Every string from data is escaped. */
#include "obs/status_page.h"

#include "obs/batch_text.h"
#include "obs/html.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <string.h>

#define NOTICES_SHOWN 5  /* pending and failed notifications listed, each (the snapshot may hold more) */

static void esc(zl_buf *out, const char *s) { zl_html_esc(out, s, ZL_HTML_TEXT); }
static void attr(zl_buf *out, const char *s) { zl_html_esc(out, s, ZL_HTML_ATTR); }

/* <a class="id" href="/batches/ID">ID</a>, the ID in the path percent-encoded but for the
 * characters URLs leave as they are (a UUID is all of them). */
static void batch_link(zl_buf *out, const char *id)
{
	static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~";
	zl_buf_adds(out, "<a class=\"id\" href=\"/batches/");
	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		if (strchr(plain, *p))
			zl_buf_addc(out, (char)*p);
		else
			zl_buf_printf(out, "%%%02X", *p);
	}
	zl_buf_adds(out, "\">");
	esc(out, id);
	zl_buf_adds(out, "</a>");
}

static void count_cell(zl_buf *out, long long n) { zl_buf_printf(out, "<td class=\"n\">%lld</td>", n); }

static void bytes_cell(zl_buf *out, int64_t n)
{
	zl_buf_printf(out, "<td class=\"n\" data-bytes=\"%lld\">", (long long)n);
	zl_html_bytes(out, n);
	zl_buf_adds(out, "</td>");
}

static void when_cell(zl_buf *out, int64_t t, int64_t now)
{
	zl_buf_adds(out, "<td>");
	zl_html_when(out, t, now);
	zl_buf_adds(out, "</td>");
}

/* <tr class="CLS" data-batch="ID"><td>link</td> */
static void batch_row_start(zl_buf *out, const char *cls, const zl_batch *b)
{
	zl_buf_printf(out, "<tr class=\"%s\" data-batch=\"", cls);
	attr(out, b->id);
	zl_buf_printf(out, "\" data-status=\"%s\" data-files=\"%lld\"><td>", zl_batch_status_name(b->status),
	              (long long)b->file_count);
	batch_link(out, b->id);
	zl_buf_adds(out, "</td>");
}

/* <h3>TITLE</h3>, or when n is 0 <h3>TITLE <span class="none">NONE</span></h3> and 1 (nothing to list). */
static int heading(zl_buf *out, const char *title, size_t n, const char *none)
{
	if (n) {
		zl_buf_printf(out, "<h3>%s</h3>\n", title);
		return 0;
	}
	zl_buf_printf(out, "<h3>%s <span class=\"none\">%s</span></h3>\n", title, none);
	return 1;
}

static void header_row(zl_buf *out, const char *const *names)
{
	zl_buf_adds(out, "<tr>");
	for (; *names; names++)
		zl_buf_printf(out, "<th>%s</th>", *names);
	zl_buf_adds(out, "</tr>\n");
}

/* ---- the top: what is wrong */

static void problems(zl_buf *out, const zl_snapshot *s, const char *state_error)
{
	if (!s) {
		zl_buf_adds(out, "<section id=\"problems\" class=\"problems unhealthy\" data-healthy=\"0\" data-count=\"1\">"
		                 "<h2>The state cannot be read</h2>\n<ul><li class=\"problem\">");
		esc(out, state_error ? state_error : "unknown error");
		zl_buf_adds(out, "</li></ul></section>\n");
		return;
	}
	int healthy = zl_snapshot_healthy(s);
	zl_buf_printf(out, "<section id=\"problems\" class=\"problems %s\" data-healthy=\"%d\" data-count=\"%zu\">",
	              healthy ? "healthy" : "unhealthy", healthy, s->problems.n);
	if (healthy) {
		zl_buf_adds(out, "<h2>Healthy</h2><p>No batch is in error or stuck.</p></section>\n");
		return;
	}
	zl_buf_printf(out, "<h2>%zu problem%s</h2>\n<ul>\n", s->problems.n, s->problems.n == 1 ? "" : "s");
	for (size_t i = 0; i < s->problems.n; i++) {
		zl_buf_adds(out, "<li class=\"problem\">");
		esc(out, s->problems.v[i]);
		zl_buf_adds(out, "</li>\n");
	}
	zl_buf_adds(out, "</ul></section>\n");
}

/* ---- one prefix */

static void limit(zl_buf *out, const char *name, int64_t v, const char *unit)
{
	zl_buf_printf(out, "<li>%s: ", name);
	if (v > 0)
		zl_buf_printf(out, "%lld%s", (long long)v, unit);
	else
		zl_buf_adds(out, "<span class=\"none\">none</span>");
	zl_buf_adds(out, "</li>");
}

static void prefix_config(zl_buf *out, const zl_snap_prefix *p)
{
	if (!p->configured) {
		zl_buf_adds(out, "<p class=\"config none\">No valid configuration names this prefix.</p>\n");
		return;
	}
	zl_buf_adds(out, "<ul class=\"config\"><li>targets: ");
	for (size_t i = 0; i < p->targets.n; i++) {
		zl_buf_adds(out, i ? ", <span class=\"target\">" : "<span class=\"target\">");
		esc(out, p->targets.v[i]);
		zl_buf_adds(out, "</span>");
	}
	if (!p->targets.n)
		zl_buf_adds(out, "<span class=\"none\">none</span>");
	zl_buf_adds(out, "</li>");
	limit(out, "batchSize", p->batch_size, p->batch_size == 1 ? " file" : " files");
	limit(out, "batchSizeBytes", p->batch_size_bytes, p->batch_size_bytes == 1 ? " byte" : " bytes");
	limit(out, "batchTimeoutSecs", p->batch_timeout_ms / 1000, " s");
	zl_buf_adds(out, "</ul>\n");
}

/* When an open batch falls due, why it is due now, or why it is stuck. */
static void due_cell(zl_buf *out, const zl_snap_batch *sb, int64_t now)
{
	zl_buf_adds(out, "<td class=\"due\">");
	if (sb->stuck) {
		zl_buf_adds(out, "<span class=\"stuck\">stuck: ");
		esc(out, sb->why_stuck);
		zl_buf_adds(out, "</span>");
	} else if (sb->due) {
		zl_buf_adds(out, "due now (");
		esc(out, sb->due);
		zl_buf_adds(out, ")");
	} else if (sb->due_at) {
		zl_buf_adds(out, "falls due ");
		zl_html_when(out, sb->due_at, now);
	} else {
		zl_buf_adds(out, "<span class=\"none\">when full</span>");
	}
	zl_buf_adds(out, "</td>");
}

static void open_batches(zl_buf *out, const zl_snap_prefix *p, int64_t now)
{
	static const char *const head[] = { "batch", "files", "bytes", "first file", "due", NULL };
	if (heading(out, "Open", p->nopen, "no open batch holds files"))
		return;
	zl_buf_adds(out, "<table class=\"open\">\n");
	header_row(out, head);
	for (size_t i = 0; i < p->nopen; i++) {
		const zl_snap_batch *sb = &p->open[i];
		batch_row_start(out, sb->stuck ? "batch open stuck" : "batch open", &sb->b);
		count_cell(out, sb->b.file_count);
		bytes_cell(out, sb->b.bytes);
		when_cell(out, sb->b.first_at, now);
		due_cell(out, sb, now);
		zl_buf_adds(out, "</tr>\n");
	}
	zl_buf_adds(out, "</table>\n");
}

/* The loader and its lease, or when the retry is due. */
static void lease_cells(zl_buf *out, const zl_snap_batch *sb, int64_t now)
{
	const zl_batch *b = &sb->b;
	zl_buf_adds(out, "<td class=\"owner\">");
	if (b->owner)
		esc(out, b->owner);
	else
		zl_buf_adds(out, "<span class=\"none\">waiting for a retry</span>");
	zl_buf_adds(out, b->owner ? "</td><td>lease until " : "</td><td>retry at ");
	zl_html_when(out, b->lease_until, now);
	if (sb->stuck) {
		zl_buf_adds(out, " <span class=\"stuck\">stuck: ");
		esc(out, sb->why_stuck);
		zl_buf_adds(out, "</span>");
	}
	zl_buf_adds(out, "</td>");
}

/* The loads this process has in progress for batch id, one line per target. */
static void progress_cell(zl_buf *out, const char *id, const zl_progress *loads, size_t nloads, int64_t now)
{
	int any = 0;
	zl_buf_adds(out, "<td class=\"progress\">");
	for (size_t i = 0; i < nloads; i++) {
		const zl_progress *l = &loads[i];
		if (strcmp(l->batch_id, id) != 0)
			continue;
		zl_buf_adds(out, any ? "<br><span class=\"load\" data-target=\"" : "<span class=\"load\" data-target=\"");
		attr(out, l->target);
		zl_buf_printf(out, "\" data-rows=\"%lld\" data-bytes=\"%lld\">", (long long)l->rows, (long long)l->bytes);
		esc(out, l->target);
		zl_buf_printf(out, ": %lld rows, ", (long long)l->rows);
		zl_html_bytes(out, l->bytes);
		zl_buf_printf(out, ", %lld/%lld objects, since ", (long long)l->objects_done, (long long)l->objects);
		zl_html_rel(out, l->started_ms, now);
		zl_buf_adds(out, "</span>");
		any = 1;
	}
	if (!any)
		zl_buf_adds(out, "<span class=\"none\">not in this process</span>");
	zl_buf_adds(out, "</td>");
}

static void locked_batches(zl_buf *out, const zl_snap_prefix *p, int64_t now, const zl_progress *loads,
                           size_t nloads)
{
	static const char *const head[] = { "batch", "files", "owner", "lease", "attempt", "so far", NULL };
	if (heading(out, "Loading", p->nlocked, "no batch is loading"))
		return;
	zl_buf_adds(out, "<table class=\"locked\">\n");
	header_row(out, head);
	for (size_t i = 0; i < p->nlocked; i++) {
		const zl_snap_batch *sb = &p->locked[i];
		batch_row_start(out, sb->stuck ? "batch locked stuck" : "batch locked", &sb->b);
		count_cell(out, sb->b.file_count);
		lease_cells(out, sb, now);
		count_cell(out, sb->b.attempts);
		progress_cell(out, sb->b.id, loads, nloads, now);
		zl_buf_adds(out, "</tr>\n");
	}
	zl_buf_adds(out, "</table>\n");
}

static void recent_batches(zl_buf *out, const zl_snap_prefix *p, int64_t now)
{
	static const char *const head[] = { "batch", "status", "files", "rows", "took", "finished", NULL };
	if (heading(out, "Last loads", p->nrecent, "nothing loaded yet"))
		return;
	zl_buf_adds(out, "<table class=\"recent\">\n");
	header_row(out, head);
	for (size_t i = 0; i < p->nrecent; i++) {
		const zl_snap_batch *sb = &p->recent[i];
		const char *st = zl_batch_status_name(sb->b.status);
		batch_row_start(out, "batch recent", &sb->b);
		zl_buf_printf(out, "<td class=\"status-%s\">%s</td>", st, st);
		count_cell(out, sb->b.file_count);
		if (sb->rows >= 0)
			count_cell(out, sb->rows);
		else
			zl_buf_adds(out, "<td class=\"n none\">&mdash;</td>");
		zl_buf_adds(out, "<td class=\"n\">");
		zl_html_dur(out, sb->load_ms);
		zl_buf_adds(out, "</td>");
		when_cell(out, sb->b.finished_at, now);
		zl_buf_adds(out, "</tr>\n");
	}
	zl_buf_adds(out, "</table>\n");
}

static void error_batches(zl_buf *out, const zl_snap_prefix *p, int64_t now)
{
	static const char *const head[] = { "batch", "files", "attempts", "finished", "error", NULL };
	if (!p->nerrors)
		return;
	zl_buf_adds(out, "<h3>Errors (last 24 h)</h3>\n<table class=\"errors\">\n");
	header_row(out, head);
	for (size_t i = 0; i < p->nerrors; i++) {
		const zl_snap_batch *sb = &p->errors[i];
		batch_row_start(out, "batch error", &sb->b);
		count_cell(out, sb->b.file_count);
		count_cell(out, sb->b.attempts);
		when_cell(out, sb->b.finished_at, now);
		zl_buf_adds(out, "<td class=\"err\">");
		esc(out, sb->b.error ? sb->b.error : "(no message)");
		zl_buf_adds(out, "</td></tr>\n");
	}
	zl_buf_adds(out, "</table>\n");
}

static void prefix_section(zl_buf *out, size_t idx, const zl_snap_prefix *p, int64_t now, const zl_progress *loads,
                           size_t nloads)
{
	zl_buf_printf(out, "<section class=\"prefix\" id=\"prefix-%zu\" data-prefix=\"", idx);
	attr(out, p->prefix);
	zl_buf_printf(out, "\" data-configured=\"%d\" data-open=\"%zu\" data-locked=\"%zu\" data-errors=\"%zu\" "
	                   "data-files-waiting=\"%lld\">\n<h2 class=\"prefix-name\">",
	              p->configured ? 1 : 0, p->nopen, p->nlocked, p->nerrors, (long long)p->files_waiting);
	esc(out, p->prefix);
	zl_buf_adds(out, "</h2>\n");
	prefix_config(out, p);
	open_batches(out, p, now);
	locked_batches(out, p, now, loads, nloads);
	recent_batches(out, p, now);
	error_batches(out, p, now);
	zl_buf_adds(out, "</section>\n");
}

/* ---- notifications, loads no prefix shows, the plot */

static void notice_row(zl_buf *out, const zl_notice_rec *n, int64_t now)
{
	zl_buf_printf(out, "<tr class=\"notice\" data-id=\"%lld\"><td class=\"dest\">", (long long)n->id);
	esc(out, n->dest);
	zl_buf_adds(out, "</td><td>");
	batch_link(out, n->batch_id);
	zl_buf_adds(out, "</td><td>");
	esc(out, n->event);
	zl_buf_printf(out, "</td><td class=\"n\">%d/%d</td>", n->attempts, n->max_attempts);
	when_cell(out, n->next_at, now);
	zl_buf_adds(out, "<td class=\"err\">");
	if (n->last_error)
		esc(out, n->last_error);
	else
		zl_buf_adds(out, "<span class=\"none\">&mdash;</span>");
	zl_buf_adds(out, "</td></tr>\n");
}

/* The first few of v: pending ones with when they are due next, failed ones with when their last
 * delivery fell due. */
static void notice_table(zl_buf *out, const char *cls, const zl_notice_rec *v, size_t n, int64_t now)
{
	static const char *const pending_head[] = { "destination", "batch", "event", "attempts", "next", "last error", NULL };
	static const char *const failed_head[] = { "destination", "batch", "event", "attempts", "last try", "error", NULL };
	if (n > NOTICES_SHOWN)
		n = NOTICES_SHOWN;
	if (!n)
		return;
	zl_buf_printf(out, "<table class=\"%s\">\n", cls);
	header_row(out, strcmp(cls, "failed") == 0 ? failed_head : pending_head);
	for (size_t i = 0; i < n; i++)
		notice_row(out, &v[i], now);
	zl_buf_adds(out, "</table>\n");
}

static void notifications(zl_buf *out, const zl_snapshot *s, int64_t now)
{
	zl_buf_printf(out, "<section id=\"notifications\" data-pending=\"%lld\" data-failed=\"%lld\">\n"
	                   "<h2>Notifications</h2>\n<p>%lld pending, <span class=\"%s\">%lld failed</span> in the "
	                   "last 24 h.</p>\n",
	              (long long)s->notices_pending, (long long)s->notices_failed, (long long)s->notices_pending,
	              s->notices_failed ? "err" : "none", (long long)s->notices_failed);
	notice_table(out, "pending", s->pending, s->npending, now);
	if (s->nfailed)
		zl_buf_adds(out, "<h3>Failed, newest first</h3>\n");
	notice_table(out, "failed", s->failed, s->nfailed, now);
	zl_buf_adds(out, "</section>\n");
}

/* Whether a locked batch of the snapshot shows load l. */
static int shown(const zl_snapshot *s, const zl_progress *l)
{
	for (size_t i = 0; s && i < s->n; i++)
		for (size_t j = 0; j < s->v[i].nlocked; j++)
			if (strcmp(s->v[i].locked[j].b.id, l->batch_id) == 0)
				return 1;
	return 0;
}

/* Loads in progress whose batch the snapshot does not show as loading (taken a moment before, or
 * no snapshot at all). */
static void other_loads(zl_buf *out, const zl_snapshot *s, const zl_progress *loads, size_t nloads, int64_t now)
{
	static const char *const head[] = { "batch", "prefix", "so far", NULL };
	int any = 0;
	for (size_t i = 0; i < nloads; i++) {
		if (shown(s, &loads[i]))
			continue;
		if (!any) {
			zl_buf_adds(out, "<section id=\"loads\"><h2>Loads in progress</h2>\n<table class=\"loads\">\n");
			header_row(out, head);
		}
		any = 1;
		zl_buf_adds(out, "<tr class=\"load\"><td>");
		batch_link(out, loads[i].batch_id);
		zl_buf_adds(out, "</td><td>");
		esc(out, loads[i].prefix);
		zl_buf_adds(out, "</td>");
		progress_cell(out, loads[i].batch_id, &loads[i], 1, now);
		zl_buf_adds(out, "</tr>\n");
	}
	if (any)
		zl_buf_adds(out, "</table></section>\n");
}

static void plot_section(zl_buf *out, const zl_series *series)
{
	zl_buf_adds(out, "<section id=\"plot\"><h2>Rows and files loaded per second, last hour</h2>\n");
	if (series)
		zl_status_plot(out, series);
	else
		zl_buf_adds(out, "<p class=\"none\">No series.</p>\n");
	zl_buf_adds(out, "</section>\n");
}

void zl_status_page(zl_buf *out, const zl_snapshot *s, const char *state_error, const zl_series *series,
                    const zl_progress *loads, size_t nloads)
{
	int64_t now = s ? s->taken_at : zl_now_ms();
	zl_html_head(out, "zload status", ZL_STATUS_PAGE_REFRESH);
	zl_buf_adds(out, "<header><h1>zload status</h1><p>As of ");
	zl_html_when(out, now, now);
	zl_buf_printf(out, "; this page reloads every %d s.</p></header>\n", ZL_STATUS_PAGE_REFRESH);
	problems(out, s, state_error);
	for (size_t i = 0; s && i < s->n; i++)
		prefix_section(out, i, &s->v[i], now, loads, nloads);
	if (s && !s->n)
		zl_buf_adds(out, "<p class=\"none\">No configuration and no batch yet.</p>\n");
	if (s)
		notifications(out, s, now);
	other_loads(out, s, loads, nloads, now);
	plot_section(out, series);
	zl_html_foot(out);
}

/* ---- one batch, an error */

void zl_batch_page(zl_buf *out, const zl_batch *b)
{
	zl_buf text, title;
	zl_buf_init(&text, 0);
	zl_buf_init(&title, 0);
	const char *st = zl_batch_status_name(b->status);
	int moving = b->status == ZL_BATCH_OPEN || b->status == ZL_BATCH_LOCKED;
	zl_buf_printf(&title, "zload batch %s", b->id);
	zl_html_head(out, zl_buf_str(&title), moving ? ZL_STATUS_PAGE_REFRESH : 0);
	zl_buf_adds(out, "<p><a href=\"/\">&larr; status</a></p>\n<article class=\"batch\" data-batch=\"");
	attr(out, b->id);
	zl_buf_printf(out, "\" data-status=\"%s\" data-files=\"%lld\">\n<h1>batch <span class=\"id\">", st,
	              (long long)b->file_count);
	esc(out, b->id);
	zl_buf_printf(out, "</span></h1>\n<p class=\"status status-%s\">%s</p>\n<pre class=\"show\">", st, st);
	if (zl_batch_text(&text, b) == 0)
		zl_html_esc(out, zl_buf_str(&text), ZL_HTML_PRE);
	zl_buf_adds(out, "</pre>\n</article>\n");
	zl_html_foot(out);
	zl_buf_release(&text);
	zl_buf_release(&title);
}

static const char *reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

void zl_error_page(zl_buf *out, int status, const char *message)
{
	char title[64];
	snprintf(title, sizeof title, "%d %s", status, reason(status));
	zl_html_head(out, title, 0);
	zl_buf_printf(out, "<p><a href=\"/\">&larr; status</a></p>\n<h1 class=\"error\" data-status=\"%d\">%s</h1>\n"
	                   "<p class=\"message\">",
	              status, title);
	esc(out, message);
	zl_buf_adds(out, "</p>\n");
	zl_html_foot(out);
}
