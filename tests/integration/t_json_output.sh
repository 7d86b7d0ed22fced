#!/usr/bin/env bash
# Every --json output parses as JSON and holds the documented fields (batches list, batches show,
# config list, config get); --log-format json (and ZLOAD_LOG_FORMAT=json) makes every stderr log
# line a JSON object with ts, level and msg.
. "$(dirname "$0")/lib.sh"

make_table t "id INTEGER, v TEXT"
put_config ok <<'EOF2'
{"s3Prefix": "b/ok", "batchSize": 2, "batchTimeoutSecs": 30, "filenameFilterRegex": "\\.csv$",
 "format": {"type": "csv", "header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t",
              "postLoadStatement": "UPDATE t SET v = upper(v) WHERE v LIKE 'v%'"}]}
EOF2
put_config err <<'EOF2'
{"s3Prefix": "b/err", "loadClusters": [{"name": "bad", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "missing"}]}
EOF2
# A batch to be retried: nothing listens on the target's port (connection refused is transient; a
# missing SQLite database file is not).
closed_port=$(bash "$REPO/scripts/pg.sh" free-port)
put_config retry <<EOF2
{"s3Prefix": "b/retry", "maxAttempts": 3, "targets": [{"name": "later", "type": "postgres", "host": "127.0.0.1", "port": $closed_port,
 "database": "dw", "user": "loader", "password": "pw", "targetTable": "t", "connectTimeoutSecs": 2}]}
EOF2
csv_rows b/ok/1.csv 2
csv_rows b/ok/2.csv 3 10
csv_rows b/ok/3.csv 1 20
csv_rows b/err/e.csv 1
csv_rows b/retry/r.csv 1

# check_json KIND: validates stdin against the documented shape of KIND; prints "ok" or the problems.
check_json() {
	"$PYTHON" -c '
import json, re, sys
kind = sys.argv[1]
doc = json.loads(sys.stdin.read())
problems = []
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
def need(obj, where, **fields):
    if not isinstance(obj, dict):
        problems.append(f"{where}: not an object"); return
    for name, typ in fields.items():
        if name not in obj:
            problems.append(f"{where}: no field {name}"); continue
        v = obj[name]
        if typ == "time":
            ok = isinstance(v, str) and ISO.match(v)
        elif typ == "time?":
            ok = v is None or (isinstance(v, str) and ISO.match(v))
        elif typ == "str?":
            ok = v is None or isinstance(v, str)
        else:
            ok = isinstance(v, typ) and not (typ is int and isinstance(v, bool))
        if not ok:
            problems.append(f"{where}.{name}: bad value {v!r}")
def batch(b, where):
    need(b, where, id=str, prefix=str, status=str, files=int, bytes=int, attempts=int, created="time",
         firstFileAt="time", lockedAt="time?", finishedAt="time?", updated="time", error="str?")
    if b.get("status") not in ("open", "locked", "complete", "error"):
        problems.append(where + ".status: " + repr(b.get("status")))
    if b.get("status") == "locked":
        if "leaseUntil" in b:
            need(b, where, leaseUntil="time", owner=str)
        else:
            need(b, where, retryAt="time", owner=type(None))
if kind == "list":
    if not isinstance(doc, list): problems.append("not an array")
    for i, b in enumerate(doc): batch(b, f"[{i}]")
elif kind == "show":
    batch(doc, "batch")
    need(doc, "batch", fileList=list)
    for i, f in enumerate(doc.get("fileList", [])):
        need(f, f"fileList[{i}]", bucket=str, key=str, size=int, received="time")
    r = doc.get("result")
    if doc.get("status") in ("complete", "error") or doc.get("attempts", 0) > 0 and doc.get("status") == "locked" and "retryAt" in doc:
        need(doc, "batch", result=dict)
    if r is not None:
        need(r, "result", attempt=int, targets=list, ms=int)
        for i, t in enumerate(r.get("targets", [])):
            need(t, f"result.targets[{i}]", name=str, type=str, status=str, rows=int, ms=int, objects=list, statements=list)
            if t.get("status") not in ("complete", "error", "retry"):
                problems.append(f"result.targets[{i}].status: " + repr(t.get("status")))
            if t.get("status") != "complete" and not isinstance(t.get("error"), str):
                problems.append(f"result.targets[{i}]: no error text")
            for j, o in enumerate(t.get("objects", [])):
                need(o, f"result.targets[{i}].objects[{j}]", key=str, rows=int)
elif kind == "configs":
    if not isinstance(doc, list): problems.append("not an array")
    for i, c in enumerate(doc):
        need(c, f"[{i}]", s3Prefix=str)
        if not isinstance(c.get("targets", c.get("loadClusters")), list):
            problems.append(f"[{i}]: no targets")
elif kind == "logs":
    pass
print("\n".join(problems) if problems else "ok")
' "$1"
}

