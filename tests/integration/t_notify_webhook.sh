#!/usr/bin/env bash
# Webhook notifications from `zload serve`: the receiver is down at first (connection refused), so
# the delivery is retried with back-off, every attempt counted in the outbox; once it is up the
# message arrives exactly once, signed (X-Zload-Signature: sha256=HMAC of the body with
# notify.webhookSecret), naming the batch, its files and targets. A failed batch sends its
# failure notification with the error. The URL's query (a token) is never shown.
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib_notify.sh"

HPORT=$(free_port)
SECRET=Hook-Secret-7
make_table t "id INTEGER, v TEXT"
put_config ok <<EOF2
{"s3Prefix": "b/in", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}],
 "notify": {"success": ["http://127.0.0.1:$HPORT/hook?token=tok-123"], "failure": ["http://127.0.0.1:$HPORT/fail"],
            "webhookSecret": "$SECRET"}}
EOF2
put_config bad <<EOF2
{"s3Prefix": "b/bad", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "missing"}],
 "notify": {"failure": ["http://127.0.0.1:$HPORT/fail"], "webhookSecret": "$SECRET"}}
EOF2
assert_eq "" "$ERR" "config put warns of nothing any more"

start_serve serve --settle-ms 100
csv_rows b/in/a.csv 3
wait_for 20 count_is 1 batch_count --status complete
batch=$(batch_ids --status complete)
# The receiver is down: attempts pile up, each with its error, none delivered.
wait_for 20 eval '(( $(notices "[n[\"attempts\"] for n in j][0]") >= 2 ))'
id=$(notices "j[0]['id']")
assert_eq pending "$(notices "j[0]['status']")" "status while the receiver is down"
assert_contains "$(notices "j[0]['lastError']")" "POST 127.0.0.1:$HPORT: " "the last error names the host"
assert_contains "$(notices "j[0]['lastError']")" "onnect" "the last error says the connection failed"
assert_eq "http://127.0.0.1:$HPORT/hook?***" "$(notices "j[0]['destination']")" "the token is hidden"
ok zload notifications list
assert_contains "$OUT" "pending  success" "the table lists the pending notification"
assert_not_contains "$OUT$(zload notifications list --json)$(<"$WS/serve.log")" "tok-123" "the token appears nowhere"
assert_eq 0 "$(grep -c 'msg="notification sent"' "$WS/serve.log")" "nothing sent while down"
grep -q 'msg="notification not delivered; will retry"' "$WS/serve.log" || fail "the failed attempts are logged"

# Up: delivered once, after the retries.
sink_start hook webhook "$HPORT" "$SECRET"
wait_for 30 notice_status_is "$id" sent
sleep 2
assert_eq 1 "$(sink_count hook)" "deliveries"
attempts=$(notices "j[0]['attempts']")
((attempts >= 3)) || fail "delivered at attempt $attempts, expected after at least two failures"
assert_eq True "$(sink_json hook 1 "j['signature_ok']")" "the signature verifies"
assert_eq "/hook?token=tok-123" "$(sink_json hook 1 "j['path']")" "the URL as configured"
assert_eq "success $id $batch application/json" \
	"$(sink_json hook 1 "' '.join([j['headers']['X-Zload-Event'], j['headers']['X-Zload-Delivery'], j['headers']['X-Zload-Batch'], j['headers']['Content-Type']])")" \
	"delivery headers"
assert_eq "None ok $batch b/in" \
	"$(sink_json hook 1 "(lambda m: ' '.join(map(str, [m['error'], m['status'], m['batchId'], m['s3Prefix']])))(json.loads(j['body']))")" \
	"the original's fields"
assert_eq "b/in/a.csv wh:sqlite:complete:3:0:None 1" \
	"$(sink_json hook 1 "(lambda m: ' '.join([','.join(f['bucket'] + '/' + f['key'] for f in m['files']), ','.join('%s:%s:%s:%s:%s:%s' % (t['name'], t['type'], t['status'], t['rows'], t['rejected'], t['error']) for t in m['targets']), str(m['attempts'])]))(json.loads(j['body']))")" \
	"zload's fields"
assert_eq "error,status,batchId,s3Prefix,loadStatements,files,targets,attempts,createdAt,finishedAt,durationMs" \
	"$(sink_json hook 1 "','.join(json.loads(j['body']))")" "the message's fields, in order"
assert_eq "Success: load b/in/a.csv" "$(sink_json hook 1 "json.loads(j['body'])['loadStatements']['wh']['loadStmt']")" \
	"loadStatements"
assert_eq "$(notices "j[0]['message']" | tr -d ' ')" "$(sink_json hook 1 "json.loads(j['body'])" | tr -d ' ')" \
	"notifications list --json shows the message sent"
assert_eq 3 "$(rows t)" "rows loaded"

# A failed batch: its failure notification carries the error.
csv_rows b/bad/x.csv 1
wait_for 20 count_is 1 batch_count --status error
wait_for 20 count_is 2 sink_count hook
sleep 1
assert_eq 2 "$(sink_count hook)" "deliveries after the failed batch"
assert_eq "/fail error failure True" \
	"$(sink_json hook 2 "' '.join([j['path'], json.loads(j['body'])['status'], j['headers']['X-Zload-Event'], str(j['signature_ok'])])")" \
	"the failure notification"
assert_eq "target wh: no such table: missing" "$(sink_json hook 2 "json.loads(j['body'])['error']")" "its error"
assert_eq "Lambda Vertica Batch Load $(batch_ids --status error) Failure" "$(notices "j[0]['subject']")" "its subject"
assert_not_contains "$(cat "$WS"/hook/*.json "$WS/serve.log")" "$SECRET" "the secret is never sent or logged"
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 15
assert_eq 0 "$RC" "serve exits 0 on SIGTERM"
