#!/usr/bin/env bash
# S3 event notifications through SQS into PostgreSQL, against moto_server: a bucket notifies a
# queue (and a "tap" queue that keeps a copy of every real notification for the test to replay);
# `zload serve --sqs` ignores the s3:TestEvent, loads 3 objects as one batch by batchSize and a
# lone object by batchTimeoutSecs; a replayed copy of a real notification is a duplicate; two
# serve processes on the same queue load 30 objects exactly once; a malformed message is left in
# the queue (received again after its visibility timeout), every other message is deleted;
# `files reprocess` re-triggers the event by a copy in place and the object loads again.
. "$(dirname "$0")/lib_pg.sh"
. "$(dirname "$0")/lib_s3.sh"

moto_start
awsc s3 mb s3://bkt >/dev/null || fail "cannot create bucket bkt"
LOADS=$(sqs_create loads 2) || fail "cannot create queue loads"
TAP=$(sqs_create tap 30) || fail "cannot create queue tap"
s3_notify bkt "$(sqs_arn "$LOADS")" "$(sqs_arn "$TAP")"
ZLOAD_STORE=$(store_url "$MOTO_PORT")
export ZLOAD_STORE

pql dw "CREATE TABLE t (id integer, v text)" >/dev/null
pg_config in <<EOF
{"s3Prefix": "bkt/in", "batchSize": 3, "batchTimeoutSecs": 3, "format": {"type": "csv", "header": true},
 "targets": [$(pg_target wh t)]}
EOF

pg_ids() { pq dw "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM t"; }
queue_is() { [[ $(sqs_depth "$1") == "$2" ]]; }
# upload DIR DEST: every file under the local DIR to s3://bkt/DEST/ in one CLI call.
upload() { awsc s3 cp --recursive --quiet "$STORE/$1" "s3://bkt/$2/" || fail "upload of $1 failed"; }
# batch_reason ID: the reason logged when a serve locked the batch.
batch_reason() { sed -n "s/.*msg=\"batch locked\" batch=$1 .*reason=\([A-Za-z]*\).*/\1/p" "$WS"/serve-*.log | head -n 1; }
newest_batch() {
	local v
	v=$(batch_ids)
	printf '%s\n' "${v%%$'\n'*}"
}
settled() { [[ $(batch_count --status open) == 0 && $(batch_count --status locked) == 0 ]]; }

start_serve serve-a --no-watch --sqs "$LOADS" --sqs-wait 1 -v
SERVE_A=$SERVE_PID
# The s3:TestEvent sent when the notification was configured is consumed (deleted) and ignored.
wait_for 20 queue_is "$LOADS" "0 0"
assert_contains "$(<"$WS/serve-a.log")" 'msg="sqs: message handled"' "the test event was handled"
assert_eq 0 "$(batch_count)" "batches after the test event"

# ---- 3 objects (moto encodes the key as in%2Fsize%2Fa+1.csv): one batch, by batchSize.
csv_rows "s1/a 1.csv" 2 1
csv_rows s1/b.csv 2 3
csv_rows s1/c.csv 2 5
upload s1 in/size
wait_for 20 count_is 1 batch_count --status complete
b1=$(batch_ids)
assert_eq 3 "$(batch_field "$b1" files)" "files in the first batch"
assert_eq batchSize "$(batch_reason "$b1")" "the first batch was due by size"
assert_eq "1,2,3,4,5,6" "$(pg_ids)" "rows after the first batch"
assert_eq 1 "$(pg_ledger_rows "$b1")" "ledger row of the first batch"

# ---- 1 object: loads by batchTimeoutSecs alone.
csv_rows s2/one.csv 2 7
t0=$(now_ms)
upload s2 in
wait_for 20 count_is 2 batch_count --status complete
elapsed=$(($(now_ms) - t0))
b2=$(newest_batch)
assert_eq 1 "$(batch_field "$b2" files)" "files in the second batch"
assert_eq batchTimeoutSecs "$(batch_reason "$b2")" "the second batch was due by its timeout"
((elapsed >= 2500)) || fail "the lone object loaded after ${elapsed} ms, before batchTimeoutSecs"
assert_eq "1,2,3,4,5,6,7,8" "$(pg_ids)" "rows after the second batch"

# ---- the same event delivered twice: a copy of the real notification of in/one.csv (from the
# tap queue) sent to the queue again is a duplicate; nothing loads twice.
sqs_call ReceiveMessage "{\"QueueUrl\":\"$TAP\",\"MaxNumberOfMessages\":10,\"VisibilityTimeout\":0}" >"$WS/tap.json"
"$PYTHON" -c '
import json, sys
for m in json.load(open(sys.argv[1])).get("Messages", []):
    if "in%2Fone.csv" in m["Body"]:
        open(sys.argv[2], "w").write(m["Body"])
        break
else:
    sys.exit("no notification for in/one.csv")
' "$WS/tap.json" "$WS/one-event.json" || fail "no real notification of in/one.csv in the tap queue: $(<"$WS/tap.json")"
assert_contains "$(<"$WS/one-event.json")" '"eventName": "ObjectCreated:Put"' "the copied notification is a real S3 event"
assert_eq 0 "$(grep -c 'msg="duplicate event ignored"' "$WS/serve-a.log")" "duplicates before the replay"
awsc sqs send-message --queue-url "$LOADS" --message-body "file://$WS/one-event.json" >/dev/null || fail "send-message"
wait_for 20 log_has "$WS/serve-a.log" 'msg="duplicate event ignored"'
assert_contains "$(grep 'msg="duplicate event ignored"' "$WS/serve-a.log")" "batch=$b2 prefix=bkt/in file=bkt/in/one.csv" \
	"the duplicate names the file and its batch"
