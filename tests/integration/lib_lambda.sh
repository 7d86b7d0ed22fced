# shellcheck shell=bash
# Helpers for the zload lambda scenarios (source after lib.sh): the Runtime API stand-in
# (tests/lambda/runtime_api.py) and invocations through its control routes.

RUNTIME_API_PY=$REPO/tests/lambda/runtime_api.py

# api_start NAME: starts a Runtime API server logging to $WS/NAME.log; its port in $API_PORT.
api_start() {
	rm -f "$WS/$1.port"
	start_bg "$1" "$PYTHON" "$RUNTIME_API_PY" --port-file "$WS/$1.port"
	wait_for 10 test -s "$WS/$1.port"
	API_PORT=$(<"$WS/$1.port")
}

# lambda_start NAME PORT: runs `zload lambda` against the server on PORT, logging to $WS/NAME.log,
# and waits until it is ready. Sets LAMBDA_PID.
lambda_start() {
	AWS_LAMBDA_RUNTIME_API=127.0.0.1:$2 start_bg "$1" "$ZLOAD" lambda
	LAMBDA_PID=$BG_PID
	wait_for 10 grep -qF '"msg":"lambda: runtime ready"' "$WS/$1.log"
}

# api PORT METHOD PATH [BODY]: one request to a control route; prints the body.
api() {
	if (($# > 3)); then
		curl -sf -X "$2" --data-binary "$4" "http://127.0.0.1:$1$3"
	else
		curl -sf -X "$2" "http://127.0.0.1:$1$3"
	fi
}

# invoke PORT EVENT_JSON [TIMEOUT_MS]: queues an invocation; prints its id.
invoke() {
	api "$1" POST /test/invoke "{\"event\": $2, \"timeoutMs\": ${3:-30000}}" | jq -r .id
}

# invoke_raw PORT TEXT [TIMEOUT_MS]: queues an invocation whose body is TEXT as it is.
invoke_raw() {
	local body
	body=$(jq -cn --arg raw "$2" --argjson t "${3:-30000}" '{raw: $raw, timeoutMs: $t}')
	api "$1" POST /test/invoke "$body" | jq -r .id
}

# result PORT ID [WAIT_SECS]: how the invocation was answered (JSON), waiting for it.
result() { api "$1" GET "/test/result/$2?wait=${3:-60}"; }

# call PORT EVENT_JSON [TIMEOUT_MS]: invoke and wait; the answer in $RES.
call() {
	local id
	id=$(invoke "$@") || fail "invoke failed"
	RES=$(result "$1" "$id")
}

# no_violations PORT: the server recorded no deviation.
no_violations() { assert_eq "[]" "$(api "$1" GET /test/violations)" "Runtime API violations on port $1"; }

# s3_event_json BUCKET KEY...: s3_event on one line.
s3_event_json() { s3_event "$@" | jq -c .; }

# sqs_batch JSON_BODY...: a Lambda SQS batch event, one message per body (ids m1, m2, ...).
sqs_batch() {
	local i=0 b recs='[]'
	for b; do
		i=$((i + 1))
		recs=$(jq -c --arg id "m$i" --arg body "$b" '. + [{messageId: $id, receiptHandle: ("r" + $id), body: $body,
			eventSource: "aws:sqs", eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:q", awsRegion: "us-east-1"}]' <<<"$recs")
	done
	jq -cn --argjson r "$recs" '{Records: $r}'
}

# sns_wrap JSON: a Lambda SNS event whose one record's Message is JSON.
sns_wrap() {
	jq -cn --arg m "$1" '{Records: [{EventSource: "aws:sns", EventVersion: "1.0",
		Sns: {Type: "Notification", MessageId: "n1", TopicArn: "arn:aws:sns:us-east-1:123456789012:t", Message: $m}}]}'
}

SCHEDULED_EVENT='{"version":"0","id":"e1","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-12-02T00:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/zload-sweep"],"detail":{}}'
