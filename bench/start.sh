#!/usr/bin/env bash
# Process start: mean and p95 (hyperfine) of `zload --version`, `zload help` and a one-record
# `zload event` (SQLite state, dir: store, a new key each run), against a C program that only
# returns (compiled here), and the ratio of each to it.
#
#   bench/start.sh [-r RUNS]      (default 100 runs of each, after 5 warm-up runs)
#
# ZLOAD=path picks the binary (default build/zload). Fails (exit 1) if an event is not queued.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
zload=${ZLOAD:-$here/../build/zload}
runs=100
case ${1:-} in
-r) runs=${2:?}; [[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "start.sh: -r takes a positive count" >&2; exit 2; } ;;
"") ;;
*) sed -n '2,/^set -e/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
for tool in hyperfine cc python3; do
	command -v "$tool" >/dev/null || { echo "start.sh: $tool not found (make deps)" >&2; exit 1; }
done
[[ -x $zload ]] || { echo "start.sh: $zload not found: run make first" >&2; exit 1; }

ws=$(mktemp -d /tmp/zload-start.XXXXXX)
trap 'rm -rf "$ws"' EXIT
cp "$zload" "$ws/zload"
printf 'int main(void) { return 0; }\n' >"$ws/true.c"
cc -O2 -o "$ws/true" "$ws/true.c"

export ZLOAD_STATE="sqlite:$ws/state.db" ZLOAD_STORE="dir:$ws/store"
mkdir -p "$ws/store/bench/in"
cat >"$ws/config.json" <<JSON
{"s3Prefix": "bench/in", "batchSize": 0, "batchTimeoutSecs": 86400,
 "format": {"type": "csv", "header": true, "compression": "none"},
 "targets": [{"name": "wh", "type": "sqlite", "path": "$ws/warehouse.db", "targetTable": "t"}]}
JSON
"$ws/zload" config put "$ws/config.json" >/dev/null
# hyperfine runs this before each event run: the next key, so every run queues a new record.
cat >"$ws/next" <<SH
#!/usr/bin/env bash
n=\$(( \$(cat "$ws/n" 2>/dev/null || echo 0) + 1 ))
echo "\$n" >"$ws/n"
printf '{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"bench"},"object":{"key":"in/f%06d.csv","size":123}}}]}' "\$n" >"$ws/event.json"
SH
chmod +x "$ws/next"
"$ws/next"

hyperfine -N --warmup 5 -r "$runs" --export-json "$ws/plain.json" \
	-n baseline "$ws/true" -n "zload --version" "$ws/zload --version" -n "zload help" "$ws/zload help" >/dev/null 2>"$ws/hyperfine.err" ||
	{ cat "$ws/hyperfine.err" >&2; exit 1; }
hyperfine -N --warmup 5 -r "$runs" --export-json "$ws/event.json.times" --prepare "$ws/next" \
	-n "zload event (1 record)" "$ws/zload event $ws/event.json" >/dev/null 2>"$ws/hyperfine.err" ||
	{ cat "$ws/hyperfine.err" >&2; exit 1; }
queued=$(sqlite3 "$ws/state.db" "SELECT count(*) FROM files" 2>/dev/null || echo "?")
[[ $queued == $((runs + 5)) ]] || { echo "start.sh: FAILED: $queued files recorded, expected $((runs + 5))" >&2; exit 1; }

echo "zload process start: $runs runs each (hyperfine -N, 5 warm-up), $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg)"
python3 - "$ws/plain.json" "$ws/event.json.times" <<'PY'
import json, sys
rows = []
for f in sys.argv[1:]:
    rows += json.load(open(f))["results"]
def p95(t):
    t = sorted(t)
    return t[min(len(t) - 1, int(round(0.95 * (len(t) - 1))))]
base = rows[0]["mean"]
print("%-24s %10s %10s %12s" % ("command", "mean ms", "p95 ms", "x baseline"))
for r in rows:
    print("%-24s %10.2f %10.2f %12.1f" % (r["command"], r["mean"] * 1e3, p95(r["times"]) * 1e3, r["mean"] / base))
PY
