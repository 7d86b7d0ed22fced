#!/usr/bin/env bash
# A configuration applies at once (issue #7, item 7): the next event after `config put` returns
# sees it, for the webhook and for watched files, in a daemon that has been running a while (it
# used to reload about once a second, so such events were "unrouted": the webhook answered 200
# and the sender never retried, a watched file was dropped until a restart).
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib_webhook.sh"

make_table t "id INTEGER, v TEXT"
put_config base <<'EOF2'
{"s3Prefix": "b/base", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
mkdir -p "$STORE/b"
start_hook serve
sleep 1.5 # a sweep or two have run: the daemon's configurations are loaded

for i in 1 2 3 4 5; do
	put_config "p$i" <<EOF2
{"s3Prefix": "b/p$i", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
	csv_rows "b/p$i/hook.csv" 1 "$i"
	s3_event b "p$i/hook.csv" >"$WS/ev$i.json"
	post "$WS/ev$i.json"
	assert_eq 200 "$CODE" "webhook right after config put $i"
	assert_contains "$BODY" '"records":1,' "one record"
	assert_contains "$BODY" '"unrouted":0' "the event right after config put $i is routed (queued, or a duplicate of the watcher's)"
	put_config "w$i" <<EOF2
{"s3Prefix": "b/w$i", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
	csv_rows "b/w$i/watched.csv" 1 "$((10 + i))"
	sleep 0.3
done
wait_for 20 count_is 10 rows t
assert_eq "1,2,3,4,5,11,12,13,14,15" "$(sql "$WH" "SELECT group_concat(id) FROM (SELECT id FROM t ORDER BY id)")" "every file loaded once"
assert_not_contains "$(<"$WS/serve.log")" "unrouted" "no event was unrouted"
stop_hook
