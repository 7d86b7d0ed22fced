#!/usr/bin/env bash
# Target connections stay open between batches: one `zload serve` loads batch after batch over
# one PostgreSQL connection (counted by the server's log_connections and by
# zload_target_connections_total); a connection the server terminated while idle
# (pg_terminate_backend, a restart) is noticed before use, so the next batch completes at its
# first attempt; two batches loading at once use two connections; another user (a changed
# configuration) gets a connection of its own; what a postLoadStatement left in the session
# (search_path) does not reach the next batch; one dead at BEGIN is reconnected once;
# --target-idle-secs closes idle ones.
# test-timeout: 180
. "$(dirname "$0")/lib_pg.sh"

pq postgres "ALTER SYSTEM SET log_connections = on" >/dev/null
pq postgres "SELECT pg_reload_conf()" >/dev/null
pql dw "CREATE TABLE t_pool (id int, v text); CREATE TABLE t_slow (id int, v text);
CREATE TABLE t_sp (id int, v text); CREATE SCHEMA other; CREATE TABLE other.t_sp (id int, v text)" >/dev/null

# opened USER: connections the server authorized for USER into dw from zload, so far.
opened() { grep -c "connection authorized: user=$1 database=dw application_name=zload" "$PGDIR/server.log"; }
# backends: zload's sessions in dw now, as "pid pid ...".
backends() { pq postgres "SELECT string_agg(pid::text, ' ' ORDER BY pid) FROM pg_stat_activity WHERE application_name = 'zload' AND datname = 'dw'"; }
# metric NAME{LABELS}: the sample's value on /metrics (0 when absent).
metric() {
	curl -sS --max-time 10 "http://127.0.0.1:$MPORT/metrics" >"$WS/metrics.txt" || fail "curl /metrics failed"
	awk -v want="$1" '$1 == want { v = $2 } END { print v + 0 }' "$WS/metrics.txt"
}
# load KEY ROWS START: writes b/pool/KEY and waits for its batch to complete; BATCH is its id.
load() {
	local prefix=${4:-b/pool} table=${5:-t_pool} before
	before=$(pg_count "$table")
	csv_rows "$prefix/$1" "$2" "$3"
	wait_for 30 count_is $((before + $2)) pg_count "$table"
	BATCH=$(batch_ids --prefix "$prefix" | head -n 1)
	wait_for 10 status_is "$BATCH" complete
}

pg_config pool <<EOF
{"s3Prefix": "b/pool", "batchSize": 1, "format": {"header": true},
 "targets": [$(pg_target pg t_pool)]}
EOF
MPORT=$(free_port)
start_serve s --settle-ms 50 --metrics "$MPORT" --target-idle-secs 3600

# Three batches one after the other: one connection.
base=$(opened loader)
load a1.csv 5 1
first=$(backends)
[[ $first =~ ^[0-9]+$ ]] || fail "one zload backend after the first batch, got [$first]"
load a2.csv 5 6
load a3.csv 5 11
assert_eq "$first" "$(backends)" "the same backend served three batches"
assert_eq $((base + 1)) "$(opened loader)" "the server authorized one connection for three batches"
assert_eq 1 "$(metric 'zload_target_connections_total{target="pg",how="opened"}')" "metric: opened"
assert_eq 2 "$(metric 'zload_target_connections_total{target="pg",how="reused"}')" "metric: reused"
assert_eq 1 "$(batch_field "$BATCH" attempts)" "third batch: first attempt"

# The server terminates the idle connection: the next batch notices before use and completes at
# its first attempt, on a new connection.
pq postgres "SELECT pg_terminate_backend($first)" >/dev/null
wait_for 10 eval '[[ -z $(backends) ]]'
load a4.csv 5 16
assert_eq 1 "$(batch_field "$BATCH" attempts)" "after pg_terminate_backend: first attempt"
assert_eq complete "$(batch_status "$BATCH")" "after pg_terminate_backend: complete"
assert_eq $((base + 2)) "$(opened loader)" "a new connection after pg_terminate_backend"
second=$(backends)
[[ $second =~ ^[0-9]+$ && $second != "$first" ]] || fail "a new backend after pg_terminate_backend: [$first] -> [$second]"

# A restart of the server between two batches, likewise.
pg_stop >/dev/null
pg_resume
wait_for 20 pg_up
load a5.csv 5 21
assert_eq 1 "$(batch_field "$BATCH" attempts)" "after a restart: first attempt"
assert_eq 0 "$(metric 'zload_load_errors_total{target="pg",class="transient"}')" "no transient error recorded"
assert_eq 2 "$(metric 'zload_target_connections_total{target="pg",how="reused"}')" "dead idle connections were not counted as reused"
assert_eq 25 "$(pg_count t_pool)" "every row once"

