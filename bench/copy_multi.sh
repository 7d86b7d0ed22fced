# shellcheck shell=bash
# The multi-file case of bench/copy.sh (-m), sourced by it with its workspace ($ws), server ($port,
# pg), table (events) and generator (gen): $nfiles objects of $file_mb MB in one batch, zload with
# "parallelism": $par and with 1, against one psql \copy per file in sequence.
echo "generating $nfiles files of $file_mb MB of CSV..."
files=()
for ((k = 1; k <= nfiles; k++)); do
	gen "$file_mb" $((k * 100000000)) > "$ws/store/bench/in/part-$k.csv"
	files+=("$ws/store/bench/in/part-$k.csv")
done
rows=$(cat "${files[@]}" | wc -l)
bytes=$(cat "${files[@]}" | wc -c)
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "data: $rows rows, $mb MB in $nfiles files"

export ZLOAD_STATE="sqlite:$ws/state.db" ZLOAD_STORE="dir:$ws/store"
# config_with N: one batch of every file, loaded with "parallelism": N
config_with() {
	cat > "$ws/config.json" <<JSON
{"s3Prefix": "bench/in", "batchSize": $nfiles, "format": {"type": "csv"},
 "targets": [{"name": "pg", "type": "postgres", "host": "127.0.0.1", "port": $port, "database": "dw",
              "user": "loader", "password": "loader-scram-pw", "targetTable": "events", "parallelism": $1}]}
JSON
	"$zload" config put "$ws/config.json" >/dev/null
}
now() { date +%s.%N; }
check_rows() { local n; n=$(pg -At -c "SELECT count(*) FROM events"); [ "$n" = "$rows" ] || { echo "expected $rows rows, found $n" >&2; exit 1; }; }

# zload_multi N: every file in one event, one batch; prints seconds, peak RSS (KiB) in $ws/rss
zload_multi() {
	config_with "$1"
	pg -c "TRUNCATE events"
	local recs="" k t0 t1
	for ((k = 1; k <= nfiles; k++)); do
		"$zload" files delete "bench/in/part-$k.csv" >/dev/null 2>&1 || true
		recs+="${recs:+,}{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"bench\"},\"object\":{\"key\":\"in/part-$k.csv\"}}}"
	done
	t0=$(now)
	echo "{\"Records\":[$recs]}" | /usr/bin/time -f %M -o "$ws/rss" "$zload" event - > "$ws/out" 2>"$ws/log"
	t1=$(now)
	grep -q "status=complete rows=$rows" "$ws/out" || { cat "$ws/out" "$ws/log" >&2; exit 1; }
	check_rows
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
psql_each() {
	pg -c "TRUNCATE events"
	local f t0 t1
	t0=$(now)
	for f in "${files[@]}"; do pg -c "\\copy events from '$f' with (format csv)"; done
	t1=$(now)
	check_rows
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
best() { printf '%s\n' "$@" | sort -g | head -n1; }

echo "loading (each way twice, best time kept)..."
zp1=$(zload_multi "$par"); s1=$(psql_each); zp2=$(zload_multi "$par"); rss_par=$(cat "$ws/rss"); s2=$(psql_each)
z11=$(zload_multi 1); z12=$(zload_multi 1); rss_one=$(cat "$ws/rss")
zp=$(best "$zp1" "$zp2"); sp=$(best "$s1" "$s2"); z1=$(best "$z11" "$z12")

line() { awk -v name="$1" -v s="$2" -v b="$bytes" -v r="$rows" -v rss="$3" 'BEGIN {
	printf "%-44s %8.2f s %9.1f MB/s %12.0f rows/s  %s\n", name, s, b / 1048576 / s, r / s, rss }'; }
echo
printf '%-44s %10s %14s %19s  %s\n' "load ($nfiles x $file_mb MB CSV, $rows rows)" time throughput rows peak-RSS
line "zload, parallelism $par" "$zp" "$((rss_par / 1024)) MiB"
line "zload, parallelism 1" "$z1" "$((rss_one / 1024)) MiB"
line "psql \\copy per file, in sequence" "$sp" ""
echo
awk -v z="$zp" -v p="$sp" -v n="$par" 'BEGIN { printf "ratio zload parallelism %d / psql per file: %.2f (>= 1.6 is the aim)\n", n, p / z }'
awk -v z="$z1" -v p="$sp" 'BEGIN { printf "ratio zload parallelism 1 / psql per file: %.2f\n", p / z }'
awk -v r="$rss_par" 'BEGIN { printf "peak RSS with parallelism: %.1f MiB (< 64 MiB is the aim)\n", r / 1024 }'
