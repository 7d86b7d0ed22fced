#!/usr/bin/env bash
# Bad input: invalid configurations, malformed events and records, missing objects, malformed CSV,
# a missing target table, unknown commands and options. Each fails with an exact message and exit
# code, and nothing else is affected.
. "$(dirname "$0")/lib.sh"

# Invalid configurations: exit 1, a message naming the field; nothing stored.
bad_config() { # bad_config EXPECTED-MESSAGE JSON
	printf '%s\n' "$2" >"$WS/bad.json"
	assert_exit 1 zload config put "$WS/bad.json"
	assert_eq "zload: $WS/bad.json: $1" "$ERR" "config put $2"
	assert_eq "" "$OUT" "stdout of a failed config put"
}
T='"targets": [{"type": "sqlite", "path": "/tmp/x.db", "targetTable": "t"}]'
bad_config 'bogus: unknown field' '{"s3Prefix": "b/x", "bogus": 1, '"$T"'}'
bad_config 'batchSize: expected a non-negative integer' '{"s3Prefix": "b/x", "batchSize": "10", '"$T"'}'
bad_config 'batchSize: expected a non-negative integer' '{"s3Prefix": "b/x", "batchSize": -1, '"$T"'}'
bad_config 'format.header: expected a boolean' '{"s3Prefix": "b/x", "format": {"header": "yes"}, '"$T"'}'
bad_config 'format.delimiter: expected a one-character string' '{"s3Prefix": "b/x", "format": {"delimiter": ";;"}, '"$T"'}'
bad_config 'dedupe: "etag" is not one of key|key+etag' '{"s3Prefix": "b/x", "dedupe": "etag", '"$T"'}'
bad_config 'filenameFilterRegex: missing terminating ] for character class at offset 5' '{"s3Prefix": "b/x", "filenameFilterRegex": "([a-z", '"$T"'}'
bad_config 'targets: missing required field' '{"s3Prefix": "b/x"}'
bad_config 'targets: at least one target is required' '{"s3Prefix": "b/x", "targets": []}'
bad_config 's3Prefix: missing required field' '{'"$T"'}'
bad_config 'targets[0].path: missing required field' '{"s3Prefix": "b/x", "targets": [{"type": "sqlite", "targetTable": "t"}]}'
bad_config 'targets[0].colour: unknown field' '{"s3Prefix": "b/x", "targets": [{"type": "sqlite", "path": "/tmp/x.db", "targetTable": "t", "colour": "red"}]}'
bad_config 'targets[0].type: missing required field' '{"s3Prefix": "b/x", "targets": [{"path": "/tmp/x.db"}]}'
bad_config 'targets[1].path: must be an absolute path (the loader may run in another directory)' '{"s3Prefix": "b/x", "targets": [{"type": "sqlite", "path": "/tmp/x.db", "targetTable": "t"}, {"type": "sqlite", "path": "data/x.db", "targetTable": "t"}]}'
bad_config 'loadClusters: given together with its alias "targets"' '{"s3Prefix": "b/x", "loadClusters": [], '"$T"'}'
bad_config 'batchSize: 0 with no batchSizeBytes or batchTimeoutSecs would never load' '{"s3Prefix": "b/x", "batchSize": 0, '"$T"'}'
bad_config 'configuration: expected a JSON object' '[1]'
bad_config 'line 2, column 14: unexpected token near '"'}'" '{"s3Prefix": "b/x",
 "targets": [}'
bad_config "line 1, column 30: duplicate object key near '\"s3Prefix\"'" '{"s3Prefix": "b/x", "s3Prefix": "b/y", '"$T"'}'
printf '%s\n' '{"s3Prefix": "b/x", "targets": [{"type": "oracle", "path": "/tmp/x.db", "targetTable": "t"}]}' >"$WS/bad.json"
assert_exit 1 zload config put "$WS/bad.json"
assert_contains "$ERR" "zload: $WS/bad.json: targets[0].type: unknown target type \"oracle\" (known: sqlite" "unknown target type"
assert_exit 1 zload config put "$WS/missing.json"
assert_eq "zload: $WS/missing.json: No such file or directory" "$ERR" "config put of a missing file"
ok zload config list --json
assert_eq "[]" "$OUT" "no configuration was stored"

