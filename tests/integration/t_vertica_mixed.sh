#!/usr/bin/env bash
# A Vertica target and a PostgreSQL target in one configuration: the Vertica one fails (its table
# is missing), the PostgreSQL one loads; the batch is in error with a status per target; once the
# table exists, reprocess loads only the Vertica target (the PostgreSQL ledger has the batch).
. "$(dirname "$0")/lib_pg.sh"
. "$IT_DIR/lib_vertica.sh"

vemu_start v --user "dbadmin:$VPW:sha512"
pql dw "CREATE TABLE pg_t (id int, v text)" >/dev/null
pg_config mix <<EOF2
{"s3Prefix": "b/mix", "batchSize": 1, "format": {"header": true},
 "targets": [$(vt_target vert public.vt '"ledgerTable": "vertica_ledger"'), $(pg_target pg pg_t)]}
EOF2
csv_rows b/mix/f.csv 4 1
event b mix/f.csv
id=$(batch_ids --prefix b/mix)
assert_eq "1 error" "$RC $(batch_status "$id")" "one target failed"
assert_eq "vert:error:0 pg:complete:4" \
	"$(json "' '.join(f\"{t['name']}:{t['status']}:{t['rows']}\" for t in j['result']['targets'])" zload batches show --json "$id")" "per-target results"
assert_contains "$(batch_field "$id" error)" "target vert: " "the error names the Vertica target"
vsql "CREATE TABLE public.vt (id int, v varchar(20))"
ok zload batches reprocess "$id"
assert_eq "loaded batch=$id status=complete rows=4" "$OUT" "the reprocess loads the Vertica target"
assert_eq "vert:complete:4 pg:complete:0" \
	"$(json "' '.join(f\"{t['name']}:{t['status']}:{t['rows']}\" for t in j['result']['targets'])" zload batches show --json "$id")" "per-target results after the reprocess"
assert_eq "4 4" "$(pq dw "SELECT count(*) FROM public.vt") $(pq dw "SELECT count(*) FROM pg_t")" "each target holds the rows once"
assert_eq "pg vert" "$(pq dw "SELECT string_agg(target, ' ') FROM zload_ledger WHERE batch_id = '$id'") $(pq dw "SELECT string_agg(target, ' ') FROM vertica_ledger WHERE batch_id = '$id'")" "a ledger row in each target's ledger"
