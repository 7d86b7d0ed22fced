# shellcheck shell=bash
# Helpers for scenarios against the Vertica emulator (tests/vertica/emulator.py), sourced after
# tests/integration/lib_pg.sh (which starts the PostgreSQL the emulator runs its SQL on).
#
#   vemu_start NAME [EMULATOR OPTIONS]   starts an emulator on a free port, logging JSON events to
#                                        $WS/NAME.events (stderr to $WS/NAME.log); waits until it
#                                        listens. Sets VEMU_PORT, VEMU_PID, VEMU_EVENTS.
#                                        Database dw; pass --user NAME:PASSWORD:METHOD for users.
#   vemu_restart NAME PORT [OPTIONS]     the same on a given port (after a SIGKILL, say)
#   vemu_events FILE [EVENT]             the JSON event lines (of one event name)
#   vemu_count FILE EVENT [JQ-FREE FILTER]  how many EVENT lines contain the given literal text
VEMU_PY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/emulator.py

vemu_restart() {
	local name=$1 port=$2
	shift 2
	rm -f "$WS/$name.port"
	start_bg "$name" "$PYTHON" "$VEMU_PY" --listen "127.0.0.1:$port" --port-file "$WS/$name.port" \
		--pg-socket "$PGDIR" --pg-port "$PGPORT" --pg-db dw --log "$WS/$name.events" "$@"
	VEMU_PID=$BG_PID
	wait_for 10 test -s "$WS/$name.port"
	VEMU_PORT=$(cat "$WS/$name.port")
	VEMU_EVENTS=$WS/$name.events
}

vemu_start() {
	local name=$1
	shift
	vemu_restart "$name" 0 "$@"
}

vemu_events() {
	if [[ -n ${2:-} ]]; then
		grep -F "\"event\": \"$2\"" "$1" || true
	else
		cat "$1"
	fi
}

vemu_count() {
	vemu_events "$1" "$2" | grep -cF -- "${3:-}" || true
}
