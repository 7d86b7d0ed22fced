#!/usr/bin/env bash
# zload lambda taking over from the original aws-lambda-vertica-loader: moto for S3, DynamoDB, KMS
# and SNS (an SQS queue subscribed to each topic), the state in the original's three DynamoDB
# tables made by `zload state init`, the configurations put with `aws dynamodb put-item` as the
# original's setup.js wrote them (loadClusters, numbers as N, connectPassword in the original's KMS
# form: a JSON array of the ciphertext's bytes under alias/LambaVerticaLoaderKey and its encryption
# context), one Vertica cluster (the emulator) and one PostgreSQL target per configuration.
# - A batch the original left locked (no zload attribute, its files' processed-file items, and the
#   configuration's currentBatch naming it) is loaded by a Scheduled Event invocation, and so is
#   an open batch of the original's (current for another prefix, whose next file goes to a new
#   batch of zload's).
# - S3 events load by batchSize, the rest by batchTimeoutSecs through a Scheduled Event; the batch
#   items read the original's way (get-item, the GSI LambdaVerticaBatchStatus) say complete, list
#   the files in entries (SS), lastUpdate is N (epoch seconds), clusterLoadStatus is JSON; every
#   processed-file item has the batchId of the batch that holds it; the success topic gets one
#   message per batch.
# - The same events again load nothing.
# - A process killed (-9) in the middle of a slow load (the PostgreSQL target's preLoadStatement
#   sleeps, the Vertica target has committed): a Scheduled Event on another process does not take
#   the batch while its lease runs, and loads it once (Vertica skipped by its ledger) after.
# - Two processes on two Runtime API servers fed the same events at once: every row once.
# - The README's admin commands ("Coming from aws-lambda-vertica-loader"), line by line: list,
#   show, reprocess (nothing loads twice), unlock (of a batch the original locked: the next sweep
#   loads it), files show and delete, encrypt.
# - Back and forth: a file the original adds to an open batch of zload's (as its index.js does)
#   loads with the batch.
# test-timeout: 150
. "$(dirname "$0")/lib_pg.sh"
. "$IT_DIR/lib_s3.sh"
. "$IT_DIR/lib_lambda.sh"
. "$IT_DIR/lib_vertica.sh"

P=LambdaVertica
moto_start fast # DynamoDB requests one at a time (moto_fast.py, 5)
MOTO=http://127.0.0.1:$MOTO_PORT
export AWS_ENDPOINT_URL_DYNAMODB=$MOTO AWS_ENDPOINT_URL_KMS=$MOTO AWS_ENDPOINT_URL_SNS=$MOTO AWS_ENDPOINT_URL_S3=$MOTO
# The environment of the README's "Coming from aws-lambda-vertica-loader", endpoints aside. The
# admin commands name the state's endpoint in the URL; the lambda processes take it from
# AWS_ENDPOINT_URL_DYNAMODB, as they would take AWS's from the region.
LAMBDA_STATE="dynamodb://us-east-1?tables=$P"
ADMIN_STATE="dynamodb://?tables=$P&endpoint=$MOTO"
export ZLOAD_STORE=s3:// ZLOAD_STATE=$ADMIN_STATE ZLOAD_SECRETS=kms:alias/LambaVerticaLoaderKey
ddb() { awsc dynamodb "$@" --output json; }

# ---- the state: missing tables are named, then state init makes them (twice: no change) -----------
assert_exit 1 zload batches list
[[ $ERR =~ $P(BatchLoadConfig|Batches|ProcessedFiles) ]] || fail "opening without tables does not name a missing table: [$ERR]"
assert_contains "$ERR" "zload state init" "opening without tables says what to run"
ok zload state init
ok zload state init
ddb describe-table --table-name "${P}Batches" >"$WS/batches-table.json" || fail "describe-table ${P}Batches"
assert_eq "s3Prefix:HASH batchId:RANGE | ${P}BatchStatus status:HASH lastUpdate:RANGE ALL | lastUpdate:N" \
	"$(jq -r '.Table | [(.KeySchema | map(.AttributeName + ":" + .KeyType) | join(" ")), "|",
		(.GlobalSecondaryIndexes[0] | .IndexName + " " + (.KeySchema | map(.AttributeName + ":" + .KeyType) | join(" ")) + " " + .Projection.ProjectionType), "|",
		(.AttributeDefinitions | map(select(.AttributeName == "lastUpdate")) | map(.AttributeName + ":" + .AttributeType) | join(""))] | join(" ")' "$WS/batches-table.json")" \
	"the Batches table and its index, as the original's"
