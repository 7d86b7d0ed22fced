#!/usr/bin/env bash
# Mail notifications: mailto: destinations sent through notify.smtp to an SMTP sink on loopback.
# The envelope (MAIL FROM, RCPT TO), the From, To and Subject headers and the plain-text body
# rendering the message; an SMTP server that is down leaves the mail pending for a daemon.
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib_notify.sh"

SPORT=$(free_port)
make_table t "id INTEGER, v TEXT"
put_config mail <<EOF2
{"s3Prefix": "b/in", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"},
             {"name": "late", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "missing"}],
 "notify": {"failure": ["mailto:ops@example.com,dba@example.com"],
            "smtp": {"url": "smtp://127.0.0.1:$SPORT", "from": "zload <zload@example.com>"}}}
EOF2

sink_start mail smtp "$SPORT"
csv_rows b/in/a.csv 2
event b in/a.csv
assert_eq 1 "$RC" "exit code of the failed load"
batch=$(batch_ids)
assert_eq 1 "$(sink_count mail)" "mails"
assert_eq "<zload@example.com> <ops@example.com>,<dba@example.com>" \
	"$(sink_json mail 1 "j['from'] + ' ' + ','.join(j['rcpts'])")" "the envelope"
hdr() { sink_json mail 1 "__import__('email').message_from_string(j['data'])['$1']"; }
assert_eq "zload <zload@example.com>" "$(hdr From)" "From"
assert_eq "ops@example.com,dba@example.com" "$(hdr To)" "To"
assert_eq "Lambda Vertica Batch Load $batch Failure" "$(hdr Subject)" "Subject"
assert_eq "text/plain; charset=utf-8" "$(hdr Content-Type)" "Content-Type"
assert_eq "failure" "$(hdr X-Zload-Event)" "X-Zload-Event"
assert_eq "<zload-$(notices "j[0]['id']")-$batch@zload>" "$(hdr Message-ID)" "Message-ID"
sink_json mail 1 "__import__('email').message_from_string(j['data']).get_payload()" | tr -d '\r' >"$WS/body.txt"
assert_eq "zload batch $batch of b/in: FAILED" "$(head -n 1 "$WS/body.txt")" "first line of the body"
body=$(<"$WS/body.txt")
assert_contains "$body" "Error: target late: no such table: missing" "the error"
assert_contains "$body" "  wh (sqlite): complete, 2 rows, 0 rejected" "the target that loaded"
assert_contains "$body" "  late (sqlite): error, 0 rows, 0 rejected: no such table: missing" "the target that failed"
assert_contains "$body" "Files (1):
  b/in/a.csv" "the files"
assert_contains "$body" "Attempts: 1" "attempts"
assert_contains "$body" "    loadStmt      Failed: load b/in/a.csv" "the statements"
assert_eq sent "$(notices "j[0]['status']")" "outbox status"

# The mail server down: the one-shot gives up after its bound and leaves the mail pending.
kill -KILL "$SINK_PID"
wait_for 10 not_running "$SINK_PID"
csv_rows b/in/b.csv 1 5
t0=$(now_ms)
event b in/b.csv
elapsed=$(($(now_ms) - t0))
assert_eq 1 "$RC" "exit code of the second failed load"
((elapsed < 15000)) || fail "event waited ${elapsed} ms for the mail server"
assert_eq pending "$(notices "j[0]['status']")" "the mail waits in the outbox"
assert_contains "$(notices "j[0]['lastError']")" "smtp: " "the SMTP error"
assert_contains "$ERR" 'msg="notifications not delivered yet: left in the outbox for zload serve" pending=1' \
	"event says what it left"

# A daemon delivers it once the server is back.
sink_start mail2 smtp "$SPORT"
start_serve serve --no-watch
wait_for 30 count_is 1 sink_count mail2
wait_for 10 notice_status_is "$(notices "j[0]['id']")" sent
assert_eq "Lambda Vertica Batch Load $(batch_ids --limit 1) Failure" \
	"$(sink_json mail2 1 "__import__('email').message_from_string(j['data'])['Subject']")" "the late mail"
