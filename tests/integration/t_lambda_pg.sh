#!/usr/bin/env bash
# zload lambda with an S3 store (moto), PostgreSQL targets and PostgreSQL state: a slow load under
# a short deadline answers in time and leaves the next batch to a later invocation, which loads it
# once; then two zload lambda processes on two Runtime API servers, sharing the state, are fed the
# same events at the same time: every row once. Neither server records a violation.
# test-timeout: 180
. "$(dirname "$0")/lib_pg.sh"
. "$(dirname "$0")/lib_s3.sh"
. "$IT_DIR/lib_lambda.sh"

moto_start
awsc s3 mb s3://bkt >/dev/null || fail "cannot create bucket bkt"
ZLOAD_STORE=$(store_url "$MOTO_PORT")
ZLOAD_STATE="postgresql://loader:$PG_SCRAM_PW@127.0.0.1:$PGPORT/dw?schema=zl"
export ZLOAD_STORE ZLOAD_STATE

pql dw "CREATE TABLE slow (id integer, v text)" >/dev/null
pql dw "CREATE TABLE t (id integer, v text)" >/dev/null
pg_config slow <<EOF2
{"s3Prefix": "bkt/slow", "batchSize": 1, "format": {"type": "csv", "header": true},
 "targets": [$(pg_target wh slow dw loader "$PG_SCRAM_PW" '"preLoadStatement": "SELECT pg_sleep(2.5)"')]}
EOF2
pg_config t <<EOF2
{"s3Prefix": "bkt/in", "batchSize": 4, "batchTimeoutSecs": 1, "format": {"type": "csv", "header": true},
 "targets": [$(pg_target wh t)]}
EOF2
csv_rows bkt/slow/s1.csv 3 1
csv_rows bkt/slow/s2.csv 3 10
for i in $(seq 1 30); do csv_rows bkt/in/f$i.csv 5 $((i * 100)); done
awsc s3 cp --recursive --quiet "$STORE/bkt" s3://bkt/ || fail "upload failed"

api_start api-a
PA=$API_PORT
api_start api-b
PB=$API_PORT
export ZLOAD_LAMBDA_MARGIN_MS=3000
lambda_start lambda-a "$PA"
lambda_start lambda-b "$PB"

# ---- A deadline 5 s away, a margin of 3 s, two batches whose loads take 2.5 s each: the first
# loads, the second is not started (2.4 s left), and the answer comes before the deadline.
call $PA "$(s3_event_json bkt slow/s1.csv slow/s2.csv)" 5000
assert_eq "response 2 1 1 false" "$(jq -r '[.status, .body.queued, .body.loads, .body.deferred, .late] | join(" ")' <<<"$RES")" "slow load, short deadline: $RES"
assert_eq 3 "$(pg_count slow)" "rows after the short invocation"
call $PA "$SCHEDULED_EVENT" 30000
assert_eq "response 1 0 false" "$(jq -r '[.status, .body.loads, .body.deferred, .late] | join(" ")' <<<"$RES")" "the later invocation: $RES"
assert_eq "6 6" "$(pq dw "SELECT count(*) || ' ' || count(DISTINCT id) FROM slow")" "rows of the slow prefix, once"
assert_eq 2 "$(batch_count --prefix bkt/slow --status complete)" "complete batches of bkt/slow"

# ---- Two processes, the same 30 events (one record each, plus one SQS batch of ten) at once.
ids_a=() ids_b=()
for i in $(seq 1 20); do
	ev=$(s3_event_json bkt in/f$i.csv)
	ids_a+=("$(invoke $PA "$ev")")
	ids_b+=("$(invoke $PB "$ev")")
done
bodies=()
for i in $(seq 21 30); do bodies+=("$(s3_event_json bkt in/f$i.csv)"); done
batch=$(sqs_batch "${bodies[@]}")
ids_a+=("$(invoke $PA "$batch")")
ids_b+=("$(invoke $PB "$batch")")
for id in "${ids_a[@]}"; do
	r=$(result $PA "$id")
	assert_eq "response false" "$(jq -r '[.status, .late] | join(" ")' <<<"$r")" "process a, $id: $r"
done
for id in "${ids_b[@]}"; do
	r=$(result $PB "$id")
	assert_eq "response false" "$(jq -r '[.status, .late] | join(" ")' <<<"$r")" "process b, $id: $r"
done
assert_eq '{"batchItemFailures":[]}' "$(result $PA "${ids_a[-1]}" | jq -c .body)" "SQS batch on a"
assert_eq '{"batchItemFailures":[]}' "$(result $PB "${ids_b[-1]}" | jq -c .body)" "SQS batch on b"
# What is left open falls due by age: a scheduled sweep on each loads it.
sleep 1.2
call $PA "$SCHEDULED_EVENT"
call $PB "$SCHEDULED_EVENT"
assert_eq 0 "$(batch_count --prefix bkt/in --status open)" "open batches left"
assert_eq 0 "$(batch_count --prefix bkt/in --status locked)" "locked batches left"
assert_eq "150 150" "$(pq dw "SELECT count(*) || ' ' || count(DISTINCT id) FROM t")" "every row once"
assert_eq 30 "$(pq dw "SELECT count(DISTINCT id / 100) FROM t")" "every file loaded"
dup=$(grep -hc '"msg":"duplicate event ignored"' "$WS/lambda-a.log" "$WS/lambda-b.log" | paste -sd+ | bc)
assert_eq 30 "$dup" "duplicates across the two processes"
echo "REPORT two processes: $(grep -c '"msg":"lambda: answered"' "$WS/lambda-a.log") + $(grep -c '"msg":"lambda: answered"' "$WS/lambda-b.log") invocations answered, 150 rows once"
no_violations $PA
no_violations $PB
