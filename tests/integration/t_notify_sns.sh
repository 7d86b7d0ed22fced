#!/usr/bin/env bash
# SNS notifications against moto: successTopicARN and failureTopicARN (the original's fields),
# each topic with an SQS subscription. `zload event` loads a batch and publishes before it exits:
# the queue of the success topic receives the SNS envelope whose Subject is the original's
# ("Lambda Vertica Batch Load <id> OK") and whose Message holds the original's fields and
# zload's; a failed batch publishes to the failure topic only, with the error.
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib_s3.sh"
. "$IT_DIR/lib_notify.sh"

moto_start
export AWS_ENDPOINT_URL_SNS=http://127.0.0.1:$MOTO_PORT
OK_ARN=$(awsc sns create-topic --name loads-ok --query TopicArn --output text) || fail "create-topic"
FAIL_ARN=$(awsc sns create-topic --name loads-fail --query TopicArn --output text) || fail "create-topic"
assert_eq "arn:aws:sns:us-east-1:123456789012:loads-ok" "$OK_ARN" "topic ARN"
OKQ=$(sqs_create ok-sub) || fail "create queue"
FAILQ=$(sqs_create fail-sub) || fail "create queue"
awsc sns subscribe --topic-arn "$OK_ARN" --protocol sqs --notification-endpoint "$(sqs_arn "$OKQ")" >/dev/null || fail "subscribe"
awsc sns subscribe --topic-arn "$FAIL_ARN" --protocol sqs --notification-endpoint "$(sqs_arn "$FAILQ")" >/dev/null || fail "subscribe"

make_table t "id INTEGER, v TEXT"
for p in in bad; do
	table=t
	[[ $p == bad ]] && table=missing
	put_config "$p" <<EOF2
{"s3Prefix": "b/$p", "batchSize": 2, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "$table",
              "preLoadStatement": "DELETE FROM t WHERE id < 0"}],
 "successTopicARN": "$OK_ARN", "failureTopicARN": "$FAIL_ARN"}
EOF2
	assert_eq "" "$ERR" "no warning about the topics"
done

# receive QUEUE: the one message of the queue (its body), deleted.
receive() {
	sqs_call ReceiveMessage "{\"QueueUrl\":\"$1\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":2}" >"$WS/recv.json"
	"$PYTHON" - "$WS/recv.json" <<'PYEOF' || fail "expected one message in $1: $(<"$WS/recv.json")"
import json, sys
msgs = json.load(open(sys.argv[1])).get("Messages", [])
assert len(msgs) == 1, msgs
print(msgs[0]["Body"])
PYEOF
	sqs_call DeleteMessage "{\"QueueUrl\":\"$1\",\"ReceiptHandle\":\"$(json "j['Messages'][0]['ReceiptHandle']" cat "$WS/recv.json")\"}" >/dev/null
}

csv_rows b/in/a.csv 2
csv_rows b/in/b.csv 1 3
event_ok b in/a.csv in/b.csv
batch=$(batch_ids --prefix b/in)
assert_contains "$OUT" "loaded batch=$batch status=complete rows=3" "the batch loaded"
assert_eq "sent 1 sns:$OK_ARN" "$(notices "' '.join([j[0]['status'], str(j[0]['attempts']), j[0]['destination']])")" \
	"published before event exited"
receive "$OKQ" >"$WS/envelope.json"
assert_eq "Notification $OK_ARN" "$(json "j['Type'] + ' ' + j['TopicArn']" cat "$WS/envelope.json")" "the SNS envelope"
assert_eq "Lambda Vertica Batch Load $batch OK" "$(json "j['Subject']" cat "$WS/envelope.json")" "the original's subject"
json "j['Message']" cat "$WS/envelope.json" >"$WS/message.json"
assert_eq "None ok $batch b/in" "$(json "' '.join(map(str, [j['error'], j['status'], j['batchId'], j['s3Prefix']]))" cat "$WS/message.json")" \
	"the original's fields"
assert_eq "Success: DELETE FROM t WHERE id < 0|Success: load b/in/a.csv
load b/in/b.csv|" "$(json "'|'.join(j['loadStatements']['wh'][k] for k in ['preLoadStmt', 'loadStmt', 'postLoadStmt'])" cat "$WS/message.json")" \
	"loadStatements, as the original's clusterLoadStatements"
assert_eq "b/in/a.csv,b/in/b.csv wh:sqlite:complete:3 1" \
	"$(json "' '.join([','.join(f['bucket'] + '/' + f['key'] for f in j['files']), ','.join('%s:%s:%s:%s' % (t['name'], t['type'], t['status'], t['rows']) for t in j['targets']), str(j['attempts'])])" cat "$WS/message.json")" \
	"zload's fields"
"$PYTHON" - "$WS/message.json" "$batch" <<'PYEOF' || fail "times in the message: $(<"$WS/message.json")"
import datetime, json, sys
m = json.load(open(sys.argv[1]))
parse = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
assert parse(m["createdAt"]) <= parse(m["finishedAt"]), m
assert 0 <= m["durationMs"] < 60000, m
PYEOF
assert_eq "0 0" "$(sqs_depth "$FAILQ")" "nothing on the failure topic"

# A failed batch: the failure topic, with the error.
csv_rows b/bad/x.csv 1
csv_rows b/bad/y.csv 1
event b bad/x.csv bad/y.csv
assert_eq 1 "$RC" "exit code of a failed load"
bad=$(batch_ids --prefix b/bad)
receive "$FAILQ" >"$WS/envelope2.json"
assert_eq "Lambda Vertica Batch Load $bad Failure" "$(json "j['Subject']" cat "$WS/envelope2.json")" "failure subject"
assert_eq "error target wh: no such table: missing" \
	"$(json "(lambda m: m['status'] + ' ' + m['error'])(json.loads(j['Message']))" cat "$WS/envelope2.json")" "failure message"
assert_eq "Success: DELETE FROM t WHERE id < 0|Failed: load b/bad/x.csv|" \
	"$(json "'|'.join(json.loads(j['Message'])['loadStatements']['wh'][k] for k in ['preLoadStmt', 'loadStmt', 'postLoadStmt'])" cat "$WS/envelope2.json")" \
	"the step that failed"
assert_eq "0 0" "$(sqs_depth "$OKQ")" "nothing more on the success topic"

# An unknown topic: the publish fails (moto: NotFound), is retried in the outbox, never blocks.
put_config gone <<EOF2
{"s3Prefix": "b/gone", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}],
 "successTopicARN": "arn:aws:sns:us-east-1:123456789012:no-such-topic"}
EOF2
csv_rows b/gone/z.csv 1 100
event_ok b gone/z.csv
assert_eq pending "$(notices "j[0]['status']")" "a publish that failed stays pending"
assert_contains "$(notices "j[0]['lastError']")" "sns Publish: HTTP 404" "the error SNS gave"
assert_eq 4 "$(rows t)" "rows"