assert_eq "${P}BatchLoadConfig ${P}Batches ${P}ProcessedFiles" "$(ddb list-tables | jq -r '.TableNames | sort | join(" ")')" "the three tables"

# ---- KMS, SNS, S3, the targets ---------------------------------------------------------------------
key_id=$(awsc kms create-key --query KeyMetadata.KeyId --output text) || fail "kms create-key"
awsc kms create-alias --alias-name alias/LambaVerticaLoaderKey --target-key-id "$key_id" || fail "kms create-alias"
# original_encrypt PLAIN: what the original's encryptValue.js stores (the KMS ciphertext's bytes as JSON).
original_encrypt() {
	printf '%s' "$1" >"$WS/plain.bin"
	awsc kms encrypt --key-id alias/LambaVerticaLoaderKey --plaintext "fileb://$WS/plain.bin" \
		--encryption-context module=AWSLambdaVerticaLoader,region=us-east-1 --query CiphertextBlob --output text >"$WS/blob.b64" ||
		fail "aws kms encrypt"
	"$PYTHON" -c 'import base64, json, sys; print(json.dumps(list(base64.b64decode(open(sys.argv[1]).read()))).replace(" ", ""))' "$WS/blob.b64"
}
OK_ARN=$(awsc sns create-topic --name LambdaDBLoadOK --query TopicArn --output text) || fail "sns create-topic"
FAIL_ARN=$(awsc sns create-topic --name LambdaDBLoadFAIL --query TopicArn --output text) || fail "sns create-topic"
OKQ=$(sqs_create ok-sub) || fail "create queue"
FAILQ=$(sqs_create fail-sub) || fail "create queue"
awsc sns subscribe --topic-arn "$OK_ARN" --protocol sqs --notification-endpoint "$(sqs_arn "$OKQ")" >/dev/null || fail "sns subscribe"
awsc sns subscribe --topic-arn "$FAIL_ARN" --protocol sqs --notification-endpoint "$(sqs_arn "$FAILQ")" >/dev/null || fail "sns subscribe"

vemu_start v --user "Elvis:$VPW:sha512"
pq dw "CREATE TABLE public.testTable (id int, v varchar(20)); CREATE TABLE public.v_audit (n int);
	CREATE TABLE public.slow_v (id int, v varchar(20))" >/dev/null
pql dw2 "CREATE TABLE public.t_pg (id int, v text); CREATE TABLE public.slow_pg (id int, v text);
	CREATE TABLE public.slow_gate (armed int); INSERT INTO public.slow_gate VALUES (1)" >/dev/null
VPW_KMS=$(original_encrypt "$VPW")
PGPW_KMS=$(original_encrypt "$PG_SCRAM_PW")
[[ $VPW_KMS =~ ^\[[0-9]+(,[0-9]+)+\]$ ]] || fail "the original's form of a KMS ciphertext: ${VPW_KMS:0:40}"

# rows BUCKET/KEY N START: a CSV without a header (the original's configurations have no format).
rows_file() { awk -v n="$2" -v s="$3" 'BEGIN { for (i = s; i < s + n; i++) print i ",v" i }' | write_file "$1"; }
rows_file landing/ingest/old1.csv 2 1
rows_file landing/ingest/old2.csv 2 3
for i in 1 2 3 4; do rows_file landing/ingest/f$i.csv 2 $((100 + 2 * i)); done
printf 'not a csv\n' | write_file landing/ingest/notes.txt
rows_file landing/slow/s1.csv 3 1001
for i in 1 2 3; do rows_file landing/orig/o$i.csv 2 $((500 + 2 * i)); done
for i in $(seq 1 12); do rows_file landing/ingest/g$i.csv 2 $((2000 + 2 * i)); done
awsc s3 mb s3://landing >/dev/null || fail "cannot create bucket landing"
awsc s3 cp --recursive --quiet "$STORE/landing" s3://landing/ || fail "upload failed"

