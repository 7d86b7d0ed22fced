#!/usr/bin/env bash
# A crash between finishing a batch and delivering its notification: the outbox row was written
# in the transaction that finished the batch, so nothing is lost. serve finishes the batch while
# the receiver is down, is SIGKILLed between two delivery attempts (the row held by no lease),
# and a new serve delivers it once the receiver is up: exactly once, with the attempts of both
# processes counted. A second serve sharing the state meanwhile never delivers it twice.
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib_notify.sh"

HPORT=$(free_port)
make_table t "id INTEGER, v TEXT"
put_config c <<EOF2
{"s3Prefix": "b/in", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}],
 "notify": {"success": ["http://127.0.0.1:$HPORT/hook"]}}
EOF2

start_serve serve1 --settle-ms 100
first=$SERVE_PID
csv_rows b/in/a.csv 2
wait_for 20 count_is 1 batch_count --status complete
batch=$(batch_ids)
# between two attempts: pending, an attempt made, no sender holding it
idle_between() { [[ $(notices "'%s %s' % (j[0]['status'], j[0]['owner'] is None and j[0]['attempts'] >= 1)") == "pending True" ]]; }
wait_for 20 idle_between
kill -KILL "$first"
wait_for 10 not_running "$first"
before=$(notices "j[0]['attempts']")
assert_eq "pending $batch" "$(notices "j[0]['status'] + ' ' + j[0]['batchId']")" "the notification survived the crash"
assert_eq 2 "$(rows t)" "the batch itself was committed"

# Two loaders on the state, the receiver up: one delivery.
sink_start hook webhook "$HPORT"
start_serve serve2 --no-watch
start_serve serve3 --no-watch
id=$(notices "j[0]['id']")
# (had the kill caught a delivery starting, its lease, 30 s, would hold the notification that long)
wait_for 60 notice_status_is "$id" sent
sleep 3
assert_eq 1 "$(sink_count hook)" "deliveries after the restart"
assert_eq "$batch" "$(sink_json hook 1 "json.loads(j['body'])['batchId']")" "the batch's notification"
after=$(notices "j[0]['attempts']")
((after == before + 1)) || fail "attempts: $before before the crash, $after at the end (expected one more)"
sent_by=$(grep -l 'msg="notification sent"' "$WS"/serve2.log "$WS"/serve3.log | wc -l)
assert_eq 1 "$sent_by" "one serve delivered it"
assert_eq 1 "$(batch_count)" "batches"
assert_eq complete "$(batch_status "$batch")" "the batch is not loaded again"
