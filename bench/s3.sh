#!/usr/bin/env bash
# bench/s3.sh: zload with the s3: store (moto_server) into PostgreSQL, against the aws CLI piped
# into psql's \copy, in the same run; then the latency of one small object from its PUT to its
# rows committed, through `zload serve --webhook`.
#
#   bench/s3.sh [-n OBJECTS] [-m MB_PER_OBJECT] [-l LATENCY_OBJECTS] [-i TARGET_IDLE_SECS]
#
#   -n N   objects for the throughput pass (default 200), all a copy of one generated CSV
#   -m M   MiB per object (default 5)
#   -l L   objects for the latency pass (default 100), 100 rows each
#   -i S   serve --target-idle-secs S in the latency pass (default 60; 0: a new connection per batch)
#
# Throughput: `zload backfill bench/in` (batchSize 10) queues every object and loads every full
# batch before it returns (a last partial batch, when N is not a multiple of 10, by `zload flush`); the baseline runs `aws s3 cp s3://bench/in/KEY - | psql -c "\copy ..."` for
# each object, one after the other. Both are checked by the row count of the target table.
# Latency: for each object, PUT to moto, POST its S3 event JSON to the webhook (as an S3
# notification would), poll PostgreSQL every 5 ms for the object's sequence number.
# moto, PostgreSQL and serve are started on free loopback ports and stopped on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
zload=${ZLOAD:-$here/build/zload}
objects=200 mb_per=5 lat_objects=100 idle_secs=60
usage() { sed -n '2,/^set -e/s/^# \{0,1\}//p' "$0" >&2; exit 2; }
while getopts n:m:l:i:h o; do
	case $o in n) objects=$OPTARG ;; m) mb_per=$OPTARG ;; l) lat_objects=$OPTARG ;; i) idle_secs=$OPTARG ;; *) usage ;; esac
done
[[ $idle_secs =~ ^[0-9]+$ ]] || { echo "s3.sh: -i takes a number of seconds" >&2; exit 2; }
for v in "$objects" "$mb_per" "$lat_objects"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "s3.sh: counts must be positive integers" >&2; exit 2; }
done
[ -x "$zload" ] || make -C "$here" >/dev/null
AWS=$(pyenv which aws 2>/dev/null || command -v aws) || { echo "s3.sh: the aws CLI is not installed" >&2; exit 1; }
MOTO=$(pyenv which moto_server 2>/dev/null || command -v moto_server) || { echo "s3.sh: moto_server is not installed" >&2; exit 1; }
BOTOPY=$(sed -n '1s/^#! *//p' "$AWS") # the Python that runs the aws CLI has boto3
[[ -x ${BOTOPY%% *} ]] || BOTOPY=python3

t_start=${EPOCHREALTIME/./}
ws=$(mktemp -d /tmp/zload-bench-s3.XXXXXX)
moto_pid= serve_pid=
cleanup() {
	[ -n "$serve_pid" ] && kill -KILL "$serve_pid" 2>/dev/null
	[ -n "$moto_pid" ] && kill -KILL "$moto_pid" 2>/dev/null
	wait 2>/dev/null
	"$here/scripts/pg.sh" stop "$ws/pg"
	rm -rf "$ws"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
die() { # die MESSAGE [LOG]
	echo "s3.sh: FAILED: $1" >&2
	if [ -n "${2:-}" ] && [ -s "$2" ]; then echo "--- last lines of $(basename "$2"):" >&2; tail -n 10 "$2" >&2; fi
	exit 1
}
# A private copy, so that a rebuild of build/zload during the run cannot change or break it.
cp "$zload" "$ws/zload"
zload=$ws/zload

# Nothing from the caller's AWS setup leaks in.
for v in $(compgen -e); do [[ $v == AWS_* ]] && unset "$v"; done
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
	AWS_CONFIG_FILE=$ws/none AWS_SHARED_CREDENTIALS_FILE=$ws/none

ms_since() { echo $(((${EPOCHREALTIME/./} - $1) / 1000)); }
secs() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1e6 }'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # wait_port PORT SECS LOG
	local i
	for ((i = 0; i < $2 * 10; i++)); do port_open "$1" && return 0; sleep 0.1; done
	die "nothing listens on 127.0.0.1:$1 after $2 s" "$3"
}

