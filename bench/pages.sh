#!/usr/bin/env bash
# What a scrape and a look cost: GET /metrics, GET / and `zload status --json` over a SQLite state
# holding P prefixes with B open batches and C complete ones each, timed over R requests, beside
# the baseline of `GET /healthz` on the same server (no state read).
#
#   bench/pages.sh [-p PREFIXES] [-o OPEN_FILES] [-c COMPLETE] [-r REQUESTS]
#
#   -p N   prefixes (default 50), each its own configuration
#   -o N   files per prefix left in its open batch (default 20)
#   -c N   complete batches per prefix (default 20), loaded once before timing
#   -r N   requests per page (default 50)
#
# Prints milliseconds per request (median and 95th percentile) and the page's size; exits 1 if a
# page does not answer 200 or /metrics does not count every prefix.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
zload=${ZLOAD:-$here/../build/zload}
prefixes=50 open=20 complete=20 requests=50
while [ $# -gt 0 ]; do
	case $1 in
	-p) prefixes=${2:?}; shift 2 ;;
	-o) open=${2:?}; shift 2 ;;
	-c) complete=${2:?}; shift 2 ;;
	-r) requests=${2:?}; shift 2 ;;
	-h|--help) sed -n '2,/^set -e/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	*) echo "pages.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
done
ws=$(mktemp -d /tmp/zload-bench-pages.XXXXXX)
serve_pid=
trap '[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; rm -rf "$ws"' EXIT
export ZLOAD_STATE=sqlite:$ws/state.db ZLOAD_STORE=dir:$ws/store
sqlite3 "$ws/wh.db" "CREATE TABLE t (id INTEGER, v TEXT)"

# P configurations; C one-file batches loaded per prefix, then OPEN files claimed into an open batch.
for p in $(seq 1 "$prefixes"); do
	mkdir -p "$ws/store/b/p$p"
	printf '{"s3Prefix": "b/p%d", "batchSize": 1000000, "batchTimeoutSecs": 86400, "format": {"header": true},
	 "targets": [{"name": "wh", "type": "sqlite", "path": "%s/wh.db", "targetTable": "t"}]}' "$p" "$ws" >"$ws/c.json"
	"$zload" config put "$ws/c.json" >/dev/null
	{
		printf '{"Records":['
		for f in $(seq 1 "$open"); do
			[ "$f" -gt 1 ] && printf ','
			printf '{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"p%d/o%d.csv","size":10}}}' "$p" "$f"
		done
		printf ']}'
	} >"$ws/open.json"
	for f in $(seq 1 "$complete"); do
		printf 'id,v\n%d,x\n' "$f" >"$ws/store/b/p$p/c$f.csv"
		printf '{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"p%d/c%d.csv","size":8}}}]}' "$p" "$f" >"$ws/one.json"
		"$zload" event --no-load "$ws/one.json" >/dev/null
		"$zload" flush "b/p$p" >/dev/null 2>&1
	done
	"$zload" event --no-load "$ws/open.json" >/dev/null
done

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$zload" serve --no-watch --metrics "$port" >"$ws/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do grep -q 'msg=serving' "$ws/serve.log" && break; sleep 0.1; done

# summary: "median p95 bytes" of the seconds in $ws/times and the size of $ws/page.
summary() {
	python3 - "$ws/times" "$(stat -c %s "$ws/page")" <<'EOF'
import sys
t = sorted(float(x) * 1000 for x in open(sys.argv[1]))
print("%.2f %.2f %s" % (t[len(t) // 2], t[min(len(t) - 1, int(len(t) * 0.95))], sys.argv[2]))
EOF
}
# time_page PATH: R requests; prints "median p95 bytes".
time_page() {
	local path=$1 i out
	: >"$ws/times"
	for i in $(seq 1 "$requests"); do
		out=$(curl -s -o "$ws/page" -w '%{http_code} %{time_total}' "http://127.0.0.1:$port$path")
		[ "${out% *}" = 200 ] || { echo "pages.sh: GET $path answered ${out% *}" >&2; exit 1; }
		echo "${out#* }" >>"$ws/times"
	done
	summary
}
healthz=$(time_page /healthz)
metrics=$(time_page /metrics)
counted=$(grep -c '^zload_files_waiting{' "$ws/page")
[ "$counted" = "$prefixes" ] || { echo "pages.sh: /metrics shows $counted prefixes, not $prefixes" >&2; exit 1; }
status_page=$(time_page /)
: >"$ws/times"
for _ in $(seq 1 "$requests"); do
	s=${EPOCHREALTIME/./}
	"$zload" status --json >"$ws/page" || [ $? -eq 1 ]
	echo "$(( ${EPOCHREALTIME/./} - s ))e-6" >>"$ws/times"
done
cli=$(summary)
echo "state: $prefixes prefixes, $open files open and $complete complete batches each; $requests requests per page"
printf '%-22s %10s %10s %10s %14s\n' page "median ms" "p95 ms" bytes "x /healthz"
for row in "GET /healthz:$healthz" "GET /metrics:$metrics" "GET /:$status_page" "zload status --json:$cli"; do
	name=${row%%:*}
	set -- ${row#*:}
	ratio=$(python3 -c "print('%.1f' % ($1 / ${healthz%% *}))")
	printf '%-22s %10s %10s %10s %14s\n' "$name" "$1" "$2" "$3" "$ratio"
done
