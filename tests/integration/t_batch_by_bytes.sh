#!/usr/bin/env bash
# batchSizeBytes: the batch loads when the byte total of its files (sizes from the events)
# reaches the limit.
. "$(dirname "$0")/lib.sh"

make_table t "id INTEGER, v TEXT"
put_config bytes <<'EOF2'
{"s3Prefix": "b/bytes", "batchSize": 0, "batchSizeBytes": 1000, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
for i in 1 2 3 4 5; do csv_rows "b/bytes/f$i.csv" 2 $((i * 10)); done

event_ok b 'bytes/f1.csv#400'
id=$(batch_ids --prefix b/bytes)
assert_eq "queued b/bytes/f1.csv batch=$id" "$OUT" "400 bytes"
event_ok b 'bytes/f2.csv#599'
assert_eq "queued b/bytes/f2.csv batch=$id" "$OUT" "999 bytes: not due"
assert_eq open "$(batch_status "$id")" "at 999 bytes"
assert_eq 999 "$(batch_field "$id" bytes)" "byte total from the events"
assert_eq 0 "$(rows t)" "nothing loaded below the limit"
event_ok b 'bytes/f3.csv#1'
assert_eq "$(printf 'queued b/bytes/f3.csv batch=%s\nloaded batch=%s status=complete rows=6' "$id" "$id")" "$OUT" "1000 bytes: due"
assert_contains "$ERR" "reason=batchSizeBytes" "lock reason"
assert_eq 1000 "$(batch_field "$id" bytes)" "bytes of the loaded batch"
assert_eq 3 "$(batch_field "$id" files)" "files of the loaded batch"

# One file larger than the limit is a batch by itself.
event_ok b 'bytes/f4.csv#5000'
id2=$(batch_ids --prefix b/bytes | head -n 1)
assert_eq "$(printf 'queued b/bytes/f4.csv batch=%s\nloaded batch=%s status=complete rows=2' "$id2" "$id2")" "$OUT" "one big file"

# Without a size in the event, the store's size counts.
event_ok b bytes/f5.csv
id3=$(batch_ids --prefix b/bytes | head -n 1)
assert_eq "$(stat -c %s "$STORE/b/bytes/f5.csv")" "$(batch_field "$id3" bytes)" "size from the store"
assert_eq open "$(batch_status "$id3")" "small file"
assert_eq 8 "$(rows t)" "rows"
