#!/usr/bin/env bash
# zload lambda against the Runtime API stand-in, one warm process for every invocation: an S3
# event loads, the same again is a duplicate, an SQS batch (a frozen state lists its good messages
# as batchItemFailures, a malformed one is not), an SNS-wrapped event, an EventBridge "Object Created" event, a Scheduled Event flushes a
# batch by age, a malformed event is an InvalidEvent error and the next still works, and a short
# deadline defers the load to a later invocation, an S3 event that cannot be recorded is a
# RecordsNotRecorded error (the retry loads it), and a notification delivered in the invocation
# sees its trace id in _X_AMZN_TRACE_ID. The server records no violation.
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib_lambda.sh"

make_table t "id INTEGER, v TEXT"
make_table a "id INTEGER, v TEXT"
put_config t <<'EOF2'
{"s3Prefix": "b/t", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
put_config a <<'EOF2'
{"s3Prefix": "b/age", "batchSize": 100, "batchTimeoutSecs": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "a"}]}
EOF2
make_table n "id INTEGER, v TEXT"
cat >"$WS/notified.sh" <<'EOF2'
#!/bin/sh
printf '%s\n' "$_X_AMZN_TRACE_ID" >>"$(dirname "$0")/traces"
EOF2
chmod +x "$WS/notified.sh"
put_config n <<'EOF2'
{"s3Prefix": "b/n", "batchSize": 1, "format": {"header": true}, "notify": {"success": ["exec:@WS@/notified.sh"]},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "n"}]}
EOF2
csv_rows b/n/x.csv 2
csv_rows b/t/f7.csv 10 700
for i in 1 2 3 4 5 6; do csv_rows b/t/f$i.csv 10 $((i * 100)); done
csv_rows b/age/x.csv 7

api_start api
export ZLOAD_LAMBDA_MARGIN_MS=3000
lambda_start lambda "$API_PORT"
P=$API_PORT

# An S3 event loads; the same event again is a duplicate.
ev=$(s3_event_json b t/f1.csv)
call $P "$ev"
assert_eq "response 1 1 1 0" "$(jq -r '[.status, .body.records, .body.queued, .body.loads, .body.deferred] | join(" ")' <<<"$RES")" "S3 event: $RES"
assert_eq 10 "$(rows t)" "rows after the S3 event"
call $P "$ev"
assert_eq "response 1 0 1 0" "$(jq -r '[.status, .body.records, .body.queued, .body.duplicate, .body.loads] | join(" ")' <<<"$RES")" "duplicate: $RES"
assert_eq 10 "$(rows t)" "rows after the duplicate"
assert_eq false "$(jq -r .late <<<"$RES")" "answered in time"

# Each invocation logged what it changed as CloudWatch Embedded Metric Format lines: the first
# loaded 10 rows, the second was a duplicate and loaded nothing.
emf() { grep '^{"_aws"' "$WS/lambda.log"; }
emf_sum() { emf | jq -s "[.[] | select($1) | .$2] | add // 0"; }
assert_eq 10 "$(emf_sum '.prefix == "b/t" and .target == "wh"' zload_rows_loaded_total)" "EMF: rows loaded"
assert_eq 1 "$(emf_sum '.intake == "lambda" and .outcome == "queued"' zload_events_total)" "EMF: one queued"
assert_eq 1 "$(emf_sum '.intake == "lambda" and .outcome == "duplicate"' zload_events_total)" "EMF: one duplicate"
assert_eq 1 "$(emf_sum '.prefix == "b/t" and .status == "complete"' zload_batches_finished_total)" "EMF: one batch"
assert_eq "zload|prefix,target|zload_rows_loaded_total|Count" "$(emf | jq -r 'select(.zload_rows_loaded_total) | ._aws.CloudWatchMetrics[0] | [.Namespace, (.Dimensions[0] | join(",")), .Metrics[0].Name, .Metrics[0].Unit] | join("|")')" "EMF: the metric's declaration"
assert_eq 1 "$(emf | jq -s '[.[] | select(.target == "wh" and .zload_batch_load_seconds) | .zload_batch_load_seconds | length] | add')" "EMF: one load timed"
assert_eq 2 "$(emf | jq -s '[.[] | select(.zload_events_total)] | length')" "EMF: a counter line only when it changed"
log_has "$WS/lambda.log" '"msg":"lambda: answered"' || fail "no JSON log line for the answer"
grep -qE '"msg":"lambda: invocation","request":"[0-9a-f-]{36}","trace":"Root=1-' "$WS/lambda.log" || fail "no request and trace id in the log"

# An SQS batch while the state cannot be written: both good messages are batch item failures,
# the malformed one is not (it would never succeed). Then again with the state back: none.
batch=$(sqs_batch "$(s3_event_json b t/f2.csv)" "not json" "$(s3_event_json b t/f3.csv)")
freeze_state "$WS/state.db"
call $P "$batch"
thaw_state
assert_eq '{"batchItemFailures":[{"itemIdentifier":"m1"},{"itemIdentifier":"m3"}]}' "$(jq -c .body <<<"$RES")" "SQS batch, frozen state: $RES"
assert_eq 10 "$(rows t)" "rows after the failed SQS batch"
call $P "$batch"
assert_eq '{"batchItemFailures":[]}' "$(jq -c .body <<<"$RES")" "SQS batch: $RES"
assert_eq 30 "$(rows t)" "rows after the SQS batch"
log_has "$WS/lambda.log" '"msg":"lambda: SQS message cannot be parsed, dropped"' || fail "malformed SQS message not logged"

