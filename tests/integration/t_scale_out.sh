#!/usr/bin/env bash
# Scale-out: four `zload serve` processes share one PostgreSQL state and one SQS queue fed by S3
# bucket notifications (moto); 2,000 CSV objects land in the bucket and every notification is
# delivered twice (a tap queue gets a copy of each real notification and a replayer sends its
# body to the loads queue again). While they load, one serve is SIGKILLed at random every few
# seconds and started again, and the state's PostgreSQL cluster (its own, apart from the
# target's) is restarted once. At the end every object's rows are in the target table exactly
# once, the queues are empty, every batch is complete (none open, locked or in error), the
# state's tables and `zload batches list` agree, and the ledger holds each batch once.
# test-timeout: 300
#   SCALE_N=2000 SCALE_KILL_MS=4000 SCALE_STATE=pg|sqlite (sqlite: one shared state file, no
#   state restart: the same scenario before PostgreSQL state existed)
. "$(dirname "$0")/lib_pg.sh"
. "$(dirname "$0")/lib_s3.sh"

N=${SCALE_N:-2000}
KILL_MS=${SCALE_KILL_MS:-4000}
STATE_KIND=${SCALE_STATE:-pg}
SERVES=4
BATCH=20
BOTOPY=$(sed -n '1s/^#! *//p' "$AWS") # the Python that runs the aws CLI has boto3
[[ -x ${BOTOPY%% *} ]] || BOTOPY=python3
FEED=$IT_DIR/scale_feed.py

# ---- the state: its own PostgreSQL cluster (restarted mid-run), or a shared SQLite file
if [[ $STATE_KIND == pg ]]; then
	state_pg_start
	export PGPASSWORD=$PG_SCRAM_PW # the role loader of the state cluster (not in the URL: ps shows it)
	STATE_URL="postgresql://loader@127.0.0.1:$SPORT/dw?schema=zload&retry=60"
	sq() { PGOPTIONS="-c search_path=zload" psql -X -q -A -t -h "$SDIR" -p "$SPORT" -U postgres -d dw -v ON_ERROR_STOP=1 -c "$*"; }
	statuses="string_agg(DISTINCT status, ',')"
elif [[ $STATE_KIND == sqlite ]]; then
	STATE_URL=sqlite:$WS/state.db
	sq() { sql "$WS/state.db" "$@"; }
	statuses="group_concat(DISTINCT status)"
else
	fail "SCALE_STATE must be pg or sqlite, not $STATE_KIND"
fi
export ZLOAD_STATE=$STATE_URL

# ---- S3, SQS, the target
moto_start fast # moto's SQS as it is loses messages under concurrent deletes and slows with depth
awsc s3 mb s3://bkt >/dev/null || fail "cannot create bucket bkt"
LOADS=$(sqs_create loads 5) || fail "cannot create queue loads"
TAP=$(sqs_create tap 30) || fail "cannot create queue tap"
s3_notify bkt "$(sqs_arn "$LOADS")" "$(sqs_arn "$TAP")"
STORE_URL=$(store_url "$MOTO_PORT")
export ZLOAD_STORE=$STORE_URL
pql dw "CREATE TABLE t (id integer, obj integer, v text)" >/dev/null
pg_config in <<EOF
{"s3Prefix": "bkt/in", "batchSize": $BATCH, "batchTimeoutSecs": 2, "leaseSecs": 5, "maxAttempts": 50,
 "format": {"type": "csv", "header": true}, "targets": [$(pg_target wh t)]}
EOF
expected=0
for ((i = 1; i <= N; i++)); do expected=$((expected + i % 3 + 2)); done

# ---- four loaders
pids=() starts=()
launch() { # launch I: (re)start serve I, appending to its log
	"$ZLOAD" --state "$STATE_URL" --store "$STORE_URL" serve --no-watch --sqs "$LOADS" --sqs-wait 1 --workers 2 \
		>>"$WS/serve-$1.log" 2>&1 &
	pids[$1]=$!
	BG_PIDS+=("$!")
	starts[$1]=$((${starts[$1]:-0} + 1))
}
for ((s = 0; s < SERVES; s++)); do launch "$s"; done
for ((s = 0; s < SERVES; s++)); do wait_for 20 grep -qE 'msg=serving' "$WS/serve-$s.log"; done
queue_is() { [[ $(sqs_depth "$1") == "$2" ]]; }
wait_for 20 queue_is "$LOADS" "0 0" # the s3:TestEvent, consumed and ignored