# ---- the original's items ---------------------------------------------------------------------------
# vertica_cluster TABLE [POST_LOAD_SQL]: a loadClusters entry as setup.js wrote it.
vertica_cluster() {
	jq -cn --arg port "$VPORT" --arg pw "$VPW_KMS" --arg t "$1" --arg post "${2:-}" '{M: ({
		clusterEndpoint: {S: "127.0.0.1"}, clusterPort: {N: $port}, connectUser: {S: "Elvis"},
		connectPassword: {S: $pw}, targetTable: {S: $t}} + (if $post == "" then {} else {postLoadStatement: {S: $post}} end))}'
}
# pg_cluster TABLE [PRE_LOAD_SQL]: a PostgreSQL target in loadClusters (zload's fields, the password in the same KMS form).
pg_cluster() {
	jq -cn --arg port "$PGPORT" --arg pw "$PGPW_KMS" --arg t "$1" --arg pre "${2:-}" '{M: ({
		type: {S: "postgres"}, name: {S: "pg"}, host: {S: "127.0.0.1"}, port: {N: $port}, database: {S: "dw2"},
		user: {S: "loader"}, password: {S: $pw}, targetTable: {S: $t}} + (if $pre == "" then {} else {preLoadStatement: {S: $pre}} end))}'
}
# config_item PREFIX CURRENT_BATCH BATCH_SIZE TIMEOUT CLUSTERS_JSON [EXTRA_JSON]: the setup.js item.
config_item() {
	jq -cn --arg p "$1" --arg cur "$2" --arg n "$3" --arg to "$4" --argjson cl "$5" --argjson extra "${6:-{\}}" \
		--arg ok "$OK_ARN" --arg bad "$FAIL_ARN" '{
		s3Prefix: {S: $p}, currentBatch: {S: $cur}, version: {S: "1.0.0"}, s3MountDir: {S: "/mnt/s3/"},
		filenameFilterRegex: {S: ".*\\.csv"}, batchSize: {N: $n}, batchTimeoutSecs: {N: $to},
		successTopicARN: {S: $ok}, failureTopicARN: {S: $bad}, loadClusters: {L: $cl},
		lastBatchRotation: {N: "1432228609.686"}, lastUpdate: {N: "1432228000.123"}} + $extra'
}
STUCK=0b9f3c3e-6a59-4a8e-9d3b-3f1a2c4d5e6f
config_item landing/ingest "$STUCK" 3 2 \
	"[$(vertica_cluster public.testTable "INSERT INTO public.v_audit SELECT count(*) FROM public.testTable"), $(pg_cluster public.t_pg)]" \
	>"$WS/config-ingest.json"
awsc dynamodb put-item --table-name "${P}BatchLoadConfig" --item "file://$WS/config-ingest.json" || fail "put-item ingest"
# A prefix whose current batch is an open one of the original's, with two files.
OPENB=4e2d9c71-0a8b-4f3e-9c55-7b1d2e3f4a5b
config_item landing/orig "$OPENB" 5 1 \
	"[$(vertica_cluster public.testTable "INSERT INTO public.v_audit SELECT count(*) FROM public.testTable"), $(pg_cluster public.t_pg)]" \
	>"$WS/config-orig.json"
awsc dynamodb put-item --table-name "${P}BatchLoadConfig" --item "file://$WS/config-orig.json" || fail "put-item orig"
# The slow prefix: a lease of 3 s (zload's leaseSecs; 60 by default) so that the takeover comes soon.
config_item landing/slow 5c1e0a52-27d4-4c1b-9a55-8f0e4e0c9b10 1 30 \
	"[$(vertica_cluster public.slow_v), $(pg_cluster public.slow_pg "SELECT pg_sleep(4) FROM public.slow_gate")]" \
	'{"leaseSecs": {"N": "3"}}' >"$WS/config-slow.json"
awsc dynamodb put-item --table-name "${P}BatchLoadConfig" --item "file://$WS/config-slow.json" || fail "put-item slow"
# The batch the original locked and never finished (it died between the lock and the rotation:
# currentBatch still names it), and its files' processed-file items.
jq -cn --arg id "$STUCK" '{s3Prefix: {S: "landing/ingest"}, batchId: {S: $id}, status: {S: "locked"},
	entries: {SS: ["landing/ingest/old1.csv", "landing/ingest/old2.csv"]}, lastUpdate: {N: "1764633600.123"}}' >"$WS/stuck.json"
awsc dynamodb put-item --table-name "${P}Batches" --item "file://$WS/stuck.json" || fail "put-item stuck batch"
jq -cn --arg id "$OPENB" '{s3Prefix: {S: "landing/orig"}, batchId: {S: $id}, status: {S: "open"},
	entries: {SS: ["landing/orig/o1.csv", "landing/orig/o2.csv"]}, lastUpdate: {N: "1764633600.7"}}' >"$WS/open.json"
