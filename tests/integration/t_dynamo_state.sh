#!/usr/bin/env bash
# zload on DynamoDB state (moto) behind tests/integration/ddb_faults.py, which throttles writes
# and reads, loses the answer of an applied transaction and reports transaction conflicts on a
# fixed schedule: every record is queued once (none taken for a duplicate), the rows load
# exactly once, and the items keep the original loader's attributes for its scripts. Before
# that, a state without tables is refused with the command to run, and `zload state init`
# creates the original's three tables (idempotently), as `zload setup` does. Then the original's own items, as its
# setup.js and Lambda wrote them, are read as they are: configuration, batches without zload's
# attributes (found without a pointer), processed files, and a batch it left locked forever,
# which unlocks without --force (it has no lease).
# test-timeout: 150
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_s3.sh"

moto_start fast
DIRECT="dynamodb://us-east-1?tables=LambdaVertica&endpoint=http://127.0.0.1:$MOTO_PORT"

# ---- tables
assert_exit 1 zload --state "$DIRECT" config list
assert_contains "$ERR" "zload: dynamodb state: table LambdaVerticaBatchLoadConfig does not exist in us-east-1 (create the tables with \`zload state init --state URL\`)" "no tables"
ok zload --state "$DIRECT" state init
assert_eq "state $DIRECT ready: created 3 tables" "$OUT" "state init"
ok zload --state "$DIRECT" state init
assert_eq "state $DIRECT ready" "$OUT" "state init again"
keys=$(awsc dynamodb describe-table --table-name LambdaVerticaBatches --output json |
	jq -c '.Table | [.KeySchema, .GlobalSecondaryIndexes[0].IndexName, .GlobalSecondaryIndexes[0].KeySchema, .BillingModeSummary.BillingMode, ([.AttributeDefinitions[] | select(.AttributeName == "lastUpdate")][0].AttributeType)]')
assert_eq '[[{"AttributeName":"s3Prefix","KeyType":"HASH"},{"AttributeName":"batchId","KeyType":"RANGE"}],"LambdaVerticaBatchStatus",[{"AttributeName":"status","KeyType":"HASH"},{"AttributeName":"lastUpdate","KeyType":"RANGE"}],"PAY_PER_REQUEST","N"]' \
	"$keys" "the Batches table's keys and index"
for t in BatchLoadConfig:s3Prefix ProcessedFiles:loadFile; do
	assert_eq "${t#*:}" "$(awsc dynamodb describe-table --table-name "LambdaVertica${t%%:*}" --output json | jq -r '.Table.KeySchema | map(.AttributeName) | join(",")')" "key of ${t%%:*}"
done

# zload setup creates the tables of a state that has none before its first question.
FRESH="dynamodb://us-east-1?tables=Fresh&endpoint=http://127.0.0.1:$MOTO_PORT"
assert_exit 1 zload --state "$FRESH" setup </dev/null
assert_contains "$ERR" 'zload: the input ended before the answer to "S3 prefix"; nothing stored' "setup with no answers"
assert_eq "FreshBatchLoadConfig FreshBatches FreshProcessedFiles" \
	"$(awsc dynamodb list-tables --output json | jq -r '[.TableNames[] | select(startswith("Fresh"))] | sort | join(" ")')" "the tables setup made"

# ---- loads through the faults
start_bg faults "$PYTHON" "$IT_DIR/ddb_faults.py" --port-file "$WS/faults.port" --upstream "http://127.0.0.1:$MOTO_PORT" --stats "$WS/faults.json"
wait_for 10 test -s "$WS/faults.port"
export ZLOAD_STATE="dynamodb://us-east-1?tables=LambdaVertica&endpoint=http://127.0.0.1:$(<"$WS/faults.port")"

