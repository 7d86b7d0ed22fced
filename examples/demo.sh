#!/usr/bin/env bash
# make demo: zload on its embedded defaults (a directory as the object store, SQLite for state
# and warehouse). Starts the daemon, drops files into the landing bucket, shows the batches.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
zload=${ZLOAD:-$here/../build/zload}
ws=$(mktemp -d /tmp/zload-demo.XXXXXX)
export ZLOAD_STATE="sqlite:$ws/state.db" ZLOAD_STORE="dir:$ws/store"
landing="$ws/store/landing/events"
mkdir -p "$landing"

bold= dim= off=
if [ -t 1 ]; then bold=$(tput bold 2>/dev/null || true) dim=$(tput dim 2>/dev/null || true) off=$(tput sgr0 2>/dev/null || true); fi
t0=${EPOCHREALTIME/./}
say() { local ds=$(( (${EPOCHREALTIME/./} - t0) / 100000 )); printf '%s[%3d.%ds]%s %s\n' "$bold" $((ds / 10)) $((ds % 10)) "$off" "$*"; }

say "workspace $ws"
sqlite3 "$ws/warehouse.db" < "$here/warehouse.sql"
sed "s|/tmp/zload-warehouse.db|$ws/warehouse.db|" "$here/demo-config.json" > "$ws/config.json"
say "zload config put config.json   (landing/events: batches of 3 files or 4 seconds, *.csv and *.csv.gz)"
"$zload" config put "$ws/config.json"

say "zload serve --exit-when-idle 2   (watching $ws/store)"
"$zload" serve --exit-when-idle 2 2> "$ws/serve.log" &
serve=$!
# Show the daemon's own account of each batch as it happens.
tail --pid=$serve -n +1 -F "$ws/serve.log" 2>/dev/null | grep --line-buffered -E 'batch (locked|complete|failed)|duplicate|error' \
	| sed -u -E "s/^ts=[^ ]+ /    ${dim}/; s/$/${off}/" &
tailer=$!
sleep 1

drop() { # drop FILE [NAME]: write under a hidden name, then rename, as uploaders do
	local name=${2:-$(basename "$1")}
	cp "$here/data/$1" "$landing/.$name.part" && mv "$landing/.$name.part" "$landing/$name"
	say "dropped $name${3:+   ($3)}"
}
drop 2026-11-25-a.csv;                          sleep 0.7
drop 2026-11-25-b.csv;                          sleep 0.7
drop README.txt "" "filtered out by filenameFilterRegex"; sleep 0.7
drop 2026-11-25-c.csv "" "third file: the batch is full and loads now"; sleep 1.5
drop 2026-11-25-a.csv "" "the same object again: a duplicate, not loaded twice"; sleep 0.7
drop 2026-11-25-d.csv.gz "" "gzip, detected by extension and magic bytes"; sleep 0.5
drop 2026-11-25-e.csv "" "two files waiting: the 4 s timeout will load them"

wait $serve
wait $tailer 2>/dev/null || true
echo
say "zload batches list"
"$zload" batches list
echo
say "rows in the warehouse (sqlite3 $ws/warehouse.db)"
sqlite3 -header -column "$ws/warehouse.db" "SELECT count(*) AS rows FROM events; SELECT * FROM event_totals ORDER BY kind;"
echo
say "done. Try: ZLOAD_STATE=$ZLOAD_STATE $zload batches show <ID>"
