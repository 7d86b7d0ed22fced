#!/usr/bin/env bash
# bench/scale.sh: scale-out of `zload serve` on one SQS queue with PostgreSQL state: objects/s and
# rows/s with 1, 2 and 4 serve processes draining the same pre-filled queue, the ratio to 1, and
# the bookkeeping cost per object measured by the state's PostgreSQL itself (pg_stat_statements
# and pg_stat_database).
#
#   bench/scale.sh [-n OBJECTS] [-p "1 2 4"] [-b BATCH_SIZE] [-d COPIES] [-w WORKERS] [-v]
#
#   -n N       objects (default 2000): small CSVs of 2-4 rows, put once into moto S3
#   -p LIST    serve process counts, one run each (default "1 2 4"; the first is the baseline)
#   -b N       batchSize (default 20; batchTimeoutSecs 2)
#   -d C       deliveries of every notification (default 1; 2 = each one twice, as in
#              tests/integration/t_scale_out.sh: the second is a duplicate claim)
#   -w N       --workers of each serve (default 4)
#   -v         also print each run's costliest state statements
#   env: ZLOAD=path (the binary), SERVE_OPTS="-v" (more serve options), KEEP=1 (keep the workspace)
#
# Setup (not timed): moto_server (through tests/integration/moto_fast.py), a PostgreSQL cluster
# for the target (UNLOGGED table) and another for the state (pg_stat_statements preloaded), both
# from scripts/pg.sh, on free loopback ports; N objects are put into bucket "bench" (prefix in/)
# with their notifications going to a holding queue, whose N S3 event bodies are kept.
# Each run: a fresh state schema and an empty target; the kept bodies are sent to a new queue
# (C copies each); then P serves start and the clock runs until every row is committed in the
# target and the queue is empty. State figures are the deltas over the run (serves stopped by SIGTERM, so their
# sessions' statistics are flushed) of the state database "dw", role "loader": transactions
# committed (xact_commit), statements executed and their execution time (pg_stat_statements,
# top-level statements, BEGIN/COMMIT included), each divided by the objects.
# Everything started is stopped on exit. Checks: the row count, each object's rows once, every
# batch complete, every serve exits 0.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
zload=${ZLOAD:-$here/build/zload}
objects=2000 procs="1 2 4" batch=20 copies=1 workers=4 verbose=0
usage() { sed -n '2,/^set -e/s/^# \{0,1\}//p' "$0" | sed '$d' >&2; exit 2; }
while getopts n:p:b:d:w:vh o; do
	case $o in
	n) objects=$OPTARG ;; p) procs=$OPTARG ;; b) batch=$OPTARG ;; d) copies=$OPTARG ;;
	w) workers=$OPTARG ;; v) verbose=1 ;; *) usage ;;
	esac
done
for v in "$objects" "$batch" "$copies" "$workers" $procs; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "scale.sh: counts must be positive integers" >&2; exit 2; }
done
[ -x "$zload" ] || make -C "$here" >/dev/null
AWS=$(pyenv which aws 2>/dev/null || command -v aws) || { echo "scale.sh: the aws CLI is not installed" >&2; exit 1; }
MOTO=$(pyenv which moto_server 2>/dev/null || command -v moto_server) || { echo "scale.sh: moto_server is not installed" >&2; exit 1; }
BOTOPY=$(sed -n '1s/^#! *//p' "$MOTO") # the Python that runs moto has moto and boto3
[[ -x ${BOTOPY%% *} ]] || BOTOPY=python3
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
[ -f "$("$PGBIN/pg_config" --pkglibdir)/pg_stat_statements.so" ] ||
	{ echo "scale.sh: pg_stat_statements is not installed (postgresql-contrib; scripts/deps.sh)" >&2; exit 1; }
feed=$here/tests/integration/scale_feed.py