make_table t "id INTEGER, v TEXT"
put_config <<'EOF'
{"s3Prefix": "b/in", "batchSize": 4, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF
keys=()
for i in $(seq 1 12); do
	csv_rows "b/in/f$i.csv" 3 $((i * 10))
	keys+=("in/f$i.csv")
done
event_ok b "${keys[@]}"
assert_eq 12 "$(grep -c '^queued b/in/f[0-9]*\.csv batch=' <<<"$OUT")" "every record queued: [$OUT] [$ERR]"
assert_not_contains "$OUT" "duplicate" "no record taken for a duplicate"
assert_eq 3 "$(grep -c '^loaded batch=.* status=complete rows=12$' <<<"$OUT")" "three batches of four files loaded: [$OUT]"
assert_eq "36 36" "$(sql "$WH" "SELECT count(*) || ' ' || count(DISTINCT id) FROM t")" "rows, once each"
for kind in throughput lost_answer conflict throttled_read token_replay; do
	n=$(jq -r ".$kind" "$WS/faults.json")
	[[ $n -ge 1 ]] || fail "the proxy injected no $kind fault: $(cat "$WS/faults.json")"
done

event_ok b "${keys[@]}"
assert_eq 12 "$(grep -c '^duplicate b/in/' <<<"$OUT")" "the same records again: [$OUT]"
assert_eq 36 "$(rows t)" "rows after the duplicates"

# The items, as the original's queryBatches.js and describeBatch.js read them.
done_items=$(awsc dynamodb query --table-name LambdaVerticaBatches --index-name LambdaVerticaBatchStatus \
	--key-condition-expression '#s = :s' --expression-attribute-names '{"#s":"status"}' \
	--expression-attribute-values '{":s":{"S":"complete"}}' --output json)
assert_eq 3 "$(jq '.Items | length' <<<"$done_items")" "complete batches in the status index"
assert_eq 12 "$(jq '[.Items[].entries.SS[]] | unique | length' <<<"$done_items")" "entries name every file once"
assert_eq "b/in/f1.csv" "$(jq -r '[.Items[].entries.SS[]] | sort | .[0]' <<<"$done_items")" "entries are bucket/key"
assert_eq "true" "$(jq '[.Items[] | (.lastUpdate.N | test("^[0-9]+\\.[0-9]{3}$"))] | all' <<<"$done_items")" "lastUpdate is N seconds.ms"
assert_eq '{"status":0,"error":null}' "$(jq -c '.Items[0].clusterLoadStatus.S | fromjson | .wh' <<<"$done_items")" "clusterLoadStatus"
id1=$(awsc dynamodb get-item --table-name LambdaVerticaProcessedFiles --key '{"loadFile":{"S":"b/in/f1.csv"}}' --output json | jq -r .Item.batchId.S)
assert_eq "$id1" "$(jq -r --arg id "$id1" '.Items[] | select(.batchId.S == $id) | .batchId.S' <<<"$done_items")" "the file's batchId"
cfg=$(awsc dynamodb get-item --table-name LambdaVerticaBatchLoadConfig --key '{"s3Prefix":{"S":"b/in"}}' --output json)
assert_eq "4 S" "$(jq -r '[.Item.batchSize.N, (.Item.currentBatch | keys[0])] | join(" ")' <<<"$cfg")" "the configuration item"

# ---- the original's items, as it wrote them
item() { awsc dynamodb put-item --table-name "LambdaVertica$1" --item "$2" || fail "put-item $1 $2"; }
item BatchLoadConfig '{"s3Prefix":{"S":"myBucket/db_ingest"},"currentBatch":{"S":"0b9f3c3e-6a59-4a8e-9d3b-3f1a2c4d5e6f"},
 "version":{"S":"1.0.0"},"s3MountDir":{"S":"/mnt/s3/"},"filenameFilterRegex":{"S":".*\\.csv"},
 "copyOptions":{"S":"parser fdelimitedparser(delimiter='"','"')"},"batchSize":{"N":"5"},"batchTimeoutSecs":{"S":"30"},
 "successTopicARN":{"S":"arn:aws:sns:us-east-1:123456789012:LambdaDBLoadOK"},
 "loadClusters":{"L":[{"M":{"clusterEndpoint":{"S":"52.2.78.41"},"clusterPort":{"N":"5433"},"connectUser":{"S":"Elvis"},
   "connectPassword":{"S":"pw"},"targetTable":{"S":"testTable"}}}]},
 "lastBatchRotation":{"N":"1432228609.686"},"lastUpdate":{"N":"1432228000.123"}}'
item Batches '{"s3Prefix":{"S":"myBucket/db_ingest"},"batchId":{"S":"0b9f3c3e-6a59-4a8e-9d3b-3f1a2c4d5e6f"},"status":{"S":"error"},
 "entries":{"SS":["myBucket/db_ingest/a.csv","myBucket/db_ingest/b.csv"]},"lastUpdate":{"N":"1432228612.501"},
 "clusterLoadStatus":{"S":"{\"52.2.78.41\":{\"status\":-1,\"error\":\"boom\"}}"},"errorMessage":{"S":"{\"52.2.78.41\":{\"status\":-1,\"error\":\"boom\"}}"}}'
