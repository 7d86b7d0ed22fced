#!/usr/bin/env bash
# parallelism: N splits a batch's objects over N connections, each part its own transaction with
# its own ledger row; preLoadStatement once before, postLoadStatement once after all parts.
# A part that fails is loaded alone by the next attempt; the split an attempt chose holds for
# every later one, even when the configuration changes meanwhile.
# test-timeout: 180
. "$(dirname "$0")/lib_pg.sh"

pql dw "CREATE TABLE t (id int, v text); CREATE TABLE audit (what text, at timestamptz DEFAULT clock_timestamp())" >/dev/null
prepost='"preLoadStatement": "INSERT INTO audit (what) VALUES ('"'"'pre'"'"')", "postLoadStatement": "INSERT INTO audit (what) VALUES ('"'"'post'"'"')"'
pg_config par <<EOF
{"s3Prefix": "b/par", "batchSize": 7, "format": {"header": true},
 "targets": [$(pg_target wh public.t dw loader "$PG_SCRAM_PW" "\"parallelism\": 3, $prepost")]}
EOF
# Sizes 70, 60, ..., 10 rows (11 bytes each): largest first, each to the lightest part, gives
# part 1 {f1 f6 f7} (100 rows), part 2 {f2 f5} (90), part 3 {f3 f4} (90).
keys=()
for i in 1 2 3 4 5 6 7; do
	csv_rows "b/par/f$i.csv" $(((8 - i) * 10)) $((i * 1000))
	keys+=("par/f$i.csv")
done
load_one b/par "${keys[@]#par/}"
assert_eq 0 "$RC" "flush exit code [$OUT] [$ERR]"
id=$BATCH
assert_eq complete "$(batch_status "$id")" "batch status"
assert_eq 280 "$(pg_count t)" "rows, once"
assert_eq 280 "$(pq dw "SELECT count(DISTINCT id) FROM t")" "distinct rows"
assert_eq "pre post" "$(pq dw "SELECT string_agg(what, ' ' ORDER BY at) FROM audit")" "pre once before, post once after"
assert_eq "-3 0 1 2 3" "$(pq dw "SELECT string_agg(part::text, ' ' ORDER BY part) FROM zload_ledger WHERE batch_id = '$id'")" "ledger rows: split, parts, whole"
assert_eq "1:complete:3 2:complete:2 3:complete:2" "$(tjson '" ".join("%s:%s:%s" % (p["part"], p["status"], p["objects"]) for p in t[0]["parts"])' "$id")" "parts in the result"
assert_eq "f1:1 f2:2 f3:3 f4:3 f5:2 f6:1 f7:1" "$(tjson '" ".join("%s:%s" % (o["key"].split("/")[-1][:-4], o["part"]) for o in t[0]["objects"])' "$id")" "objects per part by size"
assert_eq 280 "$(tjson 't[0]["rows"]' "$id")" "rows in the result"
assert_contains "$(tjson 't[0]["note"]' "$id")" "loaded in 3 parts" "the note"
stmts=$(tjson 't[0]["statements"]' "$id")
assert_eq "INSERT INTO audit (what) VALUES ('pre')" "$(head -n 1 <<<"$stmts")" "first statement: pre"
assert_eq "INSERT INTO audit (what) VALUES ('post')" "$(tail -n 1 <<<"$stmts")" "last statement: post"
assert_eq 7 "$(grep -c '^COPY ' <<<"$stmts")" "one COPY per object"
ok zload batches show "$id"
assert_contains "$OUT" "note: loaded in 3 parts, each committed on its own" "show: the note"
assert_contains "$OUT" "part 1 of 3: complete, 3 objects, 1115 bytes, 100 rows," "show: part 1"
assert_contains "$OUT" "part 3 of 3: complete, 2 objects, 1000 bytes, 90 rows," "show: part 3"
assert_contains "$OUT" "par/f6.csv: 20 rows (part 1)" "show: the part of an object"

# A part that fails (a check the rows of f6 break) fails the batch; the other parts stay
# committed. Once fixed, reprocess loads that part alone; pre and post still ran once.
pql dw "TRUNCATE t; TRUNCATE audit; ALTER TABLE t ADD CONSTRAINT no6 CHECK (id < 6000 OR id >= 7000)" >/dev/null
pg_config par2 <<EOF
{"s3Prefix": "b/par2", "batchSize": 7, "format": {"header": true},
 "targets": [$(pg_target wh public.t dw loader "$PG_SCRAM_PW" "\"parallelism\": 3, $prepost")]}
EOF
for i in 1 2 3 4 5 6 7; do
	csv_rows "b/par2/f$i.csv" $(((8 - i) * 10)) $((i * 1000))