# The configurations of the rest of the test.
make_table t "id INTEGER, v TEXT"
put_config one <<'EOF2'
{"s3Prefix": "b/one", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
put_config two <<'EOF2'
{"s3Prefix": "b/two", "batchSize": 2, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
put_config notable <<'EOF2'
{"s3Prefix": "b/notable", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "nosuch"}]}
EOF2

# Malformed event bodies: exit 1, "invalid JSON" with the position; nothing queued.
echo '{"Records": [' >"$WS/ev.json"
assert_exit 1 zload event "$WS/ev.json"
assert_contains "$ERR" "zload: event: invalid JSON at line 2, column 0:" "truncated event"
assert_contains "$ERR" 'level=error msg="malformed event skipped"' "logged"
assert_eq "" "$OUT" "no output for a malformed event"
echo 'not json' >"$WS/notjson"
assert_exit 1 zload event - <"$WS/notjson"
assert_contains "$ERR" "zload: event: invalid JSON at line 1, column" "event on stdin"
echo '{"records": []}' >"$WS/ev.json"
assert_exit 1 zload event "$WS/ev.json"
assert_contains "$ERR" 'zload: event: no "Records" array' "no Records"
assert_exit 1 zload event "$WS/none.json"
assert_eq "zload: $WS/none.json: No such file or directory" "$(grep '^zload:' <<<"$ERR")" "missing event file"
assert_eq 0 "$(batch_count)" "no batch after malformed events"

# A record without a key (and one with a bad %-escape) is logged; the others are processed.
csv_rows b/one/good.csv 3
cat >"$WS/ev.json" <<'EOF2'
{"Records": [
 {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"size": 3}}},
 {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "one/bad%zz.csv"}}},
 {"eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": "b"}, "object": {"key": "one/gone.csv"}}},
 {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "one/good.csv", "size": 30}}},
 {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "elsewhere"}, "object": {"key": "x.csv", "size": 1}}}
]}
EOF2
assert_exit 1 zload event "$WS/ev.json"
id=$(batch_ids --prefix b/one)
assert_eq "$(printf 'queued b/one/good.csv batch=%s\nunrouted elsewhere/x.csv\nloaded batch=%s status=complete rows=3' "$id" "$id")" "$OUT" "the good record is processed"
assert_contains "$(grep 'msg="malformed event record skipped"' <<<"$ERR")" 'error="Records[0].s3.object.key: missing"' "missing key logged"
assert_contains "$(grep 'msg="malformed event record skipped"' <<<"$ERR")" 'error="Records[1].s3.object.key: bad %-escape in \"one/bad%zz.csv\""' "bad escape logged"
assert_not_contains "$ERR" "gone.csv" "a delete event is ignored"
assert_eq 3 "$(rows t)" "rows"

# An event for an object that does not exist: its batch ends in error naming the key; the batch
# of another prefix in the same event loads.
csv_rows b/two/x1.csv 2 100
csv_rows b/two/x2.csv 2 200
s3_event b 'one/missing.csv#10' two/x1.csv two/x2.csv >"$WS/ev.json"
assert_exit 1 zload event "$WS/ev.json"
miss_id=$(batch_ids --prefix b/one | head -n 1)
two_id=$(batch_ids --prefix b/two)
assert_eq "$(printf 'queued b/one/missing.csv batch=%s\nqueued b/two/x1.csv batch=%s\nqueued b/two/x2.csv batch=%s\nloaded batch=%s status=error rows=0 error=target wh: b/one/missing.csv: No such file or directory\nloaded batch=%s status=complete rows=4' \
	"$miss_id" "$two_id" "$two_id" "$miss_id" "$two_id")" "$OUT" "missing object"
assert_eq error "$(batch_status "$miss_id")" "status of the batch of a missing object"
assert_eq "target wh: b/one/missing.csv: No such file or directory" "$(batch_field "$miss_id" error)" "error names the key"
assert_eq complete "$(batch_status "$two_id")" "the other batch"
assert_eq 7 "$(rows t)" "rows"

