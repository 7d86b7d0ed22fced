#!/usr/bin/env bash
# exec: destinations: the program (no shell, no arguments) reads the message JSON on stdin and
# finds ZLOAD_NOTIFY_EVENT, ZLOAD_NOTIFY_ID, ZLOAD_BATCH_ID and ZLOAD_NOTIFY_SUBJECT in its
# environment; exit 0 is delivered. One that fails at first is retried (its stderr is the error)
# and delivered once within the one-shot's bound. `notifications retry` queues a failed one again.
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib_notify.sh"

mkdir -p "$WS/got"
cat >"$WS/record.sh" <<EOF2
#!/bin/sh
cat > "$WS/got/\$ZLOAD_NOTIFY_ID.json"
printf '%s|%s|%s|%s|%s\n' "\$ZLOAD_NOTIFY_EVENT" "\$ZLOAD_NOTIFY_ID" "\$ZLOAD_BATCH_ID" "\$ZLOAD_NOTIFY_SUBJECT" "\$#" > "$WS/got/\$ZLOAD_NOTIFY_ID.env"
EOF2
# fails the first time it runs, then records
cat >"$WS/flaky.sh" <<EOF2
#!/bin/sh
if [ ! -e "$WS/flaky.once" ]; then touch "$WS/flaky.once"; echo "receiver not ready" >&2; exit 3; fi
cat > "$WS/got/flaky-\$ZLOAD_NOTIFY_ID.json"
EOF2
printf '#!/bin/sh\necho "always broken" >&2\nexit 9\n' >"$WS/broken.sh"
chmod +x "$WS/record.sh" "$WS/flaky.sh" "$WS/broken.sh"

make_table t "id INTEGER, v TEXT"
put_config a <<'EOF2'
{"s3Prefix": "b/in", "batchSize": 1, "format": {"header": true}, "maxNotifyAttempts": 2,
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}],
 "notify": {"success": ["exec:@WS@/record.sh", "exec:@WS@/flaky.sh", "exec:@WS@/broken.sh"]}}
EOF2
assert_exit 1 zload config put /dev/stdin <<'EOF2'
{"s3Prefix": "b/x", "targets": [{"type": "sqlite", "path": "/tmp/x.db", "targetTable": "t"}],
 "notify": {"success": ["exec:/bin/sh -c true"]}}
EOF2
assert_eq "zload: /dev/stdin: notify.success[0]: /bin/sh -c true is not an executable file: No such file or directory" "$ERR" \
	"exec takes a program, not a command line"

csv_rows b/in/a.csv 2
event_ok b in/a.csv
batch=$(batch_ids)
rec=$(notices "[n['id'] for n in j if n['destination'].endswith('record.sh')][0]")
flaky=$(notices "[n['id'] for n in j if n['destination'].endswith('flaky.sh')][0]")
broken=$(notices "[n['id'] for n in j if n['destination'].endswith('broken.sh')][0]")
assert_eq "success|$rec|$batch|Lambda Vertica Batch Load $batch OK|0" "$(<"$WS/got/$rec.env")" "the program's environment, no arguments"
assert_eq "ok $batch b/in" "$(json "' '.join([j['status'], j['batchId'], j['s3Prefix']])" cat "$WS/got/$rec.json")" "the message on stdin"
assert_eq "$(notices "[n['message'] for n in j if n['id'] == $rec][0]" | tr -d ' ')" \
	"$(json "j" cat "$WS/got/$rec.json" | tr -d ' ')" "stdin is the message as queued"
assert_eq "sent 1" "$(notices "[n['status'] + ' ' + str(n['attempts']) for n in j if n['id'] == $rec][0]")" "record.sh"
assert_eq "sent 2" "$(notices "[n['status'] + ' ' + str(n['attempts']) for n in j if n['id'] == $flaky][0]")" \
	"flaky.sh: delivered at the second attempt, within the one-shot's bound"
assert_eq "$WS/flaky.sh: exit status 3: receiver not ready" "$(notices "[n['lastError'] for n in j if n['id'] == $flaky][0]")" \
	"the failed attempt's error"
assert_eq 1 "$(find "$WS/got" -name 'flaky-*.json' | wc -l)" "flaky.sh recorded once"
assert_eq "failed 2 $WS/broken.sh: exit status 9: always broken" \
	"$(notices "[' '.join([n['status'], str(n['attempts']), n['lastError']]) for n in j if n['id'] == $broken][0]")" \
	"broken.sh: failed after maxNotifyAttempts"
assert_contains "$ERR" "msg=\"notification failed: giving up\" notification=$broken batch=$batch" "giving up is logged"

# notifications retry: a sent one is refused, a failed one is queued again.
assert_exit 1 zload notifications retry "$rec"
assert_contains "$ERR" "zload: notification $rec was sent at " "retry of a sent notification"
assert_exit 2 zload notifications retry nope
assert_exit 1 zload notifications retry 9999
assert_eq "zload: no notification 9999" "$ERR" "retry of an unknown notification"
ok zload notifications list --status failed
assert_contains "$OUT" "failed   success  2/2" "the failed notification in the table"
ok zload notifications retry --failed
assert_eq "1 failed notification queued again: due now" "$OUT" "retry --failed"
assert_eq "pending 0" "$(notices "[n['status'] + ' ' + str(n['attempts']) for n in j if n['id'] == $broken][0]")" "queued again"
assert_eq 1 "$(notices "len(j)" --status pending)" "pending notifications"
assert_eq 2 "$(notices "len(j)" --status sent --batch "${batch:0:8}")" "sent notifications of the batch"
