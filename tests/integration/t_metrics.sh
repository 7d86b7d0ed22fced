#!/usr/bin/env bash
# GET /metrics: scraped before, during and after loads, every value checked against what was
# loaded (rows in the tables, bytes of the files, batches in the state), the exposition checked by
# promtool; the webhook's server serves it too; bearer tokens guard both servers; no object key
# ever becomes a label; a load longer than 5 s logs its progress per target; a target that is down
# counts transient errors and a retry.
# test-timeout: 150
. "$(dirname "$0")/lib_pg.sh"
. "$(dirname "$0")/lib_webhook.sh"

command -v promtool >/dev/null || fail "promtool missing (Debian package prometheus; scripts/deps.sh installs it)"

# metric NAME{LABELS}: the sample's value from $WS/metrics.txt ("" when absent).
metric() {
	"$PYTHON" - "$1" "$WS/metrics.txt" <<'EOF'
import sys
want, path = sys.argv[1], sys.argv[2]
for line in open(path):
    if line.startswith("#"):
        continue
    name, _, value = line.rstrip("\n").rpartition(" ")
    if name == want:
        v = float(value)
        print(int(v) if v == int(v) else v)
        break
EOF
}
# scrape [PORT] [CURL ARGS]: GET /metrics into $WS/metrics.txt, checked by promtool.
scrape() {
	local port=${1:-$MPORT}
	shift || true
	curl -sS --max-time 10 -o "$WS/metrics.txt" -w '%{http_code} %{content_type}' "$@" \
		"http://127.0.0.1:$port/metrics" >"$WS/.scrape" || fail "curl /metrics failed"
	assert_eq "200 text/plain; version=0.0.4; charset=utf-8" "$(<"$WS/.scrape")" "status and type of /metrics"
	promtool check metrics <"$WS/metrics.txt" >"$WS/promtool.out" 2>&1 ||
		fail "promtool check metrics: $(cat "$WS/promtool.out")"
}
is_metric() { [[ $(metric "$1") == "$2" ]]; }

make_table t "id INTEGER, v TEXT"
pql dw "CREATE TABLE slow_t (id int, v text)" >/dev/null
printf '#!/bin/sh\ncat >>"%s/notified.jsonl"; echo >>"%s/notified.jsonl"\n' "$WS" "$WS" >"$WS/ok.sh"
chmod +x "$WS/ok.sh"
put_config m <<'EOF2'
{"s3Prefix": "b/m", "batchSize": 2, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}],
 "notify": {"success": ["exec:@WS@/ok.sh"]}}
EOF2
put_config open <<'EOF2'
{"s3Prefix": "b/open", "batchSize": 10, "batchTimeoutSecs": 3600, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
put_config bad <<'EOF2'
{"s3Prefix": "b/bad", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "nowhere", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "missing_t"}]}
EOF2
DOWNPORT=$(free_port) # nothing listens there: every attempt is a transient error
pg_config down <<EOF
{"s3Prefix": "b/down", "batchSize": 1, "maxAttempts": 2, "format": {"header": true},
 "targets": [$(pg_target down t_down dw loader "$PG_SCRAM_PW" | sed "s/\"port\":$PGPORT/\"port\":$DOWNPORT/")]}
EOF
pg_config slow <<EOF
{"s3Prefix": "b/slow", "batchSize": 1, "format": {"header": true},
 "targets": [$(pg_target pg slow_t dw loader "$PG_SCRAM_PW" '"postLoadStatement": "SELECT pg_sleep(7)"')]}
EOF

MPORT=$(free_port)
HPORT=$(free_port)
start_serve s --metrics "$MPORT" --webhook "127.0.0.1:$HPORT"
PORT=$HPORT
assert_contains "$(cat "$WS/s.log")" "msg=\"metrics and status page listening\" listen=127.0.0.1:$MPORT" "the metrics server's log line"

# Before anything happened: the families are there, the prefixes' gauges at 0.
scrape
assert_eq 0 "$(metric 'zload_retries_total')" "retries before any load"
assert_eq 0 "$(metric 'zload_open_batches{prefix="b/m"}')" "open batches of a configured prefix, before any file"
assert_eq 1 "$(metric 'zload_state_up')" "state up"
assert_eq 1 "$(metric 'zload_build_info{version="'"$("$ZLOAD" --version | cut -d' ' -f2)"'"}')" "build info"

