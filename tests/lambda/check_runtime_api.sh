#!/usr/bin/env bash
# Checks runtime_api.py on its own with curl: a good exchange, then each deviation it must refuse.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
d=$(mktemp -d)
python3 "$here/runtime_api.py" --port-file "$d/port" & pid=$!
trap 'kill $pid; rm -rf "$d"' EXIT
for _ in $(seq 50); do [[ -s $d/port ]] && break; sleep 0.1; done
api=http://127.0.0.1:$(<"$d/port")
R=$api/2018-06-01/runtime
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
expect() { [[ $1 == "$2" ]] || { echo "FAIL: $3: got $1, want $2" >&2; exit 1; }; }

id=$(curl -s -d '{"event":{"a":1},"timeoutMs":5000}' "$api/test/invoke" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -s -D "$d/h" -o "$d/b" "$R/invocation/next"
grep -qi "^Lambda-Runtime-Aws-Request-Id: $id" "$d/h" || { echo "FAIL: request id header" >&2; exit 1; }
grep -qi '^Lambda-Runtime-Deadline-Ms: [0-9]\{13\}' "$d/h" || { echo "FAIL: deadline header" >&2; exit 1; }
grep -qi '^Lambda-Runtime-Trace-Id: Root=' "$d/h" || { echo "FAIL: trace header" >&2; exit 1; }
grep -qi '^Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:' "$d/h" || { echo "FAIL: arn header" >&2; exit 1; }
expect "$(<"$d/b")" '{"a": 1}' "event body"
expect "$(code "$R/invocation/next")" 400 "second next while unanswered"
expect "$(code -d 'not json' "$R/invocation/$id/response")" 400 "non-JSON response"
expect "$(code -d '{"ok":1}' "$R/invocation/nope/response")" 400 "unknown id"
expect "$(code -d '{"ok":1}' "$R/invocation/$id/response")" 202 "good response"
expect "$(code -d '{"ok":1}' "$R/invocation/$id/response")" 400 "answered twice"
expect "$(curl -s "$api/test/result/$id?wait=1" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["status"], r["body"], r["late"])')" \
	"response {'ok': 1} False" "result"
expect "$(code -X PUT "$R/invocation/next")" 405 "bad method"
expect "$(code "$R/nothing")" 404 "unknown route"
expect "$(code -d '{"errorMessage":"x"}' "$R/init/error")" 400 "init error without errorType"
expect "$(code -d '{"errorMessage":"x","errorType":"T"}' "$R/init/error")" 202 "init error"
# an error answer, then a late one
id=$(curl -s -d '{"raw":"{}","timeoutMs":5000}' "$api/test/invoke" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -s -o /dev/null "$R/invocation/next"
expect "$(code -d 'x' "$R/invocation/$id/error")" 400 "non-JSON error"
expect "$(code -H 'Lambda-Runtime-Function-Error-Type: Bad' -d '{"errorMessage":"m","errorType":"T"}' "$R/invocation/$id/error")" 202 "error"
expect "$(curl -s "$api/test/result/$id" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["status"], r["errorType"], r["headerErrorType"])')" "error T Bad" "error result"
id=$(curl -s -d '{"event":{},"timeoutMs":100}' "$api/test/invoke" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -s -o /dev/null "$R/invocation/next"
sleep 0.3
expect "$(code -d '{}' "$R/invocation/$id/response")" 410 "late response"
n=$(curl -s "$api/test/violations" | python3 -c 'import json,sys; v=json.load(sys.stdin); print(len(v), any(x.startswith("late:") for x in v))')
expect "$n" "9 True" "violations recorded"
echo "runtime_api.py: all checks passed"
