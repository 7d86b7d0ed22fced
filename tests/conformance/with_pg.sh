#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster (scripts/pg.sh) and ZLOAD_TEST_PG set to a
# libpq URI for its superuser over the cluster's socket: tests/conformance/with_pg.sh CMD ARGS...
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/zl_pg_suite.XXXXXX)
stop() { "$repo/scripts/pg.sh" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap stop EXIT
for try in 1 2; do
	port=$("$repo/scripts/pg.sh" free-port)
	"$repo/scripts/pg.sh" start "$dir" "$port" >"$dir.start.log" 2>&1 && break
	[[ $try == 2 ]] && { cat "$dir.start.log" >&2; rm -f "$dir.start.log"; exit 1; }
	"$repo/scripts/pg.sh" stop "$dir" >/dev/null 2>&1 || true
	rm -rf "$dir"; mkdir -p "$dir"
done
rm -f "$dir.start.log"
export ZLOAD_TEST_PG="postgresql:///dw?host=$dir&port=$port&user=postgres"
export ZLOAD_TEST_PG_DIR=$dir ZLOAD_TEST_PG_PORT=$port
"$@"