awsc dynamodb put-item --table-name "${P}Batches" --item "file://$WS/open.json" || fail "put-item open batch"
jq -cn --arg id "$STUCK" --arg open "$OPENB" '{("'"${P}"'ProcessedFiles"): [
	{PutRequest: {Item: {loadFile: {S: "landing/ingest/old1.csv"}, batchId: {S: $id}}}},
	{PutRequest: {Item: {loadFile: {S: "landing/ingest/old2.csv"}, batchId: {S: $id}}}},
	{PutRequest: {Item: {loadFile: {S: "landing/orig/o1.csv"}, batchId: {S: $open}}}},
	{PutRequest: {Item: {loadFile: {S: "landing/orig/o2.csv"}, batchId: {S: $open}}}}]}' >"$WS/stuck-files.json"
awsc dynamodb batch-write-item --request-items "file://$WS/stuck-files.json" >/dev/null || fail "batch-write-item processed files"

# ---- the lambda processes: the state as the function's environment names it ----------------------
export ZLOAD_STATE=$LAMBDA_STATE
api_start api-a
PA=$API_PORT
api_start api-b
PB=$API_PORT
lambda_start lambda-a "$PA"
lambda_start lambda-b "$PB"
PID_B=$LAMBDA_PID
export ZLOAD_STATE=$ADMIN_STATE

# count_distinct DB TABLE: "count distinct" of ids.
count_distinct() { pq "$1" "SELECT count(*) || ' ' || count(DISTINCT id) FROM $2"; }
# expect_rows N MESSAGE: N rows, N distinct ids, in the Vertica table and in the PostgreSQL one.
ROWS=0
expect_rows() {
	ROWS=$1
	assert_eq "$1 $1 $1 $1" "$(count_distinct dw public.testTable) $(count_distinct dw2 public.t_pg)" "$2 (Vertica, PostgreSQL)"
}
body() { jq -r "[.status, .late, (.body | $1)] | map(tostring) | join(\" \")" <<<"$RES"; }

# ---- the original's batches: a Scheduled Event loads the locked one and the open one -------------
# A file of the prefix whose current batch is the original's open one, queued without a sweep:
# it goes to a batch of zload's, and the original's keeps its two files.
s3_event landing orig/o3.csv >"$WS/o3.json"
ok zload event --no-load "$WS/o3.json"
[[ $OUT == "queued landing/orig/o3.csv batch="* && $OUT != *"$OPENB"* ]] || fail "o3 beside the original's open batch: [$OUT]"
sleep 1.1 # o3's batch is due by batchTimeoutSecs (1) too
call $PA "$SCHEDULED_EVENT"
assert_eq "response false 3 0" "$(body '.loads, .deferred')" "the scheduled sweep takes the original's locked batch, its open one and o3's: $RES"
expect_rows 10 "rows of the original's two batches and o3"
jq -cn --arg id "$STUCK" '{s3Prefix: {S: "landing/ingest"}, batchId: {S: $id}}' >"$WS/stuck-key.json"
ddb get-item --table-name "${P}Batches" --key "file://$WS/stuck-key.json" --consistent-read >"$WS/stuck-after.json" || fail "get-item"
assert_eq "complete landing/ingest/old1.csv,landing/ingest/old2.csv" \
	"$(jq -r '.Item | .status.S + " " + (.entries.SS | sort | join(","))' "$WS/stuck-after.json")" "the original's batch item, complete"

# ---- S3 events: a batch of 3 at once, the 4th by batchTimeoutSecs; the .txt is filtered ----------
ev=$(s3_event_json landing ingest/f1.csv ingest/f2.csv ingest/f3.csv ingest/f4.csv ingest/notes.txt)
call $PA "$ev"
assert_eq "response false 5 4 0 1 1 0" "$(body '.records, .queued, .duplicate, .filtered, .loads, .failed')" "the S3 event: $RES"
expect_rows 16 "rows after the batch of 3"
sleep 2.2
call $PA "$SCHEDULED_EVENT"
assert_eq "response false 1" "$(body '.loads')" "the 4th file loads by batchTimeoutSecs: $RES"
expect_rows 18 "rows after the sweep"

