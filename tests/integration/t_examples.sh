#!/usr/bin/env bash
# The README's example configurations work as shown (issue #7, items 13 and 18): the SQLite demo
# configuration, stored with the README's commands, loads the demo data; the PostgreSQL example
# loads orders (with its post-load statement); the S3 + SQS example, with the bucket notification
# of examples/sqs-notification.json, loads gzipped JSON lines from hive partitions into
# PostgreSQL through `serve --sqs`. Only the addresses (ports) are changed.
. "$(dirname "$0")/lib_pg.sh"
. "$(dirname "$0")/lib_s3.sh"

EX=$REPO/examples
cd "$REPO" || fail "no repository at $REPO"

# ---- SQLite: the README's hand-run block, run line by line as it stands (its /tmp paths are the
# example's; the state is this test's, as ZLOAD_STATE says).
readme_lines=$(awk '/load its sample data by hand:/ { on = 1; next } on && /^```sh/ { next } on && /^```/ { exit } on && NF' README.md |
	sed 's/ *# .*$//')
assert_eq 5 "$(wc -l <<<"$readme_lines")" "the README's block for the demo configuration"
rm -rf /tmp/zload-warehouse.db /tmp/landing
trap 'rm -rf /tmp/zload-warehouse.db /tmp/landing; pg_cleanup' EXIT
n=0
while IFS= read -r line; do
	n=$((n + 1))
	eval "${line//zload /\"\$ZLOAD\" }" >"$WS/readme$n.out" 2>"$WS/readme$n.err" || fail "README: $line: $(<"$WS/readme$n.err")"
done <<<"$readme_lines"
assert_eq "stored configuration for landing/events (1 target)" "$(<"$WS/readme2.out")" "config put of the demo configuration"
assert_contains "$(<"$WS/readme4.out")" "listed 4, queued 4, already known 0, not routed or filtered 0" "the backfill"
ok zload config get landing/events
assert_contains "$OUT" '"path": "/tmp/zload-warehouse.db"' "the stored path is the example's, not a placeholder"
want=$(($(cat "$EX"/data/2026-11-25-[abce].csv | wc -l) - 4))
assert_eq "$want" "$(sql /tmp/zload-warehouse.db "SELECT count(*) FROM events")" "rows in the example warehouse"
assert_eq "complete complete" "$(json "' '.join(b['status'] for b in j)" zload batches list --json --prefix landing/events)" "both batches"
assert_eq "$(sql /tmp/zload-warehouse.db "SELECT count(DISTINCT kind) FROM events")" "$(sql /tmp/zload-warehouse.db "SELECT count(*) FROM event_totals")" "the post-load statement ran"

# ---- PostgreSQL: examples/postgres-config.json as given validates; with the test server's port it loads.
ok zload config put "$EX/postgres-config.json"
pql dw "$(<"$EX/postgres.sql")" >/dev/null
sed "s/\"port\": 5432/\"port\": $PGPORT/" "$EX/postgres-config.json" >"$WS/pg.json"
ok zload config put "$WS/pg.json"
mkdir -p "$STORE/landing/orders"
printf 'order_id,customer,amount,ordered_at\n1,ada,10.50,2026-11-30T10:00:00Z\n2,bob,3.25,2026-11-30T10:05:00Z\n' >"$STORE/landing/orders/o1.csv"
s3_event landing orders/o1.csv >"$WS/orders.json"
export PGPASSWORD=$PG_SCRAM_PW # the example keeps no password: libpq's own sources apply
ok zload event "$WS/orders.json"
id=$(batch_ids --prefix landing/orders)
ok zload flush landing/orders
assert_eq complete "$(batch_status "$id")" "the orders batch"
assert_eq "2|13.75" "$(pq dw "SELECT count(*), sum(amount) FROM public.orders")" "orders in PostgreSQL"
assert_eq 1 "$(pq dw "SELECT count(*) FROM public.order_loads WHERE orders = 2")" "the post-load statement"

# ---- S3 + SQS: the bucket notifies the queue of the example; serve --sqs loads the clicks.
moto_start
awsc s3 mb s3://my-landing-bucket >/dev/null || fail "cannot create the bucket"
queue=$(sqs_create zload-loads 5) || fail "cannot create the queue"
assert_eq "arn:aws:sqs:us-east-1:123456789012:zload-loads" "$(sqs_arn "$queue")" "the queue of the example"
awsc s3api put-bucket-notification-configuration --bucket my-landing-bucket \
	--notification-configuration "file://$EX/sqs-notification.json" || fail "the example notification configuration"
pql dw "$(<"$EX/clicks.sql")" >/dev/null
sed "s/port=5432/port=$PGPORT/" "$EX/s3-config.json" >"$WS/s3.json"
ok zload config put "$WS/s3.json"
export ZLOAD_STORE
ZLOAD_STORE=$(store_url "$MOTO_PORT")
start_serve serve --no-watch --sqs "$queue" --sqs-wait 1
printf '{"ts":"2026-11-30T10:00:00Z","user_id":1,"url":"/a"}\n{"ts":"2026-11-30T10:00:01Z","user_id":2,"url":"/b","extra":true}\n' | gzip >"$WS/c1.jsonl.gz"
printf '{"ts":"2026-11-30T11:00:00Z","user_id":3,"url":"/c"}\n' | gzip >"$WS/c2.jsonl.gz"
awsc s3 cp --quiet "$WS/c1.jsonl.gz" s3://my-landing-bucket/clicks/dt=2026-11-30/c1.jsonl.gz || fail "upload"
awsc s3 cp --quiet "$WS/c2.jsonl.gz" s3://my-landing-bucket/clicks/dt=2026-12-01/c2.jsonl.gz || fail "upload"
awsc s3 cp --quiet "$WS/c2.jsonl.gz" s3://my-landing-bucket/other/ignored.jsonl.gz || fail "upload"
ok zload flush "my-landing-bucket/clicks/dt=*"
wait_for 30 count_is 3 pq dw "SELECT count(*) FROM public.clicks"
assert_eq "1,2,3" "$(pq dw "SELECT string_agg(user_id::text, ',' ORDER BY user_id) FROM public.clicks")" "clicks in PostgreSQL"
assert_eq 0 "$(batch_count --status error)" "no batch in error"
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 15