# ---- services --------------------------------------------------------------------------------
mport=$("$here/scripts/pg.sh" free-port)
"$MOTO" -H 127.0.0.1 -p "$mport" >"$ws/moto.log" 2>&1 &
moto_pid=$!
pport=$("$here/scripts/pg.sh" free-port)
"$here/scripts/pg.sh" start "$ws/pg" "$pport"
export PGPASSWORD=loader-scram-pw
pg() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pport" -U loader -d dw "$@"; }
pg -c "CREATE UNLOGGED TABLE events (id bigint, ts timestamptz, kind text, amount numeric(12,2), note text)"
pg -c "CREATE UNLOGGED TABLE lat (seq int, n int, note text); CREATE INDEX ON lat (seq)"
wait_port "$mport" 30 "$ws/moto.log"
endpoint=http://127.0.0.1:$mport
store="s3://?endpoint=$endpoint&region=us-east-1&path_style=1"
awsc() { "$AWS" --endpoint-url "$endpoint" "$@"; }

# ---- data: one CSV of about M MiB, uploaded N times (boto3, 8 threads) --------------------------
csv=$ws/obj.csv
awk -v limit=$((mb_per * 1024 * 1024)) 'BEGIN {
	srand(7); split("order refund signup cancel visit", kinds, " ");
	for (i = 1; bytes < limit; i++) {
		line = sprintf("%d,2026-11-%02dT%02d:%02d:%02dZ,%s,%.2f,\"note %d, with a comma\"", i, i % 28 + 1, i % 24, i % 60, (i * 7) % 60, kinds[i % 5 + 1], (i % 100000) / 7.0, i * 31);
		print line; bytes += length(line) + 1
	}
}' >"$csv"
rows_per=$(wc -l <"$csv")
bytes_per=$(stat -c %s "$csv")
rows=$((rows_per * objects))
bytes=$((bytes_per * objects))
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
cat >"$ws/upload.py" <<'PY'
import sys, boto3
from concurrent.futures import ThreadPoolExecutor
endpoint, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s3 = boto3.client("s3", endpoint_url=endpoint)
s3.create_bucket(Bucket="bench")
data = open(path, "rb").read()
with ThreadPoolExecutor(8) as ex:
    list(ex.map(lambda i: s3.put_object(Bucket="bench", Key=f"in/obj{i:05d}.csv", Body=data), range(1, n + 1)))
