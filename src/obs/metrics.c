/* The in-memory metrics: families of labelled counters and histograms behind one lock, the
 * plot's series and the loads in progress (progress.c), rendered as Prometheus text or CloudWatch
 * Embedded Metric Format lines. */
#include "obs/metrics.h"
#include "util/timeutil.h"
#include "util/version.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMF_MAX_VALUES 100  /* a histogram's observations kept between two EMF lines */

typedef enum { COUNTER, HISTOGRAM } kind;

typedef struct child {
	char *label[2];
	double value;            /* counter */
	double emf_sent;         /* the counter's value at the last EMF line */
	uint64_t *buckets;       /* histogram: per bound (not cumulative), then +Inf */
	double sum;
	uint64_t count;
	double *emf_values;      /* observations since the last EMF line */
	size_t nemf;
} child;

typedef struct family {
	const char *name, *help, *unit;
	kind kind;
	const char *labels[2];
	int nlabels;
	const double *bounds;
	size_t nbounds;
	child *c;
	size_t n, alloc;
} family;

static const double load_bounds[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600 };
static const double group_bounds[] = { 1, 2, 4, 8, 16, 32, 64 };
static const double commit_bounds[] = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600 };
#define NB(a) (sizeof(a) / sizeof((a)[0]))

enum { F_EVENTS, F_CLAIMED, F_FINISHED, F_ROWS, F_BYTES, F_ERRORS, F_RETRIES, F_NOTIFY, F_LOAD_SECS, F_COMMIT_SECS,
       F_CONNS, F_GROUP_BODIES, F_COUNT };