# ---- the deliveries: N PUTs (each notifies loads and tap), and tap's copies sent to loads again
t0=$(now_ms)
start_bg put bash -c '"$0" "$1" put "$2" bkt in "$3" && date +%s%3N >"$4"' "$BOTOPY" "$FEED" "http://127.0.0.1:$MOTO_PORT" "$N" "$WS/put.done"
PUT_PID=$BG_PID
start_bg replay "$BOTOPY" "$FEED" replay "http://127.0.0.1:$MOTO_PORT" "$TAP" "$LOADS" "$N"
REPLAY_PID=$BG_PID

# ---- the chaos: a SIGKILL every KILL_MS (+/- half) until every row is in; one state restart
target_rows() { PSQL_MAY_FAIL=1 pq dw "SELECT count(*) FROM t"; }
kills=0 restarted=0 deaths=0 restart_ms=
kill_until=$((t0 + 100000))
while :; do
	sleep "$(awk -v m="$KILL_MS" -v r="$RANDOM" 'BEGIN { printf "%.3f", (m / 2 + r % m) / 1000 }')"
	n=$(target_rows)
	if [[ $n == "$expected" ]] && not_running "$PUT_PID" && not_running "$REPLAY_PID"; then break; fi
	[[ $n =~ ^[0-9]+$ ]] && ((n > expected)) && break # rows loaded twice: no use going on
	(($(now_ms) < kill_until)) || break
	for ((s = 0; s < SERVES; s++)); do # a serve that exited by itself is a finding: count and restart it
		if not_running "${pids[s]}"; then
			wait "${pids[s]}"
			echo "serve-$s exited by itself with $? (start ${starts[s]})" >>"$WS/deaths.txt"
			deaths=$((deaths + 1))
			launch "$s"
		fi
	done
	s=$((RANDOM % SERVES))
	kill -KILL "${pids[s]}" 2>/dev/null && kills=$((kills + 1))
	wait "${pids[s]}" 2>/dev/null
	echo "--- SIGKILL at $(($(now_ms) - t0)) ms (rows $n)" >>"$WS/serve-$s.log"
	launch "$s"
	if [[ $STATE_KIND == pg ]] && ((!restarted && n * 2 >= expected)); then
		restart_ms=$(($(now_ms) - t0))
		state_stop
		sleep 1
		state_resume
		restarted=1
	fi
done
wait_exit "$PUT_PID" 60
assert_eq 0 "$RC" "the uploader's exit code ($(tail -n 3 "$WS/put.log"))"
wait_exit "$REPLAY_PID" 60
assert_eq 0 "$RC" "the replayer's exit code ($(tail -n 3 "$WS/replay.log"))"

# ---- calm: wait until the queue is drained and no batch is open or locked
settled() {
	[[ $(sqs_total "$LOADS") == 0 && $(sqs_total "$TAP") == 0 &&
	   $(sq "SELECT count(*) FROM batches WHERE status IN ('open', 'locked')") == 0 &&
	   $(sq "SELECT count(*) FROM files") == "$N" ]]
}
wait_for 90 settled
done_ms=$(($(now_ms) - t0))
for ((s = 0; s < SERVES; s++)); do kill -TERM "${pids[s]}" 2>/dev/null; done
for ((s = 0; s < SERVES; s++)); do
	wait_exit "${pids[s]}" 30
	assert_eq 0 "$RC" "exit code of serve-$s after SIGTERM"
done