PY
t0=${EPOCHREALTIME/./}
$BOTOPY "$ws/upload.py" "$endpoint" "$csv" "$objects" 2>"$ws/upload.log" || die "upload to moto" "$ws/upload.log"
t_upload=$((${EPOCHREALTIME/./} - t0))
listed=$(awsc s3 ls s3://bench/in/ | wc -l)
[ "$listed" = "$objects" ] || die "moto lists $listed objects under bench/in/, expected $objects"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "data: $objects objects of $(awk -v b="$bytes_per" 'BEGIN { printf "%.2f", b / 1048576 }') MiB ($rows_per rows) = $mb MiB, $rows rows"
echo "setup: $(secs $((${EPOCHREALTIME/./} - t_start))) s (moto + PostgreSQL start, generate, upload $(secs "$t_upload") s = $(awk -v b="$bytes" -v t="$t_upload" 'BEGIN { printf "%.1f", b / 1048576 / (t / 1e6) }') MB/s)"

export ZLOAD_STATE="sqlite:$ws/state.db" ZLOAD_STORE=$store
target() { # target TABLE
	printf '"targets": [{"name": "pg", "type": "postgres", "host": "127.0.0.1", "port": %s, "database": "dw", "user": "loader", "password": "loader-scram-pw", "targetTable": "%s"}]' "$pport" "$1"
}
cat >"$ws/in.json" <<EOF
{"s3Prefix": "bench/in", "batchSize": 10, "format": {"type": "csv"}, $(target events)}
EOF
cat >"$ws/lat.json" <<EOF
{"s3Prefix": "bench/lat", "batchSize": 1, "format": {"type": "csv"}, $(target lat)}
EOF
"$zload" config put "$ws/in.json" >/dev/null 2>"$ws/config.log" || die "zload config put" "$ws/config.log"
"$zload" config put "$ws/lat.json" >/dev/null 2>"$ws/config.log" || die "zload config put" "$ws/config.log"
check_rows() { # check_rows WHO
	local n
	n=$(pg -At -c "SELECT count(*) FROM events")
	[ "$n" = "$rows" ] || die "$1: expected $rows rows, found $n"
}

# ---- throughput: zload backfill ------------------------------------------------------------
echo "loading with zload backfill (batchSize 10)..."
t0=${EPOCHREALTIME/./}
"$zload" --store "$store" backfill bench/in >"$ws/backfill.out" 2>"$ws/backfill.log" || die "zload backfill" "$ws/backfill.log"
# backfill loads the full batches; a last partial one waits for its timeout: flush it (timed too).
if ((objects % 10)); then
	"$zload" flush bench/in >>"$ws/backfill.out" 2>>"$ws/backfill.log" || die "zload flush" "$ws/backfill.log"
fi
t_zload=$((${EPOCHREALTIME/./} - t0))
grep -q "listed $objects, queued $objects," "$ws/backfill.out" || die "backfill did not queue $objects objects" "$ws/backfill.log"
complete=$(grep -c "status=complete" "$ws/backfill.out" || true)
[ "$complete" = $(((objects + 9) / 10)) ] || die "expected $(((objects + 9) / 10)) complete batches, saw $complete" "$ws/backfill.out"
check_rows zload

# ---- throughput: aws s3 cp - | psql \copy, one object after the other -------------------------
pg -c "TRUNCATE events"
echo "loading with aws s3 cp | psql \\copy, one object at a time..."
t0=${EPOCHREALTIME/./}
for ((i = 1; i <= objects; i++)); do
	key=$(printf 'in/obj%05d.csv' "$i")
	awsc s3 cp "s3://bench/$key" - | pg -c "\\copy events from stdin with (format csv)" ||
		die "baseline: $key"
done
t_base=$((${EPOCHREALTIME/./} - t0))
check_rows baseline
# The CLI's own start-up, for reading the baseline: one `aws --version`.
t0=${EPOCHREALTIME/./}
"$AWS" --version >/dev/null 2>&1
t_cli=$((${EPOCHREALTIME/./} - t0))

line() { awk -v name="$1" -v us="$2" -v b="$bytes" -v r="$rows" 'BEGIN {
	s = us / 1e6; printf "%-48s %8.2f s %8.1f MB/s %10.0f rows/s\n", name, s, b / 1048576 / s, r / s }'; }
echo
printf '%-48s %10s %13s %17s\n' "load ($objects objects, $mb MiB, $rows rows)" time throughput rows
line "zload backfill (s3: store, batchSize 10)" "$t_zload"
line "aws s3 cp - | psql \\copy, per object" "$t_base"
awk -v z="$t_zload" -v b="$t_base" 'BEGIN { printf "ratio baseline time / zload time: %.2f\n", b / z }'
echo "(aws CLI start-up alone: $(secs "$t_cli") s, paid once per object by the baseline)"

# ---- latency: PUT -> webhook -> rows committed ------------------------------------------------
wport=$("$here/scripts/pg.sh" free-port)
"$zload" --store "$store" serve --no-watch --webhook "127.0.0.1:$wport" --metrics "127.0.0.1:$wport" \
	--target-idle-secs "$idle_secs" >"$ws/serve.log" 2>&1 &
serve_pid=$!
wait_port "$wport" 20 "$ws/serve.log"
cat >"$ws/latency.py" <<'PY'
import hashlib, http.client, json, subprocess, sys, time
import boto3
endpoint, wport, n, psql = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
s3 = boto3.client("s3", endpoint_url=endpoint)
hook = http.client.HTTPConnection("127.0.0.1", wport)
# One psql session: a query per line on stdin, one result line on stdout.
pg = subprocess.Popen(psql, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
ROWS = 100

def count(seq):
    pg.stdin.write(f"SELECT count(*) FROM lat WHERE seq = {seq};\n")
    pg.stdin.flush()
    return int(pg.stdout.readline())

def one(seq):
    key = f"lat/obj{seq:05d}.csv"
    body = "".join(f"{seq},{i},row {i} of object {seq}\n" for i in range(ROWS)).encode()
    t0 = time.monotonic()
    r = s3.put_object(Bucket="bench", Key=key, Body=body)
    t1 = time.monotonic()
    event = {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "bench",
               "bucket": {"name": "bench", "arn": "arn:aws:s3:::bench"},
               "object": {"key": key, "size": len(body), "eTag": r["ETag"].strip('"'),
                          "sequencer": "%016X" % seq}}}]}
    hook.request("POST", "/events", json.dumps(event), {"Content-Type": "application/json"})
    resp = hook.getresponse()
    answer = resp.read()
    if resp.status != 200:
        sys.exit(f"webhook answered {resp.status}: {answer!r}")
    t2 = time.monotonic()
    deadline = t0 + 30
    while (c := count(seq)) < ROWS:
        if time.monotonic() > deadline:
            sys.exit(f"object {seq}: {c} rows after 30 s")
        time.sleep(0.005)
    t3 = time.monotonic()
    if c != ROWS:
        sys.exit(f"object {seq}: {c} rows, expected {ROWS}")
    return (t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t0) * 1000

