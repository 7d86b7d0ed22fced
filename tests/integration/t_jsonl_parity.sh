#!/usr/bin/env bash
# JSON lines mean the same in every target: one configuration loads the same objects into a SQLite
# and a PostgreSQL target. Blank and whitespace-only lines are skipped by both (same row counts,
# same values); a line that is not a JSON object, and a line with invalid UTF-8, fail the batch in
# both with the same "OBJECT line N: ..." message (both read lines with zload's own reader).
. "$(dirname "$0")/lib_pg.sh"

make_table j "id INTEGER, name TEXT, score REAL"
pql dw "CREATE TABLE j (id int, name text, score double precision)" >/dev/null
pg_config json <<EOF
{"s3Prefix": "b/j", "format": {"type": "jsonl"},
 "targets": [{"name": "lite", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "j"},
             $(pg_target pg public.j)]}
EOF
results() { tjson '" ".join("%s:%s:%s" % (x["name"], x["status"], x["rows"]) for x in t)' "$1"; }
both_rows() { echo "$(rows j) $(pg_count j)"; }
sq_values() { sql "$WH" "SELECT group_concat(id || ':' || ifnull(name, '-') || ':' || ifnull(score, '-'), ' ') FROM (SELECT * FROM j ORDER BY id)"; }
pg_values() { pq dw "SELECT string_agg(id || ':' || coalesce(name, '-') || ':' || coalesce(score::text, '-'), ' ' ORDER BY id) FROM j"; }

# Blank lines, whitespace-only lines (spaces, a tab, a lone CR), CRLF endings, a CR between tokens.
printf '%b' '{"id": 1, "name": "one", "score": 1.5}\n\n   \n{"id": 2}\r\n\t\n \r\n{"id": 3, "name": "th\\u00e9", "extra": [1]}\n{"id": 4,\r "name": "four"}\n\n' |
	write_file b/j/blank.jsonl
load_one b/j blank.jsonl
id=$BATCH
assert_eq "loaded batch=$id status=complete rows=8" "$OUT" "blank lines: flush [$ERR]"
assert_eq "lite:complete:4 pg:complete:4" "$(results "$id")" "blank lines: rows per target"
assert_eq "4 4" "$(both_rows)" "blank lines: rows in each table"
assert_eq "1:one:1.5 2:-:- 3:thé:- 4:four:-" "$(sq_values)" "blank lines: SQLite values"
assert_eq "$(sq_values)" "$(pg_values)" "blank lines: the same values in PostgreSQL"

# Many lines across the readers' buffers, a blank line after every seventh: exact counts in both.
awk 'BEGIN { for (i = 100; i < 30100; i++) { printf "{\"id\": %d, \"name\": \"row %d with some padding to cross buffers\"}\n", i, i; if (i % 7 == 0) print "  " } }' |
	write_file b/j/many.jsonl
load_one b/j many.jsonl
id=$BATCH
assert_eq "loaded batch=$id status=complete rows=60000" "$OUT" "many lines: flush [$ERR]"
assert_eq "lite:complete:30000 pg:complete:30000" "$(results "$id")" "many lines: rows per target"
assert_eq "30004 30004" "$(both_rows)" "many lines: rows in each table"
assert_eq "$(sql "$WH" "SELECT sum(id) FROM j WHERE name LIKE 'row ' || id || ' %'")" "$(pq dw "SELECT sum(id) FROM j WHERE name LIKE 'row ' || id || ' %'")" "many lines: the same rows"

# expect_same_error KEY MESSAGE: the batch of KEY fails in both targets with MESSAGE, nothing loaded.
expect_same_error() {
	local before
	before=$(both_rows)
	load_one b/j "$1"
	assert_eq 1 "$RC" "$1: exit code [$OUT] [$ERR]"
	assert_eq error "$(batch_status "$BATCH")" "$1: batch status"
	assert_eq "lite:error:0 pg:error:0" "$(results "$BATCH")" "$1: both targets failed"
	assert_eq "$2" "$(tjson 't[0]["error"]' "$BATCH")" "$1: SQLite's error"
	assert_eq "$2" "$(tjson 't[1]["error"]' "$BATCH")" "$1: PostgreSQL's error"
	assert_eq "target lite: $2; target pg: $2" "$(batch_field "$BATCH" error)" "$1: batch error"
	assert_eq 1 "$(batch_field "$BATCH" attempts)" "$1: not retried"
	assert_eq "$before" "$(both_rows)" "$1: nothing loaded"
}

printf '%b' '{"id": 10}\n  \n[1, 2]\n{"id": 11}\n' | write_file b/j/array.jsonl
expect_same_error array.jsonl "b/j/array.jsonl line 3: expected a JSON object"
printf '%b' '{"id": 12}\n\n\n"just a string"\n' | write_file b/j/string.jsonl
expect_same_error string.jsonl "b/j/string.jsonl line 4: expected a JSON object"
printf '%b' '{"id": 13}\n{"id": 14, "name": "bad \xff byte"}\n' | write_file b/j/utf8.jsonl
expect_same_error utf8.jsonl "b/j/utf8.jsonl line 2: invalid JSON: unable to decode byte 0xff near '\"bad '"
printf '%b' '{"id": 15}\n\t\n{"id": 16,}\n' | write_file b/j/syntax.jsonl
expect_same_error syntax.jsonl "b/j/syntax.jsonl line 3: invalid JSON: string or '}' expected near '}'"