wait_for 20 queue_is "$LOADS" "0 0"
assert_eq 2 "$(batch_count)" "batches after the replay"
assert_eq 0 "$(batch_count --status open)" "open batches after the replay"
assert_eq "1,2,3,4,5,6,7,8" "$(pg_ids)" "rows after the replay"

# ---- two serve processes on the same queue while 30 objects are put: each loads exactly once.
start_serve serve-b --no-watch --sqs "$LOADS" --sqs-wait 1 -v
SERVE_B=$SERVE_PID
before=$(batch_ids | sort | tr '\n' ' ')
for i in $(seq 101 130); do
	csv_rows "s3/k$i.csv" 1 "$i"
done
upload s3 in/par
wait_for 60 count_is 38 pg_count t
wait_for 20 settled
assert_eq 38 "$(pg_count t)" "rows after 30 objects"
assert_eq 38 "$(pq dw 'SELECT count(DISTINCT id) FROM t')" "distinct ids after 30 objects"
assert_eq "$(seq -s, 101 130)" "$(pq dw "SELECT string_agg(id::text, ',' ORDER BY id) FROM t WHERE id > 100")" "ids of the 30 objects"
zload batches list --json >"$WS/batches.json" || fail "batches list"
for id in $(batch_ids); do
	zload batches show --json "$id" >"$WS/show-$id.json" || fail "batches show $id"
done
"$PYTHON" - "$WS" "$before" >"$WS/check.out" 2>&1 <<'PYEOF' || fail "batch check: $(<"$WS/check.out")"
import collections, glob, json, sys
ws, before = sys.argv[1], set(sys.argv[2].split())
batches = json.load(open(ws + "/batches.json"))
new = [b for b in batches if b["id"] not in before]
assert all(b["status"] == "complete" for b in batches), [(b["id"], b["status"]) for b in batches]
assert sum(b["files"] for b in new) == 30, ("files in the new batches", [b["files"] for b in new])
assert all(1 <= b["files"] <= 3 for b in new), [b["files"] for b in new]
seen = collections.Counter()
for f in glob.glob(ws + "/show-*.json"):
    for x in json.load(open(f))["fileList"]:
        seen[x["bucket"] + "/" + x["key"]] += 1
twice = [k for k, n in seen.items() if n > 1]
assert not twice, ("files in two batches", twice)
par = sorted(k for k in seen if k.startswith("bkt/in/par/"))
assert par == ["bkt/in/par/k%d.csv" % i for i in range(101, 131)], par
assert len(seen) == 34, sorted(seen)
assert "bkt/in/size/a 1.csv" in seen, sorted(seen)  # moto sent in%2Fsize%2Fa+1.csv
print(len(new), "batches")
PYEOF
# Both processes took messages from the queue.
for s in a b; do
	grep -qE 'msg="sqs: message handled" .*queued=[1-9]' "$WS/serve-$s.log" || fail "serve-$s queued nothing from the queue"
done
assert_not_contains "$(cat "$WS"/serve-*.log)" "level=error" "errors logged by the serves"

# ---- a malformed message stays in the queue: it is received again after its visibility timeout.
awsc sqs send-message --queue-url "$LOADS" --message-body 'not json' >/dev/null || fail "send-message"
unparsed() { cat "$WS"/serve-*.log | grep -c 'msg="sqs: message cannot be parsed, left for the redrive policy"'; }
wait_for 20 eval '(( $(unparsed) >= 2 ))'

# ---- files reprocess: forget the file and copy it in place; the notification loads it again.
ok zload files reprocess bkt/in/par/k105.csv
assert_contains "$OUT" "forgot file bkt/in/par/k105.csv and re-triggered bkt/in/par/k105.csv" "reprocess output"
wait_for 30 count_is 39 pg_count t
wait_for 20 settled
assert_eq 2 "$(pq dw 'SELECT count(*) FROM t WHERE id = 105')" "the reprocessed object loaded again"
assert_eq 38 "$(pq dw 'SELECT count(DISTINCT id) FROM t')" "no other row twice"
b_re=$(newest_batch)
assert_eq "bkt/in/par/k105.csv" "$(json "[f['bucket'] + '/' + f['key'] for f in j['fileList']]" zload batches show --json "$b_re")" \
	"the batch of the reprocessed object"
assert_eq complete "$(batch_status "$b_re")" "status of the reprocess batch"

# Every stored object under the prefix is recorded: a backfill finds nothing new.
ok zload backfill --no-load bkt/in
assert_contains "$OUT" "listed 34, queued 0, already known 34" "backfill after the loads"

# ---- the queue holds only the malformed message; both serves stop cleanly on SIGTERM.
wait_for 20 count_is 1 sqs_total "$LOADS"
kill -TERM "$SERVE_A" "$SERVE_B"
wait_exit "$SERVE_A" 20
assert_eq 0 "$RC" "exit code of serve-a"
wait_exit "$SERVE_B" 20
assert_eq 0 "$RC" "exit code of serve-b"
receive_left() {
	sqs_call ReceiveMessage "{\"QueueUrl\":\"$LOADS\",\"MaxNumberOfMessages\":10}" >"$WS/left.json" &&
		grep -q '"Messages"' "$WS/left.json"
}
wait_for 20 receive_left
assert_eq "not json" "$(json "[m['Body'] for m in j['Messages']]" cat "$WS/left.json")" "the message left in the queue"
sqs_call DeleteMessage "{\"QueueUrl\":\"$LOADS\",\"ReceiptHandle\":\"$(json "j['Messages'][0]['ReceiptHandle']" cat "$WS/left.json")\"}" >/dev/null
assert_eq "0 0" "$(sqs_depth "$LOADS")" "queue depth at the end"
assert_eq 39 "$(pg_count t)" "rows at the end"
