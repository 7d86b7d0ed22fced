#!/usr/bin/env bash
# --log-format json (or ZLOAD_LOG_FORMAT=json) makes every line on stderr JSON, the command's own
# final error and warnings included, wherever --log-format stands on the command line (issue #12).
# Text mode keeps its exact words. flush on a terminal shows a live progress line, and only there.
. "$(dirname "$0")/lib.sh"

# json_err LEVEL TEXT MESSAGE: every line of $ERR is a JSON object with level and msg; the last
# one has LEVEL and its msg contains TEXT.
json_err() {
	local got
	got=$(printf '%s' "$ERR" | "$PYTHON" -c '
import json, sys
lines = sys.stdin.read().split("\n")
if not lines or lines == [""]:
    sys.exit("no line on stderr")
for l in lines:
    try:
        o = json.loads(l)
    except ValueError:
        sys.exit("not JSON: %r" % l)
    if not isinstance(o, dict) or not isinstance(o.get("level"), str) or not isinstance(o.get("msg"), str):
        sys.exit("no level and msg: %r" % l)
    if not isinstance(o.get("ts"), str):
        sys.exit("no ts: %r" % l)
print(o["level"] + " " + o["msg"])
' 2>&1) || fail "$3: $got; stderr [$ERR]"
	assert_contains "$got" "$1 " "$3: level"
	assert_contains "${got#* }" "$2" "$3: msg"
}

# jcheck CODE LEVEL TEXT CMD...: runs CMD (already holding --log-format json or the variable).
jcheck() {
	local code=$1 level=$2 text=$3
	shift 3
	assert_exit "$code" "$@"
	json_err "$level" "$text" "$*"
}
J=(--log-format json)

# Errors before any option is parsed, --log-format before, after or as --log-format=json.
jcheck 2 error 'unknown command "bogus"' zload bogus "${J[@]}"
jcheck 2 error 'unknown command "bogus"' zload "${J[@]}" bogus
jcheck 2 error 'unknown option "--bogus"' zload --bogus "${J[@]}" batches list
jcheck 2 error 'unknown option "--bogus"' zload batches list --bogus --log-format=json
jcheck 2 error 'expected a command' zload "${J[@]}"
jcheck 2 error 'unknown command "frob"' zload config frob "${J[@]}"
jcheck 2 error 'expected a command' zload "${J[@]}" batches
jcheck 2 error 'expected a command' zload batches "${J[@]}"
jcheck 2 error 'unknown command "nope"' zload batches "${J[@]}" nope
jcheck 2 error 'unknown command "frob"' zload help frob "${J[@]}"
jcheck 2 error 'expected ID' zload batches show "${J[@]}"
hint=$(printf '%s' "$ERR" | "$PYTHON" -c 'import json,sys; print(json.loads(sys.stdin.read())["hint"])')
assert_eq "Try 'zload batches show --help'." "$hint" "a usage error's hint"
jcheck 2 error '--workers: "x" is not a number' zload serve --workers x "${J[@]}"

# The environment variable does the same; --log-format text wins over it.
ZLOAD_LOG_FORMAT=json jcheck 2 error 'unknown command "bogus"' zload bogus
ZLOAD_LOG_FORMAT=json jcheck 1 error 'no batch "1234"' zload batches show 1234
ZLOAD_LOG_FORMAT=json assert_exit 2 zload bogus --log-format text
assert_eq "zload: unknown command \"bogus\"
Try 'zload --help'." "$ERR" "--log-format text over ZLOAD_LOG_FORMAT=json"

# State and store problems.
jcheck 1 error 'state URL "nope": expected SCHEME:TARGET' zload "${J[@]}" --state nope batches list
jcheck 1 error 'cannot read the state nope' zload status --state nope "${J[@]}"
jcheck 1 error 'no batch "1234"' zload batches show 1234 "${J[@]}"
jcheck 1 error 'no object store' env -u ZLOAD_STORE "$ZLOAD" flush b/x "${J[@]}"
jcheck 1 error 'no object store' env -u ZLOAD_STORE "$ZLOAD" backfill b "${J[@]}"
jcheck 1 error '"abc" is not a port' zload serve --webhook nope:abc "${J[@]}"
jcheck 1 error 'AWS_LAMBDA_RUNTIME_API is not set' env -u AWS_LAMBDA_RUNTIME_API "$ZLOAD" lambda "${J[@]}"

# Configurations: invalid JSON (with line and column), a missing file, a bad field.
printf '%s\n' '{"s3Prefix": "b/x",' ' "targets": [}' >"$WS/bad.json"
jcheck 1 error "$WS/bad.json: line 2, column 14: unexpected token near '}'" zload config put "$WS/bad.json" "${J[@]}"
jcheck 1 error "$WS/bad.json: line 2, column 14: unexpected token" zload config add-target b/x "$WS/bad.json" "${J[@]}"
jcheck 1 error "$WS/missing.json: No such file or directory" zload config put "$WS/missing.json" "${J[@]}"
printf '%s\n' '{"s3Prefix": "b/x", "bogus": 1, "targets": [{"type": "sqlite", "path": "/tmp/x.db", "targetTable": "t"}]}' >"$WS/bad.json"
jcheck 1 error 'bogus: unknown field' zload config put "$WS/bad.json" "${J[@]}"

# A configuration, a file waiting in its open batch, and the warning of config delete about it.
make_table t "id INTEGER, v TEXT"
put_config one <<'EOF2'
{"s3Prefix": "b/x", "batchSize": 1000, "format": {"header": false},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
mkdir -p "$STORE/b/x"
event() { printf '{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%s","size":1}}}]}\n' "$1"; }
printf '1,a\n' >"$STORE/b/x/small.csv"
event x/small.csv >"$WS/ev.json"
ok zload event --no-load "$WS/ev.json"
cp "$WS/config-one.json" "$WS/one.json"
jcheck 0 warn 'open batch of b/x holds 1 file; it loads only once a configuration for b/x is stored again' \
	zload config delete b/x "${J[@]}"
assert_eq "deleted configuration for b/x" "$OUT" "stdout of config delete"
ok zload config put "$WS/one.json"
ok zload config delete b/x
assert_contains "$ERR" "zload: warning: 1 open batch of b/x holds 1 file; it loads only once a configuration for b/x is stored again: " \
	"the warning in text"
[[ $ERR != *$'\n'* ]] || fail "the text warning is one line: [$ERR]"
ok zload config put "$WS/one.json"

# A malformed event body.
echo '{"Records": [' >"$WS/ev-bad.json"
jcheck 1 error 'invalid JSON' zload event "$WS/ev-bad.json" "${J[@]}"

# setup with no terminal: no prompt on stderr, the remarks on answers as warnings, the final error.
printf '\n' >"$WS/empty-answer"
jcheck 1 error 'the input ended before the answer to "S3 prefix"; nothing stored' zload setup "${J[@]}" <"$WS/empty-answer"
assert_contains "$ERR" '"level":"warn","msg":"an answer is required"' "setup's remark on an empty answer"
assert_not_contains "$ERR" "Enter the S3" "no prompt in JSON mode"
assert_exit 1 zload setup <"$WS/empty-answer"
assert_contains "$ERR" "Enter the S3 Bucket & Prefix to watch for files (bucket/prefix): " "setup's prompt in text mode"
assert_contains "$ERR" "zload: the input ended before the answer to \"S3 prefix\"; nothing stored" "setup's error in text mode"
# a refused answer, a connection test, then "no" to storing: remarks and the end as log lines
printf '%s\n' b/s "" sqlite rel.db "$WH" t "" "" "" "" "" "" y n >"$WS/answers"
jcheck 1 error 'nothing stored' zload setup "${J[@]}" <"$WS/answers"
assert_contains "$ERR" '"level":"warn","msg":"must be an absolute path (starting with /)"' "setup's refusal"
assert_contains "$ERR" '"level":"info","msg":"connection test: ok"' "setup's connection test"

# encrypt: the warning about a value on the command line; a value from stdin leaves stderr empty.
jcheck 0 warn "a value given as an argument shows in ps" zload encrypt --prefix b/x --field 'targets[0].password' s3cret "${J[@]}"
[[ $OUT == enc:local:* ]] || fail "encrypt printed [$OUT]"
ok zload encrypt --prefix b/x --field 'targets[0].password' s3cret
assert_eq "zload encrypt: warning: a value given as an argument shows in ps and in the shell's history; give - or nothing to type it unseen" \
	"$ERR" "the encrypt warning in text"
assert_exit 0 zload encrypt --prefix b/x --field 'targets[0].password' - "${J[@]}" <<<s3cret
assert_eq "" "$ERR" "encrypt from stdin in JSON mode: nothing on stderr"

# Text mode keeps its exact words.
assert_exit 2 zload bogus
assert_eq "zload: unknown command \"bogus\"
Try 'zload --help'." "$ERR" "unknown command in text"
assert_exit 2 zload batches show
assert_eq "zload batches show: expected ID
Try 'zload batches show --help'." "$ERR" "usage error in text"
assert_exit 1 zload batches show 1234
assert_eq 'zload: no batch "1234"' "$ERR" "final error in text"
assert_exit 2 zload
assert_contains "$ERR" "usage: zload [global options] COMMAND" "the usage text with no command"

# A load long enough to see the live line (redrawn every 0.5 s; some 3 s here): flush on a
# terminal draws it; nowhere else.
csv() { # csv FILE ROWS
	"$PYTHON" -c '
import sys
with open(sys.argv[1], "w") as f:
    f.write("".join("%d,value number %d\n" % (i, i) for i in range(int(sys.argv[2]))))
' "$1" "$2"
}
csv "$STORE/b/x/big.csv" 1200000
event x/big.csv >"$WS/ev-big.json"
ok zload event --no-load "$WS/ev-big.json"
script -qfc "$(printf '%q ' "$ZLOAD" flush b/x)" /dev/null >"$WS/tty.out" 2>&1 </dev/null ||
	fail "flush on a terminal failed: $(cat -v "$WS/tty.out")"
grep -q "loaded batch=.* status=complete rows=1200001" "$WS/tty.out" || fail "flush on a terminal: $(cat -v "$WS/tty.out")"
grep -qF $'\r\033[Kloading 1 batch: ' "$WS/tty.out" || fail "no live line on a terminal: $(cat -v "$WS/tty.out" | tail -c 2000)"
grep -qE $'\033\\[Kloading 1 batch: [0-9]+ rows, [0-9.]+ MB, [0-9.]+ MB/s' "$WS/tty.out" ||
	fail "live line words: $(cat -v "$WS/tty.out" | tail -c 2000)"
assert_eq "1200001" "$(rows t)" "rows loaded"

# Without a terminal, or with JSON logs on one: no live line, and JSON mode's stderr stays JSON.
csv "$STORE/b/x/big2.csv" 300000
event x/big2.csv >"$WS/ev-big.json"
ok zload event --no-load "$WS/ev-big.json"
ok zload flush b/x
assert_not_contains "$ERR" $'\033' "no escape sequence without a terminal"
cp "$STORE/b/x/big2.csv" "$STORE/b/x/big3.csv"
event x/big3.csv >"$WS/ev-big.json"
ok zload event --no-load "$WS/ev-big.json"
# stderr is the terminal, stdout a file
script -qfc "$(printf '%q ' "$ZLOAD" flush b/x --log-format json) >$(printf '%q' "$WS/flush.out")" /dev/null \
	>"$WS/tty.err" </dev/null || fail "flush --log-format json on a terminal failed: $(cat -v "$WS/tty.err")"
grep -q "loaded batch=.* status=complete rows=300000" "$WS/flush.out" || fail "flush --log-format json: $(<"$WS/flush.out")"
ERR=$(tr -d '\r' <"$WS/tty.err")
json_err info "batch complete" "flush --log-format json on a terminal"
grep -q $'\033' "$WS/tty.err" && fail "an escape sequence in JSON mode: $(cat -v "$WS/tty.err")"
assert_eq "1800001" "$(rows t)" "rows loaded"

echo "PASS $TEST_NAME"