one(0)  # warm-up (first connections), not counted
samples = [one(seq) for seq in range(1, n + 1)]

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, -(-p * len(xs) // 100) - 1))]  # nearest rank

total = [s[2] for s in samples]
print(f"latency PUT -> rows committed ({n} objects of {ROWS} rows, batchSize 1, poll every 5 ms):")
print(f"  p50 {pct(total, 50):.0f} ms   p95 {pct(total, 95):.0f} ms   max {max(total):.0f} ms")
print(f"  of which PUT to moto p50 {pct([s[0] for s in samples], 50):.0f} ms, "
      f"webhook POST answered p50 {pct([s[1] for s in samples], 50):.0f} ms")
PY
echo
$BOTOPY "$ws/latency.py" "$endpoint" "$wport" "$lat_objects" \
	psql -X -q -At -h 127.0.0.1 -p "$pport" -U loader -d dw 2>"$ws/latency.log" || die "latency pass" "$ws/latency.log"
# Target connections the latency pass opened and reused (zload_target_connections_total).
conns=$(curl -sS --max-time 10 "http://127.0.0.1:$wport/metrics" | awk '
	/^zload_target_connections_total\{target="pg",how="opened"\}/ { o = $2 }
	/^zload_target_connections_total\{target="pg",how="reused"\}/ { r = $2 }
	END { printf "%d %d", o, r }') || die "GET /metrics" "$ws/serve.log"
echo "  target connections: ${conns% *} opened, ${conns#* } reused for $((lat_objects + 1)) batches ($(awk -v o="${conns% *}" -v n=$((lat_objects + 1)) 'BEGIN { printf "%.2f", o / n }') opened per batch)"
kill -TERM "$serve_pid"
rc=0
wait "$serve_pid" || rc=$?
serve_pid=
[ "$rc" = 0 ] || die "serve exited $rc after SIGTERM" "$ws/serve.log"
n=$(pg -At -c "SELECT count(*) FROM lat")
[ "$n" = $(((lat_objects + 1) * 100)) ] || die "latency: expected $(((lat_objects + 1) * 100)) rows in lat, found $n"
echo
echo "total run: $(secs $((${EPOCHREALTIME/./} - t_start))) s"
