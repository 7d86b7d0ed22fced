#!/usr/bin/env bash
# make bench: pushes synthetic S3 ObjectCreated events through `zload event` with SQLite state and
# prints events per second for three paths (bulk files, one record per process, all duplicates),
# plus a baseline: the same keys inserted by the sqlite3 CLI, one WAL transaction per row.
#
#   bench/events.sh [-n BULK] [-b PER_FILE] [-s SINGLE] [-T SECONDS] [--with-loads]
#
#   -n N          bulk events (default 100000), sent as files of PER_FILE records, one process each
#   -b N          records per bulk file (default 10000; 100000/10000 = 10 processes)
#   -s N          one-record `zload event` processes (default 2000)
#   -T SECONDS    time budget of the one-record pass (default 90, 0: none): on a busy machine it
#                 stops early and the table shows how many it ran, so a run stays under 3 minutes
#   --with-loads  batchSize 1000 and real CSV objects in the dir: store, so batches load into a
#                 SQLite target during the run (default: batches never fall due: intake only)
#   --no-pg       skip the PostgreSQL state pass (by default the bulk files go through
#                 `zload event` again with --state postgresql://..., against psql running the same
#                 one-INSERT transactions, on a throwaway cluster started by scripts/pg.sh)
#
# Each run uses a fresh temporary workspace, removed at the end. The script fails (exit 1) if
# zload's per-record output does not show the expected numbers of queued/duplicate records.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
zload=${ZLOAD:-$here/../build/zload}

bulk=100000 per_file=10000 single=2000 budget=90 with_loads=0 with_pg=1
usage() { sed -n '2,/^set -e/s/^# \{0,1\}//p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	-n) bulk=${2:?}; shift 2 ;;
	-b) per_file=${2:?}; shift 2 ;;
	-s) single=${2:?}; shift 2 ;;
	-T) budget=${2:?}; shift 2 ;;
	--with-loads) with_loads=1; shift ;;
	--no-pg) with_pg=0; shift ;;
	-h|--help) usage ;;
	*) echo "events.sh: unknown argument: $1" >&2; usage ;;
	esac
