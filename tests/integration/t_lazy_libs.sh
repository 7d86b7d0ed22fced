#!/usr/bin/env bash
# libpq, libcurl, libmicrohttpd, libxml2, libssl and libcrypto are loaded on first use (src/lazy/): build/zload does
# not name them as NEEDED, and `zload --version`, `zload help` and a one-record `zload event`
# (SQLite state, dir: store) never open them (LD_DEBUG=files lists every library the dynamic
# loader opens). The Lambda package script bundles the same list. Where libpq is not installed
# (a root holding only zload's NEEDED libraries, run chrooted), a command that needs it fails
# with exit status 1 and the message naming the soname and its Debian package, while --version
# still works there.
. "$(dirname "$0")/lib.sh"

lazy=(libpq.so.5 libcurl.so.4 libmicrohttpd.so.12 libxml2.so.2 libssl.so.3 libcrypto.so.3)
needed=$(readelf -d "$ZLOAD" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
assert_contains "$needed" "libsqlite3.so.0" "readelf shows zload's NEEDED list"
for so in "${lazy[@]}"; do
	assert_not_contains "$needed" "$so" "zload's NEEDED libraries"
done

# The soname lists of the loader and of the Lambda package agree with this test's.
assert_eq "${lazy[*]}" "$(sed -n '/zl_lazy_sonames\[\] =/,/NULL };/p' "$REPO/src/lazy/lazy.c" | grep -o '"lib[^"]*"' | tr -d '"' | tr '\n' ' ' | sed 's/ $//')" \
	"zl_lazy_sonames in src/lazy/lazy.c"
assert_eq "${lazy[*]}" "$(sed -n 's/^lazy_sonames=(\(.*\))$/\1/p' "$REPO/scripts/lambda-package.sh")" \
	"lazy_sonames in scripts/lambda-package.sh"

# opened CMD...: zload CMD with LD_DEBUG=files; $LIBS: the libraries the dynamic loader opened.
opened() {
	LD_DEBUG=files "$ZLOAD" "$@" 2>"$WS/ld.err" >"$WS/ld.out"
	RC=$?
	LIBS=$(sed -n 's/.*file=\([^ ]*\).*/\1/p' "$WS/ld.err" | sort -u | tr '\n' ' ')
}
mkdir -p "$STORE/bench/in"
cat >"$WS/config.json" <<JSON
{"s3Prefix": "bench/in", "batchSize": 0, "batchTimeoutSecs": 86400,
 "format": {"type": "csv", "header": true, "compression": "none"},
 "targets": [{"name": "wh", "type": "sqlite", "path": "$WH", "targetTable": "t"}]}
JSON
ok zload config put "$WS/config.json"
echo '{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"bench"},"object":{"key":"in/a.csv","size":9}}}]}' >"$WS/event.json"
for cmd in "--version" "help" "event $WS/event.json"; do
	# shellcheck disable=SC2086 # the command's words
	opened $cmd
	libs=$LIBS
	assert_eq 0 "$RC" "zload $cmd exits 0 (stderr [$(grep -v '^ *[0-9]*:' "$WS/ld.err")])"
	assert_contains "$libs" "libsqlite3.so.0" "LD_DEBUG=files lists the libraries of zload $cmd"
	for so in "${lazy[@]}"; do
		assert_not_contains "$libs" "$so" "libraries opened by zload $cmd"
	done
done
assert_contains "$(<"$WS/ld.out")" "queued bench/in/a.csv" "the event was queued"

# ---- a machine without libpq: a root with zload and its NEEDED libraries only.
[[ $(id -u) == 0 ]] || fail "needs root (chroot)"
CHROOT=$(command -v chroot) || fail "no chroot"
ROOT=$WS/root
mkdir -p "$ROOT/tmp"
cp "$ZLOAD" "$ROOT/zload"
while read -r path; do
	mkdir -p "$ROOT$(dirname "$path")"
	cp -L "$path" "$ROOT$path"
done < <(ldd "$ZLOAD" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p')
[[ -e $ROOT/lib/x86_64-linux-gnu/libpq.so.5 || -e $ROOT/usr/lib/x86_64-linux-gnu/libpq.so.5 ]] &&
	fail "the root holds libpq.so.5"
in_root() {
	env -i ZLOAD_STATE=sqlite:/tmp/state.db "$CHROOT" "$ROOT" /zload "$@" >"$WS/.out" 2>"$WS/.err"
	RC=$?
	OUT=$(<"$WS/.out")
	ERR=$(<"$WS/.err")
}
in_root --version
assert_eq "0 $("$ZLOAD" --version)" "$RC $OUT" "zload --version in the root without libpq (stderr [$ERR])"
in_root --state "postgresql://zload@127.0.0.1:1/zload" status
assert_eq 1 "$RC" "zload status on PostgreSQL state without libpq exits 1"
assert_eq "zload: this command needs libpq.so.5 (Debian package libpq5): libpq.so.5: cannot open shared object file: No such file or directory" \
	"$ERR" "the missing-library message"
in_root --log-format json --state "postgresql://zload@127.0.0.1:1/zload" status
assert_eq 1 "$RC" "the same in JSON log mode exits 1"
assert_contains "$ERR" '"msg":"this command needs libpq.so.5 (Debian package libpq5)' "the message as a JSON line"
echo "PASS $TEST_NAME"
