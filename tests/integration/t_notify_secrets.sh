#!/usr/bin/env bash
# No secret leaks through notifications: a configuration with a webhookSecret, a database
# password and a wrong one. One target's pre-load statement quotes the password (as SQL that
# fails may), another cannot connect (password authentication failed). Neither password nor the
# webhook secret appears in any message body (webhook, exec), log line, `notifications list`
# output; the quoted password shows as ********. (`config get` masks the password fields; the
# pre-load statement is the operator's own text and is shown as written.)
. "$(dirname "$0")/lib_pg.sh"
. "$IT_DIR/lib_notify.sh"

HPORT=$(free_port)
SECRET=Hook-Secret-Value-7
WRONG=Wr0ng-Passw0rd-x
pql dw "CREATE TABLE t (id integer, v text)" >/dev/null
mkdir -p "$WS/got"
printf '#!/bin/sh\ncat > "%s/got/$ZLOAD_NOTIFY_ID.json"\n' "$WS" >"$WS/record.sh"
chmod +x "$WS/record.sh"
pg_config s <<EOF2
{"s3Prefix": "b/in", "batchSize": 1, "maxAttempts": 1, "format": {"type": "csv", "header": true},
 "targets": [$(pg_target quoting t dw loader "$PG_SCRAM_PW" "\"preLoadStatement\": \"SELECT 1 FROM no_such_table /* $PG_SCRAM_PW */\""),
             $(pg_target wrongpw t dw loader "$WRONG")],
 "notify": {"failure": ["http://127.0.0.1:$HPORT/hook", "exec:$WS/record.sh"], "webhookSecret": "$SECRET"}}
EOF2

sink_start hook webhook "$HPORT" "$SECRET"
csv_rows b/in/a.csv 2
event b in/a.csv
assert_eq 1 "$RC" "exit code of the failed load"
cp "$WS/.out" "$WS/event.out.txt"
cp "$WS/.err" "$WS/event.err.txt"
wait_for 10 count_is 1 sink_count hook
assert_eq True "$(sink_json hook 1 "j['signature_ok']")" "signed with the secret"
body=$(sink_json hook 1 "j['body']")
assert_contains "$body" '"status":"error"' "the failure notification"
assert_contains "$body" "password authentication failed" "the connect error is reported"
assert_contains "$body" 'SELECT 1 FROM no_such_table /* ******** */' "the quoted password is masked"
assert_contains "$body" 'no_such_table' "the SQL error is reported"

zload notifications list >"$WS/list.txt" 2>&1 || fail "notifications list"
zload notifications list --json >"$WS/list.json" 2>&1 || fail "notifications list --json"
ok zload config get b/in
assert_eq 2 "$(grep -c '"password": "\*\*\*\*\*\*\*\*"' <<<"$OUT")" "config get masks both passwords"
assert_contains "$OUT" '"webhookSecret": "********"' "config get masks the webhook secret"
everything=$(cat "$WS"/hook/*.json "$WS"/got/*.json "$WS/list.txt" "$WS/list.json" "$WS"/event.*.txt "$WS"/*.log)
for s in "$PG_SCRAM_PW" "$WRONG" "$SECRET"; do
	assert_not_contains "$everything" "$s" "a secret in a message, log line or listing"
done
assert_eq 2 "$(notices "len(j)")" "notifications"
assert_eq "sent sent" "$(notices "' '.join(n['status'] for n in j)")" "both delivered"
# The webhook secret and the passwords are stored sealed (the pre-load statement is stored as written).
stored=$(sqlite3 "$WS/state.db" "SELECT json FROM configs WHERE prefix = 'b/in'")
assert_eq "enc:local:v1:" "$("$PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])["notify"]["webhookSecret"][:13])' "$stored")" "the webhook secret is sealed"
for s in "$WRONG" "$SECRET"; do
	if grep -qaF "$s" "$WS"/state.db*; then fail "a secret in the state database"; fi
done
