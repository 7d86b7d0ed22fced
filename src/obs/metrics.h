/* What the process has done, counted in memory: Prometheus counters and histograms, a per-10 s
 * series of rows and files loaded over the last hour (the status page's plot), and the loads in
 * progress. Process-wide and thread-safe, like the log. Label values are prefixes and target
 * names from configurations, never object keys; a family holding ZL_METRICS_MAX_SERIES label
 * sets folds any further one into the value "other". */
#ifndef ZL_METRICS_H
#define ZL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/uuid.h"

#define ZL_METRICS_MAX_SERIES 512

/* Intake names for zload_events_total. */
#define ZL_INTAKE_WEBHOOK "webhook"
#define ZL_INTAKE_SQS "sqs"
#define ZL_INTAKE_WATCH "watch"
#define ZL_INTAKE_LAMBDA "lambda"
#define ZL_INTAKE_CLI "cli"
#define ZL_INTAKE_BACKFILL "backfill"

/* zload_events_total{intake,outcome}: outcome is queued, duplicate, filtered, unrouted,
 * malformed, ignored or failed. */
void zl_metrics_events(const char *intake, const char *outcome, uint64_t n);
/* zload_files_claimed_total{prefix} */
void zl_metrics_claimed(const char *prefix);
/* zload_batches_finished_total{prefix,status}, and for complete: files into the plot's series */
void zl_metrics_batch_finished(const char *prefix, const char *status, int64_t files);
/* zload_rows_loaded_total{prefix,target}, zload_bytes_loaded_total{prefix,target}; rows into the
 * plot's series */
void zl_metrics_loaded(const char *prefix, const char *target, int64_t rows, int64_t bytes);
/* zload_load_errors_total{target,class}: class "transient" or "permanent" */
void zl_metrics_load_error(const char *target, const char *cls);
/* zload_retries_total */
void zl_metrics_retry(void);
/* zload_notifications_total{destination_type,outcome}: outcome "sent", "retry" or "failed" */
void zl_metrics_notification(const char *destination_type, const char *outcome);
/* zload_batch_load_seconds{target} */
void zl_metrics_batch_seconds(const char *target, double secs);
/* zload_target_connections_total{target,how}: how "opened" or "reused" */
void zl_metrics_target_connection(const char *target, const char *how);
/* zload_group_commit_bodies{intake}: bodies claimed together in one group commit */
void zl_metrics_group_bodies(const char *intake, size_t bodies);
/* zload_event_to_commit_seconds */
void zl_metrics_event_to_commit(double secs);

/* Rows and files loaded per step over the last hour, oldest first; the last step is the one
 * in progress. */
#define ZL_SERIES_STEP_MS 10000
#define ZL_SERIES_STEPS 360
typedef struct zl_series {
	int64_t start_ms;  /* Unix ms at which the first step begins */
	double rows[ZL_SERIES_STEPS];
	double files[ZL_SERIES_STEPS];
} zl_series;
void zl_metrics_series(int64_t now_ms, zl_series *out);

/* A load in progress, one per batch and target, as this process sees it. */
typedef struct zl_progress {
	char batch_id[ZL_UUID_LEN];
	char prefix[256];
	char target[64];
	int64_t started_ms;  /* Unix ms */
	int64_t rows;        /* rows of the objects loaded, plus lines sent of the one being loaded */
	int64_t bytes;       /* bytes sent to the database */
	int64_t objects_done, objects;
} zl_progress;
/* Registers a load; returns a slot for the updates (-1 when the table is full: then the other
 * calls ignore it). */
int zl_progress_begin(const char *batch_id, const char *prefix, const char *target, int64_t objects);
void zl_progress_add(int slot, int64_t rows, int64_t bytes);
void zl_progress_object_done(int slot);
void zl_progress_end(int slot);
/* Copies up to max loads in progress, oldest first; returns how many. */
size_t zl_progress_list(zl_progress *out, size_t max);

/* Gauges computed at scrape time (from the state), one line per prefix. */
typedef struct zl_prefix_gauges {
	const char *prefix;
	int64_t open_batches, locked_batches, files_waiting;
	double oldest_open_age_secs;   /* 0 when no open batch holds files */
} zl_prefix_gauges;
typedef struct zl_gauges {
	const zl_prefix_gauges *prefixes;
	size_t nprefixes;
	int64_t notifications_pending;
	int state_ok;                  /* 0 when the state could not be read: the prefix gauges are absent */
} zl_gauges;

/* The Prometheus text exposition (version 0.0.4) of everything, with g's gauges (g may be NULL). */
void zl_metrics_render(zl_buf *out, const zl_gauges *g);
/* CloudWatch Embedded Metric Format: one JSON line per family that changed since the last call
 * (namespace ns), counters as the increase since then. Appends lines ending in '\n'. */
void zl_metrics_emf(zl_buf *out, const char *ns, int64_t now_ms);
/* Forgets everything (tests). */
void zl_metrics_reset(void);

#endif
