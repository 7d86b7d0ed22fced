#!/usr/bin/env bash
# batchSize N: `zload event` queues files 1..N-1 and loads the batch when the Nth is queued.
. "$(dirname "$0")/lib.sh"

make_table t "id INTEGER, v TEXT"
put_config size <<'EOF2'
{"s3Prefix": "b/size", "batchSize": 3, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
for i in 1 2 3 4 5 6 7; do csv_rows "b/size/f$i.csv" "$i" $((i * 100)); done

event_ok b size/f1.csv
id=$(batch_ids --prefix b/size)
assert_eq "queued b/size/f1.csv batch=$id" "$OUT" "first file"
assert_eq open "$(batch_status "$id")" "after one file"
event_ok b size/f2.csv
assert_eq "queued b/size/f2.csv batch=$id" "$OUT" "second file: same batch, not loaded"
assert_eq open "$(batch_status "$id")" "after two files"
assert_eq 0 "$(rows t)" "nothing loaded before the third file"
event_ok b size/f3.csv
assert_eq "$(printf 'queued b/size/f3.csv batch=%s\nloaded batch=%s status=complete rows=6' "$id" "$id")" "$OUT" "third file"
assert_contains "$ERR" "msg=\"batch locked\" batch=$id prefix=b/size reason=batchSize" "lock reason"
assert_eq complete "$(batch_status "$id")" "after three files"
assert_eq 3 "$(batch_field "$id" files)" "files in the batch"
assert_eq 6 "$(rows t)" "rows after the first batch"

# Four more in one body: the 6th file fills the second batch, the 7th opens a third.
event_ok b size/f4.csv size/f5.csv size/f6.csv size/f7.csv
ids=$(batch_ids --prefix b/size)
third=$(sed -n 1p <<<"$ids")
second=$(sed -n 2p <<<"$ids")
assert_eq 3 "$(wc -l <<<"$ids")" "batches after seven files"
assert_eq "$(printf 'queued b/size/f4.csv batch=%s\nqueued b/size/f5.csv batch=%s\nqueued b/size/f6.csv batch=%s\nqueued b/size/f7.csv batch=%s\nloaded batch=%s status=complete rows=15' \
	"$second" "$second" "$second" "$third" "$second")" "$OUT" "one body of four files"
assert_eq open "$(batch_status "$third")" "third batch"
assert_eq 1 "$(batch_field "$third" files)" "files in the third batch"
assert_eq 21 "$(rows t)" "rows after the second batch"

ok zload flush b/size
assert_eq "loaded batch=$third status=complete rows=7" "$OUT" "flush loads the open batch"
assert_eq 28 "$(rows t)" "rows after flush"
ok zload flush b/size
assert_eq "nothing to flush for b/size: no open batch holds files" "$OUT" "flush with nothing open"
assert_exit 1 zload flush b/none
assert_eq 'zload: no configuration for prefix "b/none"' "$ERR" "flush of an unknown prefix"
