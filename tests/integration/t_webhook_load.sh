#!/usr/bin/env bash
# zload serve --webhook under load: with the state database write-locked by another process
# GET /healthz answers within 0.5 s while a POST waits, and the POST is 200 once the lock goes;
# 1,000 idle connections from 127.0.0.2 keep 64 (the per-address limit), and 2,000 from two
# addresses with the limits raised are all held open (epoll: past select()'s 1,024) while POSTs
# from 127.0.0.1 get 200 and their files load; idle connections are closed after
# --webhook-idle-timeout; a 63 MiB body costs less than 3 times its size in peak memory.
# Secrets and addresses: --webhook-token-file and ZLOAD_WEBHOOK_TOKEN_FILE (first line, CR LF
# stripped; missing or empty files are errors naming the path); --webhook-token is overwritten in
# /proc/PID/cmdline and warned about; --webhook 0 and a bare port listen on 127.0.0.1.
. "$(dirname "$0")/lib.sh"

. "$IT_DIR/lib_webhook.sh"

make_table t "id INTEGER, v TEXT"
put_config in <<'EOF'
{"s3Prefix": "b/in", "batchSize": 1, "format": {"type": "csv", "header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF
ids() { sql "$WH" "SELECT coalesce(group_concat(id), '') FROM (SELECT id FROM t ORDER BY id)"; }

# healthz_fast N: GET /healthz N times, each 200 within 0.5 s.
healthz_fast() {
	local i
	for ((i = 0; i < $1; i++)); do
		http GET /healthz
		assert_eq "200 {\"status\":\"ok\"}" "$CODE $BODY" "GET /healthz"
		awk -v s="$SECS" 'BEGIN { exit !(s < 0.5) }' || fail "GET /healthz took ${SECS}s (want < 0.5 s)"
	done
}
# idle_flood NAME SOURCE N: N idle connections from SOURCE to $PORT; status in $WS/NAME.status.
idle_flood() {
	start_bg "$1" "$PYTHON" "$IT_DIR/idle_conns.py" 127.0.0.1 "$PORT" "$3" "$WS/$1.status" "$2"
	FLOOD_PID=$BG_PID
	wait_for 30 grep -q "connected=$3 " "$WS/$1.status"
}
flood_status() { cat "$WS/$1.status"; }
cmdline() { tr '\0' ' ' <"/proc/$1/cmdline"; }

# ---- addresses and token sources that are refused
assert_exit 1 zload serve --no-watch --webhook localhost:80
assert_contains "$ERR" 'zload: --webhook "localhost:80": "localhost" is not an IPv4 address' "a host name"
assert_exit 1 zload serve --no-watch --webhook 80x
assert_contains "$ERR" 'zload: --webhook "80x": "80x" is not a port (0-65535); expected PORT, ADDR:PORT or [IPv6]:PORT' "a bad port"
assert_exit 1 zload serve --no-watch --webhook ::1:80
assert_contains "$ERR" 'write an IPv6 address in brackets, e.g. [::1]:8080' "IPv6 without brackets"
assert_exit 2 zload serve --no-watch --webhook-token-file "$WS/token"
assert_contains "$ERR" "--webhook-token-file needs --webhook" "a token file without --webhook"
assert_exit 2 zload serve --no-watch --webhook 0 --webhook-token t --webhook-token-file "$WS/token"
assert_contains "$ERR" "give --webhook-token or --webhook-token-file, not both" "both token options"
assert_exit 1 zload serve --no-watch --webhook 0 --webhook-token-file "$WS/none"
assert_eq "zload: --webhook-token-file: $WS/none: No such file or directory" "$ERR" "a missing token file"
printf '\n' >"$WS/empty"
assert_exit 1 zload serve --no-watch --webhook 0 --webhook-token-file "$WS/empty"
assert_eq "zload: --webhook-token-file: $WS/empty: empty token (the first line is empty)" "$ERR" "an empty token file"
ZLOAD_WEBHOOK_TOKEN_FILE=$WS/none assert_exit 1 zload serve --no-watch --webhook 0
assert_eq "zload: ZLOAD_WEBHOOK_TOKEN_FILE: $WS/none: No such file or directory" "$ERR" "a missing ZLOAD_WEBHOOK_TOKEN_FILE"
# without --webhook the environment's token file is not read
ZLOAD_WEBHOOK_TOKEN_FILE=$WS/none assert_exit 0 zload serve --no-watch --exit-when-idle 0
assert_exit 2 zload serve --no-watch --webhook 0 --webhook-max-per-ip 0
assert_contains "$ERR" '--webhook-max-per-ip: must be at least 1' "a zero per-address limit"

# ---- --webhook 0 (a bare port: 127.0.0.1, any free port) with the token from a file
printf 's3cr3t-from-file\r\nsecond line\n' >"$WS/token"
start_hook_at file 0 --webhook-token-file "$WS/token"
assert_contains "$(<"$WS/file.log")" "listen=127.0.0.1:$PORT port=$PORT auth=bearer poll=epoll max_conns=1024 max_per_ip=64 idle_secs=10" "listening"
assert_not_contains "$(cmdline "$SERVE_PID")" "s3cr3t" "the token in /proc/PID/cmdline"
csv_rows b/in/f.csv 1 1
s3_event b in/f.csv >"$WS/f.json"
post "$WS/f.json" -H 'Authorization: Bearer s3cr3t-from-file'$'\r'
assert_eq 401 "$CODE" "the CR is not part of the token"
post "$WS/f.json" -H 'Authorization: Bearer s3cr3t-from-file'
assert_eq "200 $(counts 1 1 0)" "$CODE $BODY" "the token from the file"
wait_for 20 count_is 1 ids
stop_hook

# ---- ZLOAD_WEBHOOK_TOKEN_FILE; a bare port given
port=$(free_port)
ZLOAD_WEBHOOK_TOKEN_FILE=$WS/token start_hook_at envfile "$port"
assert_eq "$port" "$PORT" "the bare port"
assert_contains "$(<"$WS/envfile.log")" "listen=127.0.0.1:$port port=$port auth=bearer" "listening on the bare port"
post "$WS/f.json"
assert_eq 401 "$CODE" "no token (token from ZLOAD_WEBHOOK_TOKEN_FILE)"
post "$WS/f.json" -H 'Authorization: Bearer s3cr3t-from-file'
assert_eq "200 $(counts 1 0 1)" "$CODE $BODY" "the token from ZLOAD_WEBHOOK_TOKEN_FILE"
stop_hook

# ---- --webhook-token on the command line: warned about, and gone from /proc/PID/cmdline
start_hook_at argv 127.0.0.1:0 --webhook-token=on-the-command-line
assert_contains "$(<"$WS/argv.log")" 'level=warn msg="a token on the command line is visible in ps until it is overwritten" option=--webhook-token' "the warning"
assert_not_contains "$(cmdline "$SERVE_PID")" "on-the-command-line" "the token in /proc/PID/cmdline"
assert_contains "$(cmdline "$SERVE_PID")" "--webhook-token=xxxxxxxxxxxxxxxxxxx" "the overwritten argument"
post "$WS/f.json" -H 'Authorization: Bearer on-the-command-line'
assert_eq "200 $(counts 1 0 1)" "$CODE $BODY" "the token given on the command line still works"
stop_hook

# ---- the state database write-locked by another process: /healthz answers at once while the
# POST waits for the lock (less than the 10 s busy timeout), then is 200.
start_hook_at locked 0
csv_rows b/in/w.csv 1 2
s3_event b in/w.csv >"$WS/w.json"
hold_lock "$WS/state.db"
start_bg waiting curl -sS --max-time 30 -o "$WS/waiting.body" -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary "@$WS/w.json" "http://127.0.0.1:$PORT/events"
post_pid=$BG_PID
sleep 0.5
healthz_fast 5
kill -0 "$post_pid" 2>/dev/null || fail "the POST did not wait for the locked state database: $(cat "$WS/waiting.log")"
assert_exit 1 zload files show b/in/w.csv
release_lock "$WS/state.db"
wait_exit "$post_pid" 20
assert_eq "0 200 $(counts 1 1 0)" "$RC $(<"$WS/waiting.log") $(<"$WS/waiting.body")" "the POST once the lock is released"
wait_for 20 count_is 1,2 ids

# ---- 1,000 idle connections from 127.0.0.2: 64 kept (the default per-address limit), the rest
# closed at once; 127.0.0.1 is served.
idle_flood flood2 127.0.0.2 1000
wait_for 10 grep -q "open=64 closed=936 " "$WS/flood2.status"
healthz_fast 3
for k in 3 4 5; do
	csv_rows "b/in/n$k.csv" 1 "$k"
	s3_event b "in/n$k.csv" >"$WS/n$k.json"
	post "$WS/n$k.json"
	assert_eq "200 $(counts 1 1 0)" "$CODE $BODY" "POST $k during the flood"
done
wait_for 20 count_is 1,2,3,4,5 ids
assert_eq "connected=1000 open=64 closed=936 failed=0" "$(flood_status flood2)" "the flood's connections"
kill "$FLOOD_PID"
stop_hook

# ---- limits raised: 2,000 idle connections from two addresses are all held (past select()'s
# 1,024 descriptors) and 127.0.0.1 is still served; then the idle timeout closes them.
start_hook_at many 0 --webhook-max-conns 3000 --webhook-max-per-ip 2000 --webhook-idle-timeout 8
idle_flood many2 127.0.0.2 1000
idle_flood many3 127.0.0.3 1000
healthz_fast 3
csv_rows b/in/m.csv 1 6
s3_event b in/m.csv >"$WS/m.json"
post "$WS/m.json"
assert_eq "200 $(counts 1 1 0)" "$CODE $BODY" "POST with 2,000 idle connections open"
assert_eq "connected=1000 open=1000 closed=0 failed=0 connected=1000 open=1000 closed=0 failed=0" \
	"$(flood_status many2) $(flood_status many3)" "2,000 idle connections held open"
wait_for 20 count_is 1,2,3,4,5,6 ids
wait_for 20 grep -q "open=0 closed=1000 " "$WS/many2.status"
wait_for 5 grep -q "open=0 closed=1000 " "$WS/many3.status"
stop_hook

# ---- a 63 MiB body: peak memory grows by less than 3 times its size (jansson's whole tree and
# an array of every record took 16 times).
start_hook_at big 0 --webhook-max-body 70000000
"$PYTHON" - "$WS/big.json" <<'EOF' || fail "cannot write the big body"
import sys
rec = '{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"elsewhere"},"object":{"key":"in/f%07d.csv","size":100}}}'
with open(sys.argv[1], "w") as f:
    f.write('{"Records":[' + ",".join(rec % i for i in range(431000)) + "]}")
EOF
big=$(stat -c %s "$WS/big.json")
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$SERVE_PID/status"; }
before=$(hwm)
post "$WS/big.json"
assert_eq "200 $(counts 431000 0 0 0 0 0 431000)" "$CODE $BODY" "the 63 MiB body"
after=$(hwm)
echo "63 MiB body: VmHWM $before -> $after KiB (body $((big / 1024)) KiB)" >&2
(((after - before) * 1024 < 3 * big)) || fail "peak memory grew by $((after - before)) KiB for a $((big / 1024)) KiB body"
stop_hook
assert_eq 0 "$(batch_count --status error)" "batches in error"
assert_eq 0 "$(sql "$WH" 'SELECT count(*) - count(DISTINCT id) FROM t')" "no row twice"
