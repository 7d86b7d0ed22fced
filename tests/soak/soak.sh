#!/usr/bin/env bash
# Soak: exactly once under duplicates and crashes. Two `zload serve` processes share one SQLite
# state and one dir: store; N files (default 500) land in the store, and each is delivered 2-3
# times (both watchers see it, and 0-1 more times by `zload event` or a webhook POST to either
# serve) while the serve processes are SIGKILLed at random and restarted. Four targets: two
# tables in one PostgreSQL database and two tables in one SQLite file. At the end every row must
# be in every table exactly once and every batch complete. Prints its figures.
#   bash tests/soak/soak.sh [-n FILES] [-k KILL_EVERY_MS]
set -uo pipefail
N=500 KILL_MS=1500
while getopts "n:k:" o; do
	case $o in
	n) N=$OPTARG ;;
	k) KILL_MS=$OPTARG ;;
	*) echo "usage: $0 [-n FILES] [-k KILL_EVERY_MS]" >&2; exit 2 ;;
	esac
done
TEST_NAME=soak
. "$(dirname "$0")/../integration/lib_pg.sh"
. "$IT_DIR/lib_webhook.sh"

pql dw "CREATE TABLE p1 (id int, v text); CREATE TABLE p2 (id int, v text)" >/dev/null
make_table s1 "id INTEGER, v TEXT"
make_table s2 "id INTEGER, v TEXT"
pg_config soak <<EOF2
{"s3Prefix": "soak/in", "batchSize": 7, "batchTimeoutSecs": 2, "leaseSecs": 3, "maxAttempts": 50,
 "format": {"header": true},
 "targets": [$(pg_target pg1 p1), $(pg_target pg2 p2),
             {"name": "sq1", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "s1"},
             {"name": "sq2", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "s2"}]}
EOF2
mkdir -p "$STORE/soak/in"
ports=("$(free_port)" "$(free_port)")
starts=(0 0)
pids=(0 0)
launch() { # launch I: (re)start serve I on its port
	local i=$1
	"$ZLOAD" serve --workers 3 --rescan 5 --settle-ms 200 --webhook "127.0.0.1:${ports[i]}" >>"$WS/serve$i.log" 2>&1 &
	pids[i]=$!
	BG_PIDS+=("${pids[i]}")
	starts[i]=$((starts[i] + 1))
}
launch 0
launch 1
sleep 1

# The deliveries: files land (both watchers see each), then extra deliveries of random ones.
expected=0
t0=$(now_ms)
{
	for ((i = 0; i < N; i++)); do
		rows=$((i % 4 + 1))
		{
			echo "id,v"
			for ((r = 0; r < rows; r++)); do echo "$((i * 10 + r)),f$i"; done
		} >"$STORE/soak/in/.f$i.part"
		mv "$STORE/soak/in/.f$i.part" "$STORE/soak/in/f$i.csv"
		if ((RANDOM % 2)); then
			s3_event soak "in/f$i.csv" >"$WS/ev$i.json"
			if ((RANDOM % 2)); then
				"$ZLOAD" event --no-load "$WS/ev$i.json" >/dev/null 2>>"$WS/events.err"
			else
				curl -s -o /dev/null --max-time 30 --data-binary "@$WS/ev$i.json" "http://127.0.0.1:${ports[RANDOM % 2]}/events" 2>/dev/null
			fi
		fi
		((i % 50 == 49)) && sleep 0.2
	done
	echo done >"$WS/delivered"
} &
deliverer=$!
BG_PIDS+=("$deliverer")
for ((i = 0; i < N; i++)); do expected=$((expected + i % 4 + 1)); done

# The killer: every KILL_MS (+/- half), SIGKILL one serve at random and start it again.
kills=0
while [[ ! -f $WS/delivered ]] || ((kills < 4)); do
	sleep "$(awk -v m="$KILL_MS" -v r="$RANDOM" 'BEGIN { printf "%.3f", (m / 2 + r % m) / 1000 }')"
	i=$((RANDOM % 2))
	kill -KILL "${pids[i]}" 2>/dev/null && kills=$((kills + 1))
	wait "${pids[i]}" 2>/dev/null
	launch "$i"
done
delivered_ms=$(($(now_ms) - t0))

# Calm: both serves run until nothing is left to load.
settled() {
	[[ $(sql "$WS/state.db" "SELECT count(*) FROM batches WHERE status != 'complete'") == 0 &&
	   $(sql "$WS/state.db" "SELECT count(*) FROM files") == "$N" ]]
}
wait_for 180 settled
done_ms=$(($(now_ms) - t0))
for i in 0 1; do kill -TERM "${pids[i]}" 2>/dev/null; done
for i in 0 1; do wait "${pids[i]}" 2>/dev/null; done

report() { printf '%-28s %s\n' "$1" "$2"; }
p1=$(pg_count p1) p2=$(pg_count p2) q1=$(rows s1) q2=$(rows s2)
d1=$(pq dw "SELECT count(DISTINCT id) FROM p1") d2=$(pq dw "SELECT count(DISTINCT id) FROM p2")
e1=$(sql "$WH" "SELECT count(DISTINCT id) FROM s1") e2=$(sql "$WH" "SELECT count(DISTINCT id) FROM s2")
report "files" "$N (rows $expected)"
report "extra deliveries" "$(ls "$WS"/ev*.json 2>/dev/null | wc -l) (besides the two watchers)"
report "SIGKILLs" "$kills (serve starts: $((starts[0] + starts[1])))"
report "batches" "$(sql "$WS/state.db" "SELECT count(*) || ' (' || group_concat(DISTINCT status) || ')' FROM batches")"
report "attempts > 1" "$(sql "$WS/state.db" "SELECT count(*) FROM batches WHERE attempts > 1")"
report "largest batch" "$(sql "$WS/state.db" "SELECT max(file_count) FROM batches")"
report "duplicates logged" "$(cat "$WS"/serve*.log | grep -c 'duplicate event ignored')"
report "leases reclaimed" "$(cat "$WS"/serve*.log | grep -c 'reason="lease expired"')"
report "ledger skips" "$(sql "$WS/state.db" "SELECT count(*) FROM batches WHERE result LIKE '%already in the target%'")"
report "rows p1 p2 (distinct)" "$p1 $p2 ($d1 $d2)"
report "rows s1 s2 (distinct)" "$q1 $q2 ($e1 $e2)"
report "deliveries done after" "$((delivered_ms / 1000)) s"
report "all loaded after" "$((done_ms / 1000)) s"
assert_eq "$expected $expected $expected $expected" "$p1 $p2 $q1 $q2" "rows in every table"
assert_eq "$expected $expected $expected $expected" "$d1 $d2 $e1 $e2" "distinct rows in every table"
assert_eq 0 "$(sql "$WS/state.db" "SELECT count(*) FROM batches WHERE status != 'complete'")" "batches not complete"
assert_eq 7 "$(sql "$WS/state.db" "SELECT max(file_count) FROM batches")" "no batch above batchSize"
echo "soak: every row exactly once"
