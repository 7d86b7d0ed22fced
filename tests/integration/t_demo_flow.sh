#!/usr/bin/env bash
# The demo flow: serve watches a dir: store; files are written under a hidden name and renamed
# (or written in place); a full batch loads at once, the rest by timeout; a duplicate is not
# loaded twice and a file the filter rejects is never recorded.
. "$(dirname "$0")/lib.sh"

data=$REPO/examples/data
sql "$WH" <"$REPO/examples/warehouse.sql" || fail "cannot create the warehouse"
landing=$STORE/landing/events
mkdir -p "$landing"
put_config demo <<'EOF'
{
  "s3Prefix": "landing/events",
  "filenameFilterRegex": ".*\\.csv(\\.gz)?$",
  "batchSize": 3,
  "batchTimeoutSecs": 4,
  "format": {"type": "csv", "header": true, "compression": "auto"},
  "targets": [{"name": "warehouse", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "events",
    "postLoadStatement": "INSERT OR REPLACE INTO event_totals SELECT kind, count(*), sum(amount) FROM events GROUP BY kind"}]
}
EOF

drop() { write_file "landing/events/${2:-$1}" <"$data/$1"; }

start_serve serve --exit-when-idle 2
drop 2026-11-25-a.csv
cp "$data/2026-11-25-b.csv" "$landing/2026-11-25-b.csv" # written in place
drop README.txt
wait_for 10 log_has "$WS/serve.log" 'key=events/2026-11-25-b.csv'
assert_eq 0 "$(batch_count --status complete)" "no batch loads before the third file"
drop 2026-11-25-c.csv
wait_for 10 count_is 1 batch_count --status complete
# (Drop the next files at once: serve exits after 2 s with nothing pending.)
drop 2026-11-25-a.csv # the same object again
drop 2026-11-25-d.csv.gz
first=$(batch_ids --status complete)
assert_eq 9 "$(rows events)" "rows after the first batch (a, b, c)"
wait_for 10 log_has "$WS/serve.log" 'msg="duplicate event ignored"'
assert_contains "$(grep 'duplicate event ignored' "$WS/serve.log")" "file=landing/events/2026-11-25-a.csv" "duplicate log line"
drop 2026-11-25-e.csv
wait_exit "$SERVE_PID" 30
assert_eq 0 "$RC" "serve --exit-when-idle exit code"

assert_eq 2 "$(batch_count)" "batches in all"
assert_eq 2 "$(batch_count --status complete)" "complete batches"
assert_eq "$(printf '2\n3')" "$(json "[b['files'] for b in j]" zload batches list --json)" "files per batch, newest first"
second=$(batch_ids --status complete | head -n 1)
assert_eq 13 "$(rows events)" "rows in the warehouse"
assert_eq 13 "$(sql "$WH" 'SELECT count(DISTINCT id) FROM events')" "distinct ids (nothing loaded twice)"
assert_eq 13 "$(sql "$WH" 'SELECT sum(n) FROM event_totals')" "postLoadStatement ran after each batch"
assert_eq "$(printf 'order|9\nrefund|2\nsignup|2')" "$(sql "$WH" 'SELECT kind, n FROM event_totals ORDER BY kind')" "event_totals"
log=$(grep 'batch locked' "$WS/serve.log")
assert_contains "$log" "batch=$first prefix=landing/events reason=batchSize" "first batch locked when full"
assert_contains "$log" "batch=$second prefix=landing/events reason=batchTimeoutSecs" "second batch locked by timeout"

ok zload files show landing/events/2026-11-25-a.csv
assert_contains "$OUT" "batch     $first" "the duplicate stays in the first batch"
assert_contains "$OUT" "status    complete" "file status"
ok zload files show landing/events/2026-11-25-d.csv.gz
assert_contains "$OUT" "batch     $second" "gzip file in the second batch"
assert_exit 1 zload files show landing/events/README.txt
assert_eq 'zload: no file record "landing/events/README.txt"' "$ERR" "filtered file never recorded"
assert_eq "$(printf '2026-11-25-d.csv.gz\n2026-11-25-e.csv')" \
	"$(json "[f['key'].split('/')[-1] for f in j['fileList']]" zload batches show --json "$second")" "files of the second batch"
assert_eq "$(printf '2026-11-25-a.csv\n2026-11-25-b.csv\n2026-11-25-c.csv')" \
	"$(json "sorted(f['key'].split('/')[-1] for f in j['fileList'])" zload batches show --json "$first")" "files of the first batch"