# ---- the same events again: duplicates, nothing loads ---------------------------------------------
call $PA "$ev"
assert_eq "response false 0 4 1 0" "$(body '.queued, .duplicate, .filtered, .loads')" "the same event again: $RES"
call $PB "$(s3_event_json landing ingest/old1.csv ingest/f2.csv)"
assert_eq "response false 0 2 0" "$(body '.queued, .duplicate, .loads')" "the original's files and ours, on the other process: $RES"
expect_rows 18 "no row twice"

# ---- killed in the middle of a slow load; a Scheduled Event takes it over after the lease ----------
slow_id=$(invoke $PB "$(s3_event_json landing slow/s1.csv)")
pg_sleeping() { [[ $(pq postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = 'dw2' AND state = 'active' AND query LIKE 'SELECT pg_sleep(4)%'") == 1 ]]; }
wait_for 15 pg_sleeping
wait_for 10 count_is 3 pg_count public.slow_v
kill -KILL "$PID_B"
killed_at=$(now_ms)
wait "$PID_B" 2>/dev/null # (bash's "Killed" line)
call $PA "$SCHEDULED_EVENT"
assert_eq "response false 0" "$(body '.loads')" "no takeover while the killed process's lease runs: $RES"
ddb query --table-name "${P}Batches" --key-condition-expression 's3Prefix = :p' \
	--expression-attribute-values '{":p": {"S": "landing/slow"}}' --consistent-read >"$WS/slow.json" || fail "query landing/slow"
assert_eq "1 locked true" "$(jq -r '[.Count, .Items[0].status.S, (.Items[0].zloadOwner != null)] | map(tostring) | join(" ")' "$WS/slow.json")" \
	"the killed load's batch item: locked, with its owner"
SLOW=$(jq -r '.Items[0].batchId.S' "$WS/slow.json")
pq dw2 "DELETE FROM public.slow_gate" >/dev/null
left=$((3200 - ($(now_ms) - killed_at)))
((left > 0)) && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
call $PA "$SCHEDULED_EVENT" 30000
assert_eq "response false 1" "$(body '.loads')" "the Scheduled Event takes the batch over: $RES"
assert_eq "3 3" "$(count_distinct dw public.slow_v)" "Vertica rows of the slow batch, once (its ledger had it)"
assert_eq "3 3" "$(count_distinct dw2 public.slow_pg)" "PostgreSQL rows of the slow batch, once"
assert_eq "complete 2" "$(json "' '.join([j['status'], str(j['attempts'])])" zload batches show --json "$SLOW")" "the slow batch, after two attempts"
assert_eq none "$(result $PB "$slow_id" 0 | jq -r .status)" "the killed invocation was never answered"

# ---- two processes, the same 12 events at once ------------------------------------------------------
api_start api-c
PC=$API_PORT
ZLOAD_STATE=$LAMBDA_STATE lambda_start lambda-c "$PC"
ids_a=() ids_c=()
for i in $(seq 1 12); do
	ev=$(s3_event_json landing ingest/g$i.csv)
	ids_a+=("$(invoke $PA "$ev")")
	ids_c+=("$(invoke $PC "$ev")")
done
for id in "${ids_a[@]}"; do
	r=$(result $PA "$id")
	assert_eq "response false 0" "$(jq -r '[.status, .late, .body.failed] | map(tostring) | join(" ")' <<<"$r")" "process a, $id: $r"
done
for id in "${ids_c[@]}"; do
	r=$(result $PC "$id")
	assert_eq "response false 0" "$(jq -r '[.status, .late, .body.failed] | map(tostring) | join(" ")' <<<"$r")" "process c, $id: $r"
done
sleep 2.2
call $PA "$SCHEDULED_EVENT"
call $PC "$SCHEDULED_EVENT"
expect_rows 42 "every row once"
dup=$(grep -hc '"msg":"duplicate event ignored"' "$WS/lambda-a.log" "$WS/lambda-c.log" | paste -sd+ | bc)
assert_eq $((12 + 4)) "$dup" "duplicates seen by a and c (12 concurrent, 4 repeated earlier)"

# ---- the items, read the original's way --------------------------------------------------------------
ddb scan --table-name "${P}Batches" --consistent-read >"$WS/batches.json" || fail "scan batches"
ddb scan --table-name "${P}ProcessedFiles" --consistent-read >"$WS/files.json" || fail "scan processed files"
ddb query --table-name "${P}Batches" --index-name "${P}BatchStatus" --key-condition-expression '#s = :s' \
	--expression-attribute-names '{"#s": "status"}' --expression-attribute-values '{":s": {"S": "complete"}}' >"$WS/gsi.json" ||
	fail "query the GSI"
awsc s3 ls --recursive s3://landing/ | awk '$4 ~ /\.csv$/ { print "landing/" $4 }' | sort >"$WS/uploaded.txt"
"$PYTHON" - "$WS/batches.json" "$WS/files.json" "$WS/gsi.json" "$WS/uploaded.txt" "$STUCK" "$OPENB" >"$WS/check.out" <<'PYEOF' || fail "the DynamoDB items: $(<"$WS/check.out")"
import json, sys, time
items = json.load(open(sys.argv[1]))["Items"]
# zload's own partitions of the table ("zload:batch" pointers, "zload:outbox") have no status, so
# the original's index and scripts never see them.
batches = [b for b in items if not b["s3Prefix"]["S"].startswith("zload:")]
files = {f["loadFile"]["S"]: f for f in json.load(open(sys.argv[2]))["Items"]}
gsi = json.load(open(sys.argv[3]))["Items"]
uploaded = open(sys.argv[4]).read().split()
stuck, opened = sys.argv[5], sys.argv[6]
problems = ["zload's item %s/%s has a status" % (b["s3Prefix"]["S"], b["batchId"]["S"])
            for b in items if b["s3Prefix"]["S"].startswith("zload:") and "status" in b]
statuses = sorted(set(b["status"]["S"] for b in batches))
if statuses != ["complete"]:
    problems.append("batch statuses %s" % statuses)
held = {}
for b in batches:
    bid = b["batchId"]["S"]
    if set(b) & {"lastUpdate", "entries", "clusterLoadStatus"} != {"lastUpdate", "entries", "clusterLoadStatus"}:
        problems.append("%s lacks an attribute of the original: %s" % (bid, sorted(b)))
        continue
    if list(b["lastUpdate"]) != ["N"] or not (time.time() - 86400 * 400 < float(b["lastUpdate"]["N"]) < time.time() + 60):
        problems.append("%s: lastUpdate %s is not N epoch seconds" % (bid, b["lastUpdate"]))
    st = json.loads(b["clusterLoadStatus"]["S"])
    if not isinstance(st, dict) or len(st) != 2 or any(not isinstance(v, dict) or v.get("status") != 0 for v in st.values()):
        problems.append("%s: clusterLoadStatus %s" % (bid, b["clusterLoadStatus"]["S"]))
    for e in b["entries"]["SS"]:
        if e in held:
            problems.append("%s in two batches: %s and %s" % (e, held[e], bid))
        held[e] = bid
    if b["s3Prefix"]["S"] == "landing/ingest" and len(b["entries"]["SS"]) > 3:
        problems.append("%s holds %d files (batchSize 3)" % (bid, len(b["entries"]["SS"])))
if sorted(held) != uploaded:
    problems.append("files in batches %s != uploaded %s" % (sorted(held), uploaded))
for f in uploaded:
    item = files.get(f)
    if not item or "batchId" not in item or item["batchId"]["S"] != held.get(f):
        problems.append("processed-file item of %s: %s (batch %s)" % (f, item, held.get(f)))
if "landing/ingest/notes.txt" in files:
    problems.append("the filtered file has a processed-file item")
for bid, want in ((stuck, ["landing/ingest/old1.csv", "landing/ingest/old2.csv"]), (opened, ["landing/orig/o1.csv", "landing/orig/o2.csv"])):
    if sorted(e for e, b in held.items() if b == bid) != want:
        problems.append("the original's batch %s holds %s" % (bid, sorted(e for e, b in held.items() if b == bid)))
if sorted(b["batchId"]["S"] for b in gsi) != sorted(b["batchId"]["S"] for b in batches):
    problems.append("the GSI's complete batches %d != the table's %d" % (len(gsi), len(batches)))
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(" ".join(sorted(b["batchId"]["S"] for b in batches if b["s3Prefix"]["S"] in ("landing/ingest", "landing/orig"))))
print(" ".join(sorted(b["batchId"]["S"] for b in batches)))
print(sum(1 for b in batches if b["s3Prefix"]["S"] == "landing/ingest"))
PYEOF
ingest_batches=$(sed -n 1p "$WS/check.out")
all_batches=$(sed -n 2p "$WS/check.out")
assert_eq "$(wc -w <<<"$ingest_batches")" "$(pq dw "SELECT count(*) FROM public.v_audit")" "the Vertica post-load statement ran once per batch"
assert_eq "$(sed -n 3p "$WS/check.out")" "$(batch_count --prefix landing/ingest --status complete)" "zload batches list on the DynamoDB state"
assert_eq "$STUCK" "$(zload files show --json landing/ingest/old2.csv | jq -r .batch)" "zload files show on the DynamoDB state"

# ---- the success topic: one message per batch; nothing on the failure topic -----------------------
: >"$WS/ok-messages.txt"
for _ in 1 2 3 4 5; do
	sqs_call ReceiveMessage "{\"QueueUrl\":\"$OKQ\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":1}" >"$WS/recv.json"
	jq -r '.Messages // [] | .[] | .Body' "$WS/recv.json" | jq -c . >>"$WS/ok-messages.txt"
	for h in $(jq -r '.Messages // [] | .[] | .ReceiptHandle' "$WS/recv.json"); do
		sqs_call DeleteMessage "{\"QueueUrl\":\"$OKQ\",\"ReceiptHandle\":\"$h\"}" >/dev/null
	done
	[[ $(jq -r '.Messages // [] | length' "$WS/recv.json") == 0 ]] && break
done
assert_eq "$all_batches" "$(jq -r '.Message | fromjson | .batchId' "$WS/ok-messages.txt" | sort | paste -sd' ')" "one success message per batch"
assert_eq "ok" "$(jq -r '(.Message | fromjson | .status)' "$WS/ok-messages.txt" | sort -u | paste -sd' ')" "every message says ok"
assert_eq "" "$(jq -r 'select(.Subject != ("Lambda Vertica Batch Load " + (.Message | fromjson | .batchId) + " OK")) | .Subject' "$WS/ok-messages.txt")" \
	"the original's subjects"
assert_eq "0 0" "$(sqs_depth "$FAILQ")" "nothing on the failure topic"

# ---- the configuration items keep the original's attributes (the original can read them again) ----
ddb get-item --table-name "${P}BatchLoadConfig" --key '{"s3Prefix": {"S": "landing/ingest"}}' --consistent-read >"$WS/config-after.json" ||
	fail "get-item config"
assert_eq "$(jq -cS '.loadClusters' "$WS/config-ingest.json")" "$(jq -cS '.Item.loadClusters' "$WS/config-after.json")" "loadClusters as setup.js wrote them"
assert_eq "S N N S" "$(jq -r '.Item | [.currentBatch, .batchSize, .batchTimeoutSecs, .filenameFilterRegex] | map(keys[0]) | join(" ")' "$WS/config-after.json")" \
	"the original's attribute types"
# ---- the README's admin commands, line by line as they stand (its example names made this test's) ---
UNL=7d3c1f0e-93a4-4f57-b2c1-5e8d0a6b4c21
for i in 13 14 15; do rows_file landing/ingest/g$i.csv 2 $((3000 + 2 * i)); done
awsc s3 sync --quiet "$STORE/landing" s3://landing/ || fail "upload g13-g15"
jq -cn --arg id "$UNL" '{s3Prefix: {S: "landing/ingest"}, batchId: {S: $id}, status: {S: "locked"},
	entries: {SS: ["landing/ingest/g13.csv"]}, lastUpdate: {N: "1764633600.5"}}' >"$WS/unl.json"
awsc dynamodb put-item --table-name "${P}Batches" --item "file://$WS/unl.json" || fail "put-item locked batch"
jq -cn --arg id "$UNL" '{loadFile: {S: "landing/ingest/g13.csv"}, batchId: {S: $id}}' >"$WS/unl-file.json"
awsc dynamodb put-item --table-name "${P}ProcessedFiles" --item "file://$WS/unl-file.json" || fail "put-item g13"
readme_lines=$(awk '/^## Coming from aws-lambda-vertica-loader/ { on = 1 } on && /^The admin scripts/ { admin = 1 }
	admin && /^```sh/ { inb = 1; next } inb && /^```/ { exit } inb && NF' "$REPO/README.md" | sed 's/ *# .*$//')
assert_eq 8 "$(wc -l <<<"$readme_lines")" "the README's admin block"
n=0
while IFS= read -r line; do
	n=$((n + 1))
	line=${line//mybucket\/db_ingest\/a.csv/landing/ingest/old1.csv}
	[[ $line == *"batches unlock"* ]] && line=${line//0b9f3c3e/${UNL:0:8}}
	if [[ $line == export* ]]; then
		eval "$line" || fail "README: $line"
		continue
	fi
	printf '%s\n' "$VPW" | eval "${line//zload /\"\$ZLOAD\" }" >"$WS/readme$n.out" 2>"$WS/readme$n.err" ||
		fail "README: $line: $(<"$WS/readme$n.err")"
done <<<"$readme_lines"
assert_eq "$LAMBDA_STATE" "$ZLOAD_STATE" "README: the environment"
assert_eq 1 "$(wc -l <"$WS/readme2.out")" "README: no batch in error: $(<"$WS/readme2.out")"
assert_contains "$(<"$WS/readme3.out")" "batch     $STUCK" "README: batches show"
assert_contains "$(<"$WS/readme3.out")" "status    complete" "README: batches show"
assert_contains "$(<"$WS/readme4.out")" "loaded batch=$STUCK status=complete rows=0" "README: reprocess, every target's ledger has it"
expect_rows 42 "README: reprocess loads nothing twice"
assert_eq "unlocked batch $UNL: it is open again and loads at the next sweep" "$(<"$WS/readme5.out")" "README: unlock"
assert_contains "$(<"$WS/readme6.out")" "$STUCK" "README: files show"
# Its files came long ago (lastUpdate): the unlocked batch is due by batchTimeoutSecs at once.
call $PA "$SCHEDULED_EVENT"
assert_eq "response false 1" "$(body '.loads')" "the unlocked batch loads at the next sweep: $RES"
expect_rows 44 "rows of the unlocked batch"
ddb get-item --table-name "${P}ProcessedFiles" --key '{"loadFile": {"S": "landing/ingest/old1.csv"}}' --consistent-read >"$WS/old1.json" ||
	fail "get-item old1"
assert_eq "" "$(jq -r '.Item // empty' "$WS/old1.json")" "README: files delete removes the processed-file item"
[[ $(<"$WS/readme8.out") =~ ^\[[0-9]+(,[0-9]+)+\]$ ]] || fail "README: encrypt printed $(<"$WS/readme8.out")"

# ---- back and forth: the original adds a file to an open batch of zload's, then zload loads it ------
call $PA "$(s3_event_json landing ingest/g14.csv)"
assert_eq "response false 1 0" "$(body '.queued, .loads')" "g14 opens a batch: $RES"
cur=$(ddb get-item --table-name "${P}BatchLoadConfig" --key '{"s3Prefix": {"S": "landing/ingest"}}' --consistent-read |
	jq -r .Item.currentBatch.S)
assert_eq "$cur" "$(zload files show --json landing/ingest/g14.csv | jq -r .batch)" "g14's batch is the current one"
# What the original's index.js does for a new file: the processed-file item, then ADD to the current batch.
jq -cn --arg id "$cur" '{loadFile: {S: "landing/ingest/g15.csv"}, batchId: {S: $id}}' >"$WS/g15.json"
awsc dynamodb put-item --table-name "${P}ProcessedFiles" --item "file://$WS/g15.json" \
	--condition-expression 'attribute_not_exists(loadFile)' || fail "the original's processed-file item of g15"
jq -cn --arg id "$cur" '{s3Prefix: {S: "landing/ingest"}, batchId: {S: $id}}' >"$WS/cur-key.json"
awsc dynamodb update-item --table-name "${P}Batches" --key "file://$WS/cur-key.json" \
	--update-expression 'add entries :e set #stat = :open, lastUpdate = :now' \
	--condition-expression '#stat = :open or attribute_not_exists(#stat)' --expression-attribute-names '{"#stat": "status"}' \
	--expression-attribute-values "{\":e\": {\"SS\": [\"landing/ingest/g15.csv\"]}, \":open\": {\"S\": \"open\"}, \":now\": {\"N\": \"$(date +%s.%3N)\"}}" \
	>/dev/null || fail "the original's add of g15"
sleep 2.1
call $PA "$SCHEDULED_EVENT"
assert_eq "response false 1" "$(body '.loads')" "the batch of g14 and g15 loads by batchTimeoutSecs: $RES"
expect_rows 48 "g14 and the file the original added"

no_violations $PA
no_violations $PB
no_violations $PC
echo "REPORT $(wc -w <<<"$all_batches") batches complete in DynamoDB, $ROWS + 3 rows once in Vertica and PostgreSQL"
