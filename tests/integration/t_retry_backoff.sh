#!/usr/bin/env bash
# Transient target failures are retried with back-off: the batch goes back to `locked` with a
# retry time (no owner), the sweeper retries it when due, and it completes once the cause is gone;
# after maxAttempts it ends in `error`. Two causes: the target database cannot be reached (nothing
# listens on its port: connection refused is transient), and the target is write-locked by another
# process for longer than the SQLite target's 10 s busy timeout. A SQLite database file that does
# not exist is not transient (it is not created either): error at once, and a reprocess loads
# once it exists.
. "$(dirname "$0")/lib.sh"

ms_of() { "$PYTHON" -c 'import datetime,sys; print(int(datetime.datetime.fromisoformat(sys.argv[1].replace("Z","+00:00")).timestamp()*1000))' "$1"; }
log_ms() { # log_ms FILE PATTERN N: the time (ms) of the Nth log line matching PATTERN
	ms_of "$(grep -F -- "$2" "$1" | sed -n "${3}p" | sed -E 's/^ts=([^ ]+) .*/\1/')"
}

put_config dir <<'EOF2'
{"s3Prefix": "b/dir", "batchSize": 1, "maxAttempts": 5, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/later/wh.db", "targetTable": "t"}]}
EOF2
closed_port=$(bash "$REPO/scripts/pg.sh" free-port)
put_config gone <<EOF2
{"s3Prefix": "b/gone", "batchSize": 1, "maxAttempts": 3, "format": {"header": true},
 "targets": [{"name": "wh", "type": "postgres", "host": "127.0.0.1", "port": $closed_port, "database": "dw",
              "user": "loader", "password": "pw", "targetTable": "t", "connectTimeoutSecs": 2}]}
EOF2
refused="cannot connect: connection to server at \"127.0.0.1\", port $closed_port failed: Connection refused Is the server running on that host and accepting TCP/IP connections?"
put_config busy <<'EOF2'
{"s3Prefix": "b/busy", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/busy.db", "targetTable": "t"}]}
EOF2
put_config once <<'EOF2'
{"s3Prefix": "b/once", "batchSize": 1, "maxAttempts": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/once.db", "targetTable": "t"}]}
EOF2
csv_rows b/dir/d.csv 3
csv_rows b/gone/g.csv 2
csv_rows b/busy/b.csv 4
csv_rows b/once/o.csv 5
make_table "$WS/busy.db" t "id INTEGER, v TEXT"
make_table "$WS/once.db" t "id INTEGER, v TEXT"

# Write-lock both busy.db and once.db for longer than the busy timeout, and load into them.
hold_lock "$WS/busy.db"
hold_lock "$WS/once.db"
s3_event b busy/b.csv >"$WS/busy.json"
s3_event b once/o.csv >"$WS/once.json"
start_bg busy-event "$ZLOAD" event "$WS/busy.json"
busy_pid=$BG_PID
start_bg once-event "$ZLOAD" event "$WS/once.json"
once_pid=$BG_PID

# Meanwhile: b/dir's database file does not exist yet (an error at once), b/gone's server is
# not there (it never will be: retried).
event b dir/d.csv gone/g.csv
dir_id=$(batch_ids --prefix b/dir)
gone_id=$(batch_ids --prefix b/gone)
assert_eq 1 "$RC" "exit code of a load to be retried"
assert_eq "$(printf 'queued b/dir/d.csv batch=%s\nqueued b/gone/g.csv batch=%s\nloaded batch=%s status=error rows=0 error=target wh: sqlite target: database file "%s/later/wh.db" does not exist\nloaded batch=%s status=retry rows=0 error=target wh: %s' "$dir_id" "$gone_id" "$dir_id" "$WS" "$gone_id" "$refused")" \
	"$OUT" "output of a permanent and a transient failure"
assert_contains "$ERR" "msg=\"batch will be retried\" batch=$gone_id prefix=b/gone attempt=1" "retry logged"
assert_eq "error|1" "$(batch_status "$dir_id")|$(batch_field "$dir_id" attempts)" "a missing database file is not retried"
[[ ! -e $WS/later ]] || fail "the missing database's directory was created"
assert_eq "locked|None|1|target wh: $refused|retry" \
	"$(json "'|'.join(str(x) for x in (j['status'], j['owner'], j['attempts'], j['error'], j['result']['targets'][0]['status']))" zload batches show --json "$gone_id")" \
	"a batch waiting for its retry"
retry_at=$(ms_of "$(batch_field "$gone_id" retryAt)")
updated=$(ms_of "$(batch_field "$gone_id" updated)")
delay=$((retry_at - updated))
# (retryAt is computed a moment before the batch is updated, hence 450 rather than 500)
((delay >= 450 && delay <= 1000)) || fail "first retry delay ${delay} ms, expected 500-1000 ms (1 s with jitter)"
ok zload batches show "$gone_id"
assert_contains "$OUT" "retry     at " "batches show names the retry time"
assert_eq 0 "$(batch_count --status open --prefix b/gone)" "no open batch"

mkdir "$WS/later"
make_table "$WS/later/wh.db" t "id INTEGER, v TEXT"
ok zload batches reprocess "$dir_id"
assert_eq "loaded batch=$dir_id status=complete rows=3" "$OUT" "reprocess once the database file exists"
assert_eq null "$(batch_field "$dir_id" error)" "error cleared"
assert_eq 3 "$(rows t "$WS/later/wh.db")" "rows once the database file exists"
start_serve serve --no-watch

# A target that never becomes available: retried with growing delays, then error.
wait_for 20 status_is "$gone_id" error
assert_eq 3 "$(batch_field "$gone_id" attempts)" "attempts of a batch that never loads (maxAttempts 3)"
assert_eq "target wh: $refused" "$(batch_field "$gone_id" error)" "error after maxAttempts"
assert_contains "$(<"$WS/serve.log")" "msg=\"batch locked\" batch=$gone_id prefix=b/gone reason=\"retry due\"" "retried by the sweeper"
# Back-off: the second retry waits longer than the first (0.5-1 s, then 1-2 s; the sweeper ticks every second).
fail1=$(log_ms "$WS/serve.log" "msg=\"batch will be retried\" batch=$gone_id" 1)
lock3=$(log_ms "$WS/serve.log" "msg=\"batch locked\" batch=$gone_id" 2)
((lock3 - fail1 >= 950)) || fail "third attempt $((lock3 - fail1)) ms after the second failed: expected >= 1000 ms"
((lock3 - fail1 <= 5000)) || fail "third attempt $((lock3 - fail1)) ms after the second failed: expected about 1-3 s"

# The busy targets: after 10 s the loaders give up on the lock; busy.db will be retried, once.db
# (maxAttempts 1) ends in error at once.
wait_exit "$busy_pid" 30
assert_eq 1 "$RC" "exit code of the busy load"
busy_id=$(batch_ids --prefix b/busy)
assert_eq "$(printf 'queued b/busy/b.csv batch=%s\nloaded batch=%s status=retry rows=0 error=target wh: database is locked' "$busy_id" "$busy_id")" \
	"$(grep -v '^ts=' "$WS/busy-event.log")" "a write-locked target"
wait_exit "$once_pid" 30
assert_eq 1 "$RC" "exit code of the busy load with maxAttempts 1"
once_id=$(batch_ids --prefix b/once)
assert_eq "$(printf 'queued b/once/o.csv batch=%s\nloaded batch=%s status=error rows=0 error=target wh: database is locked' "$once_id" "$once_id")" \
	"$(grep -v '^ts=' "$WS/once-event.log")" "maxAttempts 1: no retry"
assert_eq "error|1" "$(batch_status "$once_id")|$(batch_field "$once_id" attempts)" "status with maxAttempts 1"
# Release the locks: the serve's sweeper retries busy.db when due and it completes.
release_lock "$WS/busy.db"
release_lock "$WS/once.db"
wait_for 30 status_is "$busy_id" complete
assert_eq 4 "$(rows t "$WS/busy.db")" "rows once the lock is released"
attempts=$(batch_field "$busy_id" attempts)
((attempts >= 2)) || fail "busy batch completed after $attempts attempts"
assert_eq 0 "$(rows t "$WS/once.db")" "nothing loaded into once.db"
assert_eq error "$(batch_status "$once_id")" "maxAttempts 1 batch stays in error"
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 15
assert_eq 0 "$RC" "serve exit code"
