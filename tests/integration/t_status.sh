#!/usr/bin/env bash
# zload status: healthy with an open batch that falls due later and a finished load (text and
# --json agree with the batches); a batch that cannot fall due is stuck (exit 1, named); a batch in
# error shows its reason (exit 1); a loader killed mid-load leaves a locked batch with its owner and
# lease; a failed notification is a problem; names with control characters stay on one line; a
# state that cannot be read is the usual error, its password masked.
. "$(dirname "$0")/lib.sh"

make_table t "id INTEGER, v TEXT"
put_config in <<'EOF2'
{"s3Prefix": "b/in", "batchSize": 10, "batchTimeoutSecs": 3600, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
put_config ok <<'EOF2'
{"s3Prefix": "b/ok", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2

# status_json EXPR: EXPR over `zload status --json` (which may exit 1).
status_json() {
	zload status --json >"$WS/.status.json" 2>"$WS/.status.err"
	"$PYTHON" -c 'import json, sys; j = json.load(open(sys.argv[2])); v = eval(sys.argv[1]); print("null" if v is None else v)' \
		"$1" "$WS/.status.json" || fail "cannot evaluate $1 over [$(<"$WS/.status.json")]"
}
# pfx PREFIX: the python expression of PREFIX's entry in the JSON.
pfx() { echo "[p for p in j['prefixes'] if p['prefix'] == '$1'][0]"; }

# Healthy: b/in holds one file (due in an hour), b/ok loaded 5 rows.
csv_rows b/in/a.csv 3
csv_rows b/ok/a.csv 5
event_ok b in/a.csv
in_id=$(batch_ids --prefix b/in)
event_ok b ok/a.csv
ok_id=$(batch_ids --prefix b/ok)
ok zload status
text=$OUT
assert_eq "state  sqlite:$WS/state.db" "$(sed -n 1p <<<"$text")" "the state line"
assert_eq "store  dir:$STORE" "$(sed -n 2p <<<"$text")" "the store line"
assert_contains "$text" "
b/in: wh (sqlite); batchSize 10, batchTimeoutSecs 3600
  open    $in_id  1 file, " "the open batch of b/in"
first=$(batch_field "$in_id" firstFileAt)
due=$("$PYTHON" -c 'import datetime,sys; t=datetime.datetime.fromisoformat(sys.argv[1].replace("Z","+00:00"))+datetime.timedelta(hours=1); print(t.strftime("%Y-%m-%dT%H:%M:%S.")+"%03dZ" % (t.microsecond//1000))' "$first")
assert_contains "$text" "; falls due at $due (in " "when the open batch falls due"
assert_contains "$text" "
b/ok: wh (sqlite); batchSize 1
  no open batch holds files
  last    $ok_id  complete, 5 rows in " "the last load of b/ok"
assert_eq "notifications: 0 pending, 0 failed in the last 24 hours" "$(grep '^notifications:' <<<"$text")" "notifications line"
assert_eq "healthy" "$(tail -n 1 <<<"$text")" "healthy"
assert_eq "" "$ERR" "nothing on stderr"

assert_eq "True sqlite:$WS/state.db dir:$STORE []" "$(status_json "j['healthy'], j['state'], j['store'], j['problems']" | tr -d "(),'")" "JSON head"
assert_eq "b/in b/ok" "$(status_json "' '.join(p['prefix'] for p in j['prefixes'])")" "JSON prefixes"
assert_eq "True ['wh (sqlite)'] 10 0 3600 1" \
	"$(status_json "' '.join(map(str, (lambda p: [p['configured'], p['targets'], p['batchSize'], p['batchSizeBytes'], p['batchTimeoutSecs'], p['filesWaiting']])($(pfx b/in))))")" "JSON b/in"
assert_eq "$in_id b/in open 1 $(stat -c %s "$STORE/b/in/a.csv") $due None False None" \
	"$(status_json "' '.join(map(str, (lambda b: [b['id'], b['prefix'], b['status'], b['files'], b['bytes'], b['dueAt'], b['due'], b['stuck'], b['whyStuck']])($(pfx b/in)['open'][0])))")" "JSON open batch"
assert_eq "$first" "$(status_json "$(pfx b/in)['oldestOpenAt']")" "JSON oldestOpenAt"
assert_eq "$ok_id complete 5 True 0 0" \
	"$(status_json "' '.join(map(str, (lambda p: [p['recent'][0]['id'], p['recent'][0]['status'], p['recent'][0]['rows'], isinstance(p['recent'][0]['loadMs'], int), len(p['open']), len(p['errors'])])($(pfx b/ok))))")" "JSON last load"
ms=$(status_json "$(pfx b/ok)['recent'][0]['loadMs']")
assert_eq "$(json "j['result']['ms']" zload batches show --json "$ok_id")" "$ms" "loadMs is the result's ms"
assert_contains "$text" "complete, 5 rows in $ms ms, finished " "the text shows the same duration"
assert_eq "0 0 [] []" "$(status_json "j['notifications']['pending'], j['notifications']['failed'], j['notifications']['firstPending'], j['notifications']['recentFailed']" | tr -d "(),")" "JSON notifications"

# Stuck: batchSize 10 without batchTimeoutSecs, one file and nothing else coming.
put_config stuck <<'EOF2'
{"s3Prefix": "b/stuck", "batchSize": 10, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
csv_rows b/stuck/a.csv 2
s3_event b stuck/a.csv >"$WS/stuck.json"
ok zload event --no-load "$WS/stuck.json"
stuck_id=$(batch_ids --prefix b/stuck)
assert_exit 1 zload status
assert_contains "$OUT" "
b/stuck: wh (sqlite); batchSize 10
  open    $stuck_id  1 file, " "the stuck batch is listed"
assert_contains "$OUT" "; never falls due: 1 of batchSize 10 files and no batchTimeoutSecs
" "why it never falls due"
assert_eq "1 problem:
  batch $stuck_id (prefix b/stuck): stuck open: 1 of batchSize 10 files and no batchTimeoutSecs" \
	"$(sed -n '/^1 problem:$/,$p' <<<"$OUT")" "the problem names the batch and its prefix"
assert_eq "" "$ERR" "a problem is no error message"
assert_eq "False True" "$(status_json "j['healthy'], $(pfx b/stuck)['open'][0]['stuck']" | tr -d "(),")" "JSON stuck"
assert_eq "batch $stuck_id (prefix b/stuck): stuck open: 1 of batchSize 10 files and no batchTimeoutSecs" \
	"$(status_json "'|'.join(j['problems'])")" "JSON problems"
ok zload flush b/stuck
ok zload status
assert_eq "healthy" "$(tail -n 1 <<<"$OUT")" "healthy once flushed"

# An error: the target table does not exist.
put_config bad <<'EOF2'
{"s3Prefix": "b/bad", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "missing"}]}
EOF2
csv_rows b/bad/a.csv 2
event b bad/a.csv
assert_eq 1 "$RC" "the load failed"
bad_id=$(batch_ids --prefix b/bad)
finished=$(batch_field "$bad_id" finishedAt)
assert_exit 1 zload status
assert_contains "$OUT" "
b/bad: wh (sqlite); batchSize 1
  no open batch holds files
  last    $bad_id  error, 0 rows in " "the last load of b/bad"
assert_contains "$OUT" "
  error   $bad_id  finished $finished (" "the error batch of b/bad"
assert_contains "$OUT" "ago): target wh: no such table: missing
" "its reason"
assert_eq "1 problem:
  batch $bad_id (prefix b/bad): error: target wh: no such table: missing" "$(sed -n '/^1 problem:$/,$p' <<<"$OUT")" "the problem"
assert_eq "$bad_id error target wh: no such table: missing 0" \
	"$(status_json "' '.join(map(str, (lambda b: [b['id'], b['status'], b['error'], b['rows']])($(pfx b/bad)['errors'][0])))")" "JSON error batch"
ok zload batches delete --status error --yes
ok zload status
assert_eq "healthy" "$(tail -n 1 <<<"$OUT")" "healthy once the error batch is deleted"

# A loader killed mid-load (its target is write-locked): a locked batch with owner and lease, not
# yet a problem (the lease is live for 600 s).
put_config lock <<'EOF2'
{"s3Prefix": "b/lock", "batchSize": 1, "leaseSecs": 600, "format": {"header": true},
 "targets": [{"name": "other", "type": "sqlite", "path": "@WS@/other.db", "targetTable": "t"}]}
EOF2
make_table "$WS/other.db" t "id INTEGER, v TEXT"
csv_rows b/lock/k.csv 4
hold_lock "$WS/other.db"
s3_event b lock/k.csv >"$WS/lock.json"
start_bg loader "$ZLOAD" event "$WS/lock.json"
wait_for 10 log_has "$WS/loader.log" 'msg="loading batch"'
kill -KILL "$BG_PID"
wait_exit "$BG_PID" 10
release_lock "$WS/other.db"
lock_id=$(batch_ids --prefix b/lock)
owner=$(batch_field "$lock_id" owner)
until=$(batch_field "$lock_id" leaseUntil)
ok zload status
assert_contains "$OUT" "
  locked  $lock_id  1 file, attempt 1, by $owner, lease until $until (in " "the locked batch"
assert_eq "healthy" "$(tail -n 1 <<<"$OUT")" "a live lease is healthy"
assert_eq "$owner $until None False" \
	"$(status_json "' '.join(map(str, (lambda b: [b['owner'], b['leaseUntil'], b['retryAt'], b['stuck']])($(pfx b/lock)['locked'][0])))")" "JSON locked batch"
ok zload batches unlock --force "$lock_id"
ok zload flush b/lock

# A notification that fails is a problem, naming its batch, destination and error.
printf '#!/bin/sh\necho "always broken" >&2\nexit 9\n' >"$WS/broken.sh"
chmod +x "$WS/broken.sh"
put_config note <<'EOF2'
{"s3Prefix": "b/note", "batchSize": 1, "format": {"header": true}, "maxNotifyAttempts": 1,
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}],
 "notify": {"success": ["exec:@WS@/broken.sh"]}}
EOF2
csv_rows b/note/a.csv 1
event_ok b note/a.csv
note_id=$(batch_ids --prefix b/note)
nid=$(json "[n['id'] for n in j][0]" zload notifications list --json --status failed)
assert_exit 1 zload status
assert_eq "notifications: 0 pending, 1 failed in the last 24 hours" "$(grep '^notifications:' <<<"$OUT")" "notifications line"
assert_eq "1 problem:
  batch $note_id (prefix b/note): success notification $nid to exec:$WS/broken.sh failed after 1 attempts: $(json "[n['lastError'] for n in j][0]" zload notifications list --json --status failed)" \
	"$(sed -n '/^1 problem:$/,$p' <<<"$OUT")" "the failed notification"
assert_eq "0 1 $nid $note_id" "$(status_json "j['notifications']['pending'], j['notifications']['failed'], j['notifications']['recentFailed'][0]['id'], j['notifications']['recentFailed'][0]['batchId']" | tr -d "(),'")" "JSON failed notification"
ok zload batches delete --status complete --yes # takes its failed notification along
ok zload status
assert_eq "healthy" "$(tail -n 1 <<<"$OUT")" "healthy again"

# Control characters in names are quoted or escaped: every record stays on its line.
zload config put /dev/stdin >/dev/null <<EOF2 || fail "config put of a hostile prefix"
{"s3Prefix": "b/we\\u0001ird\\nx", "batchSize": 10,
 "targets": [{"name": "w\\nh", "type": "sqlite", "path": "$WS/warehouse.db", "targetTable": "t"}]}
EOF2
ok zload status
assert_contains "$OUT" '
"b/we\001ird\nx": "w\nh (sqlite)"; batchSize 10
  no open batch holds files
  no load yet
' "a hostile prefix and target name"
[[ $(tr -d '\n\t[:print:]' <<<"$OUT" | wc -c) == 0 ]] || fail "control characters in the output: [$OUT]"
assert_eq True "$(status_json "any(p['prefix'] == 'b/we\\x01ird\\nx' for p in j['prefixes'])")" "JSON keeps the prefix as it is"
zload config delete $'b/we\x01ird\nx' >/dev/null || fail "config delete of the hostile prefix"

# A state that cannot be read: exit 1, the reason on stderr, nothing on stdout; a password masked.
echo "not a database" >"$WS/garbage.db"
assert_exit 1 zload status --state "sqlite:$WS/garbage.db"
assert_eq "" "$OUT" "nothing on stdout"
assert_contains "$ERR" "zload: cannot read the state sqlite:$WS/garbage.db: " "the error names the state"
assert_exit 1 zload status --json --state 'postgresql://loader:Sekret-Pw@127.0.0.1:1/db?retry=0'
assert_eq "" "$OUT" "nothing on stdout (--json)"
assert_contains "$ERR" "zload: cannot read the state postgresql://loader:********@127.0.0.1:1/db?retry=0: " "the password masked"
assert_not_contains "$ERR" "Sekret-Pw" "no password in the message"

# help and usage
ok zload status --help
assert_contains "$OUT" "Exit status: 0 healthy; 1 something is in error or stuck, or the state cannot be read." "help"
assert_exit 2 zload status extra
assert_contains "$ERR" "zload status: takes no arguments" "usage error"
ok zload --help
assert_contains "$OUT" "  status                     what is open, loading, loaded and failed; healthy or the problems" "in the command list"