done
for v in "$bulk" "$per_file" "$single"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "events.sh: counts must be positive integers" >&2; exit 2; }
done
[[ $budget =~ ^[0-9]+$ ]] || { echo "events.sh: -T takes whole seconds" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "events.sh: sqlite3 CLI not found (make deps)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "events.sh: python3 not found (make deps)" >&2; exit 1; }

ws=$(mktemp -d /tmp/zload-bench.XXXXXX)
store=$ws/store
pg_dir=
trap '[ -z "$pg_dir" ] || "$here/../scripts/pg.sh" stop "$pg_dir" >/dev/null 2>&1; rm -rf "$ws" ${shm:+"$shm"}' EXIT
# One object file per event, as every real event names an object that exists (the dir: store
# looks at each one when it is claimed). On tmpfs (when there is one) creating and, above all,
# removing 100,000 files takes seconds instead of a minute; the timed reads come from the page
# cache either way. State and target databases stay on disk in $ws.
if [ -d /dev/shm ] && [ -w /dev/shm ] && shm=$(mktemp -d /dev/shm/zload-bench.XXXXXX 2>/dev/null); then
	store=$shm/store
fi
export ZLOAD_STATE="sqlite:$ws/state.db" ZLOAD_STORE="dir:$store"
mkdir -p "$store/bench/in" "$ws/bulk" "$ws/single"
# A private copy, so that a rebuild of build/zload during the run cannot change or break it.
cp "$zload" "$ws/zload" 2>/dev/null || { echo "events.sh: $zload not found: run make first" >&2; exit 1; }
zload=$ws/zload
prep_t0=${EPOCHREALTIME/./}

die() { # die MESSAGE [LOG]: explain, show the end of the log, fail
	echo "events.sh: FAILED: $1" >&2
	if [ -n "${2:-}" ] && [ -s "$2" ]; then echo "--- last lines of $(basename "$2"):" >&2; tail -n 5 "$2" >&2; fi
	exit 1
}

# ---- configuration -------------------------------------------------------------------------
if [ "$with_loads" = 1 ]; then
	mode="with loads: batchSize 1000, tiny CSV objects loaded into a SQLite table"
	batch_size=1000 timeout=0
	sqlite3 "$ws/warehouse.db" "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);" >/dev/null
else
	mode="intake only: batchSize 0, batchTimeoutSecs 86400 (no batch falls due)"
	batch_size=0 timeout=86400
fi
cat > "$ws/config.json" <<EOF
{"s3Prefix": "bench/in", "batchSize": $batch_size, "batchTimeoutSecs": $timeout,
 "format": {"type": "csv", "header": true, "compression": "none"},
 "targets": [{"name": "wh", "type": "sqlite", "path": "$ws/warehouse.db", "targetTable": "t"}]}
EOF
"$zload" config put "$ws/config.json" >/dev/null 2>"$ws/config.log" || die "zload config put" "$ws/config.log"

# ---- inputs, generated before any timing ---------------------------------------------------
# Keys f000001..f{bulk} go in bulk files; the next $single keys get one file each; baseline.sql
# inserts the bulk keys into a primary-key table, one transaction per row.
python3 - "$ws" "$store" "$bulk" "$per_file" "$single" <<'PY'
import json, os, sys
ws, store, (bulk, per_file, single) = sys.argv[1], sys.argv[2], map(int, sys.argv[3:])
obj_dir = os.path.join(store, "bench", "in")

def body(i):
    return "id,n\n%d,%d\n" % (i, i % 97)

def record(i):
    key = "in/f%06d.csv" % i
    size = len(body(i))
    return {"eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "bench"}, "object": {"key": key, "size": size}}}

def write_event(path, ids):
    with open(path, "w") as f:
        json.dump({"Records": [record(i) for i in ids]}, f, separators=(",", ":"))

for n, start in enumerate(range(1, bulk + 1, per_file), 1):
    write_event(os.path.join(ws, "bulk", "%04d.json" % n), range(start, min(start + per_file, bulk + 1)))
for i in range(bulk + 1, bulk + single + 1):
    write_event(os.path.join(ws, "single", "%06d.json" % i), [i])
for i in range(1, bulk + single + 1):
    with open(os.path.join(obj_dir, "f%06d.csv" % i), "w") as f:
        f.write(body(i))
with open(os.path.join(ws, "baseline.sql"), "w") as f:
    f.write("PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\n"
            "CREATE TABLE files (file_id TEXT PRIMARY KEY);\n")
    for i in range(1, bulk + 1):
        f.write("BEGIN IMMEDIATE; INSERT INTO files VALUES ('bench/in/f%06d.csv'); COMMIT;\n" % i)
PY
bulk_files=("$ws"/bulk/*.json)
single_files=("$ws"/single/*.json)
dup_count=$(( bulk < per_file ? bulk : per_file ))
prep_s=$(awk -v us=$(( ${EPOCHREALTIME/./} - prep_t0 )) 'BEGIN { printf "%.1f", us / 1e6 }')

# ---- timing helpers ------------------------------------------------------------------------
now_us() { echo "${EPOCHREALTIME/./}"; }
rows=()
record() { # record SCENARIO EVENTS MICROSECONDS
	rows+=("$1|$2|$3")
}
rate() { awk -v n="$1" -v us="$2" 'BEGIN { printf "%.0f", n / (us / 1e6) }'; }
expect() { # expect WHAT WANT GOT LOG
	[ "$2" = "$3" ] || die "$1: expected $2, got $3" "$4"
}

# Lines zload event may print: one per record, plus one per batch it loads (--with-loads only).
ok_lines=queued
[ "$with_loads" = 0 ] || ok_lines='queued|loaded'

# ---- 1. bulk -------------------------------------------------------------------------------
t0=$(now_us)
for f in "${bulk_files[@]}"; do
	"$zload" event "$f" >>"$ws/bulk.out" 2>>"$ws/bulk.log" || die "zload event bulk/${f##*/} exited $?" "$ws/bulk.log"
done
t1=$(now_us)
expect "bulk: queued lines" "$bulk" "$(grep -c '^queued ' "$ws/bulk.out" || true)" "$ws/bulk.out"
expect "bulk: other lines" 0 "$(grep -Ecv "^($ok_lines) " "$ws/bulk.out" || true)" "$ws/bulk.out"
record "bulk (${#bulk_files[@]} processes x $( ((bulk % per_file)) && echo "<=")$per_file records)" "$bulk" $((t1 - t0))

# ---- 2. one record per process -------------------------------------------------------------
t0=$(now_us)
deadline=$(( budget > 0 ? t0 + budget * 1000000 : 0 ))
done_single=0
for f in "${single_files[@]}"; do
	"$zload" event "$f" >>"$ws/single.out" 2>>"$ws/single.log" || die "zload event single/${f##*/} exited $?" "$ws/single.log"
	done_single=$((done_single + 1))
	(( deadline == 0 || ${EPOCHREALTIME/./} < deadline )) || break
done
t1=$(now_us)
expect "one-at-a-time: queued lines" "$done_single" "$(grep -c '^queued ' "$ws/single.out" || true)" "$ws/single.out"
expect "one-at-a-time: other lines" 0 "$(grep -Ecv "^($ok_lines) " "$ws/single.out" || true)" "$ws/single.out"
record "one-at-a-time ($done_single processes x 1 record)" "$done_single" $((t1 - t0))
cut_note=
(( done_single == single )) || cut_note="one-at-a-time stopped after $done_single of $single processes: $budget s budget spent (-T 0: no budget)"

# ---- process start alone, to split the one-at-a-time cost -----------------------------------
starts=$(( single < 100 ? single : 100 ))
t0=$(now_us)
for ((i = 0; i < starts; i++)); do "$zload" --version >/dev/null; done
t1=$(now_us)
start_us=$(( (t1 - t0) / starts ))

# ---- 3. duplicates: the first bulk file again ----------------------------------------------
t0=$(now_us)
"$zload" event "${bulk_files[0]}" >"$ws/dup.out" 2>"$ws/dup.log" || die "zload event (duplicates) exited $?" "$ws/dup.log"
t1=$(now_us)
expect "duplicates: duplicate lines" "$dup_count" "$(grep -c '^duplicate ' "$ws/dup.out" || true)" "$ws/dup.out"
expect "duplicates: other lines" 0 "$(grep -cv '^duplicate ' "$ws/dup.out" || true)" "$ws/dup.out"
record "duplicates (1 process x $dup_count records)" "$dup_count" $((t1 - t0))

# ---- loads happened (--with-loads) ---------------------------------------------------------
if [ "$with_loads" = 1 ]; then
	total=$((bulk + done_single))
	want_rows=$(( total / batch_size * batch_size ))
	cat "$ws/bulk.out" "$ws/single.out" >"$ws/all.out"
	got_batches=$(grep -c '^loaded .*status=complete' "$ws/all.out" || true)
	expect "complete batch loads" $(( total / batch_size )) "$got_batches" "$ws/all.out"
	expect "rows in the target table" "$want_rows" "$(sqlite3 "$ws/warehouse.db" 'SELECT count(*) FROM t')" "$ws/bulk.log"
	loads_note="$got_batches batches of $batch_size loaded ($want_rows rows in the target table)"
fi

# ---- baseline: sqlite3 CLI, one transaction per row ----------------------------------------
t0=$(now_us)
sqlite3 "$ws/baseline.db" <"$ws/baseline.sql" >/dev/null 2>"$ws/baseline.log" || die "sqlite3 baseline" "$ws/baseline.log"
t1=$(now_us)
expect "baseline rows" "$bulk" "$(sqlite3 "$ws/baseline.db" 'SELECT count(*) FROM files')" "$ws/baseline.log"
record "sqlite3 CLI baseline (1 INSERT per txn)" "$bulk" $((t1 - t0))

# ---- PostgreSQL state: the bulk files again, against psql's one-INSERT transactions ---------
if [ "$with_pg" = 1 ]; then
	pg_dir=$ws/pg
	pg_port=$("$here/../scripts/pg.sh" free-port)
	"$here/../scripts/pg.sh" start "$pg_dir" "$pg_port" >"$ws/pg.log" 2>&1 || die "scripts/pg.sh start" "$ws/pg.log"
	pg_url="postgresql://loader:loader-scram-pw@127.0.0.1:$pg_port/dw?schema=zl_bench"
	ZLOAD_STATE=$pg_url "$zload" config put "$ws/config.json" >/dev/null 2>"$ws/config.log" || die "config put (PostgreSQL state)" "$ws/config.log"
	t0=$(now_us)
	for f in "${bulk_files[@]}"; do
		ZLOAD_STATE=$pg_url "$zload" event "$f" >>"$ws/pgbulk.out" 2>>"$ws/pgbulk.log" || die "zload event (PostgreSQL state) ${f##*/}" "$ws/pgbulk.log"
	done
	t1=$(now_us)
	expect "bulk, PostgreSQL state: queued lines" "$bulk" "$(grep -c '^queued ' "$ws/pgbulk.out" || true)" "$ws/pgbulk.out"
	record "bulk, PostgreSQL state (${#bulk_files[@]} processes)" "$bulk" $((t1 - t0))
	sed -e '/^PRAGMA/d' -e 's/BEGIN IMMEDIATE/BEGIN/' -e 's/TEXT PRIMARY KEY/text PRIMARY KEY/' "$ws/baseline.sql" >"$ws/baseline_pg.sql"
	t0=$(now_us)
	PGPASSWORD=loader-scram-pw psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U loader -d dw \
		-f "$ws/baseline_pg.sql" >/dev/null 2>"$ws/pgbase.log" || die "psql baseline" "$ws/pgbase.log"
	t1=$(now_us)
	record "psql baseline (1 INSERT per txn)" "$bulk" $((t1 - t0))
fi

# ---- report --------------------------------------------------------------------------------
echo "zload event benchmark: $mode"
echo "state    sqlite:$ws/state.db"
echo "store    dir:$store"
echo "machine  $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg) at the end; sqlite $(sqlite3 --version | cut -d' ' -f1)"
echo "inputs   generated in $prep_s s (not timed)"
[ -z "${loads_note:-}" ] || echo "loads    $loads_note"
[ -z "$cut_note" ] || echo "note     $cut_note"
echo "baseline sqlite3 CLI, table with a TEXT PRIMARY KEY, BEGIN IMMEDIATE; INSERT; COMMIT per key,"
echo "         WAL, synchronous=NORMAL (the journal settings of zload's SQLite state)"
echo
printf '%-44s %8s %9s %10s\n' scenario events seconds events/s
printf '%-44s %8s %9s %10s\n' "--------" ------ ------- --------
for r in "${rows[@]}"; do
	IFS='|' read -r name n us <<<"$r"
	printf '%-44s %8d %9.3f %10d\n' "$name" "$n" "$(awk -v us="$us" 'BEGIN { print us / 1e6 }')" "$(rate "$n" "$us")"
done
IFS='|' read -r _ bn bus <<<"${rows[0]}"
IFS='|' read -r _ sn sus <<<"${rows[1]}"
IFS='|' read -r _ qn qus <<<"${rows[3]}"
echo
awk -v b="$(rate "$bn" "$bus")" -v s="$(rate "$sn" "$sus")" -v q="$(rate "$qn" "$qus")" -v st="$start_us" 'BEGIN {
	printf "ratio bulk / one-at-a-time:     %6.1fx  (one-record process costs %.2f ms more per event; zload --version alone takes %.2f ms)\n", b / s, 1000 / s - 1000 / b, st / 1000
	printf "ratio zload bulk / sqlite3 raw: %6.2fx  (zload per-event transaction %.1f us vs %.1f us per sqlite3 INSERT transaction)\n", b / q, 1e6 / b, 1e6 / q
}'
if [ "$with_pg" = 1 ]; then
	IFS='|' read -r _ pn pus <<<"${rows[4]}"
	IFS='|' read -r _ ln lus <<<"${rows[5]}"
	awk -v b="$(rate "$pn" "$pus")" -v q="$(rate "$ln" "$lus")" 'BEGIN {
		printf "ratio PostgreSQL state bulk / psql: %6.2fx  (PostgreSQL 15 with fsync=off, synchronous_commit=off, on this machine)\n", b / q
	}'
fi
