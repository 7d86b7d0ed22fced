#!/usr/bin/env bash
# bench/copy.sh [-s MB]: load one large CSV (default ~1 GiB) and its gzip into an UNLOGGED
# PostgreSQL table with zload (dir: store) and with psql's \copy, in the same run, and print
# throughput (MB/s, rows/s), the zload/psql ratio and zload's peak RSS.
# bench/copy.sh -m [-n FILES] [-f MB] [-P N]: the multi-file case instead: FILES objects (default
# 8) of MB each (default 64) in one batch, loaded by zload with "parallelism": N (default 2) and
# with 1, against one psql \copy per file in sequence.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
zload=${ZLOAD:-$here/build/zload}
size_mb=1024 multi=0 nfiles=8 file_mb=64 par=2
usage() { echo "usage: $0 [-s MB] | -m [-n FILES] [-f MB] [-P N]" >&2; exit 2; }
while getopts s:mn:f:P: o; do
	case $o in
	s) size_mb=$OPTARG ;; m) multi=1 ;; n) nfiles=$OPTARG ;; f) file_mb=$OPTARG ;; P) par=$OPTARG ;; *) usage ;;
	esac
done
[ -x "$zload" ] || make -C "$here" >/dev/null

ws=$(mktemp -d /tmp/zload-bench-copy.XXXXXX)
port=$("$here/scripts/pg.sh" free-port)
cleanup() { "$here/scripts/pg.sh" stop "$ws/pg"; rm -rf "$ws"; }
trap cleanup EXIT
"$here/scripts/pg.sh" start "$ws/pg" "$port"
export PGPASSWORD=loader-scram-pw
pg() { psql -X -q -h 127.0.0.1 -p "$port" -U loader -d dw "$@"; }
pg -c "CREATE UNLOGGED TABLE events (id bigint, ts timestamptz, kind text, amount numeric(12,2), note text)"

mkdir -p "$ws/store/bench/in"
csv="$ws/store/bench/in/events.csv"
# gen MB FIRST_ID: MB of CSV rows on stdout, ids from FIRST_ID
gen() {
	awk -v limit=$(($1 * 1024 * 1024)) -v first="$2" 'BEGIN {
		srand(7); split("order refund signup cancel visit", kinds, " ");
		for (i = first; bytes < limit; i++) {
			line = sprintf("%d,2026-11-%02dT%02d:%02d:%02dZ,%s,%.2f,\"note %d, with a comma\"", i, i % 28 + 1, i % 24, i % 60, (i * 7) % 60, kinds[i % 5 + 1], (i % 100000) / 7.0, i * 31);
			print line; bytes += length(line) + 1
		}
	}'
}
if ((multi)); then
	. "$here/bench/copy_multi.sh"
	exit 0
fi
echo "generating ${size_mb} MB of CSV..."
gen "$size_mb" 1 > "$csv"
rows=$(wc -l < "$csv")
bytes=$(stat -c %s "$csv")
gzip -1 -c "$csv" > "$csv.gz"
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "data: $rows rows, $mb MB (gzip: $(awk -v b="$(stat -c %s "$csv.gz")" 'BEGIN { printf "%.1f", b / 1048576 }') MB)"

export ZLOAD_STATE="sqlite:$ws/state.db" ZLOAD_STORE="dir:$ws/store"
cat > "$ws/config.json" <<JSON
{"s3Prefix": "bench/in", "batchSize": 1, "format": {"type": "csv"},
 "targets": [{"name": "pg", "type": "postgres", "host": "127.0.0.1", "port": $port, "database": "dw",
              "user": "loader", "password": "loader-scram-pw", "targetTable": "events"}]}
JSON
"$zload" config put "$ws/config.json" >/dev/null

now() { date +%s.%N; }
check_rows() { local n; n=$(pg -At -c "SELECT count(*) FROM events"); [ "$n" = "$rows" ] || { echo "expected $rows rows, found $n" >&2; exit 1; }; }
truncate() { pg -c "TRUNCATE events"; }

# zload_run KEY: one event, loaded synchronously; prints seconds, leaves peak RSS (KiB) in $ws/rss
zload_run() {
	truncate
	"$zload" files delete "bench/in/$1" >/dev/null 2>&1 || true
	local ev="{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"bench\"},\"object\":{\"key\":\"in/$1\"}}}]}"
	local t0 t1
	t0=$(now)
	echo "$ev" | /usr/bin/time -f %M -o "$ws/rss" "$zload" event - > "$ws/out" 2>"$ws/log"
	t1=$(now)
	grep -q "status=complete rows=$rows" "$ws/out" || { cat "$ws/out" "$ws/log" >&2; exit 1; }
	check_rows
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
psql_run() {
	truncate
	local t0 t1
	t0=$(now)
	if [ "$1" = plain ]; then
		pg -c "\\copy events from '$csv' with (format csv)"
	else
		gzip -dc "$csv.gz" | pg -c "\\copy events from stdin with (format csv)"
	fi
	t1=$(now)
	check_rows
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
best() { printf '%s\n' "$@" | sort -g | head -n1; }

echo "loading (each way twice, best time kept)..."
z1=$(zload_run events.csv); p1=$(psql_run plain); z2=$(zload_run events.csv); rss_plain=$(cat "$ws/rss"); p2=$(psql_run plain)
zg1=$(zload_run events.csv.gz); pg1=$(psql_run gzip); zg2=$(zload_run events.csv.gz); rss_gz=$(cat "$ws/rss"); pg2=$(psql_run gzip)
zp=$(best "$z1" "$z2"); pp=$(best "$p1" "$p2"); zg=$(best "$zg1" "$zg2"); pgz=$(best "$pg1" "$pg2")

line() { awk -v name="$1" -v s="$2" -v b="$bytes" -v r="$rows" -v rss="$3" 'BEGIN {
	printf "%-40s %8.2f s %9.1f MB/s %12.0f rows/s  %s\n", name, s, b / 1048576 / s, r / s, rss }'; }
echo
printf '%-40s %10s %14s %19s  %s\n' "load ($mb MB CSV, $rows rows)" time throughput rows peak-RSS
line "zload, plain CSV" "$zp" "$((rss_plain / 1024)) MiB"
line "psql \\copy, plain CSV" "$pp" ""
line "zload, gzip CSV" "$zg" "$((rss_gz / 1024)) MiB"
line "gzip -dc | psql \\copy from stdin" "$pgz" ""
echo
awk -v z="$zp" -v p="$pp" 'BEGIN { printf "ratio zload/psql, plain CSV: %.2f (throughput; >= 0.95 is the aim)\n", p / z }'
awk -v z="$zg" -v p="$pgz" 'BEGIN { printf "ratio zload/(gzip -dc | psql), gzip: %.2f (> 1 is the aim)\n", p / z }'
