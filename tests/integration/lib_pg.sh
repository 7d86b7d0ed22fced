# Helpers for the PostgreSQL scenarios (tests/integration/t_pg_*.sh), sourced after lib.sh.
#
# Sourcing this file starts a throwaway PostgreSQL cluster (scripts/pg.sh) in $WS/pg on a free
# port ($PGPORT, socket directory $PGDIR) and stops it on exit, before lib.sh removes the
# workspace. Roles: loader (SCRAM, loader-scram-pw), loader_md5 (MD5, loader-md5-pw); databases
# dw and dw2 owned by loader; superuser postgres over the socket.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PGSH=$REPO/scripts/pg.sh
PGDIR=$WS/pg
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
PG_SCRAM_PW=loader-scram-pw
PG_MD5_PW=loader-md5-pw
PGPORT=

as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# The cluster goes down before lib.sh's cleanup removes the workspace (rc preserved).
pg_cleanup() {
	local rc=$?
	[[ -d $PGDIR/data ]] && "$PGSH" stop "$PGDIR" >/dev/null 2>&1
	[[ -d $SDIR/data ]] && "$PGSH" stop "$SDIR" >/dev/null 2>&1
	(exit "$rc")
	cleanup
}
trap pg_cleanup EXIT

# cluster_start DIR: initdb + start on a free port, printed (a second try on another port if the
# first was taken).
cluster_start() {
	local dir=$1 try port
	for try in 1 2; do
		port=$("$PGSH" free-port)
		rm -rf "$dir"
		"$PGSH" start "$dir" "$port" >"$dir.start.out" 2>&1 && { echo "$port"; return 0; }
	done
	cat "$dir.start.out" >&2
	fail "cannot start PostgreSQL (scripts/pg.sh start $dir)"
}

# cluster_resume DIR: starts the stopped cluster again on the same data directory, port and
# options (taken from postmaster.opts, which records the command line pg.sh started it with).
cluster_resume() {
	local dir=$1 opts
	opts=$(sed -E 's/^[^ ]+ "-D" "[^"]*" ?//' "$dir/data/postmaster.opts")
	as_pg "$PGBIN/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" start -o "$opts" >/dev/null \
		|| fail "cannot restart PostgreSQL in $dir: $(tail -n 5 "$dir/server.log")"
}

# pg_start: the cluster of the targets ($PGDIR, $PGPORT). pg_stop: fast shutdown (the data
# directory stays). pg_resume: up again on the same port.
pg_start() { PGPORT=$(cluster_start "$PGDIR") || exit 1; }
pg_stop() { "$PGSH" stop "$PGDIR"; }
pg_resume() { cluster_resume "$PGDIR"; }

# state_pg_start: a second cluster, for zload's state ($SDIR, $SPORT), so that it can go away
# while the targets stay up; state_stop and state_resume as pg_stop and pg_resume.
SDIR=$WS/pgstate
SPORT=
state_pg_start() { SPORT=$(cluster_start "$SDIR") || exit 1; }
state_stop() { "$PGSH" stop "$SDIR"; }
state_resume() { cluster_resume "$SDIR"; }

# pg_up: the server accepts connections.
pg_up() { "$PGBIN/pg_isready" -q -h "$PGDIR" -p "$PGPORT"; }

# psql_as USER DB SQL...: runs SQL over the socket (trust), unaligned, tuples only, stops on
# the first error. Prints the result; fails the test on error unless PSQL_MAY_FAIL=1.
psql_as() {
	local user=$1 db=$2
	shift 2
	local out
	out=$(psql -X -q -A -t -h "$PGDIR" -p "$PGPORT" -U "$user" -d "$db" -v ON_ERROR_STOP=1 -c "$*" 2>&1)
	local rc=$?
	if ((rc != 0)) && [[ ${PSQL_MAY_FAIL:-0} != 1 ]]; then
		fail "psql -U $user -d $db [$*]: $out"
	fi
	printf '%s\n' "$out"
	return $rc
}

# pq DB SQL: as the superuser. pql DB SQL: as loader (tables it creates are loader's).
pq() { psql_as postgres "$@"; }
pql() { psql_as loader "$@"; }

# pg_count TABLE [DB]: rows in a table (default database dw).
pg_count() { pq "${2:-dw}" "SELECT count(*) FROM $1"; }

# pg_ledger_rows BATCH [DB] [LEDGER]: rows for BATCH in the ledger table.
pg_ledger_rows() { pq "${2:-dw}" "SELECT count(*) FROM ${3:-zload_ledger} WHERE batch_id = '$1'"; }

# pg_config NAME: stores the configuration read from stdin, with @WS@ and @PORT@ replaced.
pg_config() {
	local f=$WS/config-$1.json
	sed -e "s|@WS@|$WS|g" -e "s|@PORT@|$PGPORT|g" >"$f"
	assert_exit 0 zload config put "$f"
	assert_contains "$OUT" "stored configuration for" "config put $f"
}

# pg_target NAME TABLE [DB] [USER] [PASSWORD] [EXTRA JSON MEMBERS]: prints a postgres target object.
pg_target() {
	local name=$1 table=$2 db=${3:-dw} user=${4:-loader} pw=${5:-$PG_SCRAM_PW} extra=${6:-}
	printf '{"type":"postgres","name":"%s","host":"127.0.0.1","port":%s,"database":"%s","user":"%s","password":"%s","targetTable":"%s"%s}' \
		"$name" "$PGPORT" "$db" "$user" "$pw" "$table" "${extra:+,$extra}"
}

# tjson EXPR ID: a python expression over `batches show --json ID` (j is the document; t is the
# list of per-target results of the last attempt, or []).
tjson() {
	local expr=$1 out
	out=$(zload batches show --json "$2") || fail "batches show $2 failed"
	"$PYTHON" -c '
import json, sys
j = json.loads(sys.stdin.read())
t = (j.get("result") or {}).get("targets") or []
v = eval(sys.argv[1])
if isinstance(v, (list, tuple)):
    print("\n".join("null" if x is None else str(x) for x in v))
else:
    print("null" if v is None else v)
' "$expr" <<<"$out" || fail "cannot evaluate $expr over batches show $2: [$out]"
}

# load_one PREFIX KEY...: queues the files with `zload event --no-load` and loads their batch now
# with `zload flush` (all in one batch: the configuration's batchSize must allow as many). Sets
# BATCH to the batch id; $OUT/$ERR of the flush.
load_one() {
	local prefix=$1 bucket=${1%%/*}
	shift
	local keys=() k
	for k; do keys+=("${prefix#*/}/$k"); done
	s3_event "$bucket" "${keys[@]}" >"$WS/.event.json"
	zload event --no-load "$WS/.event.json" >"$WS/.out" 2>"$WS/.err" || fail "zload event --no-load: $(<"$WS/.err")"
	BATCH=$(sed -n 's/^queued .* batch=//p' "$WS/.out" | tail -n 1)
	[[ -n $BATCH ]] || fail "no batch queued for $*: $(<"$WS/.out") $(<"$WS/.err")"
	zload flush "$prefix" >"$WS/.out" 2>"$WS/.err"
	RC=$?
	OUT=$(<"$WS/.out")
	ERR=$(<"$WS/.err")
}

# pg_copy_active TABLE: a backend is running a COPY into TABLE now.
pg_copy_active() {
	[[ $(PSQL_MAY_FAIL=1 pq postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zload' AND state = 'active' AND query ILIKE 'COPY %$1%'") -ge 1 ]]
}

pg_start
