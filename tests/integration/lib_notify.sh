# shellcheck shell=bash
# Helpers for the notification scenarios (t_notify_*.sh), sourced after lib.sh (or lib_pg.sh).
#
#   sink_start NAME KIND PORT [SECRET]: starts webhook_sink.py (KIND webhook) or smtp_sink.py
#     (KIND smtp) on PORT, writing what it receives to $WS/NAME/N.json; waits until it listens.
#     Sets SINK_PID.
#   sink_count NAME: how many requests or mails NAME received.
#   sink_json NAME N EXPR: a python expression over received item N (j).
#   notices EXPR [OPTIONS]: a python expression over `notifications list --json OPTIONS` (j).
#   notice_status_is ID STATUS: for wait_for.

sink_start() {
	local name=$1 kind=$2 port=$3
	shift 3
	mkdir -p "$WS/$name"
	start_bg "$name" "$PYTHON" "$IT_DIR/${kind}_sink.py" "$port" "$WS/$name" "$@"
	SINK_PID=$BG_PID
	wait_for 10 log_has "$WS/$name.log" listening
}

sink_count() { find "$WS/$1" -name '*.json' | wc -l; }

sink_json() {
	local f=$WS/$1/$2.json
	[[ -f $f ]] || fail "$1 received no item $2"
	"$PYTHON" -c '
import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print("null" if v is None else v)
' "$f" "$3" || fail "cannot evaluate $3 over $f: $(<"$f")"
}

notices() {
	local expr=$1
	shift
	json "$expr" zload notifications list --json "$@"
}

notice_status_is() { [[ $(notices "[n['status'] for n in j if n['id'] == $1][0]") == "$2" ]]; }
