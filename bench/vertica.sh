#!/usr/bin/env bash
# bench/vertica.sh: zload's Vertica client streaming a large CSV through COPY ... FROM LOCAL STDIN
# into a sink (the Vertica emulator with --sink: it decodes the protocol and discards the rows),
# beside the floor: the same bytes written to a TCP socket by `cat` (into a sink that discards).
# Prints MiB/s and CPU seconds per GiB of each (the best of 3 runs: this machine's figures vary by
# half from run to run), and the CPU ratio zload / cat.
#
#   bash bench/vertica.sh [-s MIB]     size of the CSV (default 1024)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
zload=${ZLOAD:-$repo/build/zload}
size=1024
while getopts "s:" o; do
	case $o in
	s) size=$OPTARG ;;
	*) echo "usage: $0 [-s MIB]" >&2; exit 2 ;;
	esac
done
python=/usr/bin/python3
[ -x $python ] || python=python3
ws=$(mktemp -d /tmp/zload-bench-vertica.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	bash "$repo/scripts/pg.sh" stop "$ws/pg" >/dev/null 2>&1 || true
	rm -rf "$ws"
}
trap cleanup EXIT
port() { $python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "generating a ${size} MiB CSV..."
mkdir -p "$ws/store/bench/in"
$python - "$ws/store/bench/in/big.csv" "$size" <<'PY'
import sys
path, mib = sys.argv[1], int(sys.argv[2])
row = b"%d,2026-11-30T10:00:00Z,order,%d.25,customer-%d\n"
with open(path, "wb") as f:
    n, i = 0, 0
    while n < mib << 20:
        chunk = b"".join(row % (j, j % 1000, j % 9999) for j in range(i, i + 10000))
        f.write(chunk)
        n += len(chunk)
        i += 10000
PY
bytes=$(stat -c %s "$ws/store/bench/in/big.csv")
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }')

pgport=$(port)
bash "$repo/scripts/pg.sh" start "$ws/pg" "$pgport" >/dev/null
psql -X -q -h "$ws/pg" -p "$pgport" -U postgres -d dw \
	-c "CREATE TABLE public.big (id bigint, ts timestamptz, kind varchar(20), amount numeric(12,2), customer varchar(40))"
vport=$(port)
$python "$repo/tests/vertica/emulator.py" --listen "127.0.0.1:$vport" --port-file "$ws/vport" --pg-socket "$ws/pg" \
	--pg-port "$pgport" --pg-db dw --pg-user postgres --user dbadmin:secret:sha512 --sink >"$ws/vemu.log" 2>&1 &
pids+=("$!"); disown "$!"
for _ in $(seq 100); do [ -s "$ws/vport" ] && break; sleep 0.1; done
export ZLOAD_STATE="sqlite:$ws/state.db" ZLOAD_STORE="dir:$ws/store"
cat >"$ws/config.json" <<JSON
{"s3Prefix": "bench/in", "batchSize": 1, "format": {"type": "csv"},
 "targets": [{"type": "vertica", "name": "v", "clusterEndpoint": "127.0.0.1", "clusterPort": $vport,
              "clusterDB": "dw", "connectUser": "dbadmin", "connectPassword": "secret", "tls": "disable",
              "targetTable": "public.big", "rejectedTable": ""}]}
JSON
"$zload" config put "$ws/config.json" >/dev/null
"$zload" backfill --no-load bench >/dev/null

# best FILE...: the line (wall user sys [rss]) with the least CPU.
best() { awk '{ c = $2 + $3; if (!n++ || c < m) { m = c; l = $0 } } END { print l }' "$@"; }

# zload: each flush loads one batch (read from the dir: store, streamed to the emulator); runs 2
# and 3 load the same bytes under new names (hard links).
echo "zload: streaming through COPY LOCAL STDIN (3 runs)..."
for run in 1 2 3; do
	if [ "$run" != 1 ]; then
		ln "$ws/store/bench/in/big.csv" "$ws/store/bench/in/big$run.csv"
		"$zload" backfill --no-load bench >/dev/null
	fi
	/usr/bin/time -f "%e %U %S %M" -o "$ws/zload.$run" "$zload" flush bench/in >"$ws/run.out" 2>"$ws/flush.err"
	grep -q "status=complete" "$ws/run.out" || { cat "$ws/run.out" "$ws/flush.err" >&2; exit 1; }
done
best "$ws"/zload.[123] >"$ws/zload.time"

# The floor: cat into a socket whose other end discards.
sport=$(port)
$python -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(3)
for _ in range(3):
    c, _ = s.accept()
    while c.recv(1 << 20): pass
    c.close()
' "$sport" &
pids+=("$!"); disown "$!"
sleep 0.3
echo "floor: cat > /dev/tcp (3 runs)..."
for run in 1 2 3; do
	/usr/bin/time -f "%e %U %S" -o "$ws/cat.$run" bash -c "cat '$ws/store/bench/in/big.csv' > /dev/tcp/127.0.0.1/$sport"
done
best "$ws"/cat.[123] >"$ws/cat.time"

read -r ze zu zs zrss <"$ws/zload.time"
read -r ce cu cs <"$ws/cat.time"
awk -v mib="$mib" -v zrss="$zrss" -v ze="$ze" -v zu="$zu" -v zs="$zs" -v ce="$ce" -v cu="$cu" -v cs="$cs" 'BEGIN {
	gib = mib / 1024
	printf "\n%-34s %10s %12s %14s\n", "", "MiB/s", "CPU s", "CPU s per GiB"
	printf "%-34s %10.1f %12.2f %14.2f\n", "zload flush (COPY LOCAL STDIN)", mib / ze, zu + zs, (zu + zs) / gib
	printf "%-34s %10.1f %12.2f %14.2f\n", "cat > /dev/tcp (floor)", mib / ce, cu + cs, (cu + cs) / gib
	printf "\nCPU ratio zload / floor: %.2fx (goal: at most 1.5x); %d MiB; zload wall %.1f s, peak RSS %d MiB\n",
	       (zu + zs) / (cu + cs > 0 ? cu + cs : 0.01), mib, ze, zrss / 1024
}'
echo "(zload's figure includes process start, the state database and the emulator's ledger statements;"
echo " its wall time is bounded by the emulator's sink, the CPU figure is zload's own.)"
