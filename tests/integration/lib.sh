# shellcheck shell=bash
# Helpers sourced by every tests/integration/t_*.sh scenario.
#
# Sourcing this file makes a fresh workspace $WS (removed on exit unless KEEP=1), points
# ZLOAD_STATE and ZLOAD_STORE at it, and defines `zload` (the binary in $ZLOAD, default
# build/zload). Assertions print the test name, what failed, and the tail of every serve log
# in the workspace, then exit 1. Background processes started with start_bg/start_serve are
# killed on exit.
set -uo pipefail

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$IT_DIR/../.." && pwd)
ZLOAD=${ZLOAD:-$REPO/build/zload}
case $ZLOAD in /*) ;; *) ZLOAD=$PWD/$ZLOAD ;; esac
TEST_NAME=$(basename "$0" .sh)
export LC_ALL=C
# The system python when there is one: a pyenv shim costs half a second a call.
if [[ -z ${PYTHON:-} ]]; then
	if [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi

if [[ ! -x $ZLOAD ]]; then
	echo "$TEST_NAME: no zload binary at $ZLOAD (run make)" >&2
	exit 1
fi

WS=$(mktemp -d /tmp/zload-it-"$TEST_NAME".XXXXXX)
STORE=$WS/store
WH=$WS/warehouse.db
mkdir -p "$STORE"
export ZLOAD_STATE="sqlite:$WS/state.db" ZLOAD_STORE="dir:$STORE"
# The local master key of config put's seals lives in the workspace ($XDG_CONFIG_HOME/zload).
export XDG_CONFIG_HOME=$WS/config
unset ZLOAD_LOG_FORMAT ZLOAD_SECRETS ZLOAD_MASTER_KEY ZLOAD_MASTER_KEY_FILE
BG_PIDS=()
LOCK_FDS=()

cleanup() {
	local rc=$? pid f
	trap - EXIT
	for f in "${FROZEN[@]}"; do chattr -i "$f" 2>/dev/null; done
	for pid in "${BG_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	for pid in "${BG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	if [[ ${KEEP:-0} == 1 ]]; then
		echo "$TEST_NAME: workspace kept: $WS" >&2
	else
		rm -rf "$WS"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

zload() { "$ZLOAD" "$@"; }

# fail MESSAGE: reports and exits 1.
fail() {
	local f
	{
		echo "FAILED $TEST_NAME: $*"
		echo "  at ${BASH_SOURCE[2]:-?}:${BASH_LINENO[1]:-?} (${FUNCNAME[2]:-main})"
		for f in "$WS"/*.log; do
			[[ -f $f ]] || continue
			echo "--- tail of $f"
			tail -n 25 "$f"
		done
	} >&2
	exit 1
}

# assert_eq EXPECTED ACTUAL MESSAGE
assert_eq() {
	[[ $1 == "$2" ]] || fail "$3: expected [$1], got [$2]"
}

# assert_contains HAYSTACK NEEDLE MESSAGE
assert_contains() {
	[[ $1 == *"$2"* ]] || fail "$3: [$2] not found in [$1]"
}

# assert_not_contains HAYSTACK NEEDLE MESSAGE
assert_not_contains() {
	[[ $1 != *"$2"* ]] || fail "$3: [$2] unexpectedly found in [$1]"
}

# assert_exit CODE CMD...: runs CMD, checks its exit code; its output is left in $OUT and $ERR.
assert_exit() {
	local want=$1 got
	shift
	"$@" >"$WS/.out" 2>"$WS/.err"
	got=$?
	OUT=$(<"$WS/.out")
	ERR=$(<"$WS/.err")
	[[ $got == "$want" ]] || fail "exit code of [$*]: expected $want, got $got; stdout [$OUT] stderr [$ERR]"
}

# ok CMD...: assert_exit 0.
ok() { assert_exit 0 "$@"; }

# wait_for TIMEOUT_SECS CMD...: polls CMD every 0.1 s until it succeeds; fails on timeout.
wait_for() {
	local timeout=$1 deadline
	shift
	deadline=$((${EPOCHREALTIME/./} + timeout * 1000000))
	until "$@" >/dev/null 2>&1; do
		((${EPOCHREALTIME/./} < deadline)) || fail "timed out after ${timeout}s waiting for: $*"
		sleep 0.1
	done
}

# free_port: a TCP port free on 127.0.0.1 now.
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# now_ms: wall clock in milliseconds.
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# not_running PID: true once PID has exited.
not_running() { ! kill -0 "$1" 2>/dev/null; }

# log_has FILE TEXT: the file contains TEXT (fixed string).
log_has() { grep -qF -- "$2" "$1" 2>/dev/null; }

# put_config [NAME]: stores the configuration read from stdin, @WS@ replaced by the workspace.
put_config() {
	local f=$WS/config-${1:-$RANDOM}.json
	sed "s|@WS@|$WS|g" >"$f"
	assert_exit 0 zload config put "$f"
	assert_contains "$OUT" "stored configuration for" "config put $f"
}

# sql DB STATEMENTS: runs sqlite3 with a busy timeout.
sql() {
	local db=$1
	shift
	sqlite3 -batch -cmd ".timeout 5000" "$db" "$@"
}

# make_table [DB] TABLE COLUMNS: creates a warehouse table ("id INTEGER, v TEXT").
make_table() {
	local db=$WH
	if (($# == 3)); then
		db=$1
		shift
	fi
	sql "$db" "CREATE TABLE $1 ($2)" || fail "cannot create table $1 in $db"
}

# rows TABLE [DB]: number of rows in a warehouse table.
rows() { sql "${2:-$WH}" "SELECT count(*) FROM $1"; }

# json EXPR CMD...: runs CMD (which prints JSON) and prints the python expression EXPR over it
# (the parsed document is j). Lists print one item a line; None prints "null".
json() {
	local expr=$1 out
	shift
	out=$("$@") || fail "command failed: $*"
	"$PYTHON" -c '
import json, signal, sys
signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # a reader such as head may stop early
j = json.loads(sys.stdin.read())
v = eval(sys.argv[1])
if isinstance(v, (list, tuple)):
    print("\n".join("null" if x is None else str(x) for x in v))
else:
    print("null" if v is None else v)
' "$expr" <<<"$out" || fail "cannot evaluate $expr over the output of $*: [$out]"
}

# batch_status ID / batch_field ID FIELD: from `batches show --json`.
batch_status() { batch_field "$1" status; }
batch_field() {
	local out
	out=$(zload batches show --json "$1") || fail "batches show $1 failed"
	"$PYTHON" -c 'import json,sys; v=json.loads(sys.stdin.read()).get(sys.argv[1]); print("null" if v is None else v)' "$2" <<<"$out"
}

# batch_ids [OPTIONS]: ids from `batches list --json OPTIONS`, newest first.
batch_ids() { json "[b['id'] for b in j]" zload batches list --json "$@"; }

# batch_count [OPTIONS]: number of batches `batches list OPTIONS` shows.
batch_count() { json "len(j)" zload batches list --json "$@"; }

# status_is ID STATUS: for wait_for.
status_is() { [[ $(batch_status "$1") == "$2" ]]; }

# count_is N CMD...: CMD prints N (for wait_for).
count_is() {
	local n=$1
	shift
	[[ $("$@") == "$n" ]]
}

# urlencode KEY: sets URLENC to KEY encoded as S3 events encode keys (space as +, / kept).
urlencode() {
	local s=$1 c i
	URLENC=
	if [[ $s =~ ^[A-Za-z0-9/._~-]*$ ]]; then
		URLENC=$s
		return
	fi
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9/._~-]) URLENC+=$c ;;
		' ') URLENC+=+ ;;
		*) printf -v c '%%%02X' "'$c" && URLENC+=$c ;;
		esac
	done
}

# s3_event BUCKET KEY...: prints an S3 event body with one ObjectCreated:Put record per key.
# KEY may end in "#SIZE"; otherwise the size of STORE/BUCKET/KEY (0 if absent). $ETAG, when set,
# is the eTag of every record.
s3_event() {
	local bucket=$1 key size sep='' body
	shift
	body='{"Records":['
	for key; do
		if [[ $key == *'#'* ]]; then
			size=${key##*#}
			key=${key%#*}
		elif [[ -f $STORE/$bucket/$key ]]; then
			size=$(stat -c %s "$STORE/$bucket/$key")
		else
			size=0
		fi
		urlencode "$key"
		body+="$sep"'{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"'"$bucket"'"},"object":{"key":"'"$URLENC"'","size":'"$size"
		[[ -n ${ETAG:-} ]] && body+=',"eTag":"'"$ETAG"'"'
		body+='}}}'
		sep=,
	done
	printf '%s]}\n' "$body"
}

# event BUCKET KEY...: writes the event to a file and runs `zload event FILE`; output in $OUT/$ERR,
# exit code in $RC.
event() {
	local f=$WS/.event.json
	s3_event "$@" >"$f"
	zload event "$f" >"$WS/.out" 2>"$WS/.err"
	RC=$?
	OUT=$(<"$WS/.out")
	ERR=$(<"$WS/.err")
}

# event_ok BUCKET KEY...: event, asserting exit code 0.
event_ok() {
	event "$@"
	[[ $RC == 0 ]] || fail "zload event $*: exit $RC; stdout [$OUT] stderr [$ERR]"
}

# write_file BUCKET/KEY: writes stdin to the store under a hidden name, then renames it in place.
write_file() {
	local path=$STORE/$1 dir base
	dir=$(dirname "$path")
	base=$(basename "$path")
	mkdir -p "$dir"
	cat >"$dir/.$base.part" && mv "$dir/.$base.part" "$path"
}

# start_bg NAME CMD...: runs CMD in the background, stdout+stderr to $WS/NAME.log; sets BG_PID.
start_bg() {
	local name=$1
	shift
	"$@" >"$WS/$name.log" 2>&1 &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

# start_serve NAME [SERVE OPTIONS]: starts `zload serve` logging to $WS/NAME.log and waits until it
# serves (start-up scan done). Sets SERVE_PID.
start_serve() {
	local name=$1
	shift
	start_bg "$name" "$ZLOAD" serve "$@"
	SERVE_PID=$BG_PID
	wait_for 10 grep -qE '(msg=|"msg":")serving' "$WS/$name.log"
}

# wait_exit PID TIMEOUT: waits for a background process to end; its exit code in $RC.
wait_exit() {
	wait_for "$2" not_running "$1"
	wait "$1"
	RC=$?
}

# hold_lock DB: a background sqlite3 holds a write transaction (BEGIN IMMEDIATE) on DB until
# release_lock DB.
hold_lock() {
	local db=$1 fifo=$WS/.lock.$RANDOM fd
	mkfifo "$fifo"
	sqlite3 -batch "$db" <"$fifo" >"$fifo.out" 2>&1 &
	BG_PIDS+=("$!")
	exec {fd}>"$fifo"
	LOCK_FDS+=("$db=$fd=$!")
	echo "PRAGMA journal_mode=WAL; BEGIN IMMEDIATE; SELECT 'held';" >&"$fd"
	wait_for 10 grep -qx held "$fifo.out"
}

release_lock() {
	local entry fd pid
	for entry in "${LOCK_FDS[@]}"; do
		[[ $entry == "$1="* ]] || continue
		entry=${entry#"$1="}
		fd=${entry%%=*}
		pid=${entry#*=}
		# .quit rather than EOF: children started meanwhile may hold the FIFO open for writing
		printf 'COMMIT;\n.quit\n' >&"$fd"
		exec {fd}>&-
		wait_exit "$pid" 10
	done
}

# csv_rows BUCKET/KEY N [START]: writes a CSV with header "id,v" and N rows to the store.
csv_rows() {
	awk -v n="$2" -v s="${3:-1}" 'BEGIN { print "id,v"; for (i = s; i < s + n; i++) print i ",v" i }' | write_file "$1"
}

# freeze_state DB: the state database cannot be written from now on until thaw_state. Root ignores
# file modes, so the database and its WAL are made immutable (chattr +i); where that is not
# allowed, a held write lock makes claims fail after the busy timeout (10 s). Sets FROZEN_HOW.
FROZEN=()
freeze_state() {
	local db=$1
	[[ -f $db-wal ]] || fail "the state database $db is not in WAL mode"
	if chattr +i "$db" 2>/dev/null && FROZEN+=("$db") && chattr +i "$db-wal" 2>/dev/null; then
		FROZEN+=("$db-wal")
		FROZEN_HOW=immutable
	else
		thaw_state
		hold_lock "$db"
		FROZEN_DB=$db
		FROZEN_HOW=locked
	fi
}
thaw_state() {
	local f
	for f in "${FROZEN[@]}"; do chattr -i "$f" 2>/dev/null; done
	FROZEN=()
	if [[ -n ${FROZEN_DB:-} ]]; then
		release_lock "$FROZEN_DB"
		FROZEN_DB=
	fi
}