t_start=${EPOCHREALTIME/./}
ws=$(mktemp -d /tmp/zload-bench-scale.XXXXXX)
moto_pid=
serve_pids=()
cleanup() {
	local p
	for p in "${serve_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	[ -n "$moto_pid" ] && kill -KILL "$moto_pid" 2>/dev/null
	wait 2>/dev/null
	"$here/scripts/pg.sh" stop "$ws/pgstate"
	"$here/scripts/pg.sh" stop "$ws/pg"
	[ "${KEEP:-0}" = 1 ] && echo "workspace kept: $ws" >&2 || rm -rf "$ws"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
die() { # die MESSAGE [LOG]
	echo "scale.sh: FAILED: $1" >&2
	if [ -n "${2:-}" ] && [ -s "$2" ]; then echo "--- last lines of $(basename "$2"):" >&2; tail -n 10 "$2" >&2; fi
	exit 1
}
# A private copy, so that a rebuild of build/zload during the run cannot change or break it.
cp "$zload" "$ws/zload"
zload=$ws/zload

# Nothing from the caller's AWS or zload setup leaks in.
for v in $(compgen -e); do [[ $v == AWS_* || $v == ZLOAD_* ]] && unset "$v"; done
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 \
	AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=$ws/none AWS_SHARED_CREDENTIALS_FILE=$ws/none \
	XDG_CONFIG_HOME=$ws/config
secs() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1e6 }'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# ---- services --------------------------------------------------------------------------------
mport=$("$here/scripts/pg.sh" free-port)
$BOTOPY "$here/tests/integration/moto_fast.py" -H 127.0.0.1 -p "$mport" >"$ws/moto.log" 2>&1 &
moto_pid=$!
tport=$("$here/scripts/pg.sh" free-port)
"$here/scripts/pg.sh" start "$ws/pg" "$tport"
sport=$("$here/scripts/pg.sh" free-port)
"$here/scripts/pg.sh" start "$ws/pgstate" "$sport"
as_pg "$PGBIN/psql" -X -q -h "$ws/pgstate" -p "$sport" -U postgres -d postgres \
	-c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$ws/pgstate/data" -w -m fast restart >/dev/null # options kept from postmaster.opts
export PGPASSWORD=loader-scram-pw # role loader in both clusters (not in the state URL: ps shows it)
tq() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$tport" -U loader -d dw -c "$1"; }
sq() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$ws/pgstate" -p "$sport" -U postgres -d "${2:-postgres}" -c "$1"; }
sq "CREATE EXTENSION pg_stat_statements" >/dev/null
tq "CREATE UNLOGGED TABLE t (id integer, obj integer, v text)"
for ((i = 0; i < 300; i++)); do port_open "$mport" && break; sleep 0.1; done
port_open "$mport" || die "moto_server does not listen on $mport" "$ws/moto.log"
endpoint=http://127.0.0.1:$mport
store="s3://?endpoint=$endpoint&region=us-east-1&path_style=1"
awsc() { "$AWS" --endpoint-url "$endpoint" "$@"; }

# ---- data: N objects, their notifications kept from a holding queue -----------------------------
awsc s3 mb s3://bench >/dev/null
hold=$(awsc sqs create-queue --queue-name hold --query QueueUrl --output text)
hold_arn=$(awsc sqs get-queue-attributes --queue-url "$hold" --attribute-names QueueArn --query Attributes.QueueArn --output text)
awsc s3api put-bucket-notification-configuration --bucket bench \
	--notification-configuration "{\"QueueConfigurations\":[{\"QueueArn\":\"$hold_arn\",\"Events\":[\"s3:ObjectCreated:*\"]}]}"
t0=${EPOCHREALTIME/./}
$BOTOPY "$feed" put "$endpoint" bench in "$objects" 2>"$ws/put.log" || die "put $objects objects" "$ws/put.log"
t_put=$((${EPOCHREALTIME/./} - t0))
$BOTOPY "$feed" collect "$endpoint" "$hold" "$objects" "$ws/bodies.jsonl" >/dev/null 2>"$ws/collect.log" ||
	die "collect the notifications" "$ws/collect.log"
[ "$(wc -l <"$ws/bodies.jsonl")" = "$objects" ] || die "expected $objects notifications"
rows=0
for ((i = 1; i <= objects; i++)); do rows=$((rows + i % 3 + 2)); done
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start; moto, both PostgreSQL clusters and the serves share them"
echo "data: $objects objects ($rows rows), batchSize $batch, each notification delivered $copies time(s), --workers $workers"
echo "setup: $(secs $((${EPOCHREALTIME/./} - t_start))) s (moto + 2 PostgreSQL start, $objects PUTs in $(secs "$t_put") s)"

