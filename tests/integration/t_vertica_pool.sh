#!/usr/bin/env bash
# Vertica target connections stay open between batches (through the emulator): one `zload serve`
# loads batch after batch over one session (counted by the emulator's startups and by
# zload_target_connections_total), without the connect-time statements again; a session whose
# server died while idle (the emulator SIGKILLed and restarted), or that an administrator closed
# (CLOSE_SESSION), is noticed before use, so the next batch completes at its first attempt on a new
# one; a session that looks healthy but is dead when the batch speaks (a proxy that drops it
# silently) is reconnected once at the ledger check, the batch loaded exactly once; a session whose
# postLoadStatement changed its search path is not reused, so the next batch loads where it
# should; the same over TLS; --target-idle-secs closes idle ones.
# test-timeout: 180
. "$(dirname "$0")/lib_pg.sh"
. "$IT_DIR/lib_vertica.sh"

vemu_start v --user "dbadmin:$VPW:sha512"
vsql "CREATE TABLE public.t_pool (id int, v varchar(20))"
vsql "CREATE TABLE public.t_sp (id int, v varchar(20))"
vsql "CREATE SCHEMA other"
vsql "CREATE TABLE other.t_sp (id int, v varchar(20))"

# zload_sessions LOG...: Startups of zload's connections (client_label zload-...) in the logs.
zload_sessions() { cat "$@" | grep '"event": "startup"' | grep -c '"client_label": "zload-'; }
# metric NAME{LABELS}: the sample's value on /metrics (0 when absent).
metric() {
	curl -sS --max-time 10 "http://127.0.0.1:$MPORT/metrics" >"$WS/metrics.txt" || fail "curl /metrics failed"
	awk -v want="$1" '$1 == want { v = $2 } END { print v + 0 }' "$WS/metrics.txt"
}
# load KEY ROWS START [PREFIX] [TABLE]: writes PREFIX/KEY, waits for its batch to complete; BATCH is its id.
load() {
	local prefix=${4:-b/pool} table=${5:-public.t_pool} before
	before=$(pg_count "$table")
	csv_rows "$prefix/$1" "$2" "$3"
	wait_for 30 count_is $((before + $2)) pg_count "$table"
	BATCH=$(batch_ids --prefix "$prefix" | head -n 1)
	wait_for 10 status_is "$BATCH" complete
}
# zload_ended LOG REASON: zload's sessions in LOG that ended for REASON (terminate: a Terminate message).
zload_ended() {
	"$PYTHON" -c '
import json, sys
zload, n = set(), 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == "startup" and str(e.get("params", {}).get("client_label", "")).startswith("zload-"):
        zload.add(e["conn"])
    elif e.get("event") == "disconnect" and e.get("conn") in zload and e.get("reason", "").startswith(sys.argv[2]):
        n += 1
print(n)
' "$1" "$2"
}
# zload_queries LOG: Query messages zload's sessions sent.
zload_queries() {
	"$PYTHON" -c '
import json, sys
zload, n = set(), 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == "startup" and str(e.get("params", {}).get("client_label", "")).startswith("zload-"):
        zload.add(e["conn"])
    elif e.get("event") == "query" and e.get("conn") in zload:
        n += 1
print(n)
' "$1"
}
# zload_live_session LOG: the session id (CURRENT_SESSION()) of zload's one open session in LOG.
zload_live_session() {
	"$PYTHON" -c '
import json, sys
zload, ids = set(), {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == "startup" and str(e.get("params", {}).get("client_label", "")).startswith("zload-"):
        zload.add(e["conn"])
    elif e.get("event") == "ready" and e.get("conn") in zload:
        ids[e["conn"]] = e["session"]
    elif e.get("event") == "disconnect":
        ids.pop(e.get("conn"), None)
print(" ".join(ids.values()))
' "$1"
}
once() { pq dw "SELECT count(*) || ' ' || count(DISTINCT id) FROM $1"; }

pg_config pool <<EOF2
{"s3Prefix": "b/pool", "batchSize": 1, "format": {"header": true}, "targets": [$(vt_target v public.t_pool)]}
EOF2
MPORT=$(free_port)
start_serve s --settle-ms 50 --metrics "$MPORT" --target-idle-secs 3600

# 1. Three batches one after the other: one session, set up once.
load a1.csv 5 1
load a2.csv 5 6
load a3.csv 5 11
assert_eq 1 "$(zload_sessions "$WS/v.jsonl")" "the emulator saw one zload session for three batches"
assert_eq 1 "$(metric 'zload_target_connections_total{target="v",how="opened"}')" "metric: opened"
assert_eq 2 "$(metric 'zload_target_connections_total{target="v",how="reused"}')" "metric: reused"
assert_eq 1 "$(vemu_loader_sql v | grep -c 'FROM v_catalog.tables')" "the ledger was looked up at connect only"
assert_eq 3 "$(vemu_loader_sql v | grep -c '^INSERT INTO "zload_ledger"')" "three ledger rows on the session"
# At connect: the ledger's look-up, CREATE, COMMIT; per batch: the ledger check, the COPY with its
# counts, the ledger row, COMMIT.
assert_eq $((3 + 3 * 4)) "$(zload_queries "$WS/v.jsonl")" "query messages: 3 at connect, 4 per batch"
assert_eq 0 "$(zload_ended "$WS/v.jsonl" "")" "no zload session ended"
assert_eq 1 "$(batch_field "$BATCH" attempts)" "third batch: first attempt"

# 2. The server dies while the session is idle and comes back on its port: the next batch notices
# before use and completes at its first attempt, on a new session.
kill -KILL "$VEMU_PID"
wait_exit "$VEMU_PID" 10
vemu_restart v2 --user "dbadmin:$VPW:sha512"
load a4.csv 5 16
assert_eq 1 "$(batch_field "$BATCH" attempts)" "after the restart: first attempt"
assert_eq 1 "$(zload_sessions "$WS/v2.jsonl")" "one new session after the restart"
assert_eq 2 "$(metric 'zload_target_connections_total{target="v",how="opened"}')" "metric: opened after the restart"
assert_eq 2 "$(metric 'zload_target_connections_total{target="v",how="reused"}')" "the dead session was not counted as reused"
assert_eq 0 "$(metric 'zload_load_errors_total{target="v",class="transient"}')" "no transient error recorded"
load a5.csv 5 21
assert_eq 3 "$(metric 'zload_target_connections_total{target="v",how="reused"}')" "the new session is reused in turn"

# An administrator closes the idle session (CLOSE_SESSION): likewise noticed before use.
sid=$(zload_live_session "$WS/v2.jsonl")
[[ $sid =~ ^v_vemu_node[0-9]+-[0-9]+:0x[0-9a-f]+$ ]] || fail "one open zload session, got [$sid]"
assert_eq "Session close command sent. Check v_monitor.sessions for progress." "$(vsql "SELECT CLOSE_SESSION('$sid')")" "CLOSE_SESSION"
wait_for 10 eval '[[ $(zload_ended "$WS/v2.jsonl" "closed by CLOSE_SESSION") == 1 ]]'
load a6.csv 5 26
assert_eq 1 "$(batch_field "$BATCH" attempts)" "after CLOSE_SESSION: first attempt"
assert_eq 3 "$(metric 'zload_target_connections_total{target="v",how="opened"}')" "metric: opened after CLOSE_SESSION"
assert_eq 3 "$(metric 'zload_target_connections_total{target="v",how="reused"}')" "the closed session was not counted as reused"
assert_eq "30 30" "$(once public.t_pool)" "every row once"
assert_eq 6 "$(pq dw "SELECT count(*) FROM zload_ledger WHERE prefix = 'b/pool'")" "six ledger rows"

# 3. A session that looks healthy while idle but is dead when the batch speaks: reconnected once at
# the ledger check, the batch completes at its first attempt, loaded once.
CUTPORT=$(free_port)
start_bg cut "$PYTHON" "$IT_DIR/pg_mute_cut.py" "$CUTPORT" "$VPORT" "$WS/cut.now"
wait_for 10 log_has "$WS/cut.log" listening
pg_config cut <<EOF2
{"s3Prefix": "b/cut", "batchSize": 1, "format": {"header": true},
 "targets": [$(vt_target cut public.t_pool | sed "s/\"clusterPort\":$VPORT/\"clusterPort\":$CUTPORT/")]}
EOF2
load c1.csv 5 41 b/cut
touch "$WS/cut.now"
load c2.csv 5 46 b/cut
assert_eq 1 "$(batch_field "$BATCH" attempts)" "dead at the ledger check: first attempt"
log_has "$WS/cut.log" cut || fail "the proxy did not cut the session"
log_has "$WS/s.log" 'msg="vertica: reconnecting"' || fail "no reconnection logged"
assert_eq 2 "$(metric 'zload_target_connections_total{target="cut",how="opened"}')" "the reconnection counts as opened"
assert_eq 1 "$(metric 'zload_target_connections_total{target="cut",how="reused"}')" "the cut session was taken once"
assert_eq 0 "$(metric 'zload_load_errors_total{target="cut",class="transient"}')" "no transient error recorded"
assert_eq "40 40" "$(once public.t_pool)" "every row once after the reconnection"
assert_eq 1 "$(pq dw "SELECT count(*) FROM zload_ledger WHERE batch_id = '$BATCH'")" "one ledger row for the batch"

# 4. A postLoadStatement that changes the session's search path: the session is closed after its
# batch, not reused, so the next batch finds its table and ledger where they were.
pg_config sp <<EOF2
{"s3Prefix": "b/sp", "batchSize": 1, "format": {"header": true},
 "targets": [$(vt_target sp t_sp '"postLoadStatement": "SET SEARCH_PATH TO other, public, v_catalog, v_monitor"')]}
EOF2
load p1.csv 4 1 b/sp public.t_sp
load p2.csv 4 5 b/sp public.t_sp
assert_eq "8 0" "$(pq dw "SELECT (SELECT count(*) FROM public.t_sp) || ' ' || (SELECT count(*) FROM other.t_sp)")" "both batches in public.t_sp"
assert_eq 0 "$(metric 'zload_target_connections_total{target="sp",how="reused"}')" "the session that ran the statement was not reused"
assert_eq 2 "$(metric 'zload_target_connections_total{target="sp",how="opened"}')" "a new session for the second batch"
assert_eq 2 "$(pq dw "SELECT count(*) FROM public.zload_ledger WHERE prefix = 'b/sp'")" "both batches in the ledger"

# 5. Over TLS: the check before reuse reads through TLS records (a session ticket is not data).
make_tls_cert
vemu_start vt --user "dbadmin:$VPW:sha512" --tls-cert "$WS/tls/server.pem" --tls-key "$WS/tls/server.key"
pg_config tls <<EOF2
{"s3Prefix": "b/tls", "batchSize": 1, "format": {"header": true},
 "targets": [$(vt_target tls public.t_pool '"tls": "require"')]}
EOF2
load t1.csv 5 61 b/tls
load t2.csv 5 66 b/tls
load t3.csv 5 71 b/tls
assert_eq 1 "$(vemu_events vt startup "e['tls']" | grep -c True)" "one TLS session"
assert_eq 1 "$(metric 'zload_target_connections_total{target="tls",how="opened"}')" "TLS: opened"
assert_eq 2 "$(metric 'zload_target_connections_total{target="tls",how="reused"}')" "TLS: reused"

kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 30
assert_eq 0 "$RC" "serve exits 0"

# 6. --target-idle-secs 1: the idle session is closed by the daemon's timer (Terminate).
ended() { zload_ended "$WS/v2.jsonl" terminate; }
before=$(ended)
start_serve s2 --settle-ms 50 --target-idle-secs 1
load b1.csv 5 51
wait_for 30 eval '[[ $(ended) -gt '"$before"' ]]'
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 30