for i in 1 2 3 4; do csv_rows "b/m/f$i.csv" $((i * 10)); done
csv_rows b/open/o1.csv 3
csv_rows b/bad/x.csv 2
wait_for 20 eval '[[ $(batch_count --prefix b/m --status complete) == 2 && $(batch_count --prefix b/bad --status error) == 1 ]]'

# Events by the webhook: one duplicate, one not routed, a deletion (ignored), a record without a key
# (malformed).
printf '{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"m/f1.csv","size":%s}}},{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"elsewhere/z.csv","size":1}}}]}' \
	"$(stat -c %s "$STORE/b/m/f1.csv")" >"$WS/dup.json"
post "$WS/dup.json"
assert_eq 200 "$CODE" "webhook reply [$BODY]"
printf '{"Records":[{"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"m/f2.csv"}}},{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{}}}]}' >"$WS/odd.json"
post "$WS/odd.json"
assert_eq 200 "$CODE" "reply to a deletion and a malformed record [$BODY]"
assert_eq "$(counts 2 0 0 1 1)" "$BODY" "the webhook's counts"

wait_for 10 eval 'scrape; is_metric "zload_notifications_total{destination_type=\"exec\",outcome=\"sent\"}" 2'
scrape
assert_eq 6 "$(metric 'zload_events_total{intake="watch",outcome="queued"}')" "files queued by the watcher"
assert_eq 1 "$(metric 'zload_events_total{intake="webhook",outcome="duplicate"}')" "duplicate by the webhook"
assert_eq 1 "$(metric 'zload_events_total{intake="webhook",outcome="unrouted"}')" "not routed by the webhook"
assert_eq 1 "$(metric 'zload_events_total{intake="webhook",outcome="ignored"}')" "deletion ignored"
assert_eq 1 "$(metric 'zload_events_total{intake="webhook",outcome="malformed"}')" "record without a key"
assert_eq 4 "$(metric 'zload_files_claimed_total{prefix="b/m"}')" "files claimed of b/m"
assert_eq 1 "$(metric 'zload_files_claimed_total{prefix="b/open"}')" "files claimed of b/open"
assert_eq 2 "$(metric 'zload_batches_finished_total{prefix="b/m",status="complete"}')" "complete batches of b/m"
assert_eq 1 "$(metric 'zload_batches_finished_total{prefix="b/bad",status="error"}')" "error batches of b/bad"
assert_eq "$(rows t)" "$(metric 'zload_rows_loaded_total{prefix="b/m",target="wh"}')" "rows loaded = rows in the table"
assert_eq 100 "$(rows t)" "rows in the table"
bytes=$(( $(cat "$STORE"/b/m/f*.csv | wc -c) ))
assert_eq "$bytes" "$(metric 'zload_bytes_loaded_total{prefix="b/m",target="wh"}')" "bytes loaded = the files' sizes"
assert_eq 1 "$(metric 'zload_load_errors_total{target="nowhere",class="permanent"}')" "permanent error of the bad target"
assert_eq 2 "$(metric 'zload_batch_load_seconds_count{target="wh"}')" "load attempts timed for wh"
assert_eq 2 "$(metric 'zload_batch_load_seconds_bucket{target="wh",le="+Inf"}')" "histogram +Inf bucket = count"
assert_eq 4 "$(metric 'zload_event_to_commit_seconds_count')" "one observation per file committed"
assert_eq 2 "$(metric 'zload_notifications_total{destination_type="exec",outcome="sent"}')" "notifications sent"
assert_eq 1 "$(metric 'zload_open_batches{prefix="b/open"}')" "open batch of b/open"
assert_eq 1 "$(metric 'zload_files_waiting{prefix="b/open"}')" "files waiting in b/open"
assert_eq 0 "$(metric 'zload_files_waiting{prefix="b/m"}')" "nothing waiting in b/m"
age=$(metric 'zload_oldest_open_batch_age_seconds{prefix="b/open"}')
"$PYTHON" -c "import sys; sys.exit(0 if 0 < float('$age') < 120 else 1)" || fail "age of the open batch: $age"
assert_eq 0 "$(metric 'zload_notifications_pending')" "no notification pending"
assert_not_contains "$(cat "$WS/metrics.txt")" "f1.csv" "no object key in any label"
assert_not_contains "$(cat "$WS/metrics.txt")" "elsewhere" "no unrouted key in any label"