done
load_one b/par2 f1.csv f2.csv f3.csv f4.csv f5.csv f6.csv f7.csv
id=$BATCH
assert_eq error "$(batch_status "$id")" "batch with a bad part"
assert_eq "1:error 2:complete 3:complete" "$(tjson '" ".join("%s:%s" % (p["part"], p["status"]) for p in t[0]["parts"])' "$id")" "part 1 (with f6) failed"
err=$(tjson 't[0]["error"]' "$id")
assert_contains "$err" "part 1 of 3: " "the error names the part"
assert_contains "$err" 'violates check constraint "no6"' "the error says why"
ok zload batches show "$id"
assert_contains "$OUT" "part 1 of 3: error, 3 objects, 1115 bytes, 0 rows," "show: the failed part"
assert_contains "$(grep '^      error: ' <<<"$OUT")" 'violates check constraint "no6"' "show: the part's error"
assert_eq "2 3 4 5" "$(pq dw "SELECT string_agg(DISTINCT (id / 1000)::text, ' ') FROM t")" "parts 2 and 3 committed (f2 f5 f3 f4)"
assert_eq "-3 2 3" "$(pq dw "SELECT string_agg(part::text, ' ' ORDER BY part) FROM zload_ledger WHERE batch_id = '$id'")" "ledger after the failed part"
assert_eq "pre" "$(pq dw "SELECT string_agg(what, ' ' ORDER BY at) FROM audit")" "pre ran, post did not"
# The configuration changes to 2 parts meanwhile: the batch keeps the 3 parts it started with.
pql dw "ALTER TABLE t DROP CONSTRAINT no6" >/dev/null
pg_config par2 <<EOF
{"s3Prefix": "b/par2", "batchSize": 7, "format": {"header": true},
 "targets": [$(pg_target wh public.t dw loader "$PG_SCRAM_PW" "\"parallelism\": 2, $prepost")]}
EOF
ok zload batches reprocess "$id"
assert_eq complete "$(batch_status "$id")" "after reprocess"
assert_eq 280 "$(pg_count t)" "every row once after the retry"
assert_eq 280 "$(pq dw "SELECT count(DISTINCT id) FROM t")" "distinct rows after the retry"
assert_eq "pre post" "$(pq dw "SELECT string_agg(what, ' ' ORDER BY at) FROM audit")" "pre not run again; post once"
assert_eq "1:complete:loaded 2:complete:earlier 3:complete:earlier" "$(tjson '" ".join("%s:%s:%s" % (p["part"], p["status"], "earlier" if "earlier attempt" in (p.get("note") or "") else "loaded") for p in t[0]["parts"])' "$id")" "only part 1 loaded"
assert_eq 100 "$(tjson 't[0]["rows"]' "$id")" "rows of this attempt: part 1 (70+20+10)"
assert_eq "-3 0 1 2 3" "$(pq dw "SELECT string_agg(part::text, ' ' ORDER BY part) FROM zload_ledger WHERE batch_id = '$id'")" "ledger complete"
ok zload batches reprocess "$id"
assert_eq 280 "$(pg_count t)" "a second reprocess loads nothing"
assert_contains "$(tjson 't[0].get("note")' "$id")" "already in the target's ledger" "skipped whole"

# Two targets in one database (two tables, one ledger), each in parts.
pql dw "CREATE TABLE t2 (id int, v text)" >/dev/null
pg_config two <<EOF
{"s3Prefix": "b/two", "batchSize": 4, "format": {"header": true},
 "targets": [$(pg_target a public.t dw loader "$PG_SCRAM_PW" '"parallelism": 2'),
             $(pg_target b public.t2 dw loader "$PG_SCRAM_PW" '"parallelism": 4')]}
EOF
for i in 1 2 3 4; do csv_rows "b/two/g$i.csv" 25 $((i * 100000)); done
load_one b/two g1.csv g2.csv g3.csv g4.csv
id=$BATCH
assert_eq complete "$(batch_status "$id")" "two targets in parts"
assert_eq 100 "$(pq dw "SELECT count(*) FROM t WHERE id >= 100000")" "target a rows"
assert_eq 100 "$(pg_count t2)" "target b rows"
assert_eq "a:-2 a:0 a:1 a:2 b:-4 b:0 b:1 b:2 b:3 b:4" "$(pq dw "SELECT string_agg(target || ':' || part, ' ' ORDER BY target, part) FROM zload_ledger WHERE batch_id = '$id'")" "ledger rows per target"

# A batch of one object loads whole (no split), as without parallelism.
csv_rows b/two/solo.csv 5 900000
load_one b/two solo.csv
assert_eq "a:0 b:0" "$(pq dw "SELECT string_agg(target || ':' || part, ' ' ORDER BY target, part) FROM zload_ledger WHERE batch_id = '$BATCH'")" "one object: one row 0 per target"
assert_eq null "$(tjson 't[0].get("parts")' "$BATCH")" "no parts in the result"

# Configuration errors.
bad() {
	printf '%s' "$2" >"$WS/bad.json"
	assert_exit 1 zload config put "$WS/bad.json"
	assert_contains "$ERR" "$1" "config error"
}
bad 'targets[0].parallelism: must be from 1 to 64 (got 0)' \
	'{"s3Prefix": "b/x", "targets": [{"type": "postgres", "targetTable": "t", "parallelism": 0}]}'
bad 'targets[0].parallelism: must be from 1 to 64 (got 65)' \
	'{"s3Prefix": "b/x", "targets": [{"type": "postgres", "targetTable": "t", "parallelism": 65}]}'
bad 'targets[0].parallelism: a sqlite target loads each batch in one transaction (only postgres targets load in parts)' \
	'{"s3Prefix": "b/x", "targets": [{"type": "sqlite", "path": "/tmp/x.db", "targetTable": "t", "parallelism": 2}]}'
