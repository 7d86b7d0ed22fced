#!/usr/bin/env bash
# Two PostgreSQL targets in two databases (dw, dw2) load in parallel. When one fails (its table is
# missing) the batch is in error with a status per target; after the table is created,
# `batches reprocess` loads only the failed target: the other's ledger already holds the batch.
. "$(dirname "$0")/lib_pg.sh"

pql dw "CREATE TABLE t (id int, v text)" >/dev/null
sleep_pre='"preLoadStatement": "SELECT pg_sleep(1)"'
pg_config two <<EOF
{"s3Prefix": "b/two", "batchSize": 2, "format": {"header": true},
 "targets": [$(pg_target one public.t dw loader "$PG_SCRAM_PW" "$sleep_pre"),
             $(pg_target two public.t dw2 loader "$PG_SCRAM_PW" "$sleep_pre")]}
EOF
csv_rows b/two/a.csv 30 1
csv_rows b/two/b.csv 12 100
event b two/a.csv two/b.csv
assert_eq 1 "$RC" "event exit code with a failed target [$OUT] [$ERR]"
id=$(batch_ids --prefix b/two)
assert_contains "$OUT" "loaded batch=$id status=error rows=42" "event output"
assert_eq error "$(batch_status "$id")" "batch status with one target failing"
assert_eq "one:complete:42 two:error:0" "$(tjson '" ".join("%s:%s:%s" % (x["name"], x["status"], x["rows"]) for x in t)' "$id")" "per-target status"
assert_eq "a.csv=30 b.csv=12" "$(tjson '" ".join("%s=%s" % (o["key"].split("/")[-1], o["rows"]) for o in t[0]["objects"])' "$id")" "rows per file of the good target"
err2=$(tjson 't[1]["error"]' "$id")
assert_contains "$err2" 'relation "public.t" does not exist' "the failed target's error"
assert_contains "$err2" "[SQLSTATE 42P01]" "the failed target's SQLSTATE"
assert_contains "$(batch_field "$id" error)" "target two: " "the batch error names the failed target"
assert_not_contains "$(batch_field "$id" error)" "target one" "the batch error does not blame the good target"
# Parallel: both slept a second before their COPY, yet the attempt took less than the sum.
ms=$(tjson 'j["result"]["ms"]' "$id")
ms1=$(tjson 't[0]["ms"]' "$id")
ms2=$(tjson 't[1]["ms"]' "$id")
((ms1 >= 1000 && ms2 >= 1000)) || fail "each target slept 1 s: ms1=$ms1 ms2=$ms2"
((ms < ms1 + ms2 - 500)) || fail "targets did not load in parallel: attempt ${ms} ms, targets ${ms1} + ${ms2} ms"
assert_eq 42 "$(pg_count t dw)" "rows in dw"
assert_eq 1 "$(pg_ledger_rows "$id" dw)" "dw ledger holds the batch"
assert_eq 0 "$(pg_ledger_rows "$id" dw2)" "dw2 ledger does not"

# Create the table in dw2 and reprocess: only target two loads.
pql dw2 "CREATE TABLE t (id int, v text)" >/dev/null
ok zload batches reprocess "$id"
assert_contains "$OUT" "status=complete" "reprocess output"
assert_eq complete "$(batch_status "$id")" "batch status after reprocess"
assert_eq "one:complete:0 two:complete:42" "$(tjson '" ".join("%s:%s:%s" % (x["name"], x["status"], x["rows"]) for x in t)' "$id")" "per-target status after reprocess"
assert_contains "$(tjson 't[0].get("note")' "$id")" "already in the target's ledger" "target one was skipped"
assert_eq null "$(tjson 't[1].get("note")' "$id")" "target two was loaded"
assert_eq "" "$(tjson 't[0]["statements"]' "$id")" "target one ran nothing"
assert_eq 42 "$(pg_count t dw)" "rows in dw unchanged"
assert_eq 42 "$(pg_count t dw2)" "rows in dw2"
assert_eq "1 111 1731" "$(pq dw2 "SELECT min(id) || ' ' || max(id) || ' ' || sum(id) FROM t")" "dw2 got both files"
assert_eq 1 "$(pg_ledger_rows "$id" dw)" "dw ledger: still one row"
assert_eq 1 "$(pg_ledger_rows "$id" dw2)" "dw2 ledger: one row"
assert_eq 1 "$(batch_field "$id" attempts)" "reprocess starts a fresh retry budget"

# Reprocessing a complete batch loads nothing anywhere.
ok zload batches reprocess "$id"
assert_eq complete "$(batch_status "$id")" "second reprocess"
assert_eq "one:complete:0 two:complete:0" "$(tjson '" ".join("%s:%s:%s" % (x["name"], x["status"], x["rows"]) for x in t)' "$id")" "second reprocess skips both"
assert_eq "42 42" "$(pg_count t dw) $(pg_count t dw2)" "row counts after the second reprocess"
