#!/usr/bin/env bash
# The database goes down while `zload serve` runs: the batch stays locked with a retry time and the
# connection error, is retried with back-off, and loads exactly once when the database is back.
# With maxAttempts 2 and the database kept down, the batch ends in error.
. "$(dirname "$0")/lib_pg.sh"

pql dw "CREATE TABLE t (id int, v text); CREATE TABLE t2 (id int, v text)" >/dev/null
pg_config down <<EOF
{"s3Prefix": "b/down", "batchSize": 1, "leaseSecs": 5, "maxAttempts": 8, "format": {"header": true},
 "targets": [$(pg_target pg t)]}
EOF
pg_config giveup <<EOF
{"s3Prefix": "b/giveup", "batchSize": 1, "leaseSecs": 5, "maxAttempts": 2, "format": {"header": true},
 "targets": [$(pg_target pg t2)]}
EOF

start_serve serve
pg_stop
pg_up && fail "the database is still up after pg_stop"
csv_rows b/down/a.csv 500 1
csv_rows b/giveup/a.csv 7 1
wait_for 10 count_is 1 batch_count --prefix b/down
wait_for 10 count_is 1 batch_count --prefix b/giveup
id=$(batch_ids --prefix b/down)
gid=$(batch_ids --prefix b/giveup)

# attempts_at_least ID N: the batch has been tried at least N times and waits for a retry.
attempts_at_least() {
	local j
	j=$(zload batches show --json "$1") || return 1
	"$PYTHON" -c 'import json,sys; j=json.loads(sys.stdin.read()); sys.exit(0 if j["status"] == "locked" and j["attempts"] >= int(sys.argv[1]) and j.get("retryAt") and j.get("error") else 1)' "$2" <<<"$j"
}
wait_for 20 attempts_at_least "$id" 2
assert_eq locked "$(batch_status "$id")" "status while the database is down"
assert_eq null "$(tjson 'j.get("owner")' "$id")" "no owner while waiting for the retry"
retry_ms=$(tjson 'int(__import__("datetime").datetime.fromisoformat(j["retryAt"].replace("Z", "+00:00")).timestamp() * 1000)' "$id")
((retry_ms > $(now_ms) - 5000)) || fail "retryAt $retry_ms is not a pending retry time"
err=$(batch_field "$id" error)
assert_contains "$err" "target pg: cannot connect" "error while down"
assert_contains "$err" "Connection refused" "error while down: the connection"
assert_not_contains "$err" $'\n' "error while down: one line"
assert_eq retry "$(tjson 't[0]["status"]' "$id")" "target status while down"
assert_eq 0 "$(tjson 't[0]["rows"]' "$id")" "target rows while down"
wait_for 5 log_has "$WS/serve.log" "msg=\"batch will be retried\" batch=$id"

# maxAttempts 2: the second failure is final.
wait_for 20 status_is "$gid" error
assert_eq 2 "$(batch_field "$gid" attempts)" "attempts of the batch that gave up"
assert_contains "$(batch_field "$gid" error)" "Connection refused" "error of the batch that gave up"
assert_eq null "$(tjson 'j.get("retryAt")' "$gid")" "no retry time once in error"
assert_contains "$(grep "msg=\"batch failed\" batch=$gid" "$WS/serve.log")" "attempt=2" "log line of the final failure"

# Back up: the next retry loads the rows exactly once.
pg_resume
wait_for 10 pg_up
wait_for 40 status_is "$id" complete
attempts=$(batch_field "$id" attempts)
((attempts > 1)) || fail "attempts after recovery: $attempts"
((attempts <= 8)) || fail "attempts beyond maxAttempts: $attempts"
assert_eq 500 "$(pg_count t)" "rows after recovery"
assert_eq 500 "$(pq dw "SELECT count(DISTINCT id) FROM t")" "distinct ids after recovery"
assert_eq 1 "$(pg_ledger_rows "$id")" "ledger rows of the batch"
assert_eq 0 "$(pg_count t2)" "the batch in error loaded nothing"
assert_eq null "$(batch_field "$id" error)" "no error once complete"
assert_eq "complete 500" "$(tjson 't[0]["status"] + " " + str(t[0]["rows"])' "$id")" "target result once complete"

# The daemon goes on: a new file loads at once, and the batch in error is repaired by reprocess.
csv_rows b/down/b.csv 5 1000
wait_for 10 count_is 2 batch_count --prefix b/down --status complete
assert_eq 505 "$(pg_count t)" "rows after a new file"
ok zload batches reprocess "$gid"
assert_eq complete "$(batch_status "$gid")" "the batch in error after reprocess"
assert_eq 7 "$(pg_count t2)" "rows of the reprocessed batch"
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 20
assert_eq 0 "$RC" "serve exit code after SIGTERM"
