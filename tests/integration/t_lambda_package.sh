#!/usr/bin/env bash
# The AWS Lambda package (make lambda, scripts/lambda-package.sh) runs with nothing but its own
# contents: the zip is unpacked at ROOT/var/task of an otherwise empty root (only an empty /tmp,
# which Lambda has too) and /var/task/bootstrap runs chrooted into it. There it prints its version
# and help; its https requests verify servers against the CA bundle it ships (found without any
# setting; a server that bundle does not vouch for is refused; SSL_CERT_FILE still wins); and, once
# the lambda command exists, bootstrap with no arguments is `zload lambda` and talks to a stand-in
# Runtime API. The zip's size is reported and within Lambda's limits.
# test-timeout: 300
. "$(dirname "$0")/lib.sh"

[[ $(id -u) == 0 ]] || fail "needs root (chroot)"
CHROOT=$(command -v chroot) || fail "no chroot"
zip=$WS/dist/zload-lambda.zip
ok bash "$REPO/scripts/lambda-package.sh" "$ZLOAD" "$zip"
assert_contains "$OUT" "bytes" "lambda-package reports the size"
size=$(stat -c %s "$zip")
((size < 50 * 1024 * 1024)) || fail "the zip is $size bytes, more than Lambda's 50 MB for a direct upload"

ROOT=$WS/root
mkdir -p "$ROOT/var/task" "$ROOT/tmp"
unzip -q "$zip" -d "$ROOT/var/task" || fail "cannot unzip $zip"
unpacked=$(du -sb "$ROOT/var/task" | cut -f1)
((unpacked < 250 * 1024 * 1024)) || fail "unpacked the package is $unpacked bytes, more than Lambda's 250 MB"
assert_eq "bootstrap certs lib tmp var" "$(ls "$ROOT/var/task" | tr '\n' ' ')$(ls "$ROOT" | tr '\n' ' ' | sed 's/ $//')" \
	"the root holds only the zip's contents and /tmp"
[[ -x $ROOT/var/task/bootstrap ]] || fail "bootstrap is not executable in the zip"
unzip -Z "$zip" bootstrap | grep -q '^-rwx' || fail "the zip does not record bootstrap as executable"
interp=$(patchelf --print-interpreter "$ROOT/var/task/bootstrap")
assert_eq "/var/task/lib/ld-linux-x86-64.so.2" "$interp" "bootstrap's interpreter"
assert_eq "/var/task/lib" "$(patchelf --print-rpath "$ROOT/var/task/bootstrap")" "bootstrap's rpath"
echo "REPORT zip $size bytes, $unpacked unpacked, $(ls "$ROOT/var/task/lib" | wc -l) libraries"

# in_root [VAR=VALUE...] ARGS...: runs /var/task/bootstrap ARGS in the root with only the given
# environment (and what Lambda sets); stdout, stderr, exit code in $OUT, $ERR, $RC.
in_root() {
	local envs=(PATH=/var/task LAMBDA_TASK_ROOT=/var/task ZLOAD_STATE=sqlite:/tmp/state.db ZLOAD_HTTP_RETRIES=1)
	while [[ ${1:-} == *=* ]]; do
		envs+=("$1")
		shift
	done
	env -i "${envs[@]}" "$CHROOT" "$ROOT" /var/task/bootstrap "$@" >"$WS/.out" 2>"$WS/.err"
	RC=$?
	OUT=$(<"$WS/.out")
	ERR=$(<"$WS/.err")
}

in_root version
assert_eq 0 "$RC" "bootstrap version in the empty root (stderr [$ERR])"
assert_eq "$("$ZLOAD" version)" "$OUT" "bootstrap version prints zload's version"
in_root --version
assert_eq "$("$ZLOAD" version)" "$OUT" "bootstrap --version"
in_root help
assert_eq 0 "$RC" "bootstrap help (stderr [$ERR])"
assert_contains "$OUT" "usage: zload" "bootstrap help"
assert_contains "$OUT" "backfill" "bootstrap help lists the commands"

# https: a TLS server with a certificate of its own, which Debian's bundle does not vouch for.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$WS/key.pem" -out "$WS/cert.pem" 2>/dev/null ||
	fail "cannot make a test certificate"
cp "$WS/cert.pem" "$ROOT/tmp/test-ca.pem"
port=$(free_port)
start_bg https "$PYTHON" "$IT_DIR/lambda_stubs.py" https "$port" "$WS/cert.pem" "$WS/key.pem" "$WS/https-requests.log"
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
s3=(AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=secret "ZLOAD_STORE=s3://?endpoint=https://127.0.0.1:$port&region=us-east-1&path_style=1")
# The shipped bundle is found and used: the server is refused for its certificate...
in_root "${s3[@]}" backfill bucket/in
assert_eq 1 "$RC" "backfill over https to an untrusted server (stdout [$OUT])"
assert_contains "$ERR" "self-signed certificate" "the certificate is checked against a bundle"
# ...which without the bundle could not even be read (Debian's libcurl path is not in the root).
mv "$ROOT/var/task/certs" "$WS/certs.aside"
in_root "${s3[@]}" backfill bucket/in
assert_contains "$ERR" "certificate file" "without certs/ the CA file cannot be read"
mv "$WS/certs.aside" "$ROOT/var/task/certs"
# SSL_CERT_FILE, when set, is the bundle: this one trusts the server, so the listing goes through.
in_root "${s3[@]}" SSL_CERT_FILE=/tmp/test-ca.pem backfill bucket/in
assert_eq 0 "$RC" "backfill over https with SSL_CERT_FILE trusting the server (stderr [$ERR])"
assert_contains "$OUT" "listed 0" "the listing arrived over https"
log_has "$WS/https-requests.log" "GET /bucket?" || fail "the https server saw no listing request"
echo "REPORT https from the root: the shipped CA bundle is used; SSL_CERT_FILE overrides it"

# Lambda runs bootstrap without arguments: that is `zload lambda`.
if "$ZLOAD" help lambda >/dev/null 2>&1; then
	rport=$(free_port)
	echo '{}' >"$WS/event.json"
	start_bg runtime "$PYTHON" "$IT_DIR/lambda_stubs.py" runtime "$rport" "$WS/event.json" "$WS/runtime-requests.log"
	wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$rport"
	start_bg bootstrap env -i PATH=/var/task LAMBDA_TASK_ROOT=/var/task _HANDLER=bootstrap \
		AWS_LAMBDA_RUNTIME_API=127.0.0.1:$rport AWS_REGION=us-east-1 ZLOAD_STATE=sqlite:/tmp/state.db \
		"$CHROOT" "$ROOT" /var/task/bootstrap
	wait_for 30 log_has "$WS/runtime-requests.log" "POST /2018-06-01/runtime/invocation/req-1/"
	grep -q "^GET /2018-06-01/runtime/invocation/next" "$WS/runtime-requests.log" ||
		fail "bootstrap did not ask the Runtime API for an invocation"
	echo "REPORT bootstrap without arguments ran zload lambda against a stand-in Runtime API: $(grep -c . "$WS/runtime-requests.log") requests"
else
	in_root
	assert_contains "$ERR" 'unknown command "lambda"' "bootstrap without arguments runs the lambda command"
	echo "REPORT no lambda command in this build (zload help lambda fails): checked that bootstrap without arguments asks for it; Runtime API part skipped"
fi
echo "$TEST_NAME: ok"
