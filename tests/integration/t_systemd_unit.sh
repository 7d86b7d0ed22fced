#!/usr/bin/env bash
# The README's multi-host setup: its unit and environment file are examples/zload.service and
# examples/zload.env as they stand; systemd-analyze verify finds nothing wrong in the unit (and
# does find a broken copy's fault, so the check can fail); the environment file's settings, with
# this test's PostgreSQL in place of db.internal, are what zload reads.
. "$(dirname "$0")/lib_pg.sh"

cd "$REPO" || fail "no repository at $REPO"
block() { awk -v lang="$1" -v after="$2" 'index($0, after) { on = 1 } on && $0 == "```" lang { inb = 1; next } inb && /^```/ { exit } inb' README.md; }
assert_eq "$(<examples/zload.service)" "$(block ini 'A multi-host setup')" "the README's unit is examples/zload.service"
assert_eq "$(<examples/zload.env)" "$(block sh 'A multi-host setup')" "the README's environment file is examples/zload.env"

if command -v systemd-analyze >/dev/null; then
	sed -e "s|/usr/local/bin/zload|$ZLOAD|" -e "s|/etc/zload/zload.env|$REPO/examples/zload.env|" \
		examples/zload.service >"$WS/zload.service"
	out=$(systemd-analyze verify "$WS/zload.service" 2>&1) || fail "systemd-analyze verify: $out"
	assert_eq "" "$out" "systemd-analyze verify of the unit"
	sed 's/^Restart=always/Restart=sometimes/' "$WS/zload.service" >"$WS/broken.service"
	out=$(systemd-analyze verify "$WS/broken.service" 2>&1)
	assert_contains "$out" "broken.service:" "systemd-analyze names the broken line"
else
	echo "$TEST_NAME: systemd-analyze not installed: the unit's syntax is not checked" >&2
fi

# The environment file, sourced as systemd reads it, with the test server for db.internal.
pq postgres "CREATE ROLE zload LOGIN PASSWORD 'zload-pw'" >/dev/null
pq postgres "CREATE DATABASE ops OWNER zload" >/dev/null
(
	set -a
	# shellcheck disable=SC1091
	. examples/zload.env
	set +a
	[[ $ZLOAD_STATE == postgresql://zload@db.internal:5432/ops\?schema=zload\&sslmode=require ]] || exit 3
	printf '127.0.0.1:%s:ops:zload:zload-pw\n' "$PGPORT" >"$WS/pgpass"
	chmod 600 "$WS/pgpass"
	export ZLOAD_STATE=${ZLOAD_STATE/db.internal:5432/127.0.0.1:$PGPORT} PGPASSFILE=$WS/pgpass
	export ZLOAD_STATE=${ZLOAD_STATE/sslmode=require/sslmode=disable}
	export ZLOAD_MASTER_KEY_FILE=$WS/master.key
	"$ZLOAD" config list
) >"$WS/env.out" 2>"$WS/env.err" || fail "zload with examples/zload.env: $(<"$WS/env.err")"
assert_eq 2 "$(pq ops "SELECT value FROM zload.meta WHERE key = 'schema_version'")" "the state made through the environment file"
