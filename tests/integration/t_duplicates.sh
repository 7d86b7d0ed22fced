#!/usr/bin/env bash
# The same event twice, in one body and in two invocations: the second is a duplicate and the rows
# load once. With "dedupe": "key+etag", the same key with another eTag loads again.
. "$(dirname "$0")/lib.sh"

make_table t "id INTEGER, v TEXT"
make_table te "id INTEGER, v TEXT"
put_config key <<'EOF'
{"s3Prefix": "b/dup", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF
put_config etag <<'EOF'
{"s3Prefix": "b/etag", "batchSize": 1, "dedupe": "key+etag", "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "te"}]}
EOF
csv_rows b/dup/one.csv 5
csv_rows b/dup/two.csv 3 100
csv_rows b/etag/x.csv 4

# One body holding the same record twice.
event_ok b dup/one.csv dup/one.csv
id=$(batch_ids --prefix b/dup)
assert_eq "$(printf 'queued b/dup/one.csv batch=%s\nduplicate b/dup/one.csv\nloaded batch=%s status=complete rows=5' "$id" "$id")" \
	"$OUT" "one body, the same record twice"
assert_eq 5 "$(rows t)" "rows after the first body"

# The same event again, in a second invocation.
event_ok b dup/one.csv
assert_eq "duplicate b/dup/one.csv" "$OUT" "second invocation"
assert_contains "$ERR" "msg=\"duplicate event ignored\" batch=$id prefix=b/dup file=b/dup/one.csv" "duplicate log line"
assert_eq 5 "$(rows t)" "rows after the duplicate"
assert_eq 1 "$(batch_count --prefix b/dup)" "batches of b/dup"

# Two invocations of the same new event, run at once: exactly one queues it.
s3_event b dup/two.csv >"$WS/two.json"
zload event "$WS/two.json" >"$WS/two-a.out" 2>&1 &
pa=$!
zload event "$WS/two.json" >"$WS/two-b.out" 2>&1
rb=$?
wait "$pa"
ra=$?
assert_eq "0 0" "$ra $rb" "exit codes of two concurrent invocations"
both=$(cat "$WS/two-a.out" "$WS/two-b.out")
assert_eq 1 "$(grep -c '^queued b/dup/two.csv batch=' <<<"$both")" "queued once: [$both]"
assert_eq 1 "$(grep -c '^duplicate b/dup/two.csv$' <<<"$both")" "duplicate once: [$both]"
assert_eq 8 "$(rows t)" "rows after two concurrent deliveries"
assert_eq 2 "$(batch_count --prefix b/dup --status complete)" "complete batches of b/dup"

# key+etag: the same eTag is a duplicate, another eTag loads again.
ETAG=aaa event_ok b etag/x.csv
first=$(batch_ids --prefix b/etag)
assert_eq "$(printf 'queued b/etag/x.csv batch=%s\nloaded batch=%s status=complete rows=4' "$first" "$first")" "$OUT" "first eTag"
ETAG=aaa event_ok b etag/x.csv
assert_eq "duplicate b/etag/x.csv" "$OUT" "same key, same eTag"
assert_contains "$ERR" "file=b/etag/x.csv@aaa" "file identity includes the eTag"
ETAG=bbb event_ok b etag/x.csv
assert_eq 2 "$(batch_count --prefix b/etag)" "batches of b/etag"
second=$(batch_ids --prefix b/etag | head -n 1)
assert_eq "$(printf 'queued b/etag/x.csv batch=%s\nloaded batch=%s status=complete rows=4' "$second" "$second")" "$OUT" "same key, new eTag"
assert_eq 8 "$(rows te)" "an overwritten object loads again"
ok zload files show b/etag/x.csv@aaa
assert_contains "$OUT" "batch     $first" "record of the first version"
ok zload files show b/etag/x.csv@bbb
assert_contains "$OUT" "batch     $second" "record of the second version"

# Without an eTag in the event, the store's (size and mtime) is used: rewriting the file changes it.
event_ok b etag/x.csv
assert_contains "$OUT" "queued b/etag/x.csv batch=" "no eTag in the event: the store's"
event_ok b etag/x.csv
assert_eq "duplicate b/etag/x.csv" "$OUT" "same store eTag"
csv_rows b/etag/x.csv 6
event_ok b etag/x.csv
assert_contains "$OUT" "status=complete rows=6" "rewritten object"
assert_eq 18 "$(rows te)" "rows of b/etag"
assert_eq 4 "$(batch_count --prefix b/etag --status complete)" "complete batches of b/etag"

# Keys are URL-decoded ("+" is a space, %2B a plus): the same object sent encoded and as a
# duplicate maps to one record.
csv_rows "b/dup/with space+plus é.csv" 2 500
event_ok b "dup/with space+plus é.csv"
id=$(batch_ids --prefix b/dup | head -n 1)
assert_eq "$(printf 'queued b/dup/with space+plus é.csv batch=%s\nloaded batch=%s status=complete rows=2' "$id" "$id")" "$OUT" "encoded key"
assert_contains "$(<"$WS/.event.json")" '"key":"dup/with+space%2Bplus+%C3%A9.csv"' "the event carries the encoded key"
event_ok b "dup/with space+plus é.csv"
assert_eq "duplicate b/dup/with space+plus é.csv" "$OUT" "encoded key again"
ok zload files show "b/dup/with space+plus é.csv"
assert_contains "$OUT" "batch     $id" "files show of a key with a space and a plus"
assert_eq 10 "$(rows t)" "rows of b/dup"
