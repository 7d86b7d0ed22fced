#!/usr/bin/env bash
# Vertica reads the objects itself. loadMode mount: one COPY naming every object of the batch
# under s3MountDir (the nodes' bucket mount), with copyOptions (ON ANY NODE) passed as they are and
# compression by name; loadMode s3: the session's AWSRegion/AWSAuth/AWSEndpoint, then one COPY of
# s3:// URLs (moto behind the emulator). Both NO COMMIT, with the ledger row in the same
# transaction, and batches show notes that the database read the objects.
. "$(dirname "$0")/lib_pg.sh"
. "$(dirname "$0")/lib_s3.sh"
. "$IT_DIR/lib_vertica.sh"

# The nodes' view: $WS/node/mnt/s3/BUCKET is the store's bucket.
mkdir -p "$WS/node/mnt/s3"
ln -s "$STORE/b" "$WS/node/mnt/s3/b"
moto_start
vemu_start v --user "dbadmin:$VPW:sha512" --mount-root "$WS/node" --s3-endpoint "http://127.0.0.1:$MOTO_PORT"
pq dw "CREATE TABLE public.m (id int, v text); CREATE TABLE public.s (id int, v text)" >/dev/null

pg_config mnt <<EOF2
{"s3Prefix": "b/mnt", "batchSize": 2, "s3MountDir": "/mnt/s3/", "copyOptions": "DELIMITER ',' SKIP 1 ON ANY NODE",
 "targets": [$(vt_target v public.m '"loadMode": "mount"')]}
EOF2
csv_rows b/mnt/a.csv 2 1
awk 'BEGIN { print "id,v"; print "3,x"; print "4,y"; print "5,z" }' | gzip | write_file b/mnt/b.csv.gz
event_ok b mnt/a.csv mnt/b.csv.gz
id=$(batch_ids --prefix b/mnt)
assert_contains "$OUT" "loaded batch=$id status=complete rows=5" "the mount batch"
assert_contains "$(vemu_loader_sql v)" "COPY \"public\".\"m\" FROM '/mnt/s3/b/mnt/a.csv' ON ANY NODE, '/mnt/s3/b/mnt/b.csv.gz' ON ANY NODE GZIP DELIMITER ',' SKIP 1 REJECTED DATA AS TABLE \"zload_rejects\" NO COMMIT" "one COPY naming both objects, ON ANY NODE after each"
assert_eq "mount:5:False" "$(vemu_events v copy "f\"{e['mode']}:{e['rows']}:{e['commit']}\"")" "the server-side COPY, not committed by itself"
assert_eq "1,2,3,4,5" "$(pq dw "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.m")" "rows"
assert_contains "$(zload batches show "$id")" "note: the database read every object itself, in one COPY" "batches show"

# loadMode s3: Vertica reads S3 with the loader's credentials.
awsc s3 mb s3://bkt >/dev/null || fail "bucket"
printf 'id,v\n10,a\n11,b\n' >"$WS/s1.csv"
awsc s3 cp --quiet "$WS/s1.csv" s3://bkt/in/s1.csv || fail "upload"
ZLOAD_STORE=$(store_url "$MOTO_PORT")
export ZLOAD_STORE
pg_config s3 <<EOF2
{"s3Prefix": "bkt/in", "batchSize": 1, "format": {"header": true},
 "targets": [$(vt_target v public.s "\"loadMode\": \"s3\", \"awsRegion\": \"us-east-1\", \"s3Endpoint\": \"127.0.0.1:$MOTO_PORT\", \"s3Https\": false")]}
EOF2
ok zload backfill bkt/in
id=$(batch_ids --prefix bkt/in)
assert_eq complete "$(batch_status "$id")" "the s3 batch"
sql=$(vemu_loader_sql v)
assert_contains "$sql" "ALTER SESSION SET AWSAuth = 'test:test'" "AWSAuth from the loader's credentials"
assert_contains "$sql" "ALTER SESSION SET AWSRegion = 'us-east-1'" "AWSRegion"
assert_contains "$sql" "ALTER SESSION SET AWSEndpoint = '127.0.0.1:$MOTO_PORT'" "AWSEndpoint"
assert_contains "$sql" "ALTER SESSION SET AWSEnableHttps = '0'" "AWSEnableHttps"
assert_contains "$sql" "COPY \"public\".\"s\" FROM 's3://bkt/in/s1.csv' DELIMITER ',' ENCLOSED BY '\"' NO ESCAPE NULL '' SKIP 1 REJECTED DATA AS TABLE \"zload_rejects\" NO COMMIT" "the s3 COPY"
assert_eq "10,11" "$(pq dw "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.s")" "rows read from S3"
assert_eq 2 "$(pq dw "SELECT count(*) FROM zload_ledger")" "ledger rows of both batches"
