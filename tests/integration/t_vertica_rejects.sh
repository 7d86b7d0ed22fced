#!/usr/bin/env bash
# Rows Vertica rejects: up to maxRejectedRows the batch completes, the rejected rows land in the
# rejects table, and batches show counts them per object; above it the batch fails naming the
# object, the rows and Vertica's reasons, and nothing of it stays (the COPY said NO COMMIT).
. "$(dirname "$0")/lib_pg.sh"
. "$IT_DIR/lib_vertica.sh"

vemu_start v --user "dbadmin:$VPW:sha512"
vsql "CREATE TABLE public.r (id int, v varchar(10))"
pg_config ok <<EOF2
{"s3Prefix": "b/ok", "batchSize": 2, "format": {"header": true},
 "targets": [$(vt_target v public.r '"maxRejectedRows": 2')]}
EOF2
pg_config strict <<EOF2
{"s3Prefix": "b/strict", "batchSize": 1, "format": {"header": true}, "targets": [$(vt_target v public.r)]}
EOF2
printf 'id,v\n1,a\nnot-a-number,b\n3,c\n' | write_file b/ok/f1.csv
printf 'id,v\n4,d\n5,e,extra\n' | write_file b/ok/f2.csv
event_ok b ok/f1.csv ok/f2.csv
id=$(batch_ids --prefix b/ok)
assert_contains "$OUT" "loaded batch=$id status=complete rows=3" "two rejected rows are allowed"
ok zload batches show "$id"
assert_contains "$OUT" "  v (vertica): complete, 3 rows (2 rejected)" "batches show: the target's rejected rows"
assert_contains "$OUT" "    ok/f1.csv: 2 rows, 1 rejected" "batches show: the first object"
assert_contains "$OUT" "    ok/f2.csv: 1 rows, 1 rejected" "batches show: the second object"
assert_eq 2 "$(json "j['result']['targets'][0]['rejected']" zload batches show --json "$id")" "--json: rejected rows"
assert_eq "1,3,4" "$(pq dw "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.r")" "the accepted rows"
assert_eq 2 "$(pq dw "SELECT count(*) FROM public.zload_rejects")" "rows in the rejects table"

printf 'id,v\n7,g\nbad,h\n' | write_file b/strict/f3.csv
event b strict/f3.csv
sid=$(batch_ids --prefix b/strict)
assert_eq "1 error" "$RC $(batch_status "$sid")" "one rejected row over maxRejectedRows 0"
err=$(batch_field "$sid" error)
assert_eq "target v: b/strict/f3.csv: 1 row rejected (maxRejectedRows 0): row 3: Invalid integer format 'bad' for column 1 (id)" "$err" "the error names the object, the count, the row and the reason"
assert_eq 0 "$(pq dw "SELECT count(*) FROM public.r WHERE id = 7")" "nothing of the failed batch stayed"
assert_eq 0 "$(pq dw "SELECT count(*) FROM zload_ledger WHERE batch_id = '$sid'")" "no ledger row"
