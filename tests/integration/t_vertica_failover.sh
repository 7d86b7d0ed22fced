#!/usr/bin/env bash
# Vertica connection load balancing and failover: a node that answers the LoadBalanceRequest with
# another node sends the load there (loadBalance: true); a clusterEndpoint that does not answer
# falls over to the backupHosts in order; when no node answers the batch is retried (transient),
# naming every node, and loads once one is back.
. "$(dirname "$0")/lib_pg.sh"
. "$IT_DIR/lib_vertica.sh"

pq dw "CREATE TABLE public.t (id int, v text)" >/dev/null
vemu_start nodeb --user "dbadmin:$VPW:sha512"
B=$VPORT
vemu_start nodea --user "dbadmin:$VPW:sha512" --lb-redirect "127.0.0.1:$B"
A=$VPORT
DEAD=$(free_port)
target() { # target PORT EXTRA
	printf '{"type":"vertica","name":"v","clusterEndpoint":"127.0.0.1","clusterPort":%s,"clusterDB":"dw","connectUser":"dbadmin","connectPassword":"%s","targetTable":"public.t"%s}' \
		"$1" "$VPW" "${2:+,$2}"
}

# Load balancing: node A redirects, the load runs on node B.
pg_config lb <<EOF2
{"s3Prefix": "b/lb", "batchSize": 1, "format": {"header": true}, "targets": [$(target "$A" '"loadBalance": true')]}
EOF2
csv_rows b/lb/f.csv 2 1
event_ok b lb/f.csv
assert_contains "$OUT" "status=complete rows=2" "the balanced load"
assert_eq "Y:127.0.0.1:$B" "$(vemu_events nodea lb_request "f\"{e['answer']}:{e['host']}:{e['port']}\"")" "node A's answer"
assert_eq "" "$(vemu_loader_sql nodea)" "no statement ran on node A"
assert_contains "$(vemu_loader_sql nodeb)" 'COPY "public"."t" FROM LOCAL STDIN' "the COPY ran on node B"
assert_eq 0 "$(vemu_events nodeb lb_request | wc -l)" "no second LoadBalanceRequest"

# Failover: the endpoint does not answer, the second backup host does.
pg_config fo <<EOF2
{"s3Prefix": "b/fo", "batchSize": 1, "format": {"header": true},
 "targets": [$(target "$DEAD" "\"backupHosts\": [\"127.0.0.1:$(free_port)\", \"127.0.0.1:$B\"]")]}
EOF2
csv_rows b/fo/f.csv 3 10
event_ok b fo/f.csv
assert_contains "$OUT" "status=complete rows=3" "the load through a backup host"

# No node answers: retried, then loaded once a node is back.
pg_config down <<EOF2
{"s3Prefix": "b/down", "batchSize": 1, "maxAttempts": 10, "format": {"header": true},
 "targets": [$(target "$DEAD" "\"backupHosts\": [\"127.0.0.1:$DEAD\"]")]}
EOF2
csv_rows b/down/f.csv 4 20
event b down/f.csv
id=$(batch_ids --prefix b/down)
assert_eq "1 locked" "$RC $(batch_status "$id")" "a retry is scheduled (the event exits 1: nothing loaded yet)"
assert_contains "$OUT" "status=retry" "the load says retry"
assert_contains "$(batch_field "$id" error)" "127.0.0.1:$DEAD" "the error names the nodes tried"
VPORT=$DEAD vemu_restart back --user "dbadmin:$VPW:sha512"
start_serve serve --no-watch --exit-when-idle 1
wait_exit "$SERVE_PID" 60
assert_eq complete "$(batch_status "$id")" "loaded once a node is back"
assert_eq 9 "$(pq dw "SELECT count(*) FROM public.t")" "every row once"
