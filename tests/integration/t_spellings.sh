#!/usr/bin/env bash
# Guessable spellings work or get a hint (issue #7, item 17): --store s3, a bare path for --store
# or --state, help/version forms, an unknown configuration field, files show --json, --workers 0,
# abbreviated batch ids (unique prefix, as git), and their errors.
. "$(dirname "$0")/lib.sh"

# --store s3 is --store s3:// (both fail the same way here, where no S3 answers).
noaws=(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_PROFILE AWS_CONFIG_FILE=/nonexistent
       AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1
       AWS_ENDPOINT_URL=http://127.0.0.1:9)
assert_exit 1 "${noaws[@]}" "$ZLOAD" --store s3:// backfill --no-load bkt
want=$ERR
assert_exit 1 "${noaws[@]}" "$ZLOAD" --store s3 backfill --no-load bkt
assert_eq "$want" "$ERR" "--store s3 behaves as --store s3://"
assert_not_contains "$ERR" "SCHEME:TARGET" "no URL syntax error"

assert_exit 1 zload --store "$STORE" backfill b
assert_eq "zload: store URL \"$STORE\": expected SCHEME:TARGET; did you mean dir:$STORE?" "$ERR" "a bare path for --store"
assert_exit 1 zload --state "$WS/x.db" batches list
assert_eq "zload: state URL \"$WS/x.db\": expected SCHEME:TARGET; did you mean sqlite:$WS/x.db?" "$ERR" "a bare path for --state"
assert_exit 1 zload --state "mysql://db/x" batches list
assert_eq 'zload: state URL "mysql://db/x": unknown scheme "mysql" (known: sqlite, postgresql, postgres, dynamodb)' "$ERR" "an unknown scheme"
ok zload --state "sqlite:$WS/new/dir/state.db" batches list
[[ -f $WS/new/dir/state.db ]] || fail "sqlite:/new/dir/state.db: directories not created"

# help and version
ok zload help
assert_contains "$OUT" "usage: zload [global options] COMMAND" "zload help"
ok zload help batches show
assert_contains "$OUT" "usage: zload batches show [options] ID" "zload help batches show"
ok zload batches show --help
assert_eq "$OUT" "$(zload help batches show)" "help COMMAND is COMMAND --help"
ok zload help serve
assert_contains "$OUT" "--exit-when-idle SECONDS" "zload help serve"
assert_exit 2 zload help frobnicate
assert_contains "$ERR" 'zload help: unknown command "frobnicate"' "help of an unknown command"
ok zload version
v=$OUT
[[ $v == "zload "[0-9]* ]] || fail "zload version: [$v]"
ok zload -V
assert_eq "$v" "$OUT" "-V"
ok zload --version
assert_eq "$v" "$OUT" "--version"

# An unknown configuration field suggests the nearest known one.
echo '{"s3Prefix": "b/x", "batchsize": 3, "targets": [{"type": "sqlite", "path": "/x.db", "targetTable": "t"}]}' >"$WS/c1.json"
assert_exit 1 zload config put "$WS/c1.json"
assert_eq "zload: $WS/c1.json: batchsize: unknown field; did you mean \"batchSize\"?" "$ERR" "a field in the wrong case"
echo '{"s3Prefix": "b/x", "targets": [{"type": "sqlite", "path": "/x.db", "targetTabel": "t"}]}' >"$WS/c2.json"
assert_exit 1 zload config put "$WS/c2.json"
assert_eq "zload: $WS/c2.json: targets[0].targetTabel: unknown field; did you mean \"targetTable\"?" "$ERR" "a misspelt target field"
echo '{"s3Prefix": "b/x", "frobnicate": 1, "targets": []}' >"$WS/c3.json"
assert_exit 1 zload config put "$WS/c3.json"
assert_eq "zload: $WS/c3.json: frobnicate: unknown field" "$ERR" "no hint when nothing is near"

# --workers 0
assert_exit 2 zload serve --workers 0
assert_eq "$(printf "zload serve: --workers: must be at least 1\nTry 'zload serve --help'.")" "$ERR" "--workers 0"

# files show --json; abbreviated batch ids.
make_table t "id INTEGER, v TEXT"
put_config sp <<'EOF2'
{"s3Prefix": "b/sp", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
csv_rows b/sp/a.csv 2
csv_rows b/sp/b.csv 3
event_ok b sp/a.csv
a=$(batch_ids --prefix b/sp)
event_ok b sp/b.csv
b=$(batch_ids --prefix b/sp | grep -v "$a")
ok zload files show --json b/sp/a.csv
assert_eq "b/sp/a.csv|b|sp/a.csv|b/sp|$a|complete" \
	"$(json "'|'.join([j['file'], j['bucket'], j['key'], j['prefix'], j['batch'], j['status']])" zload files show --json b/sp/a.csv)" "files show --json"
common=0
while [[ ${a:common:1} == "${b:common:1}" ]]; do common=$((common + 1)); done
ok zload batches show "${a:0:common+1}"
assert_contains "$OUT" "batch     $a" "batches show with the shortest unique prefix"
ok zload batches show --json "${b:0:common+1}"
assert_eq "$b" "$(json "j['id']" zload batches show --json "${b:0:common+1}")" "batches show --json with a unique prefix"
if ((common >= 4)); then
	assert_exit 1 zload batches show "${a:0:common}"
	assert_contains "$ERR" "zload: batch id \"${a:0:common}\" is ambiguous: " "an ambiguous prefix"
fi
assert_exit 1 zload batches show 01a
assert_eq 'zload: batch id "01a" is too short: give at least 4 characters' "$ERR" "a prefix too short"
assert_exit 1 zload batches show ffffffff
assert_eq 'zload: no batch "ffffffff"' "$ERR" "no batch with that prefix"
ok zload batches reprocess "${a:0:common+1}"
assert_eq "loaded batch=$a status=complete rows=0" "$OUT" "reprocess with an abbreviated id"
