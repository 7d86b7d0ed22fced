#!/usr/bin/env bash
# A 1 GiB object streams into PostgreSQL in bounded memory: `zload flush` of a ~1 GiB CSV into an
# UNLOGGED table peaks under 64 MiB resident (GNU time's "Maximum resident set size") and every
# row arrives. Prints the throughput and peak RSS. Skipped with ZL_SKIP_BIG=1.
if [[ ${ZL_SKIP_BIG:-0} == 1 ]]; then
	echo "t_pg_big: skipped (ZL_SKIP_BIG=1)"
	exit 0
fi
. "$(dirname "$0")/lib_pg.sh"

[[ -x /usr/bin/time ]] || fail "/usr/bin/time is missing (Debian package time, in scripts/deps.sh)"
RSS_LIMIT_KB=65536
pql dw "CREATE UNLOGGED TABLE big (id bigint, at timestamp, v text, amount numeric)" >/dev/null
pg_config big <<EOF
{"s3Prefix": "b/big", "batchSize": 10, "format": {"type": "csv", "header": true},
 "targets": [$(pg_target pg big)]}
EOF

# ~1 GiB: 6,600,000 rows of ~163 bytes, with a header.
N=6600000
f=$STORE/b/big/big.csv
mkdir -p "$(dirname "$f")"
gen_start=$(now_ms)
awk -v n=$N 'BEGIN {
	print "id,at,v,amount"
	p = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua"
	for (i = 1; i <= n; i++)
		printf "%d,2026-11-25 12:%02d:%02d,%s %d,%d.%02d\n", i, i % 60, i % 59, p, i, i % 100000, i % 100
}' >"$f" || fail "cannot generate $f"
bytes=$(stat -c %s "$f")
echo "generated $bytes bytes ($N rows) in $(($(now_ms) - gen_start)) ms"
((bytes >= 1000000000)) || fail "the file is only $bytes bytes"

event_ok b big/big.csv
assert_eq "queued b/big/big.csv batch=$(batch_ids --prefix b/big)" "$OUT" "queued without loading"
id=$(batch_ids --prefix b/big)
/usr/bin/time -v -o "$WS/time.txt" "$ZLOAD" flush b/big >"$WS/flush.out" 2>"$WS/flush.err"
rc=$?
assert_eq 0 "$rc" "flush exit code [$(<"$WS/flush.out")] [$(tail -n 3 "$WS/flush.err")]"
assert_eq "loaded batch=$id status=complete rows=$N" "$(<"$WS/flush.out")" "flush output"
rm -f "$f"

rss_kb=$(sed -n 's/^\s*Maximum resident set size (kbytes): //p' "$WS/time.txt")
wall=$(sed -n 's/^\s*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$WS/time.txt")
secs=$(awk -v w="$wall" 'BEGIN { n = split(w, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s }')
[[ -n $rss_kb && -n $secs ]] || fail "cannot read /usr/bin/time's report: $(cat "$WS/time.txt")"
mbps=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / 1048576 / s }')
echo "t_pg_big: $bytes bytes, $N rows in ${secs}s: ${mbps} MiB/s, $(awk -v r="$N" -v s="$secs" 'BEGIN { printf "%.0f", r / s }') rows/s; peak RSS ${rss_kb} KiB ($((rss_kb / 1024)) MiB)"
((rss_kb < RSS_LIMIT_KB)) || fail "peak RSS ${rss_kb} KiB is not under ${RSS_LIMIT_KB} KiB"

assert_eq "$N 1 $N" "$(pq dw "SELECT count(*) || ' ' || min(id) || ' ' || max(id) FROM big")" "rows in the table"
assert_eq "$N" "$(tjson 't[0]["objects"][0]["rows"]' "$id")" "rows of the object in the batch result"
assert_eq 1 "$(pg_ledger_rows "$id")" "ledger row"
pq dw "DROP TABLE big" >/dev/null