static family families[F_COUNT] = {
	[F_EVENTS] = { "zload_events_total", "Object event records received, by intake and outcome.", "Count", COUNTER,
	               { "intake", "outcome" }, 2, NULL, 0, NULL, 0, 0 },
	[F_CLAIMED] = { "zload_files_claimed_total", "Files claimed (recorded and appended to a batch).", "Count",
	                COUNTER, { "prefix" }, 1, NULL, 0, NULL, 0, 0 },
	[F_FINISHED] = { "zload_batches_finished_total", "Batches finished, by status (complete or error).", "Count",
	                 COUNTER, { "prefix", "status" }, 2, NULL, 0, NULL, 0, 0 },
	[F_ROWS] = { "zload_rows_loaded_total", "Rows committed into a target.", "Count", COUNTER,
	             { "prefix", "target" }, 2, NULL, 0, NULL, 0, 0 },
	[F_BYTES] = { "zload_bytes_loaded_total", "Bytes of the objects committed into a target.", "Bytes", COUNTER,
	              { "prefix", "target" }, 2, NULL, 0, NULL, 0, 0 },
	[F_ERRORS] = { "zload_load_errors_total", "Failed load attempts of a target, by class.", "Count", COUNTER,
	               { "target", "class" }, 2, NULL, 0, NULL, 0, 0 },
	[F_RETRIES] = { "zload_retries_total", "Load attempts that ended in a scheduled retry.", "Count", COUNTER,
	                { 0 }, 0, NULL, 0, NULL, 0, 0 },
	[F_NOTIFY] = { "zload_notifications_total", "Notification deliveries, by destination type and outcome.",
	               "Count", COUNTER, { "destination_type", "outcome" }, 2, NULL, 0, NULL, 0, 0 },
	[F_LOAD_SECS] = { "zload_batch_load_seconds", "Time a load attempt took in one target.", "Seconds", HISTOGRAM,
	                  { "target" }, 1, load_bounds, NB(load_bounds), NULL, 0, 0 },
	[F_COMMIT_SECS] = { "zload_event_to_commit_seconds", "From a file's claim to the commit of its rows.",
	                    "Seconds", HISTOGRAM, { 0 }, 0, commit_bounds, NB(commit_bounds), NULL, 0, 0 },
	[F_CONNS] = { "zload_target_connections_total", "Target connections a load used, by how: opened or reused (idle in the pool).",
	              "Count", COUNTER, { "target", "how" }, 2, NULL, 0, NULL, 0, 0 },
	[F_GROUP_BODIES] = { "zload_group_commit_bodies",
	                     "Bodies (webhook requests, SQS messages) whose claims were committed together, per group.",
	                     "Count", HISTOGRAM, { "intake" }, 1, group_bounds, NB(group_bounds), NULL, 0, 0 },
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* The plot: per step, rows and files loaded; step_of says which step a slot holds now. */
static double series_rows[ZL_SERIES_STEPS], series_files[ZL_SERIES_STEPS];
static int64_t step_of[ZL_SERIES_STEPS];

static int same(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

/* The child of f for labels (under mu), created if absent; past ZL_METRICS_MAX_SERIES, the one
 * labelled "other". NULL when out of memory. */
static child *child_of(family *f, const char *l0, const char *l1)
{
	const char *want[2] = { l0, l1 };
	for (;;) {
		for (size_t i = 0; i < f->n; i++)
			if ((f->nlabels < 1 || same(f->c[i].label[0], want[0])) &&
			    (f->nlabels < 2 || same(f->c[i].label[1], want[1])))
				return &f->c[i];
		if (f->n < ZL_METRICS_MAX_SERIES || (same(want[0], "other") && (f->nlabels < 2 || same(want[1], "other"))))
			break;
		want[0] = "other";
		want[1] = f->nlabels > 1 ? "other" : NULL;
	}
	if (f->n == f->alloc) {
		size_t na = f->alloc ? 2 * f->alloc : 8;
		child *nc = realloc(f->c, na * sizeof *nc);
		if (!nc)
			return NULL;
		f->c = nc;
		f->alloc = na;
	}
	child *c = &f->c[f->n];
	memset(c, 0, sizeof *c);
	for (int i = 0; i < f->nlabels; i++)
		if (!(c->label[i] = strdup(want[i] ? want[i] : "")))
			goto oom;
	if (f->kind == HISTOGRAM && !(c->buckets = calloc(f->nbounds + 1, sizeof *c->buckets)))
		goto oom;
	f->n++;
	return c;
oom:
	free(c->label[0]);
	free(c->label[1]);
	return NULL;
}

static void count(int fi, const char *l0, const char *l1, double by)
{
	pthread_mutex_lock(&mu);
	child *c = child_of(&families[fi], l0, l1);
	if (c)
		c->value += by;
	pthread_mutex_unlock(&mu);
}

static void observe(int fi, const char *l0, double v)
{
	family *f = &families[fi];
	pthread_mutex_lock(&mu);
	child *c = child_of(f, l0, NULL);
	if (c) {
		size_t b = 0;
		while (b < f->nbounds && v > f->bounds[b])
			b++;
		c->buckets[b]++;
		c->sum += v;
		c->count++;
		if (!c->emf_values)
			c->emf_values = malloc(EMF_MAX_VALUES * sizeof *c->emf_values);
		if (c->emf_values && c->nemf < EMF_MAX_VALUES)
			c->emf_values[c->nemf++] = v;
	}
	pthread_mutex_unlock(&mu);
}

/* Adds to the plot's step of now (under mu). */
static void series_add(int64_t now_ms, double rows, double files)
{
	int64_t step = now_ms / ZL_SERIES_STEP_MS;
	size_t i = (size_t)(step % ZL_SERIES_STEPS);
	if (step_of[i] != step) {
		step_of[i] = step;
		series_rows[i] = series_files[i] = 0;
	}
	series_rows[i] += rows;
	series_files[i] += files;
}

void zl_metrics_events(const char *intake, const char *outcome, uint64_t n)
{
	if (n)
		count(F_EVENTS, intake, outcome, (double)n);
}

void zl_metrics_claimed(const char *prefix) { count(F_CLAIMED, prefix, NULL, 1); }

void zl_metrics_batch_finished(const char *prefix, const char *status, int64_t files)
{
	count(F_FINISHED, prefix, status, 1);
	if (strcmp(status, "complete") == 0) {
		pthread_mutex_lock(&mu);
		series_add(zl_now_ms(), 0, (double)files);
		pthread_mutex_unlock(&mu);
	}
}

void zl_metrics_loaded(const char *prefix, const char *target, int64_t rows, int64_t bytes)
{
	pthread_mutex_lock(&mu);
	child *c = child_of(&families[F_ROWS], prefix, target);
	if (c)
		c->value += (double)rows;
	if ((c = child_of(&families[F_BYTES], prefix, target)))
		c->value += (double)bytes;
	series_add(zl_now_ms(), (double)rows, 0);
	pthread_mutex_unlock(&mu);
}

void zl_metrics_load_error(const char *target, const char *cls) { count(F_ERRORS, target, cls, 1); }

void zl_metrics_retry(void) { count(F_RETRIES, NULL, NULL, 1); }

void zl_metrics_notification(const char *destination_type, const char *outcome)
{
	count(F_NOTIFY, destination_type, outcome, 1);
}

void zl_metrics_batch_seconds(const char *target, double secs) { observe(F_LOAD_SECS, target, secs); }

void zl_metrics_event_to_commit(double secs) { observe(F_COMMIT_SECS, NULL, secs); }

void zl_metrics_group_bodies(const char *intake, size_t bodies) { observe(F_GROUP_BODIES, intake, (double)bodies); }

void zl_metrics_target_connection(const char *target, const char *how) { count(F_CONNS, target, how, 1); }

void zl_metrics_series(int64_t now_ms, zl_series *out)
{
	int64_t last = now_ms / ZL_SERIES_STEP_MS, first = last - ZL_SERIES_STEPS + 1;
	out->start_ms = first * ZL_SERIES_STEP_MS;
	pthread_mutex_lock(&mu);
	for (int64_t s = first; s <= last; s++) {
		size_t i = (size_t)(s % ZL_SERIES_STEPS), j = (size_t)(s - first);
		int live = step_of[i] == s;
		out->rows[j] = live ? series_rows[i] : 0;
		out->files[j] = live ? series_files[i] : 0;
	}
	pthread_mutex_unlock(&mu);
}

/* A label value in the exposition format: backslash, double quote and newline escaped. */
static void add_label_value(zl_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			zl_buf_addc(b, '\\');
		if (*v == '\n')
			zl_buf_adds(b, "\\n");
		else
			zl_buf_addc(b, *v);
	}
}

static void add_number(zl_buf *b, double v)
{
	if (isinf(v))
		zl_buf_adds(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		zl_buf_printf(b, "%.0f", v);
	else
		zl_buf_printf(b, "%.15g", v);
}

/* name{l0="..",l1="..",extra="..."} value */
static void add_sample(zl_buf *b, const char *name, const char *suffix, const char *const *lnames,
                       char *const *lvals, int n, const char *extra_name, const char *extra_val, double v)
{
	zl_buf_printf(b, "%s%s", name, suffix);
	if (n || extra_name) {
		zl_buf_addc(b, '{');
		for (int i = 0; i < n; i++) {
			zl_buf_printf(b, "%s%s=\"", i ? "," : "", lnames[i]);
			add_label_value(b, lvals[i]);
			zl_buf_addc(b, '"');
		}
		if (extra_name)
			zl_buf_printf(b, "%s%s=\"%s\"", n ? "," : "", extra_name, extra_val);
		zl_buf_addc(b, '}');
	}
	zl_buf_addc(b, ' ');
	add_number(b, v);
	zl_buf_addc(b, '\n');
}

static void header(zl_buf *b, const char *name, const char *help, const char *type)
{
	zl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_family(zl_buf *b, const family *f)
{
	header(b, f->name, f->help, f->kind == COUNTER ? "counter" : "histogram");
	if (f->kind == COUNTER && f->nlabels == 0 && f->n == 0)
		add_sample(b, f->name, "", NULL, NULL, 0, NULL, NULL, 0);
	for (size_t i = 0; i < f->n; i++) {
		const child *c = &f->c[i];
		if (f->kind == COUNTER) {
			add_sample(b, f->name, "", f->labels, c->label, f->nlabels, NULL, NULL, c->value);
			continue;
		}
		uint64_t cum = 0;
		char le[32];
		for (size_t k = 0; k <= f->nbounds; k++) {
			cum += c->buckets[k];
			if (k < f->nbounds)
				snprintf(le, sizeof le, "%g", f->bounds[k]);
			else
				snprintf(le, sizeof le, "+Inf");
			add_sample(b, f->name, "_bucket", f->labels, c->label, f->nlabels, "le", le, (double)cum);
		}
		add_sample(b, f->name, "_sum", f->labels, c->label, f->nlabels, NULL, NULL, c->sum);
		add_sample(b, f->name, "_count", f->labels, c->label, f->nlabels, NULL, NULL, (double)c->count);
	}
}

static void render_gauges(zl_buf *b, const zl_gauges *g)
{
	static const char *const pl[] = { "prefix" };
	static const struct {
		const char *name, *help;
	} gs[] = {
		{ "zload_open_batches", "Open batches holding files (taking more) per prefix." },
		{ "zload_locked_batches", "Locked batches (loading, or waiting for a retry) per prefix." },
		{ "zload_files_waiting", "Files in open batches per prefix." },
		{ "zload_oldest_open_batch_age_seconds", "Age of the first file of the oldest open batch per prefix." },
	};
	for (size_t k = 0; k < NB(gs); k++) {
		header(b, gs[k].name, gs[k].help, "gauge");
		for (size_t i = 0; g->state_ok && i < g->nprefixes; i++) {
			const zl_prefix_gauges *p = &g->prefixes[i];
			double v = k == 0 ? (double)p->open_batches : k == 1 ? (double)p->locked_batches
			         : k == 2 ? (double)p->files_waiting : p->oldest_open_age_secs;
			char *lv[] = { (char *)p->prefix };
			add_sample(b, gs[k].name, "", pl, lv, 1, NULL, NULL, v);
		}
	}
	header(b, "zload_notifications_pending", "Notifications waiting in the outbox.", "gauge");
	if (g->state_ok)
		add_sample(b, "zload_notifications_pending", "", NULL, NULL, 0, NULL, NULL, (double)g->notifications_pending);
	header(b, "zload_state_up", "Whether the state store answered this scrape (1) or not (0).", "gauge");
	add_sample(b, "zload_state_up", "", NULL, NULL, 0, NULL, NULL, g->state_ok ? 1 : 0);
}

void zl_metrics_render(zl_buf *out, const zl_gauges *g)
{
	static const char *const vl[] = { "version" };
	char *vv[] = { (char *)ZL_VERSION };
	header(out, "zload_build_info", "The zload version running (always 1).", "gauge");
	add_sample(out, "zload_build_info", "", vl, vv, 1, NULL, NULL, 1);
	pthread_mutex_lock(&mu);
	for (int i = 0; i < F_COUNT; i++)
		render_family(out, &families[i]);
	pthread_mutex_unlock(&mu);
	if (g)
		render_gauges(out, g);
}

/* One EMF line: the child's labels as dimensions, one metric (name) with value. */
static void emf_line(zl_buf *out, const char *ns, int64_t now_ms, const family *f, const child *c, json_t *value)
{
	json_t *dims = json_array(), *metric = json_array();
	for (int i = 0; i < f->nlabels; i++)
		json_array_append_new(dims, json_string(f->labels[i]));
	json_array_append_new(metric, json_pack("{s:s, s:s}", "Name", f->name, "Unit", f->unit));
	json_t *cw = json_pack("{s:s, s:[o], s:o}", "Namespace", ns, "Dimensions", dims, "Metrics", metric);
	json_t *o = json_pack("{s:{s:I, s:[o]}}", "_aws", "Timestamp", (json_int_t)now_ms, "CloudWatchMetrics", cw);
	for (int i = 0; i < f->nlabels; i++)
		json_object_set_new(o, f->labels[i], json_string(c->label[i]));
	json_object_set_new(o, f->name, value);
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s) {
		zl_buf_adds(out, s);
		zl_buf_addc(out, '\n');
	}
	free(s);
	json_decref(o);
}

void zl_metrics_emf(zl_buf *out, const char *ns, int64_t now_ms)
{
	pthread_mutex_lock(&mu);
	for (int fi = 0; fi < F_COUNT; fi++) {
		const family *f = &families[fi];
		for (size_t i = 0; i < f->n; i++) {
			child *c = &f->c[i];
			if (f->kind == COUNTER && c->value > c->emf_sent) {
				emf_line(out, ns, now_ms, f, c, json_real(c->value - c->emf_sent));
				c->emf_sent = c->value;
			} else if (f->kind == HISTOGRAM && c->nemf) {
				json_t *vals = json_array();
				for (size_t k = 0; k < c->nemf; k++)
					json_array_append_new(vals, json_real(c->emf_values[k]));
				emf_line(out, ns, now_ms, f, c, vals);
				c->nemf = 0;
			}
		}
	}
	pthread_mutex_unlock(&mu);
}

void zl_metrics_reset(void)
{
	pthread_mutex_lock(&mu);
	for (int fi = 0; fi < F_COUNT; fi++) {
		family *f = &families[fi];
		for (size_t i = 0; i < f->n; i++) {
			free(f->c[i].label[0]);
			free(f->c[i].label[1]);
			free(f->c[i].buckets);
			free(f->c[i].emf_values);
		}
		free(f->c);
		f->c = NULL;
		f->n = f->alloc = 0;
	}
	memset(step_of, 0, sizeof step_of);
	pthread_mutex_unlock(&mu);
}
