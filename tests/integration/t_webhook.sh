#!/usr/bin/env bash
# zload serve --webhook: POST /events with S3, SNS-envelope and EventBridge bodies answers 200 with
# counts and the files load (a repeated body is a duplicate); GET /healthz; malformed JSON 400; a
# body one byte over --webhook-max-body 413 (exactly at it: accepted); other paths 404; GET
# /events 405; with a bearer token (option or ZLOAD_WEBHOOK_TOKEN) a missing or wrong token is 401
# and claims nothing; an empty token is refused as an option and means none from the environment;
# a body whose claim cannot be recorded (state database made immutable) is 503, and the same body
# sent again once the state store is back is 200; SIGTERM exits 0. Usage errors: a zero
# --webhook-max-body, --webhook-token without --webhook.
. "$(dirname "$0")/lib.sh"

. "$IT_DIR/lib_webhook.sh"

make_table t "id INTEGER, v TEXT"
put_config in <<'EOF'
{"s3Prefix": "b/in", "batchSize": 1, "format": {"type": "csv", "header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF
ids() { sql "$WH" "SELECT coalesce(group_concat(id), '') FROM (SELECT id FROM t ORDER BY id)"; }

# Usage errors: a zero body cap (it would mean the buffer's 64 MiB default), a token without --webhook.
assert_exit 2 zload serve --no-watch --webhook 127.0.0.1:1 --webhook-max-body 0
assert_contains "$ERR" '--webhook-max-body: must be at least 1' "a zero --webhook-max-body"
assert_exit 2 zload serve --no-watch --webhook-token t
assert_contains "$ERR" "--webhook-token needs --webhook" "a token without --webhook"
assert_exit 2 zload serve --no-watch --webhook 127.0.0.1:1 --webhook-token ''
assert_contains "$ERR" "--webhook-token: empty token" "an empty --webhook-token"
# ZLOAD_WEBHOOK_TOKEN in the environment of a serve without --webhook is not an error.
ZLOAD_WEBHOOK_TOKEN=t assert_exit 0 zload serve --no-watch --exit-when-idle 0

# ---- no token
start_hook hook1 --no-watch --webhook-max-body 4096
assert_contains "$(<"$WS/hook1.log")" "msg=\"webhook listening\" listen=127.0.0.1:$PORT port=$PORT auth=none" "listening"
http GET /healthz
assert_eq "200 {\"status\":\"ok\"}" "$CODE $BODY" "GET /healthz"

csv_rows b/in/a.csv 2 1
csv_rows b/in/b.csv 2 3
s3_event b in/a.csv in/b.csv >"$WS/ab.json"
post "$WS/ab.json"
assert_eq "200 $(counts 2 2 0)" "$CODE $BODY" "POST /events with two records"
wait_for 20 count_is 2 batch_count --status complete
assert_eq "1,2,3,4" "$(ids)" "rows after the first POST"
# The sender retries the same body: duplicates, nothing loads twice.
post "$WS/ab.json"
assert_eq "200 $(counts 2 0 2)" "$CODE $BODY" "the same body again"
assert_eq 2 "$(batch_count)" "batches after the repeated body"
assert_eq "1,2,3,4" "$(ids)" "rows after the repeated body"

# Malformed JSON: 400 with the parser's message; nothing recorded.
printf '{"Records": [{"s3": ' >"$WS/bad.json"
post "$WS/bad.json"
assert_eq 400 "$CODE" "status of malformed JSON"
assert_contains "$BODY" '{"error":"event: invalid JSON at line 1' "body of the 400"
printf '[1, 2]' >"$WS/notevent.json"
post "$WS/notevent.json"
assert_eq "400 {\"error\":\"event: expected a JSON object\"}" "$CODE $BODY" "JSON that is not an event"

# --webhook-max-body 4096: a valid event padded to exactly 4096 bytes is taken; 4097 bytes is 413.
csv_rows b/in/max.csv 1 10
csv_rows b/in/over.csv 1 11
pad() { # pad BUCKET KEY BYTES OUT: an S3 event padded with spaces to BYTES
	local body
	body=$(s3_event "$1" "$2" | tr -d '\n')
	printf '%s%*s' "$body" $(($3 - ${#body})) '' >"$4"
	assert_eq "$3" "$(stat -c %s "$4")" "size of the padded body $4"
}
pad b in/over.csv 4097 "$WS/over.json"
post "$WS/over.json"
assert_eq "413 {\"error\":\"body larger than 4096 bytes\"}" "$CODE $BODY" "a body over --webhook-max-body"
assert_exit 1 zload files show b/in/over.csv
pad b in/max.csv 4096 "$WS/max.json"
post "$WS/max.json"
assert_eq "200 $(counts 1 1 0)" "$CODE $BODY" "a body of exactly --webhook-max-body"
wait_for 20 count_is "1,2,3,4,10" ids

# Wrong path, wrong method.
http POST /nope -H 'Content-Type: application/json' --data-binary "@$WS/ab.json"
assert_eq 404 "$CODE" "POST /nope"
assert_contains "$BODY" '"error":"not found' "body of the 404"
http GET /events
assert_eq 405 "$CODE" "GET /events"
assert_contains "$BODY" '"error":"method not allowed' "body of the 405"

# SNS envelope and EventBridge "Object Created" bodies (and an s3:TestEvent, ignored).
csv_rows b/in/sns.csv 2 20
csv_rows "b/in/eb x.csv" 2 30
s3_event b in/sns.csv >"$WS/sns-inner.json"
"$PYTHON" -c '
import json, sys
inner = open(sys.argv[1]).read()
json.dump({"Type": "Notification", "MessageId": "6d2ab3e1-0000-4000-8000-000000000001",
           "TopicArn": "arn:aws:sns:us-east-1:123456789012:loads", "Subject": "Amazon S3 Notification",
           "Message": inner, "Timestamp": "2026-11-25T21:43:38.000Z", "SignatureVersion": "1"},
          open(sys.argv[2], "w"))
json.dump({"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
           "source": "aws.s3", "account": "123456789012", "time": "2026-11-25T21:43:38Z", "region": "us-east-1",
           "resources": ["arn:aws:s3:::b"],
           "detail": {"version": "0", "bucket": {"name": "b"},
                      "object": {"key": "in/eb x.csv", "size": int(sys.argv[4]), "etag": "b1946ac92492d2347c6235b4d2611184"},
                      "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012", "reason": "PutObject"}},
          open(sys.argv[3], "w"))
' "$WS/sns-inner.json" "$WS/sns.json" "$WS/eb.json" "$(stat -c %s "$STORE/b/in/eb x.csv")" || fail "cannot write the bodies"
post "$WS/sns.json"
assert_eq "200 $(counts 1 1 0)" "$CODE $BODY" "SNS envelope"
post "$WS/eb.json"
assert_eq "200 $(counts 1 1 0)" "$CODE $BODY" "EventBridge event"
printf '{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-25T21:43:38.000Z","Bucket":"b"}' >"$WS/test.json"
post "$WS/test.json"
assert_eq "200 $(counts 0 0 0)" "$CODE $BODY" "s3:TestEvent"
wait_for 20 count_is "1,2,3,4,10,20,21,30,31" ids
assert_eq 0 "$(batch_count --status error)" "batches in error"
assert_eq 5 "$(batch_count --status complete)" "complete batches"

stop_hook
assert_contains "$(<"$WS/hook1.log")" 'msg="signal received: finishing in-flight batches"' "signal logged"

# ---- --webhook-token: no or wrong Authorization is 401 and claims nothing; the right one loads.
start_hook hook2 --no-watch --webhook-token 's3cr3t tok'
assert_contains "$(<"$WS/hook2.log")" "auth=bearer" "listening with a token"
csv_rows b/in/tok.csv 1 40
s3_event b in/tok.csv >"$WS/tok.json"
post "$WS/tok.json"
assert_eq 401 "$CODE" "no Authorization"
assert_contains "$BODY" '"error":"missing or wrong bearer token"' "body of the 401"
for auth in 'Bearer wrong' 'Bearer s3cr3t' 'Bearer s3cr3t tokx' 's3cr3t tok' 'Basic czNjcjN0IHRvaw=='; do
	post "$WS/tok.json" -H "Authorization: $auth"
	assert_eq 401 "$CODE" "Authorization: $auth"
done
assert_exit 1 zload files show b/in/tok.csv
http GET /healthz
assert_eq 200 "$CODE" "GET /healthz needs no token"
post "$WS/tok.json" -H 'Authorization: Bearer s3cr3t tok'
assert_eq "200 $(counts 1 1 0)" "$CODE $BODY" "the right token"
wait_for 20 count_is "1,2,3,4,10,20,21,30,31,40" ids
stop_hook

# ---- the token from ZLOAD_WEBHOOK_TOKEN
ZLOAD_WEBHOOK_TOKEN=from-env start_hook hook3 --no-watch
assert_contains "$(<"$WS/hook3.log")" "auth=bearer" "listening with a token from the environment"
csv_rows b/in/env.csv 1 50
s3_event b in/env.csv >"$WS/env.json"
post "$WS/env.json"
assert_eq 401 "$CODE" "no Authorization (token from the environment)"
post "$WS/env.json" -H 'Authorization: Bearer wrong'
assert_eq 401 "$CODE" "wrong token (token from the environment)"
post "$WS/env.json" -H 'Authorization: Bearer from-env'
assert_eq "200 $(counts 1 1 0)" "$CODE $BODY" "the token from the environment"
wait_for 20 count_is "1,2,3,4,10,20,21,30,31,40,50" ids

# An empty ZLOAD_WEBHOOK_TOKEN is no token, and the log says so.
stop_hook
ZLOAD_WEBHOOK_TOKEN='' start_hook hook4 --no-watch
assert_contains "$(<"$WS/hook4.log")" "port=$PORT auth=none" "listening with an empty ZLOAD_WEBHOOK_TOKEN"
post "$WS/test.json"
assert_eq "200 $(counts 0 0 0)" "$CODE $BODY" "no Authorization needed with an empty ZLOAD_WEBHOOK_TOKEN"
stop_hook
ZLOAD_WEBHOOK_TOKEN=from-env start_hook hook3b --no-watch
assert_contains "$(<"$WS/hook3b.log")" "port=$PORT auth=bearer" "listening with the token from the environment again"

# ---- the state store fails: the claim cannot be recorded, 503; the sender's retry succeeds once
# it is back. Root ignores file modes, so the database and its WAL are made immutable (chattr +i);
# where that is not allowed, a held write lock makes the claim fail after the busy timeout (10 s).
csv_rows b/in/down.csv 1 60
s3_event b in/down.csv >"$WS/down.json"
freeze_state "$WS/state.db"
post "$WS/down.json" -H 'Authorization: Bearer from-env'
thaw_state
assert_eq "503 $(counts 1 0 0 0 0 1)" "$CODE $BODY" "a claim that cannot be recorded (state database $FROZEN_HOW)"
assert_contains "$(<"$WS/hook3b.log")" 'msg="cannot queue object" bucket=b key=in/down.csv' "the failed claim is logged"
assert_exit 1 zload files show b/in/down.csv
post "$WS/down.json" -H 'Authorization: Bearer from-env'
assert_eq "200 $(counts 1 1 0)" "$CODE $BODY" "the retry once the state store is back"
wait_for 20 count_is "1,2,3,4,10,20,21,30,31,40,50,60" ids
http GET /healthz
assert_eq 200 "$CODE" "healthz after the failure"
stop_hook
assert_eq 0 "$(batch_count --status error)" "batches in error at the end"
assert_eq 0 "$(sql "$WH" 'SELECT count(*) - count(DISTINCT id) FROM t')" "no row twice"
