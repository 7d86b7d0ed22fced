#!/usr/bin/env bash
# Webhook throughput: CLIENTS clients POST event bodies to `zload serve --webhook` at once, each
# keeping its connection open, and the script prints requests per second, with the bodies per
# group commit (zload_group_commit_bodies) where the binary has that metric.
#
#   bench/webhook.sh [-n REQUESTS] [-c CLIENTS] [-r RECORDS] [--before ZLOAD] [--pg]
#
#   -n N            requests (default 3000)
#   -c N            concurrent clients (default 16)
#   -r N            records per body (default 1), each a new key
#   --before ZLOAD  also run another zload binary (e.g. one built from a commit before the commit
#                   queue) the same way, first, and print its figures beside this one's
#   --pg            PostgreSQL state as well (a throwaway cluster from scripts/pg.sh), after SQLite
#
# Batches never fall due (batchSize 0, a day's timeout): only the intake is measured. Each run has
# a fresh state; the script fails when a reply is not 200 or a record was not queued exactly once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
zload=${ZLOAD:-$here/../build/zload}
requests=3000 clients=16 records=1 before='' with_pg=0
usage() { sed -n '2,/^set -e/s/^# \{0,1\}//p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	-n) requests=${2:?}; shift 2 ;;
	-c) clients=${2:?}; shift 2 ;;
	-r) records=${2:?}; shift 2 ;;
	--before) before=${2:?}; shift 2 ;;
	--pg) with_pg=1; shift ;;
	-h|--help) usage ;;
	*) echo "webhook.sh: unknown argument: $1" >&2; usage ;;
	esac
done
for v in "$requests" "$clients" "$records"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "webhook.sh: counts must be positive integers" >&2; exit 2; }
done
ws=$(mktemp -d /tmp/zload-bench-webhook.XXXXXX)
pg_dir='' serve_pid=''
cleanup() {
	[ -z "$serve_pid" ] || kill -KILL "$serve_pid" 2>/dev/null || true
	[ -z "$pg_dir" ] || "$here/../scripts/pg.sh" stop "$pg_dir" >/dev/null 2>&1 || true
	rm -rf "$ws"
}
trap cleanup EXIT
die() { echo "webhook.sh: $1" >&2; [ -z "${2:-}" ] || tail -n 20 "$2" >&2; exit 1; }
cp "$zload" "$ws/zload" 2>/dev/null || die "$zload not found: run make first"
[ -z "$before" ] || cp "$before" "$ws/zload-before" 2>/dev/null || die "--before $before not found"
cat >"$ws/config.json" <<EOF2
{"s3Prefix": "b/in", "batchSize": 0, "batchTimeoutSecs": 86400, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "$ws/warehouse.db", "targetTable": "t"}]}
EOF2
export ZLOAD_STORE="dir:$ws/store" XDG_CONFIG_HOME=$ws/config
mkdir -p "$ws/store/b/in"

# run NAME BINARY STATE_URL: one pass; prints a row of the table.
run() {
	local name=$1 bin=$2 state=$3 n=0 port ok queued t0 t1 rps groups bodies
	rm -f "$ws"/state.db*
	ZLOAD_STATE=$state "$bin" config put "$ws/config.json" >/dev/null 2>"$ws/config.log" || die "config put" "$ws/config.log"
	ZLOAD_STATE=$state "$bin" serve --no-watch --webhook 0 >"$ws/serve.log" 2>&1 &
	serve_pid=$!
	until port=$(grep -o 'msg="webhook listening" listen=127.0.0.1:[0-9]* port=[0-9]*' "$ws/serve.log" | sed 's/.*port=//') && [ -n "$port" ]; do
		kill -0 "$serve_pid" 2>/dev/null || die "$name: serve did not start" "$ws/serve.log"
		(( ++n < 100 )) || die "$name: serve did not start in 10 s" "$ws/serve.log"
		sleep 0.1
	done
	sed "s/@PORT@/$port/" "$ws/requests-$name.cfg" >"$ws/curl.cfg"
	t0=$(date +%s%N)
	curl -s --parallel --parallel-max "$clients" -K "$ws/curl.cfg" >"$ws/replies.txt" 2>"$ws/curl.log" || true
	t1=$(date +%s%N)
	ok=$(grep -c '^200 $' "$ws/replies.txt" || true)
	[ "$ok" = "$requests" ] || die "$name: $ok of $requests replies 200: $(sort "$ws/replies.txt" | uniq -c | head -n 5)" "$ws/curl.log"
	curl -sS --max-time 10 "http://127.0.0.1:$port/metrics" >"$ws/metrics.txt" || die "$name: GET /metrics"
	queued=$(awk '$1 == "zload_events_total{intake=\"webhook\",outcome=\"queued\"}" { print $2 }' "$ws/metrics.txt")
	[ "$queued" = "$((requests * records))" ] || die "$name: $queued records queued, want $((requests * records))"
	groups=$(awk '$1 == "zload_group_commit_bodies_count{intake=\"webhook\"}" { print $2 }' "$ws/metrics.txt")
	bodies=$(awk '$1 == "zload_group_commit_bodies_sum{intake=\"webhook\"}" { print $2 }' "$ws/metrics.txt")
	kill -TERM "$serve_pid"
	wait "$serve_pid" || die "$name: serve exited with an error" "$ws/serve.log"
	serve_pid=
	rps=$(awk -v n="$requests" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
	if [ -n "$groups" ]; then
		printf '%-28s %10s %8s %10s\n' "$name" "$rps" "$groups" "$(awk -v b="$bodies" -v g="$groups" 'BEGIN { printf "%.1f", b / g }')"
	else
		printf '%-28s %10s %8s %10s\n' "$name" "$rps" "-" "-"
	fi
}

# requests-NAME.cfg: curl's configuration of every request of run NAME (keys of its own), made
# before timing; @PORT@ is the serve's port.
requests_cfg() {
	python3 - "$1" "$requests" "$records" >"$ws/requests-$1.cfg" <<'EOF2'
import json, sys
name, n, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    recs = [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
             "s3": {"bucket": {"name": "b"}, "object": {"key": "in/%s-%06d-%d.csv" % (name, i, j), "size": 1}}}
            for j in range(r)]
    if i:
        print("next")
    print('url = "http://127.0.0.1:@PORT@/events"')
    print('header = "Content-Type: application/json"')
    print("data-binary = %s" % json.dumps(json.dumps({"Records": recs})))
    print('output = "/dev/null"')
    print('write-out = "%{http_code} %{errormsg}\\n"')
EOF2
}

echo "$requests requests of $records record(s), $clients clients (curl --parallel, connections kept open)"
printf '%-28s %10s %8s %10s\n' "run" "requests/s" "groups" "bodies/grp"
states=("sqlite" "sqlite:$ws/state.db")
if [ "$with_pg" = 1 ]; then
	pg_dir=$ws/pg
	pg_port=$("$here/../scripts/pg.sh" free-port)
	"$here/../scripts/pg.sh" start "$pg_dir" "$pg_port" >"$ws/pg.log" 2>&1 || die "scripts/pg.sh start" "$ws/pg.log"
	states+=("postgresql" "postgresql://loader:loader-scram-pw@127.0.0.1:$pg_port/dw?schema=zl_bench")
fi
for ((i = 0; i < ${#states[@]}; i += 2)); do
	kind=${states[i]} url=${states[i + 1]}
	requests_cfg "$kind-before"
	requests_cfg "$kind"
	[ -z "$before" ] || run "$kind-before" "$ws/zload-before" "${url/zl_bench/zl_before}"
	run "$kind" "$ws/zload" "$url"
done
