#!/usr/bin/env bash
# A command that must load (event, flush, batches reprocess, serve with configurations) and has
# no object store refuses at once with a clear message, and leaves every batch as it was
# (issue #7, item 14: batches used to go to error with "no object store configured").
. "$(dirname "$0")/lib.sh"

make_table t "id INTEGER, v TEXT"
put_config ns <<'EOF2'
{"s3Prefix": "b/ns", "batchSize": 5, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
csv_rows b/ns/a.csv 2
s3_event b ns/a.csv >"$WS/ev.json"
nostore=(env -u ZLOAD_STORE "$ZLOAD")
msg="zload: no object store: give --store dir:PATH or s3://, or set ZLOAD_STORE (loading reads the batches' files from it)"

assert_exit 1 "${nostore[@]}" event "$WS/ev.json"
assert_eq "$msg" "$ERR" "event without a store"
assert_eq 0 "$(batch_count)" "nothing claimed by the refused event"
assert_exit 0 "${nostore[@]}" event --no-load "$WS/ev.json"
id=$(batch_ids --prefix b/ns)
assert_eq "queued b/ns/a.csv batch=$id" "$OUT" "event --no-load needs no store"

assert_exit 1 "${nostore[@]}" flush b/ns
assert_eq "$msg" "$ERR" "flush without a store"
assert_eq open "$(batch_status "$id")" "the batch is still open"

t0=$(now_ms)
assert_exit 1 "${nostore[@]}" serve --exit-when-idle 5
assert_eq "$msg" "$ERR" "serve without a store"
(($(now_ms) - t0 < 3000)) || fail "serve took too long to refuse"
assert_eq open "$(batch_status "$id")" "the batch is still open after serve refused"

ok zload flush b/ns
assert_eq complete "$(batch_status "$id")" "loaded with a store"
assert_exit 1 "${nostore[@]}" batches reprocess "$id"
assert_eq "$msg" "$ERR" "reprocess without a store"
assert_eq complete "$(batch_status "$id")" "the batch is as it was"
assert_eq 1 "$(batch_field "$id" attempts)" "no attempt started"
assert_eq 2 "$(rows t)" "rows"
