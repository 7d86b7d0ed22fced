# shellcheck shell=bash
# Helpers for scenarios that talk to `zload serve --webhook`, sourced after lib.sh.


# http METHOD PATH [CURL ARGS...]: a request to the serve's webhook at $PORT; status in $CODE,
# body in $BODY, seconds taken in $SECS.
http() {
	local method=$1 path=$2 out
	shift 2
	out=$(curl -sS --max-time 30 -o "$WS/.http" -w '%{http_code} %{time_total}' -X "$method" "$@" \
		"http://127.0.0.1:$PORT$path") || fail "curl $method $path failed"
	CODE=${out% *}
	SECS=${out#* }
	BODY=$(<"$WS/.http")
}
# post FILE [CURL ARGS...]: POST /events with the file as the body.
post() {
	local f=$1
	shift
	http POST /events -H 'Content-Type: application/json' --data-binary "@$f" "$@"
}
# counts RECORDS QUEUED DUPLICATE [IGNORED] [MALFORMED] [FAILED] [UNROUTED]: a 200 reply's body.
counts() {
	printf '{"records":%s,"queued":%s,"duplicate":%s,"filtered":0,"unrouted":%s,"ignored":%s,"malformed":%s,"failed":%s}' \
		"$1" "$2" "$3" "${7:-0}" "${4:-0}" "${5:-0}" "${6:-0}"
}
# start_hook_at NAME LISTEN [SERVE OPTIONS]: serve --no-watch --webhook LISTEN; $PORT from its log.
start_hook_at() {
	local name=$1 listen=$2
	shift 2
	start_bg "$name" "$ZLOAD" serve --no-watch --webhook "$listen" "$@"
	SERVE_PID=$BG_PID
	wait_for 10 eval "log_has '$WS/$name.log' 'msg=serving' || not_running $SERVE_PID"
	log_has "$WS/$name.log" 'msg=serving' || fail "serve --webhook $listen did not start"
	PORT=$(grep -o 'msg="webhook listening" listen=127.0.0.1:[0-9]* port=[0-9]*' "$WS/$name.log" | sed 's/.*port=//')
	[[ -n $PORT ]] || fail "no port in the log of $name"
}
# start_hook NAME [SERVE OPTIONS]: serve --webhook on a free port (a second try if it was taken);
# sets PORT and SERVE_PID.
start_hook() {
	local name=$1 try
	shift
	for try in 1 2; do
		PORT=$(free_port)
		start_bg "$name" "$ZLOAD" serve --webhook "127.0.0.1:$PORT" "$@"
		SERVE_PID=$BG_PID
		wait_for 10 eval "log_has '$WS/$name.log' 'msg=serving' || not_running $SERVE_PID"
		log_has "$WS/$name.log" 'msg=serving' && return 0
		mv "$WS/$name.log" "$WS/$name.try$try.txt"
	done
	fail "serve --webhook did not start: $(cat "$WS/$name".try*.txt)"
}
stop_hook() {
	kill -TERM "$SERVE_PID"
	wait_exit "$SERVE_PID" 15
	assert_eq 0 "$RC" "exit code of serve after SIGTERM"
}
