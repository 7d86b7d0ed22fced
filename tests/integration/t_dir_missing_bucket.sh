#!/usr/bin/env bash
# Backfill of a dir: bucket that does not exist is an error worded as on S3 ("NAME: no such
# bucket", exit 1); a bucket that exists but is empty lists nothing and succeeds.
. "$(dirname "$0")/lib.sh"

make_table t "id INTEGER, v TEXT"
put_config here <<'EOF'
{"s3Prefix": "here/in", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF
mkdir -p "$STORE/here"
summary='listed 0, queued 0, already known 0, not routed or filtered 0'

assert_exit 1 zload backfill nope
assert_eq "zload: nope: no such bucket" "$ERR" "backfill of a missing bucket"
assert_exit 1 zload backfill nope/in/deeper
assert_eq "zload: nope: no such bucket" "$ERR" "backfill of a prefix of a missing bucket"
touch "$STORE/afile"
assert_exit 1 zload backfill afile
assert_eq "zload: afile: no such bucket" "$ERR" "a file in the root is no bucket"

assert_exit 0 zload backfill here
assert_eq "$summary" "$OUT" "backfill of an empty bucket"
assert_eq "" "$ERR" "backfill of an empty bucket: stderr"
assert_exit 0 zload backfill here/in
assert_eq "$summary" "$OUT" "backfill of a missing prefix in a bucket"
csv_rows here/in/a.csv 2
assert_exit 0 zload backfill here
assert_contains "$OUT" "listed 1, queued 1, already known 0, not routed or filtered 0" "backfill once the bucket holds a file"
assert_eq 2 "$(rows t)" "rows"
