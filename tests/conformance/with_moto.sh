#!/usr/bin/env bash
# Runs a command with a throwaway moto_server (DynamoDB, S3, SQS, KMS, SNS) on a free loopback
# port and ZLOAD_TEST_DYNAMO set to a dynamodb:// URL for it: tests/conformance/with_moto.sh CMD ARGS...
# moto runs through tests/integration/moto_fast.py, whose DynamoDB requests are serialized as
# DynamoDB's are (moto's own transactions race with concurrent requests).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
moto=$(pyenv which moto_server 2>/dev/null || command -v moto_server) || { echo "moto_server is not installed (scripts/deps.sh)" >&2; exit 1; }
py=$(sed -n '1s/^#! *//p' "$moto") # the Python that runs moto_server
[[ -x ${py%% *} ]] || py=python3
log=$(mktemp /tmp/zl_moto_suite.XXXXXX)
pid=
stop() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -f "$log"; }
trap stop EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
for try in 1 2 3; do
	port=$(free_port)
	"$py" "$repo/tests/integration/moto_fast.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break 2
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	pid=
	[[ $try == 3 ]] && { cat "$log" >&2; exit 1; }
done
for v in $(compgen -e); do [[ $v == AWS_* ]] && unset "$v"; done
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
export ZLOAD_TEST_DYNAMO="dynamodb://us-east-1?endpoint=http://127.0.0.1:$port"
"$@"
