#!/usr/bin/env bash
# zload lambda's start-up failures: no AWS_LAMBDA_RUNTIME_API (exit 1 and a message), and a state
# that cannot open (init/error posted to the Runtime API, exit 1).
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib_lambda.sh"

unset AWS_LAMBDA_RUNTIME_API
assert_exit 1 zload lambda
assert_contains "$ERR" "AWS_LAMBDA_RUNTIME_API is not set" "message without the Runtime API"

api_start api
echo x >"$WS/afile"
AWS_LAMBDA_RUNTIME_API=127.0.0.1:$API_PORT ZLOAD_STATE="sqlite:$WS/afile/state.db" \
	timeout 20 "$ZLOAD" lambda >"$WS/init.out" 2>"$WS/init.err"
assert_eq 1 "$?" "exit code when the state cannot open"
errs=$(api "$API_PORT" GET /test/init-errors)
assert_eq 1 "$(jq length <<<"$errs")" "one init error posted: $errs"
assert_eq "InitError Runtime.InitError" "$(jq -r '.[0] | [.errorType, .headerErrorType] | join(" ")' <<<"$errs")" "init error type"
assert_contains "$(jq -r '.[0].errorMessage' <<<"$errs")" "afile/state.db" "init error names the state"
assert_contains "$(<"$WS/init.err")" '"msg":"lambda: start-up failed"' "JSON log of the failure"

# A bad margin is a start-up failure too.
AWS_LAMBDA_RUNTIME_API=127.0.0.1:$API_PORT ZLOAD_LAMBDA_MARGIN_MS=soon timeout 20 "$ZLOAD" lambda >/dev/null 2>"$WS/m.err"
assert_eq 1 "$?" "exit code with a bad margin"
assert_contains "$(api "$API_PORT" GET /test/init-errors | jq -r '.[1].errorMessage')" 'ZLOAD_LAMBDA_MARGIN_MS: "soon"' "margin init error"
no_violations "$API_PORT"