# check_log FILE: every line of FILE is a JSON object with ts, level and msg.
check_log() {
	"$PYTHON" -c '
import json, re, sys
bad = []
lines = open(sys.argv[1]).read().splitlines()
for n, line in enumerate(lines, 1):
    try:
        o = json.loads(line)
    except ValueError as e:
        bad.append(f"line {n} is not JSON: {line!r}"); continue
    if not isinstance(o, dict) or not isinstance(o.get("ts"), str) or o.get("level") not in ("debug", "info", "warn", "error") or not isinstance(o.get("msg"), str):
        bad.append(f"line {n} lacks ts/level/msg: {line!r}")
    elif "batch" in o and o["msg"] != "duplicate event ignored" and "prefix" not in o and o["msg"] not in ("load failed", "lease lost while loading", "lease renewal failed", "batch released at shutdown"):
        bad.append(f"line {n}: a line about a batch without its prefix: {line!r}")
print("\n".join(bad) if bad else f"ok {len(lines)}")
' "$1"
}

# Events with --log-format json: a complete batch, an error batch, a batch waiting for a retry,
# an open batch.
s3_event b ok/1.csv ok/2.csv ok/3.csv ok/skip.txt err/e.csv retry/r.csv >"$WS/ev.json"
zload --log-format json event "$WS/ev.json" >"$WS/event.out" 2>"$WS/event.err"
assert_eq 1 "$?" "exit code (one batch failed)"
result=$(check_log "$WS/event.err")
[[ $result == ok* && $result != "ok 0" ]] || fail "event --log-format json: $result"
assert_contains "$(<"$WS/event.err")" '"msg":"batch complete"' "log of a complete batch"
assert_contains "$(<"$WS/event.err")" '"msg":"batch failed"' "log of a failed batch"
assert_contains "$(<"$WS/event.err")" '"msg":"batch will be retried"' "log of a retry"

assert_eq ok "$(zload batches list --json | check_json list)" "batches list --json"
assert_eq 4 "$(batch_count)" "batches"
for status in complete error locked open; do
	id=$(batch_ids --status $status)
	[[ -n $id ]] || fail "no $status batch"
	assert_eq ok "$(zload batches show --json "$id" | check_json show)" "batches show --json of the $status batch"
done
ok_id=$(batch_ids --status complete)
assert_eq "$(printf '1.csv 2\n2.csv 3')" "$(json "[o['key'].split('/')[-1] + ' ' + str(o['rows']) for o in j['result']['targets'][0]['objects']]" zload batches show --json "$ok_id")" "rows per object"
assert_eq "$(printf '%s\n' 'load b/ok/1.csv' 'load b/ok/2.csv' "UPDATE t SET v = upper(v) WHERE v LIKE 'v%'")" \
	"$(json "j['result']['targets'][0]['statements']" zload batches show --json "$ok_id")" "statements"
assert_eq "b ok/1.csv $(stat -c %s "$STORE/b/ok/1.csv")" "$(json "' '.join(str(x) for x in (j['fileList'][0]['bucket'], j['fileList'][0]['key'], j['fileList'][0]['size']))" zload batches show --json "$ok_id")" "fileList"
retry_id=$(batch_ids --status locked)
assert_eq "None|retry|1" "$(json "'|'.join(str(x) for x in (j['owner'], j['result']['targets'][0]['status'], j['attempts']))" zload batches show --json "$retry_id")" "a batch waiting for its retry"
assert_eq "[]" "$(zload batches list --json --prefix b/none)" "an empty list"

ok zload config list --json
assert_eq ok "$(check_json configs <<<"$OUT")" "config list --json"
assert_eq "b/err b/ok b/retry" "$(json "' '.join(c['s3Prefix'] for c in j)" zload config list --json)" "prefixes in config list --json"
ok zload config get b/ok
assert_eq "2|30|wh|\\.csv$" "$(json "'|'.join(str(x) for x in (j['batchSize'], j['batchTimeoutSecs'], j['targets'][0]['name'], j['filenameFilterRegex']))" zload config get b/ok)" "config get"
assert_eq "bad" "$(json "j['loadClusters'][0]['name']" zload config get b/err)" "config get keeps the alias loadClusters"

# ZLOAD_LOG_FORMAT=json, with --verbose (debug lines too), and serve.
s3_event b ok/other.txt >"$WS/ev2.json"
ZLOAD_LOG_FORMAT=json zload --verbose event "$WS/ev2.json" >/dev/null 2>"$WS/flush.err"
ZLOAD_LOG_FORMAT=json zload flush b/ok >/dev/null 2>>"$WS/flush.err"
result=$(check_log "$WS/flush.err")
[[ $result == ok* && $result != "ok 0" ]] || fail "ZLOAD_LOG_FORMAT=json --verbose: $result"
assert_contains "$(<"$WS/flush.err")" '"level":"debug"' "debug lines with --verbose"
start_serve serve --log-format json --exit-when-idle 1
wait_exit "$SERVE_PID" 30
assert_eq 0 "$RC" "serve exit code"
result=$(check_log "$WS/serve.log")
[[ $result == ok* ]] || fail "serve --log-format json: $result"
for msg in '"serving"' '"batch locked"' '"loading batch"' '"batch failed"' '"idle: exiting"'; do
	assert_contains "$(<"$WS/serve.log")" "\"msg\":$msg" "serve log"
done
assert_eq error "$(batch_status "$retry_id")" "the retried batch after maxAttempts"
