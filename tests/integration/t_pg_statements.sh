#!/usr/bin/env bash
# preLoadStatement and postLoadStatement run inside the load transaction of each batch:
# truncate-and-reload keeps only the latest batch; a summary table follows every load; a failing
# postLoadStatement rolls the whole batch back.
. "$(dirname "$0")/lib_pg.sh"

pql dw "
CREATE TABLE t_reload (id int, v text);
CREATE TABLE t_ev (id int, kind text, amount numeric);
CREATE TABLE t_ev_totals (kind text PRIMARY KEY, n bigint, total numeric, batches int DEFAULT 1);" >/dev/null

# Truncate and reload: batches of two files.
pg_config reload <<EOF
{"s3Prefix": "b/reload", "batchSize": 2, "format": {"header": true},
 "targets": [$(pg_target pg t_reload dw loader "$PG_SCRAM_PW" '"preLoadStatement": "TRUNCATE t_reload"')]}
EOF
csv_rows b/reload/a1.csv 5 1
csv_rows b/reload/a2.csv 3 6
csv_rows b/reload/b1.csv 4 100
csv_rows b/reload/b2.csv 2 200
event_ok b reload/a1.csv reload/a2.csv
first=$(sed -n 's/^loaded batch=\([^ ]*\) status=complete rows=8$/\1/p' <<<"$OUT")
[[ -n $first ]] || fail "first reload batch: [$OUT] [$ERR]"
assert_eq "8 1 8" "$(pq dw "SELECT count(*) || ' ' || min(id) || ' ' || max(id) FROM t_reload")" "after the first batch"
event_ok b reload/b1.csv reload/b2.csv
second=$(sed -n 's/^loaded batch=\([^ ]*\) status=complete rows=6$/\1/p' <<<"$OUT")
[[ -n $second ]] || fail "second reload batch: [$OUT] [$ERR]"
assert_eq "100,101,102,103,200,201" "$(pq dw "SELECT string_agg(id::text, ',' ORDER BY id) FROM t_reload")" "only the second batch's rows remain"
assert_eq "TRUNCATE t_reload" "$(tjson 't[0]["statements"][0]' "$second")" "the pre-load statement ran first"
assert_eq 3 "$(tjson 'len(t[0]["statements"])' "$second")" "statements: TRUNCATE and one COPY per file"
assert_eq 2 "$(pq dw "SELECT count(*) FROM zload_ledger WHERE batch_id IN ('$first', '$second')")" "both batches in the ledger"

# A summary table maintained by postLoadStatement.
post="INSERT INTO t_ev_totals (kind, n, total) SELECT kind, count(*), sum(amount) FROM t_ev GROUP BY kind ON CONFLICT (kind) DO UPDATE SET n = EXCLUDED.n, total = EXCLUDED.total, batches = t_ev_totals.batches + 1"
pg_config summary <<EOF
{"s3Prefix": "b/sum", "format": {"header": true},
 "targets": [$(pg_target pg t_ev dw loader "$PG_SCRAM_PW" "\"postLoadStatement\": \"$post\"")]}
EOF
printf 'id,kind,amount\n1,order,10.5\n2,order,4.5\n3,refund,-3\n' | write_file b/sum/1.csv
printf 'id,kind,amount\n4,order,1\n5,signup,0\n' | write_file b/sum/2.csv
load_one b/sum 1.csv
assert_eq "loaded batch=$BATCH status=complete rows=3" "$OUT" "first summary batch"
assert_eq "order|2|15.0|1;refund|1|-3|1" "$(pq dw "SELECT kind, n, total, batches FROM t_ev_totals ORDER BY kind" | tr '\n' ';' | sed 's/;$//')" "totals after one batch"
assert_eq "$post" "$(tjson 't[0]["statements"][-1]' "$BATCH")" "the post-load statement ran last"
load_one b/sum 2.csv
assert_eq "loaded batch=$BATCH status=complete rows=2" "$OUT" "second summary batch"
assert_eq "order|3|16.0|2;refund|1|-3|2;signup|1|0|1" "$(pq dw "SELECT kind, n, total, batches FROM t_ev_totals ORDER BY kind" | tr '\n' ';' | sed 's/;$//')" "totals after two batches"
assert_eq 0 "$(pq dw "SELECT count(*) FROM (SELECT kind, count(*) n, sum(amount) s FROM t_ev GROUP BY kind) a FULL JOIN t_ev_totals b USING (kind) WHERE a.n IS DISTINCT FROM b.n OR a.s IS DISTINCT FROM b.total")" "totals match the table"

# A failing postLoadStatement: the batch is in error and none of its rows stay.
pg_config badpost <<EOF
{"s3Prefix": "b/badpost", "format": {"header": true},
 "targets": [$(pg_target pg t_ev dw loader "$PG_SCRAM_PW" '"postLoadStatement": "INSERT INTO t_ev_totals (kind, n) VALUES (NULL, 1)"')]}
EOF
printf 'id,kind,amount\n7,order,100\n8,order,200\n' | write_file b/badpost/1.csv
load_one b/badpost 1.csv
assert_eq 1 "$RC" "failing post-load statement: exit code [$OUT] [$ERR]"
assert_eq error "$(batch_status "$BATCH")" "failing post-load statement: batch status"
err=$(tjson 't[0]["error"]' "$BATCH")
assert_contains "$err" "postLoadStatement" "the error names the statement"
assert_contains "$err" 'null value in column "kind"' "the error is PostgreSQL's"
assert_contains "$err" "SQLSTATE 23502" "the error has the SQLSTATE"
assert_eq 0 "$(pq dw "SELECT count(*) FROM t_ev WHERE id IN (7, 8)")" "rows of the failed batch rolled back"
assert_eq 0 "$(pg_ledger_rows "$BATCH")" "failed batch not in the ledger"
assert_eq 5 "$(pg_count t_ev)" "t_ev keeps the two good batches"