# ---- one run per process count ---------------------------------------------------------------
loader_oid=$(sq "SELECT oid FROM pg_roles WHERE rolname = 'loader'")
dw_oid=$(sq "SELECT oid FROM pg_database WHERE datname = 'dw'")
xacts() { sq "SELECT xact_commit FROM pg_stat_database WHERE datname = 'dw'"; }
stmts() { sq "SELECT coalesce(sum(calls), 0) || ' ' || coalesce(sum(total_exec_time), 0) FROM pg_stat_statements WHERE dbid = $dw_oid AND userid = $loader_oid"; }
# queue_total URL: messages in the queue, visible or in flight (SQS JSON protocol, signed by curl).
queue_total() {
	curl -sS --fail --max-time 10 --aws-sigv4 aws:amz:us-east-1:sqs --user test:test \
		-H "X-Amz-Target: AmazonSQS.GetQueueAttributes" -H 'Content-Type: application/x-amz-json-1.0' \
		--data-binary "{\"QueueUrl\":\"$1\",\"AttributeNames\":[\"ApproximateNumberOfMessages\",\"ApproximateNumberOfMessagesNotVisible\"]}" \
		"$endpoint/" | grep -o '"[0-9]*"' | tr -d '"' | awk '{ n += $1 } END { print n + 0 }'
}
# cpu_ticks PID...: user + system CPU of the processes so far, in clock ticks.
cpu_ticks() { local p t=0; for p; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
hz=$(getconf CLK_TCK)
# cpu_idle: idle + iowait ticks of the whole machine, and all ticks ("IDLE TOTAL").
cpu_idle() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print $5 + $6, t }' /proc/stat; }
results=()
for p in $procs; do
	state="postgresql://loader@127.0.0.1:$sport/dw?schema=bench_p$p"
	cat >"$ws/config.json" <<EOF
{"s3Prefix": "bench/in", "batchSize": $batch, "batchTimeoutSecs": 2, "format": {"type": "csv", "header": true},
 "targets": [{"name": "pg", "type": "postgres", "host": "127.0.0.1", "port": $tport, "database": "dw", "user": "loader",
              "password": "loader-scram-pw", "targetTable": "t"}]}