# Another user for the same table (a changed configuration): a connection of its own.
base_md5=$(opened loader_md5)
pq dw "GRANT ALL ON t_pool, zload_ledger TO loader_md5" >/dev/null
pg_config pool <<EOF
{"s3Prefix": "b/pool", "batchSize": 1, "format": {"header": true},
 "targets": [$(pg_target pg t_pool dw loader_md5 "$PG_MD5_PW")]}
EOF
load a6.csv 5 26
assert_eq $((base_md5 + 1)) "$(opened loader_md5)" "the new user's connection was opened"
assert_eq loader_md5 "$(pq dw "SELECT usename FROM pg_stat_activity WHERE application_name = 'zload' AND datname = 'dw' AND backend_start = (SELECT max(backend_start) FROM pg_stat_activity WHERE application_name = 'zload')")" "the newest zload session is the new user's"

# Two batches loading at once (--workers 4 by default): two connections.
pg_config slow <<EOF
{"s3Prefix": "b/slow", "batchSize": 1, "format": {"header": true},
 "targets": [$(pg_target slow t_slow dw loader "$PG_SCRAM_PW" '"preLoadStatement": "SELECT pg_sleep(3)"')]}
EOF
csv_rows b/slow/s1.csv 3 1
csv_rows b/slow/s2.csv 3 4
wait_for 30 eval '[[ $(pq postgres "SELECT count(DISTINCT pid) FROM pg_stat_activity WHERE application_name = '"'zload'"' AND query = '"'SELECT pg_sleep(3)'"'") == 2 ]]'
wait_for 30 count_is 6 pg_count t_slow
assert_eq 2 "$(metric 'zload_target_connections_total{target="slow",how="opened"}')" "two batches at once: two connections"

# A postLoadStatement that sets search_path: the next batch of the same configuration, on the
# same connection, still finds the ledger and the table where they were.
pg_config sp <<EOF
{"s3Prefix": "b/sp", "batchSize": 1, "format": {"header": true},
 "targets": [$(pg_target sp t_sp dw loader "$PG_SCRAM_PW" '"postLoadStatement": "SET search_path TO other, public"')]}
EOF
load p1.csv 4 1 b/sp t_sp
load p2.csv 4 5 b/sp t_sp
assert_eq 1 "$(metric 'zload_target_connections_total{target="sp",how="reused"}')" "the second batch reused the connection"
assert_eq "8 0" "$(pq dw "SELECT (SELECT count(*) FROM public.t_sp) || ' ' || (SELECT count(*) FROM other.t_sp)")" "both batches in public.t_sp"
assert_eq 2 "$(pq dw "SELECT count(*) FROM public.zload_ledger WHERE prefix = 'b/sp'")" "both batches in the ledger"

# A connection that looks healthy while idle but is dead when the batch speaks (a proxy that drops
# it silently): reconnected once at BEGIN, the batch completes at its first attempt.
CUTPORT=$(free_port)
start_bg cut "$PYTHON" "$IT_DIR/pg_mute_cut.py" "$CUTPORT" "$PGPORT" "$WS/cut.now"
wait_for 10 log_has "$WS/cut.log" listening
pg_config cut <<EOF
{"s3Prefix": "b/cut", "batchSize": 1, "format": {"header": true},
 "targets": [$(pg_target cut t_pool | sed "s/\"port\":$PGPORT/\"port\":$CUTPORT/")]}
EOF
load c1.csv 5 41 b/cut
touch "$WS/cut.now"
load c2.csv 5 46 b/cut
assert_eq 1 "$(batch_field "$BATCH" attempts)" "dead at BEGIN: first attempt"
log_has "$WS/cut.log" cut || fail "the proxy did not cut the connection"
log_has "$WS/s.log" 'msg="postgres: reconnecting"' || fail "no reconnection logged"
assert_eq 2 "$(metric 'zload_target_connections_total{target="cut",how="opened"}')" "the reconnection counts as opened"
assert_eq 0 "$(metric 'zload_load_errors_total{target="cut",class="transient"}')" "no transient error recorded"

kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 30
assert_eq 0 "$RC" "serve exits 0"
wait_for 10 eval '[[ -z $(backends) ]]'

# --target-idle-secs 1: the idle connection is closed by the daemon's timer.
start_serve s2 --settle-ms 50 --target-idle-secs 1
load b1.csv 5 31
wait_for 30 eval '[[ -z $(backends) ]]'
