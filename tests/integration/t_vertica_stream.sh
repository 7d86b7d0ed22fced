#!/usr/bin/env bash
# Vertica, loadMode stream (the default), through the emulator in front of PostgreSQL: a batch of
# CSV files with a header, one of them gzipped (decompressed by zload and streamed), in one
# transaction with the exact statements asserted; JSON lines into a Flex table whose view is built
# after the load; rows accepted per object in batches show.
. "$(dirname "$0")/lib_pg.sh"
. "$IT_DIR/lib_vertica.sh"

vemu_start v --user "dbadmin:$VPW:sha512"
vsql "CREATE TABLE public.events (id int, kind varchar(20))"
vsql "CREATE FLEX TABLE public.clicks()"
pg_config ev <<EOF2
{"s3Prefix": "b/ev", "batchSize": 2, "format": {"header": true}, "targets": [$(vt_target v public.events)]}
EOF2
pg_config cl <<EOF2
{"s3Prefix": "b/cl", "batchSize": 1, "format": {"type": "jsonl"},
 "targets": [$(vt_target fx public.clicks '"postLoadStatement": "SELECT COMPUTE_FLEXTABLE_KEYS_AND_BUILD_VIEW('"'"'public.clicks'"'"')"')]}
EOF2
printf 'id,kind\n1,order\n2,refund\n3,order\n' | write_file b/ev/a.csv
printf 'id,kind\n4,"sign,up"\n5,order\n' | gzip | write_file b/ev/b.csv.gz
event_ok b ev/a.csv ev/b.csv.gz
id=$(batch_ids --prefix b/ev)
assert_contains "$OUT" "loaded batch=$id status=complete rows=5" "the CSV batch"
assert_eq "1,2,3,4,5" "$(pq dw "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.events")" "rows in the table"
assert_eq "sign,up" "$(pq dw "SELECT kind FROM public.events WHERE id = 4")" "an enclosed delimiter"
copy='COPY "public"."events" FROM LOCAL STDIN DELIMITER '"','"' ENCLOSED BY '"'"'"'"'"' NO ESCAPE NULL '"''"' SKIP 1 REJECTED DATA AS TABLE "zload_rejects" NO COMMIT'
assert_eq "SELECT count(*) FROM v_catalog.tables WHERE table_schema = CURRENT_SCHEMA() AND table_name = 'zload_ledger'
CREATE TABLE IF NOT EXISTS \"zload_ledger\" (batch_id varchar(64) NOT NULL, target varchar(512) NOT NULL, prefix varchar(4096) NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (batch_id, target) ENABLED)
COMMIT
SELECT 1 FROM \"zload_ledger\" WHERE batch_id = '$id' AND target IN ('v', '*')
$copy;
SELECT GET_NUM_ACCEPTED_ROWS(), GET_NUM_REJECTED_ROWS()
$copy;
SELECT GET_NUM_ACCEPTED_ROWS(), GET_NUM_REJECTED_ROWS()
INSERT INTO \"zload_ledger\" (batch_id, target, prefix) VALUES ('$id', 'v', 'b/ev')
COMMIT" "$(vemu_loader_sql v)" "the statements of the batch, in order (each COPY and its counts in one query)"
assert_eq "local_stdin:3:True local_stdin:2:True" \
	"$(vemu_events v copy "e['mode'] + ':' + str(e['rows']) + ':' + str(e['commit'] is False)" | tr '\n' ' ' | sed 's/ $//')" \
	"two COPY LOCAL STDIN that did not commit"
ok zload batches show "$id"
assert_contains "$OUT" "  v (vertica): complete, 5 rows" "batches show: the target"
assert_contains "$OUT" "    ev/a.csv: 3 rows" "batches show: rows of the first object"
assert_contains "$OUT" "    ev/b.csv.gz: 2 rows" "batches show: rows of the gzipped object"
assert_eq 1 "$(pq dw "SELECT count(*) FROM zload_ledger WHERE batch_id = '$id' AND target = 'v'")" "the ledger row"
ok zload batches reprocess "$id"
assert_eq "loaded batch=$id status=complete rows=0" "$OUT" "a reprocess loads nothing again"
assert_eq 5 "$(pq dw "SELECT count(*) FROM public.events")" "rows after the reprocess"

# JSON lines into a Flex table; the post-load statement builds its keys and view.
printf '{"user":"ada","n":1}\n{"user":"bob","n":2,"extra":"x"}\n' | write_file b/cl/c1.jsonl
event_ok b cl/c1.jsonl
assert_contains "$OUT" "status=complete rows=2" "the JSON lines batch"
assert_contains "$(vemu_loader_sql v)" 'COPY "public"."clicks" FROM LOCAL STDIN PARSER FJSONPARSER() REJECTED DATA AS TABLE "zload_rejects" NO COMMIT' "the Flex COPY"
assert_eq "extra n user" "$(vsql "SELECT key_name FROM public.clicks_keys ORDER BY 1" | tr '\n' ' ' | sed 's/ $//')" "the flex table's keys"
assert_eq "ada bob" "$(vsql "SELECT \"user\" FROM public.clicks_view ORDER BY 1" | tr '\n' ' ' | sed 's/ $//')" "the flex view"