item Batches '{"s3Prefix":{"S":"myBucket/db_ingest"},"batchId":{"S":"7c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5"},"status":{"S":"locked"},
 "entries":{"SS":["myBucket/db_ingest/c.csv"]},"lastUpdate":{"N":"1432228700.250"}}'
item ProcessedFiles '{"loadFile":{"S":"myBucket/db_ingest/a.csv"},"batchId":{"S":"0b9f3c3e-6a59-4a8e-9d3b-3f1a2c4d5e6f"}}'

ok zload config list
assert_contains "$OUT" "myBucket/db_ingest" "config list shows the original's configuration: [$OUT]"
ok zload config get myBucket/db_ingest
assert_eq "5 30 52.2.78.41 5433 testTable" "$(jq -r '[.batchSize, (.batchTimeoutSecs | tonumber), .loadClusters[0].clusterEndpoint, .loadClusters[0].clusterPort, .loadClusters[0].targetTable] | join(" ")' <<<"$OUT")" \
	"the original's configuration, numbers as N or S"
assert_not_contains "$OUT" '"pw"' "the password is masked"
ok zload batches list --prefix myBucket/db_ingest --json
assert_eq "7c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5 locked 1|0b9f3c3e-6a59-4a8e-9d3b-3f1a2c4d5e6f error 2" \
	"$(jq -r 'map([.id, .status, (.files | tostring)] | join(" ")) | join("|")' <<<"$OUT")" "the original's batches, newest first"
ok zload batches show --json 0b9f3c3e
assert_eq "error myBucket/db_ingest/a.csv,myBucket/db_ingest/b.csv 2015-05-21T17:16:52.501Z" \
	"$(jq -r '[.status, ([.fileList[] | .bucket + "/" + .key] | join(",")), .finishedAt] | join(" ")' <<<"$OUT")" \
	"an original batch found by an abbreviated id: [$OUT]"
ok zload files show --json myBucket/db_ingest/a.csv
assert_eq "0b9f3c3e-6a59-4a8e-9d3b-3f1a2c4d5e6f error myBucket/db_ingest 2015-05-21T17:16:52.501Z" \
	"$(jq -r '[.batch, .status, .prefix, .received] | join(" ")' <<<"$OUT")" "the original's processed file: [$OUT]"
ok zload batches unlock 7c1d2e3f
assert_eq open "$(batch_status 7c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5)" "the batch the original left locked, unlocked without --force"
got=$(awsc dynamodb get-item --table-name LambdaVerticaBatches --output json \
	--key '{"s3Prefix":{"S":"myBucket/db_ingest"},"batchId":{"S":"7c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5"}}')
assert_eq "open myBucket/db_ingest/c.csv" "$(jq -r '[.Item.status.S, .Item.entries.SS[0]] | join(" ")' <<<"$got")" "its item, as the original's scripts read it"

# ---- zload state migrate out of DynamoDB (a second run changes nothing)
ok zload state migrate --from "$DIRECT" --to "sqlite:$WS/copy.db"
assert_eq "migrated $DIRECT -> sqlite:$WS/copy.db: 2 configurations, 5 batches, 15 files, 0 notifications" "$OUT" "migrate"
ok zload --state "sqlite:$WS/copy.db" batches list --json
assert_eq "complete 01 complete 01 complete 01 error 2015-05-21T17:16:52.501Z open 2015-05-21T17:18:20.250Z" \
	"$(jq -r 'map(.status + " " + (if (.created | startswith("2015")) then .created else "01" end)) | sort | join(" ")' <<<"$OUT")" \
	"the copy's batches, the original's with their times"
before=$(sql "$WS/copy.db" .dump)
ok zload state migrate --from "$DIRECT" --to "sqlite:$WS/copy.db"
assert_eq "migrated $DIRECT -> sqlite:$WS/copy.db: 2 configurations, 5 batches, 15 files, 0 notifications" "$OUT" "migrate again"
assert_eq "$before" "$(sql "$WS/copy.db" .dump)" "a second migrate changes nothing"
