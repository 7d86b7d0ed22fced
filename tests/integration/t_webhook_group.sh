#!/usr/bin/env bash
# Concurrent webhook requests share group commits (SQLite state). 20 POSTs sent at once while
# another process holds the state's write lock are all answered once it goes, each with its own
# counts: a key all 19 valid bodies carry is queued for exactly one and a duplicate for the 18
# others, the malformed body alone is 400, and zload_group_commit_bodies shows the 20 bodies in at
# most 3 groups (the first waiting in the state, the others queued behind it). Then 400 POSTs from
# 16 clients at once put each of their 2,000 records in the state exactly once, batch totals agree.
. "$(dirname "$0")/lib.sh"

. "$IT_DIR/lib_webhook.sh"

put_config in <<'EOF2'
{"s3Prefix": "b/in", "batchSize": 0, "batchTimeoutSecs": 86400, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
claimed() { sqlite3 "$WS/state.db" "SELECT count(*) FROM files"; }
# metric NAME{LABELS}: a sample of GET /metrics ("" when absent).
metric() {
	http GET /metrics
	assert_eq 200 "$CODE" "GET /metrics"
	awk -v n="$1" '$1 == n { print $2 }' <<<"$BODY"
}
post_many() { "$PYTHON" "$IT_DIR/post_many.py" "$PORT" "$@"; }

start_hook_at hook 0

# ---- 20 requests while the state is write-locked: they pile up, then go in one or two groups
hold_lock "$WS/state.db"
start_bg locked "$PYTHON" "$IT_DIR/post_many.py" "$PORT" 20 20 2 --key "in/l%02d-%d.csv" \
	--shared in/shared.csv --malformed 7 --replies "$WS/locked.replies"
posters=$BG_PID
sleep 1
kill -0 "$posters" 2>/dev/null || fail "the POSTs did not wait for the locked state: $(cat "$WS/locked.log")"
assert_eq 0 "$(claimed)" "nothing claimed while the state is locked"
release_lock "$WS/state.db"
wait_exit "$posters" 30
assert_eq 0 "$RC" "the client's exit code"
summary=$(tail -n 1 "$WS/locked.log")
assert_eq '{"200": 19, "400": 1}' "$(json 'json.dumps(j["status"], sort_keys=True)' echo "$summary")" "statuses of the 20 replies"
assert_eq "57 39 18 0" "$(json '" ".join(str(j["sums"][k]) for k in ("records", "queued", "duplicate", "failed"))' echo "$summary")" \
	"records, queued, duplicate, failed over the 19 bodies"
assert_contains "$(grep '^7 ' "$WS/locked.replies")" '7 400 {"error":"' "the malformed body's reply"
assert_contains "$(grep '^7 ' "$WS/locked.replies")" 'invalid JSON' "the malformed body's reason"
assert_eq 1 "$(grep -c ' 200 {"records":3,"queued":3,"duplicate":0,' "$WS/locked.replies")" \
	"in/shared.csv queued for exactly one request"
assert_eq 18 "$(grep -c ' 200 {"records":3,"queued":2,"duplicate":1,' "$WS/locked.replies")" \
	"in/shared.csv a duplicate for the 18 others"
assert_eq 39 "$(claimed)" "every record of the valid bodies in the state once"
groups=$(metric 'zload_group_commit_bodies_count{intake="webhook"}')
assert_eq 20 "$(metric 'zload_group_commit_bodies_sum{intake="webhook"}')" "bodies in groups"
(( groups >= 1 && groups <= 3 )) || fail "the 20 bodies took $groups groups (want at most 3)"
alone=$(metric 'zload_group_commit_bodies_bucket{intake="webhook",le="1"}')
echo "REPORT 20 POSTs on a locked state: $groups groups ($alone of one body)"

# ---- 400 requests of 5 records from 16 clients at once: every record claimed once
out=$(post_many 16 400 5 --key "in/p%05d-%d.csv")
assert_eq '{"200": 400}' "$(json 'json.dumps(j["status"], sort_keys=True)' echo "$out")" "statuses of the 400 replies"
assert_eq "2000 2000 0 0" "$(json '" ".join(str(j["sums"][k]) for k in ("records", "queued", "duplicate", "failed"))' echo "$out")" \
	"records, queued, duplicate, failed over the 400 bodies"
assert_eq 2039 "$(claimed)" "files in the state"
assert_eq 2039 "$(sqlite3 "$WS/state.db" "SELECT count(DISTINCT file_id) FROM files")" "distinct files in the state"
assert_eq 2039 "$(sqlite3 "$WS/state.db" "SELECT sum(file_count) FROM batches")" "batch totals"
total=$(metric 'zload_group_commit_bodies_count{intake="webhook"}')
assert_eq 420 "$(metric 'zload_group_commit_bodies_sum{intake="webhook"}')" "bodies in groups"
assert_eq 2039 "$(metric 'zload_events_total{intake="webhook",outcome="queued"}')" "zload_events_total queued"
echo "REPORT 400 POSTs from 16 clients: $((total - groups)) groups, $(json 'j["rps"]' echo "$out") requests/s"
stop_hook
