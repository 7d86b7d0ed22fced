# shellcheck shell=bash
# Helpers for the Vertica scenarios, sourced after lib_pg.sh: the strict Vertica emulator
# (tests/vertica/emulator.py) in front of the test's PostgreSQL.
#   vemu_start NAME [EMULATOR OPTIONS]: an emulator on a free port ($VPORT, pid $VEMU_PID) that
#     runs the SQL in database dw as postgres; its log in $WS/NAME.jsonl, output in $WS/NAME.log
#   vemu_restart NAME [EMULATOR OPTIONS]: the same on the port it had ($VPORT)
#   vemu_events NAME EVENT [EXPR]: one line per EVENT of the log, the python expression EXPR over
#     each event e (default: e's JSON)
#   vemu_sql NAME: every statement the emulator received, one a line (the Query text as it came)
#   vt_target NAME TABLE [EXTRA JSON MEMBERS]: a vertica target for the emulator on $VPORT, user
#     dbadmin with password $VPW
#   make_tls_cert: a CA and a server certificate for "localhost" and 127.0.0.1 in $WS/tls
VEMU=$REPO/tests/vertica/emulator.py
VPW=secret
VPORT=

vemu_start() {
	local name=$1
	shift
	VPORT=$(free_port)
	vemu_restart "$name" "$@"
}

vemu_restart() {
	local name=$1
	shift
	rm -f "$WS/$name.port"
	start_bg "$name" "$PYTHON" "$VEMU" --listen "127.0.0.1:$VPORT" --port-file "$WS/$name.port" \
		--pg-socket "$PGDIR" --pg-port "$PGPORT" --pg-db dw --pg-user postgres --log "$WS/$name.jsonl" "$@"
	VEMU_PID=$BG_PID
	wait_for 15 test -s "$WS/$name.port"
}

vemu_events() {
	local name=$1 ev=$2 expr=${3:-json.dumps(e)}
	"$PYTHON" -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == sys.argv[2]:
        print(eval(sys.argv[3]))
' "$WS/$name.jsonl" "$ev" "$expr"
}

vemu_sql() { vemu_events "$1" query "e['sql']"; }

vt_target() {
	local name=$1 table=$2 extra=${3:-}
	printf '{"type":"vertica","name":"%s","clusterEndpoint":"127.0.0.1","clusterPort":%s,"clusterDB":"dw","connectUser":"dbadmin","connectPassword":"%s","targetTable":"%s"%s}' \
		"$name" "$VPORT" "$VPW" "$table" "${extra:+,$extra}"
}

make_tls_cert() {
	local d=$WS/tls
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=zload-test-ca -keyout "$d/ca.key" -out "$d/ca.pem" \
		>/dev/null 2>&1 || fail "openssl: CA"
	openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout "$d/server.key" -out "$d/server.csr" \
		>/dev/null 2>&1 || fail "openssl: CSR"
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
		-extfile "$d/ext" -out "$d/server.pem" >/dev/null 2>&1 || fail "openssl: server certificate"
}

# vsql SQL...: runs SQL through the emulator on $VPORT as dbadmin (then COMMIT); prints the rows.
vsql() { "$PYTHON" "$REPO/tests/vertica/vsql.py" --port "$VPORT" --password "$VPW" -c "$*" || fail "vsql: $*"; }

# vemu_loader_sql NAME: the statements zload's connections sent (client_label zload-...), in order.
vemu_loader_sql() {
	"$PYTHON" -c '
import json, sys
zload = set()
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == "startup" and str(e.get("params", {}).get("client_label", "")).startswith("zload-"):
        zload.add(e["conn"])
    elif e.get("event") == "query" and e.get("conn") in zload:
        print(e["sql"])
' "$WS/$1.jsonl"
}
