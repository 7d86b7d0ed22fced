#!/usr/bin/env bash
# Object keys may hold newlines and control characters (legal in S3): human output (event lines,
# batches show, files show, text logs, error lines) escapes them so one record is one line, and
# cannot be forged; --json output and JSON logs keep the exact key (issue #7, item 9).
. "$(dirname "$0")/lib.sh"

make_table t "id INTEGER, v TEXT"
put_config keys <<'EOF2'
{"s3Prefix": "b/keys", "batchSize": 2, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
evil=$'a\nqueued b/keys/forged.csv batch=00000000\r\e[2Jx.csv'
quote='"b/keys/a\nqueued b/keys/forged.csv batch=00000000\r\033[2Jx.csv"'
mkdir -p "$(dirname "$STORE/b/keys/$evil")" # the key has slashes: it is routed to b/keys, its longest parent
printf 'id,v\n1,evil\n' >"$STORE/b/keys/$evil"
printf 'id,v\n2,plain\n' >"$STORE/b/keys/plain.csv"
"$PYTHON" - "$WS/ev.json" "keys/$evil" <<'EOF2'
import json, sys, urllib.parse
rec = lambda k: {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"},
                 "object": {"key": urllib.parse.quote_plus(k, safe="/"), "size": 13}}}
json.dump({"Records": [rec(sys.argv[2]), rec("keys/plain.csv")]}, open(sys.argv[1], "w"))
EOF2
ok zload event "$WS/ev.json"
id=$(batch_ids --prefix b/keys)
assert_eq "queued $quote batch=$id
queued b/keys/plain.csv batch=$id
loaded batch=$id status=complete rows=2" "$OUT" "event output: one line per record, the evil key quoted"
while IFS= read -r line; do
	[[ $line == ts=* ]] || fail "a text log line that is not a log record: [$line]"
done <<<"$ERR"
assert_eq 2 "$(rows t)" "rows"

ok zload batches show "$id"
assert_contains "$OUT" "  $quote  13 bytes  received" "batches show: the file line"
assert_contains "$OUT" "    \"${quote#\"b/}: 1 rows" "batches show: the rows per file"
assert_eq 0 "$(grep -c '^queued' <<<"$OUT")" "no forged line in batches show"
assert_eq "b/keys/$evil" "$(json "j['fileList'][0]['bucket'] + '/' + j['fileList'][0]['key']" zload batches show --json "$id")" "batches show --json: the exact key"

ok zload files show "b/keys/$evil"
assert_eq "file      $quote" "$(head -n 1 <<<"$OUT")" "files show"
assert_eq 6 "$(wc -l <<<"$OUT")" "files show: six lines"
assert_eq "keys/$evil" "$(json "j['key']" zload files show --json "b/keys/$evil")" "files show --json: the exact key"

# JSON logs keep the exact key too.
ok zload --log-format json files delete "b/keys/$evil"
assert_eq "forgot file $quote: its next event will load it again" "$OUT" "files delete output"
"$PYTHON" -c '
import json, sys
for line in sys.stdin:
    json.loads(line)
' <<<"$ERR" || fail "stderr is not JSON lines: $ERR"
logged=$("$PYTHON" -c '
import json, sys
print(repr([f for f in (json.loads(line).get("file") for line in sys.stdin) if f]))
' <<<"$ERR") || fail "stderr is not JSON lines: $ERR"
assert_eq "$("$PYTHON" -c 'import sys; print(repr([sys.argv[1]]))' "b/keys/$evil")" "$logged" "the JSON log names the exact file"

# An error naming the key stays on one line.
rm "$STORE/b/keys/$evil"
ok zload event --no-load "$WS/ev.json"
assert_exit 1 zload flush b/keys
assert_eq 1 "$(wc -l <<<"$OUT")" "one line for the failed load: [$OUT]"
assert_contains "$OUT" 'error=target wh: b/keys/a\nqueued b/keys/forged.csv batch=00000000\r\033[2Jx.csv: No such file or directory' "the error escapes the key"
