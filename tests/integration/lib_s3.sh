# shellcheck shell=bash
# Helpers for scenarios against moto_server (S3 + SQS), sourced after lib.sh (or lib_pg.sh).
#
# Defines AWS (the aws CLI) and MOTO (moto_server), clears the caller's AWS_* environment (keys
# test/test, region us-east-1 from here on), and:
#   port_open PORT, store_url PORT
#   moto_start [fast]: starts moto_server on a free port ($MOTO_PORT, pid $MOTO_PID), logging to
#     $WS/moto.log; killed on exit. With "fast", through moto_fast.py: SQS's clock made cheap
#     and its delete/add race fixed, for scenarios with thousands of messages and several
#     consumers (see that file)
#   awsc ARGS...: the aws CLI against that moto (about a second a call: the polling helpers below
#     speak SQS's JSON protocol with curl instead)
#   sqs_call ACTION JSON: one SQS call (signed by curl); prints the reply, fails unless HTTP 2xx
#   sqs_create NAME [VISIBILITY_SECS]: prints the queue URL
#   sqs_arn URL, sqs_depth URL (prints "VISIBLE NOT_VISIBLE"), sqs_total URL (their sum)
#   s3_notify BUCKET QUEUE_ARN...: ObjectCreated:* notifications of BUCKET to every queue given

AWS=$(pyenv which aws 2>/dev/null || command -v aws) || fail "the aws CLI is not installed"
MOTO=$(pyenv which moto_server 2>/dev/null || command -v moto_server) || fail "moto_server is not installed"

# Nothing from the caller's AWS setup leaks in.
for _v in $(compgen -e); do
	[[ $_v == AWS_* ]] && unset "$_v"
done
unset _v
export HOME=$WS/home AWS_EC2_METADATA_DISABLED=true
mkdir -p "$HOME"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
MOTO_PORT=

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
store_url() { printf 's3://?endpoint=http://127.0.0.1:%s&region=us-east-1&path_style=1' "$1"; }

moto_start() {
	MOTO_PORT=$(free_port)
	if [[ ${1:-} == fast ]]; then
		local py
		py=$(sed -n '1s/^#! *//p' "$MOTO") # the Python that runs moto_server
		[[ -x ${py%% *} ]] || py=python3
		start_bg moto $py "$IT_DIR/moto_fast.py" -H 127.0.0.1 -p "$MOTO_PORT"
	else
		start_bg moto "$MOTO" -H 127.0.0.1 -p "$MOTO_PORT"
	fi
	# shellcheck disable=SC2034 # for the scenarios
	MOTO_PID=$BG_PID
	wait_for 30 port_open "$MOTO_PORT"
}

awsc() { "$AWS" --endpoint-url "http://127.0.0.1:$MOTO_PORT" "$@"; }

sqs_call() {
	local out
	out=$(curl -sS --fail-with-body --max-time 30 --aws-sigv4 aws:amz:us-east-1:sqs --user test:test \
		-H "X-Amz-Target: AmazonSQS.$1" -H 'Content-Type: application/x-amz-json-1.0' \
		--data-binary "$2" "http://127.0.0.1:$MOTO_PORT/") || fail "sqs $1 $2: $out"
	printf '%s\n' "$out"
}

# sqs_get EXPR ACTION JSON: a python expression over the reply (j).
sqs_get() {
	local expr=$1 out
	shift
	out=$(sqs_call "$@") || return 1
	"$PYTHON" -c 'import json, sys; j = json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$expr" <<<"$out"
}

sqs_create() {
	sqs_get "j['QueueUrl']" CreateQueue "{\"QueueName\":\"$1\",\"Attributes\":{\"VisibilityTimeout\":\"${2:-30}\"}}"
}

sqs_arn() {
	sqs_get "j['Attributes']['QueueArn']" GetQueueAttributes "{\"QueueUrl\":\"$1\",\"AttributeNames\":[\"QueueArn\"]}"
}

sqs_depth() {
	sqs_get "j['Attributes']['ApproximateNumberOfMessages'] + ' ' + j['Attributes']['ApproximateNumberOfMessagesNotVisible']" \
		GetQueueAttributes "{\"QueueUrl\":\"$1\",\"AttributeNames\":[\"ApproximateNumberOfMessages\",\"ApproximateNumberOfMessagesNotVisible\"]}"
}

sqs_total() {
	local d
	d=$(sqs_depth "$1") || return 1
	echo $((${d% *} + ${d#* }))
}

s3_notify() {
	local bucket=$1 arn conf='' sep=''
	shift
	for arn; do
		conf+="$sep{\"QueueArn\":\"$arn\",\"Events\":[\"s3:ObjectCreated:*\"]}"
		sep=,
	done
	awsc s3api put-bucket-notification-configuration --bucket "$bucket" \
		--notification-configuration "{\"QueueConfigurations\":[$conf]}" || fail "cannot configure notifications of $bucket"
}
