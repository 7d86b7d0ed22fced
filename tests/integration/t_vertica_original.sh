#!/usr/bin/env bash
# A configuration written in the original loader's format loads unchanged: loadClusters entries
# with clusterEndpoint, clusterPort, connectUser, connectPassword, targetTable, pre/post statements
# and no "type"; copyOptions and s3MountDir at the configuration's level; the bookkeeping fields of
# its DynamoDB item (version, currentBatch, lastBatchRotation, lastUpdate) and its SNS topics,
# which get the batch's notification (here an endpoint that refuses: it waits in the outbox).
. "$(dirname "$0")/lib_pg.sh"
. "$IT_DIR/lib_vertica.sh"

vemu_start v --user "Elvis:$VPW:sha512"
pq dw "CREATE TABLE public.testTable (a int, b varchar(20)); CREATE TABLE public.audit (n int)" >/dev/null
cat >"$WS/original.json" <<EOF2
{
  "s3Prefix": "myBucket/db_ingest",
  "currentBatch": "0b9f3c3e-6a59-4a8e-9d3b-3f1a2c4d5e6f",
  "version": "1.0.0",
  "s3MountDir": "/mnt/s3/",
  "filenameFilterRegex": ".*\\\\.csv",
  "copyOptions": "DELIMITER '|'",
  "batchSize": 2,
  "batchTimeoutSecs": 30,
  "successTopicARN": "arn:aws:sns:us-east-1:123456789012:LambdaDBLoadOK",
  "failureTopicARN": "arn:aws:sns:us-east-1:123456789012:LambdaDBLoadFAIL",
  "loadClusters": [{
     "clusterEndpoint": "127.0.0.1",
     "clusterPort": $VPORT,
     "connectUser": "Elvis",
     "connectPassword": "$VPW",
     "targetTable": "public.testTable",
     "preLoadStatement": "DELETE FROM public.audit",
     "postLoadStatement": "INSERT INTO public.audit SELECT count(*) FROM public.testTable"}],
  "lastBatchRotation": 1432228609.686,
  "lastUpdate": 1432228000.123
}
EOF2
ok zload config put "$WS/original.json"
assert_eq "stored configuration for myBucket/db_ingest (1 target; 1 secret sealed by local)" "$OUT" "the original's configuration is accepted, its password sealed"
assert_eq "" "$ERR" "no warning"
export AWS_ENDPOINT_URL_SNS=http://127.0.0.1:1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
printf '1|x\n2|y\n' | write_file myBucket/db_ingest/a.csv
printf '3|z\n' | write_file myBucket/db_ingest/b.csv
printf 'ignored\n' | write_file myBucket/db_ingest/c.txt
event_ok myBucket db_ingest/a.csv db_ingest/b.csv db_ingest/c.txt
assert_contains "$OUT" "filtered myBucket/db_ingest/c.txt" "filenameFilterRegex"
assert_contains "$OUT" "status=complete rows=3" "the batch"
assert_contains "$(vemu_loader_sql v)" "COPY \"public\".\"testtable\" FROM LOCAL STDIN DELIMITER '|' REJECTED DATA AS TABLE \"zload_rejects\" NO COMMIT" "the configuration's copyOptions"
assert_eq "3 3" "$(pq dw "SELECT count(*) FROM public.testTable") $(pq dw "SELECT max(n) FROM public.audit")" "rows and the post-load statement"
assert_eq "sns:arn:aws:sns:us-east-1:123456789012:LambdaDBLoadOK pending" \
	"$(json "' '.join([j[0]['destination'], j[0]['status']])" zload notifications list --json)" "the success topic's notification"
ok zload config get myBucket/db_ingest
assert_contains "$OUT" '"connectPassword": "********"' "the password is masked"