# A CSV row with the wrong number of fields: the batch fails naming file and line, and none of
# its rows are committed (the good file of the same batch neither).
csv_rows b/two/ok.csv 4 300
printf 'id,v\n401,a\n402,b,extra\n403,c\n' | write_file b/two/bad.csv
event b two/ok.csv two/bad.csv
csv_id=$(batch_ids --prefix b/two | head -n 1)
assert_eq 1 "$RC" "exit code"
assert_eq "loaded batch=$csv_id status=error rows=0 error=target wh: b/two/bad.csv line 3: expected 2 fields, got 3" \
	"$(tail -n 1 <<<"$OUT")" "malformed CSV"
assert_eq error "$(batch_status "$csv_id")" "status"
assert_eq "target wh: b/two/bad.csv line 3: expected 2 fields, got 3" "$(batch_field "$csv_id" error)" "error"
assert_eq 7 "$(rows t)" "no row of the failed batch committed"
assert_eq 0 "$(sql "$WH" 'SELECT count(*) FROM t WHERE id >= 300')" "not even the good file's rows"
assert_eq "error|0" "$(json "j['result']['targets'][0]['status'] + '|' + str(j['result']['targets'][0]['rows'])" zload batches show --json "$csv_id")" "per-target result"
# An unterminated quote is reported too.
printf 'id,v\n501,"abc\n' | write_file b/two/quote.csv
csv_rows b/two/ok2.csv 1 600
event b two/quote.csv two/ok2.csv
assert_contains "$OUT" "error=target wh: b/two/quote.csv line 2: unterminated quoted field" "unterminated quote"
assert_eq 7 "$(rows t)" "rows after the unterminated quote"

# The target table is missing.
csv_rows b/notable/n.csv 1
event b notable/n.csv
nt_id=$(batch_ids --prefix b/notable)
assert_eq 1 "$RC" "exit code"
assert_eq "$(printf 'queued b/notable/n.csv batch=%s\nloaded batch=%s status=error rows=0 error=target wh: no such table: nosuch' "$nt_id" "$nt_id")" "$OUT" "missing table"
assert_eq "target wh: no such table: nosuch" "$(batch_field "$nt_id" error)" "error of a missing table"

# Usage errors: exit 2.
assert_exit 2 zload frobnicate
assert_eq "$(printf 'zload: unknown command "frobnicate"\nTry '"'"'zload --help'"'"'.')" "$ERR" "unknown command"
assert_exit 2 zload batches frobnicate
assert_contains "$ERR" 'zload batches: unknown command "frobnicate"' "unknown subcommand"
assert_exit 2 zload --frobnicate batches list
assert_eq "$(printf 'zload: unknown option "--frobnicate"\nTry '"'"'zload --help'"'"'.')" "$ERR" "bad global option"
assert_exit 2 zload batches list --frobnicate
assert_eq "$(printf 'zload batches list: unknown option "--frobnicate"\nTry '"'"'zload batches list --help'"'"'.')" "$ERR" "bad option"
assert_exit 2 zload batches show
assert_contains "$ERR" "zload batches show: expected ID" "missing argument"
assert_exit 2 zload batches list --limit
assert_contains "$ERR" "zload batches list: option --limit needs a value (N)" "option without its value"
assert_exit 2 zload serve --workers 0
assert_contains "$ERR" 'zload serve: --workers: must be at least 1' "zero workers"
assert_exit 2 zload serve --workers many
assert_contains "$ERR" 'zload serve: --workers: "many" is not a number' "bad number"
assert_exit 2 zload event --log-format xml
assert_contains "$ERR" 'zload event: --log-format must be text or json, not "xml"' "bad log format"
assert_exit 2 zload
assert_contains "$ERR" "usage: zload" "no command"
assert_exit 1 zload batches show nosuch
assert_eq 'zload: no batch "nosuch"' "$ERR" "unknown batch"
ok zload --state "sqlite:$WS/no/dir/state.db" batches list
assert_eq 700 "$(stat -c %a "$WS/no/dir")" "a state database's new directories are private"
assert_eq 600 "$(stat -c %a "$WS/no/dir/state.db")" "a new state database is private"
assert_exit 1 zload --state "sqlite:$WS/ev.json/state.db" batches list
assert_eq "zload: cannot create state database \"$WS/ev.json/state.db\": Not a directory" "$ERR" "unopenable state database"
assert_exit 1 zload --store "dir:$WS/nostore" flush b/one
assert_contains "$ERR" "zload: store directory \"$WS/nostore\": No such file or directory" "missing store directory"