# ---- figures
report() { printf 'REPORT %-32s %s\n' "$1" "$2"; }
dups=$(cat "$WS"/serve-*.log | grep -c 'msg="duplicate event ignored"')
report "state" "$STATE_KIND ($STATE_URL)"
report "objects (rows)" "$N ($expected), each notification delivered twice"
report "SIGKILLs (serve starts)" "$kills ($(( ${starts[0]} + ${starts[1]} + ${starts[2]} + ${starts[3]} )))"
report "serves that died by themselves" "$deaths"
report "state restart" "${restart_ms:-none}${restart_ms:+ ms after the first PUT}"
report "batches" "$(sq "SELECT count(*) || ' (' || $statuses || ')' FROM batches")"
report "batches with attempts > 1" "$(sq "SELECT count(*) FROM batches WHERE attempts > 1")"
report "largest batch" "$(sq "SELECT max(file_count) FROM batches")"
report "duplicates logged" "$dups"
report "claims failed (state down)" "$(cat "$WS"/serve-*.log | grep -c 'msg="cannot queue object"')"
report "leases reclaimed" "$(cat "$WS"/serve-*.log | grep -c 'reason="lease expired"')"
report "ledger skips" "$(sq "SELECT count(*) FROM batches WHERE result LIKE '%already in the target%'")"
report "rows (distinct ids, objects)" "$(pq dw "SELECT count(*) || ' (' || count(DISTINCT id) || ', ' || count(DISTINCT obj) || ')' FROM t")"
report "PUTs done after" "$((($(<"$WS/put.done") - t0) / 1000)) s"
report "all loaded and settled after" "$((done_ms / 1000)).$(((done_ms % 1000) / 100)) s"

# ---- exactly once
assert_eq "$expected" "$(pg_count t)" "rows in the target"
assert_eq "" "$(pq dw "SELECT id || ' x' || count(*) FROM t GROUP BY id HAVING count(*) <> 1 ORDER BY id LIMIT 20")" \
	"ids loaded more than once"
assert_eq "$expected $N 10 $((N * 10 + (N % 3 + 2) - 1))" \
	"$(pq dw "SELECT count(DISTINCT id) || ' ' || count(DISTINCT obj) || ' ' || min(id) || ' ' || max(id) FROM t")" \
	"distinct ids, objects, first and last id"
assert_eq 0 "$(pq dw "SELECT count(*) FROM (SELECT obj FROM t GROUP BY obj HAVING count(*) <> obj % 3 + 2) x")" \
	"objects with a wrong number of rows"
nb=$(sq "SELECT count(*) FROM batches")
assert_eq "" "$(sq "SELECT id || ' ' || status FROM batches WHERE status <> 'complete'")" "batches not complete"
assert_eq "$N" "$(sq "SELECT sum(file_count) FROM batches")" "files in the batches"
assert_eq "$N $N" "$(sq "SELECT count(*) || ' ' || count(batch_id) FROM files")" \
	"file records, and file records with a batch"
(($(sq "SELECT max(file_count) FROM batches") <= BATCH)) || fail "a batch holds more than batchSize files"
assert_eq "$nb $nb" "$(pg_count zload_ledger) $(pq dw "SELECT count(DISTINCT batch_id) FROM zload_ledger")" \
	"ledger rows and distinct batches in the ledger"
zload batches list --json >"$WS/batches.json" || fail "batches list --json"
assert_eq "$nb complete $N" "$(json "'%d %s %d' % (len(j), ','.join(sorted({b['status'] for b in j})), sum(b['files'] for b in j))" \
	cat "$WS/batches.json")" "batches list: batches, statuses, files"
assert_eq 0 "$(json "len(j)" zload batches list --json --status error)" "batches list --status error"
assert_eq "0 0" "$(sqs_depth "$LOADS")" "the loads queue at the end"
((dups >= N - kills)) || fail "only $dups duplicates logged for $N objects delivered twice ($kills kills)"
((kills >= 3)) || fail "only $kills SIGKILLs during the run"
[[ $STATE_KIND != pg ]] || ((restarted)) || fail "the state PostgreSQL was not restarted"
echo "REPORT scale-out: $N objects, $SERVES loaders, every row exactly once in $((done_ms / 1000)) s"