# A target that is down: a transient error, a retry, a second transient error, then error.
csv_rows b/down/d.csv 2
wait_for 20 eval '[[ $(batch_count --prefix b/down --status error) == 1 ]]'
scrape
assert_eq 1 "$(metric 'zload_retries_total')" "one retry scheduled"
assert_eq 2 "$(metric 'zload_load_errors_total{target="down",class="transient"}')" "two transient errors"
assert_eq 1 "$(metric 'zload_batches_finished_total{prefix="b/down",status="error"}')" "then the batch in error"
assert_eq "" "$(metric 'zload_rows_loaded_total{prefix="b/down",target="down"}')" "no rows counted for it"

# The webhook's server serves the same exposition.
scrape "$HPORT"
assert_eq 4 "$(metric 'zload_files_claimed_total{prefix="b/m"}')" "the webhook's /metrics"

# During a load: locked, nothing counted until the commit; progress logged every 5 s.
csv_rows b/slow/big.csv 200000
wait_for 20 log_has "$WS/s.log" 'msg="load progress"'
scrape
assert_eq 1 "$(metric 'zload_locked_batches{prefix="b/slow"}')" "the slow batch is locked while it loads"
assert_eq 0 "$(pg_count slow_t)" "nothing committed yet"
assert_eq "" "$(metric 'zload_rows_loaded_total{prefix="b/slow",target="pg"}')" "no rows counted before the commit"
line=$(grep 'msg="load progress"' "$WS/s.log" | head -n 1)
assert_contains "$line" "target=pg rows=200000 mb=" "the progress line: the object's rows once sent"
assert_contains "$line" "objects_done=1 objects=1" "the progress line: objects"
assert_contains "$line" "mb_s=" "the progress line: MB/s"
wait_for 30 eval '[[ $(batch_count --prefix b/slow --status complete) == 1 ]]'
scrape
assert_eq 200000 "$(pg_count slow_t)" "rows of the slow batch"
assert_eq 200000 "$(metric 'zload_rows_loaded_total{prefix="b/slow",target="pg"}')" "rows counted after the commit"
assert_eq 0 "$(metric 'zload_locked_batches{prefix="b/slow"}')" "nothing locked after"
slow_secs=$(metric 'zload_batch_load_seconds_sum{target="pg"}')
"$PYTHON" -c "import sys; sys.exit(0 if float('$slow_secs') >= 7 else 1)" || fail "load seconds of the slow target: $slow_secs"
assert_eq 0 "$(metric 'zload_batch_load_seconds_bucket{target="pg",le="5"}')" "the 7 s load is above the 5 s bucket"
assert_eq 1 "$(metric 'zload_batch_load_seconds_bucket{target="pg",le="10"}')" "and within the 10 s bucket"
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 15

# Tokens: the metrics server's own, and the webhook's on the webhook's server.
printf 'metrics-secret\n' >"$WS/mtoken"
printf 'hook-secret\n' >"$WS/htoken"
MPORT=$(free_port)
HPORT=$(free_port)
start_serve s2 --metrics "$MPORT" --metrics-token-file "$WS/mtoken" --webhook "127.0.0.1:$HPORT" --webhook-token-file "$WS/htoken"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
assert_eq 401 "$(code "http://127.0.0.1:$MPORT/metrics")" "no token on --metrics"
assert_eq 401 "$(code -H 'Authorization: Bearer hook-secret' "http://127.0.0.1:$MPORT/metrics")" "the webhook's token on --metrics"
scrape "$MPORT" -H 'Authorization: Bearer metrics-secret'
assert_eq 401 "$(code "http://127.0.0.1:$HPORT/metrics")" "no token on the webhook's /metrics"
scrape "$HPORT" -H 'Authorization: Bearer hook-secret'
assert_eq 200 "$(code "http://127.0.0.1:$HPORT/healthz")" "/healthz needs no token"
assert_eq "" "$(metric 'zload_files_claimed_total{prefix="b/m"}')" "a new process counts from zero"
assert_eq 1 "$(metric 'zload_files_waiting{prefix="b/open"}')" "gauges come from the state, across restarts"

# --metrics-token-file needs --metrics; a bad --metrics address is named.
assert_exit 2 zload serve --metrics-token-file "$WS/mtoken"
assert_eq "zload serve: --metrics-token-file needs --metrics" "$(head -n 1 <<<"$ERR")" "token file without --metrics"
assert_exit 1 zload serve --no-watch --metrics 127.0.0.1:99999
assert_contains "$ERR" "--metrics" "a bad --metrics address names the option [$ERR]"
