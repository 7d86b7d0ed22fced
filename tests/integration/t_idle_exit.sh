#!/usr/bin/env bash
# serve --exit-when-idle means "nothing can progress without a new event" (issue #7, item 15): an
# open batch that can never fall due (batchSize not reached and no batchTimeoutSecs, or its
# configuration deleted) does not keep the daemon alive, and is named in a warning; a batch that
# will fall due by age does, until it loaded. `config delete` warns about open batches.
. "$(dirname "$0")/lib.sh"

make_table t "id INTEGER, v TEXT"
cfg() { # cfg PREFIX EXTRA
	put_config "$(tr / _ <<<"$1")" <<EOF2
{"s3Prefix": "$1", "format": {"header": true}$2,
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
}
cfg b/stuck ', "batchSize": 3'
cfg b/aging ', "batchSize": 3, "batchTimeoutSecs": 3'
cfg b/gone ', "batchSize": 3'
csv_rows b/stuck/s.csv 1 1
csv_rows b/aging/a.csv 2 10
csv_rows b/gone/g.csv 4 20
s3_event b stuck/s.csv aging/a.csv gone/g.csv >"$WS/ev.json"
ok zload event --no-load "$WS/ev.json"
stuck=$(batch_ids --prefix b/stuck)
aging=$(batch_ids --prefix b/aging)
gone=$(batch_ids --prefix b/gone)

ok zload config delete b/gone
assert_eq "deleted configuration for b/gone" "$OUT" "config delete output"
assert_eq "zload: warning: 1 open batch of b/gone holds 1 file; it loads only once a configuration for b/gone is stored again: $gone" "$ERR" "config delete warns about the open batch"

t0=$(now_ms)
start_serve serve --no-watch --exit-when-idle 1
wait_exit "$SERVE_PID" 20
elapsed=$(($(now_ms) - t0))
assert_eq 0 "$RC" "exit code when idle"
assert_eq complete "$(batch_status "$aging")" "the batch due by age loaded before the exit"
((elapsed >= 2500)) || fail "serve exited after $elapsed ms, before the 3 s batch fell due"
((elapsed < 10000)) || fail "serve took $elapsed ms to exit"
assert_eq "open open" "$(batch_status "$stuck") $(batch_status "$gone")" "batches that cannot fall due stay open"
log=$(<"$WS/serve.log")
assert_contains "$log" "msg=\"open batch cannot load without more files\" batch=\"$stuck (prefix b/stuck): 1 of batchSize 3 files and no batchTimeoutSecs\"" "warning for the stuck batch"
assert_contains "$log" "msg=\"open batch cannot load without more files\" batch=\"$gone (prefix b/gone, 1 files): no configuration for the prefix\"" "warning for the batch without configuration"
assert_contains "$log" 'msg="idle: exiting" idle_secs=1 waiting_batches=2' "idle exit logged"
assert_eq 2 "$(rows t)" "rows"