# An SNS-wrapped S3 event.
call $P "$(sns_wrap "$(s3_event_json b t/f4.csv)")"
assert_eq "response 1 1" "$(jq -r '[.status, .body.queued, .body.loads] | join(" ")' <<<"$RES")" "SNS event: $RES"
assert_eq 40 "$(rows t)" "rows after the SNS event"

# An EventBridge "Object Created" event.
csv_rows b/t/eb.csv 4 900
eb=$(jq -cn --argjson size "$(stat -c %s "$STORE/b/t/eb.csv")" '{version: "0", id: "e2", "detail-type": "Object Created",
	source: "aws.s3", account: "123456789012", region: "us-east-1", resources: ["arn:aws:s3:::b"],
	detail: {bucket: {name: "b"}, object: {key: "t/eb.csv", size: $size}, reason: "PutObject"}}')
call $P "$eb"
assert_eq "response 1 1" "$(jq -r '[.status, .body.queued, .body.loads] | join(" ")' <<<"$RES")" "EventBridge event: $RES"
assert_eq 44 "$(rows t)" "rows after the EventBridge event"

# A quiet prefix: its batch is queued, not due; a Scheduled Event after batchTimeoutSecs loads it.
call $P "$(s3_event_json b age/x.csv)"
assert_eq "1 0" "$(jq -r '[.body.queued, .body.loads] | join(" ")' <<<"$RES")" "age event: $RES"
assert_eq 0 "$(rows a)" "rows before the sweep"
sleep 1.2
call $P "$SCHEDULED_EVENT"
assert_eq "response true 1" "$(jq -r '[.status, .body.swept, .body.loads] | join(" ")' <<<"$RES")" "scheduled: $RES"
assert_eq 7 "$(rows a)" "rows after the scheduled sweep"

# A malformed event is an error; the process goes on.
id=$(invoke_raw $P '{"Records": [')
RES=$(result $P "$id")
assert_eq "error InvalidEvent" "$(jq -r '[.status, .errorType] | join(" ")' <<<"$RES")" "malformed: $RES"
assert_contains "$(jq -r .errorMessage <<<"$RES")" "not JSON" "malformed message"
call $P '{"hello": "world"}'
assert_eq "error InvalidEvent" "$(jq -r '[.status, .errorType] | join(" ")' <<<"$RES")" "not an event: $RES"
call $P "$(s3_event_json b t/f5.csv)"
assert_eq "response 1" "$(jq -r '[.status, .body.loads] | join(" ")' <<<"$RES")" "after the malformed ones: $RES"
assert_eq 54 "$(rows t)" "rows after the malformed ones"

# Less time than the margin left: the batch is recorded and released, the answer comes at once,
# and the next invocation loads it, once.
call $P "$(s3_event_json b t/f6.csv)" 2000
assert_eq "response 1 0 1 false" "$(jq -r '[.status, .body.queued, .body.loads, .body.deferred, .late] | join(" ")' <<<"$RES")" "short deadline: $RES"
assert_eq 54 "$(rows t)" "rows after the short invocation"
id=$(batch_ids --prefix b/t --status open | head -n 1)
[[ -n $id ]] || fail "the deferred batch is not open"
call $P "$SCHEDULED_EVENT"
assert_eq 1 "$(jq -r .body.loads <<<"$RES")" "the sweep after the short one: $RES"
assert_eq 64 "$(rows t)" "rows after the deferred batch loaded"
call $P "$SCHEDULED_EVENT"
assert_eq 0 "$(jq -r .body.loads <<<"$RES")" "nothing more to load: $RES"
assert_eq 64 "$(rows t)" "rows once"

# An S3 event whose record cannot be recorded (the state frozen) is an error, so that Lambda
# invokes it again; the retry loads it.
ev=$(s3_event_json b t/f7.csv)
freeze_state "$WS/state.db"
call $P "$ev"
thaw_state
assert_eq "error RecordsNotRecorded" "$(jq -r '[.status, .errorType] | join(" ")' <<<"$RES")" "frozen state: $RES"
assert_contains "$(jq -r .errorMessage <<<"$RES")" "1 record(s) not recorded" "frozen state message"
call $P "$ev"
assert_eq "response 1 1" "$(jq -r '[.status, .body.queued, .body.loads] | join(" ")' <<<"$RES")" "the retry: $RES"
assert_eq 74 "$(rows t)" "rows after the retry"

# A success notification is delivered within the invocation, with the invocation's trace id in
# the program's environment (_X_AMZN_TRACE_ID).
id=$(invoke $P "$(s3_event_json b n/x.csv)")
RES=$(result $P "$id")
assert_eq "response 1 1" "$(jq -r '[.status, .body.loads, .body.notified] | join(" ")' <<<"$RES")" "notified: $RES"
assert_eq 2 "$(rows n)" "rows of b/n"
assert_contains "$(cat "$WS/traces")" "Root=1-${id:0:8};Parent=" "trace id seen by the notification"

kill -0 "$LAMBDA_PID" || fail "zload lambda exited"
assert_eq 1 "$(grep -c '"msg":"lambda: runtime ready"' "$WS/lambda.log")" "one warm process"
no_violations $P