EOF
	"$zload" --state "$state" config put "$ws/config.json" >/dev/null 2>"$ws/config.log" || die "zload config put" "$ws/config.log"
	tq "TRUNCATE t; DROP TABLE IF EXISTS zload_ledger"
	q=$(awsc sqs create-queue --queue-name "loads$p" --attributes VisibilityTimeout=60 --query QueueUrl --output text)
	$BOTOPY "$feed" send "$endpoint" "$q" "$ws/bodies.jsonl" "$copies" 2>"$ws/send.log" || die "send to $q" "$ws/send.log"
	sleep 1 # sessions of config put have flushed their statistics
	sq "SELECT pg_stat_statements_reset()" >/dev/null
	x0=$(xacts)
	m0=$(cpu_ticks "$moto_pid")
	read -r i0 c0 <<<"$(cpu_idle)"
	serve_pids=()
	t0=${EPOCHREALTIME/./}
	for ((s = 0; s < p; s++)); do
		"$zload" --state "$state" --store "$store" serve --no-watch --sqs "$q" --sqs-wait 1 --workers "$workers" ${SERVE_OPTS:-} \
			>"$ws/serve-$p-$s.log" 2>&1 &
		serve_pids+=($!)
	done
	deadline=$((t0 + 600 * 1000000))
	until [ "$(tq "SELECT count(*) FROM t")" = "$rows" ] && [ "$(queue_total "$q")" = 0 ]; do
		((${EPOCHREALTIME/./} < deadline)) || die "$p serves: $(tq "SELECT count(*) FROM t") of $rows rows after 600 s" "$ws/serve-$p-0.log"
		for pid in "${serve_pids[@]}"; do kill -0 "$pid" 2>/dev/null || die "a serve exited" "$ws/serve-$p-0.log"; done
		sleep 0.2
	done
	t_run=$((${EPOCHREALTIME/./} - t0))
	m1=$(cpu_ticks "$moto_pid")
	read -r i1 c1 <<<"$(cpu_idle)"
	z1=$(cpu_ticks "${serve_pids[@]}")
	# The last batch's finish may follow its commit by a moment: wait for the state to say so.
	for ((i = 0; i < 100; i++)); do
		[ "$(sq "SELECT count(*) FROM bench_p$p.batches WHERE status <> 'complete'" dw)" = 0 ] && break
		sleep 0.1
	done
	for pid in "${serve_pids[@]}"; do kill -TERM "$pid"; done
	for pid in "${serve_pids[@]}"; do wait "$pid" || die "a serve exited $? after SIGTERM" "$ws/serve-$p-0.log"; done
	serve_pids=()
	sleep 1.5 # the stats collector has every session's counters
	x1=$(xacts)
	read -r calls exec_ms <<<"$(stmts)"
	got=$(tq "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || count(DISTINCT obj) FROM t")
	[ "$got" = "$rows $rows $objects" ] || die "$p serves: rows, distinct ids, objects: $got, expected $rows $rows $objects"
	nb=$(sq "SELECT count(*) || ' ' || sum(file_count) || ' ' || count(*) FILTER (WHERE status <> 'complete') FROM bench_p$p.batches" dw)
	[ "${nb#* }" = "$objects 0" ] || die "$p serves: batches, files, not complete: $nb"
	results+=("$p $t_run $((x1 - x0)) $calls $exec_ms ${nb%% *} $((m1 - m0)) $z1 $(((c1 - c0 - (i1 - i0)) * 100 / (c1 - c0)))")
	if [ "$verbose" = 1 ]; then
		echo "-- $p serve(s): costliest state statements (calls, total ms, mean ms)"
		sq "SELECT lpad(calls::text, 7) || lpad(round(total_exec_time)::text, 8) || lpad(round(mean_exec_time::numeric, 3)::text, 8) || '  ' || left(regexp_replace(query, '\s+', ' ', 'g'), 110)
		    FROM pg_stat_statements WHERE dbid = $dw_oid AND userid = $loader_oid ORDER BY total_exec_time DESC LIMIT 8"
	fi
done

# ---- figures -------------------------------------------------------------------------------------
echo
printf '%-7s %8s %9s %7s %6s %8s %12s %9s %12s %8s %8s %5s\n' serves seconds objects/s rows/s ratio batches "state tx/obj" stmts/obj "state ms/obj" "moto CPU" "zload CPU" "busy"
base=
for r in "${results[@]}"; do
	read -r p us xa calls exec_ms nbatches mt zt busy <<<"$r"
	[ -n "$base" ] || base=$us
	awk -v p="$p" -v us="$us" -v n="$objects" -v rows="$rows" -v base="$base" -v xa="$xa" -v calls="$calls" -v ms="$exec_ms" \
		-v nb="$nbatches" -v mt="$mt" -v zt="$zt" -v hz="$hz" -v busy="$busy" 'BEGIN {
		s = us / 1e6
		printf "%-7d %8.1f %9.1f %7.0f %5.2fx %8d %12.2f %9.2f %12.3f %7.0f%% %8.0f%% %4d%%\n", p, s, n / s, rows / s, base / us, nb, xa / n,
			calls / n, ms / n, 100 * mt / hz / s, 100 * zt / hz / s, busy }'
done
echo
echo "ratio: objects/s against the first run. state tx/obj: xact_commit of the state database / objects;"
echo "stmts/obj: top-level statements (BEGIN and COMMIT count) / objects; state ms/obj: their server-side"
echo "execution time / objects (the issue's goal: <= 5 ms at 4 loaders), lock waits included; round trips and"
echo "client time are not. moto CPU, zload CPU: CPU time of moto_server and of all serves / wall time (100% = one"
echo "core; moto is one Python process: near 100% it is the ceiling). busy: the whole machine's CPU in use during"
echo "the run (every process, this benchmark's or not; near 100%: the machine is the ceiling)."
echo "total run: $(secs $((${EPOCHREALTIME/./} - t_start))) s"
