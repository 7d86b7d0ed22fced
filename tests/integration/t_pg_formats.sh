#!/usr/bin/env bash
# Formats into PostgreSQL: CSV with a header (in table order and in another order), without one
# (table order), with a `columns` subset, with escape '\' and null "NA"; PostgreSQL text format;
# JSON lines; gzip, zstd and bzip2 files by extension and by magic bytes alone.
. "$(dirname "$0")/lib_pg.sh"

pql dw "
CREATE TABLE t_hdr (id int, v text, n numeric);
CREATE TABLE t_order (id int, v text, n numeric);
CREATE TABLE t_nohdr (id int, v text, n numeric);
CREATE TABLE t_sub (id int, v text, extra text DEFAULT 'dflt', at timestamptz DEFAULT now());
CREATE TABLE t_esc (id int, v text, n text);
CREATE TABLE t_text (id int, v text, n numeric);
CREATE TABLE t_json (id int, v text, n numeric, tags jsonb);
CREATE TABLE t_comp (id int, v text);
CREATE TABLE t_dot (id int, \"a.b\" text);" >/dev/null

cfg() { # cfg NAME TABLE FORMAT [TARGET EXTRA]
	pg_config "$1" <<EOF
{"s3Prefix": "b/$1", "batchSize": 100, "format": $3, "targets": [$(pg_target pg "$2" dw loader "$PG_SCRAM_PW" "${4:-}")]}
EOF
}
# rowsof TABLE: the table as "id|v|n" lines ordered by id, NULL shown as <null>.
rowsof() { printf '%s;' "$(psql -X -q -A -t -R ';' -P null='<null>' -h "$PGDIR" -p "$PGPORT" -U postgres -d dw -c "SELECT * FROM $1 ORDER BY 1")"; }
loaded() { # loaded PREFIX KEY... : load_one and assert it completed
	load_one "$@"
	[[ $RC == 0 && $OUT == "loaded batch=$BATCH status=complete"* ]] || fail "load of $*: exit $RC [$OUT] [$ERR]"
	assert_eq complete "$(batch_status "$BATCH")" "status of the batch of $*"
}

# CSV, header in table order; quoted fields with delimiter, quote and newline; empty = NULL.
cfg hdr t_hdr '{"type": "csv", "header": true}'
printf 'id,v,n\n1,plain,1.5\n2,"with, comma",\n3,"say ""hi""",3\n4,"two\nlines",4\n5,,5\n' | write_file b/hdr/a.csv
loaded b/hdr a.csv
assert_eq "rows=5" "${OUT##* }" "csv with header: rows"
assert_eq '1|plain|1.5;2|with, comma|<null>;3|say "hi"|3;4|two
lines|4;5|<null>|5;' "$(rowsof t_hdr)" "csv with header: values"

# The header names the columns: a file whose header has another order loads by name.
cfg order t_order '{"type": "csv", "header": true}'
printf 'n,id,v\n1.5,1,x\n2.5,2,y\n' | write_file b/order/a.csv
load_one b/order a.csv
assert_eq '1|x|1.5;2|y|2.5;' "$(rowsof t_order)" "csv header in another order than the table (status: $(batch_status "$BATCH"), $OUT)"

assert_contains "$(tjson 't[0]["statements"][0]' "$BATCH")" 'COPY "t_order" ("n", "id", "v") FROM STDIN' "the header became the column list"
# Names match the table's ignoring case; a byte order mark and CRLF line ends are fine; a header
# may name fewer columns than the table has.
printf '\xef\xbb\xbfID,V\r\n3,z\r\n' | write_file b/order/b.csv
loaded b/order b.csv
assert_eq '1|x|1.5;2|y|2.5;3|z|<null>;' "$(rowsof t_order)" "header with a BOM, other case and CRLF"
# A header naming a column the table lacks: the batch fails and says which.
printf 'id,nope\n4,w\n' | write_file b/order/c.csv
load_one b/order c.csv
assert_eq error "$(batch_status "$BATCH")" "header naming an unknown column"
assert_contains "$(tjson 't[0]["error"]' "$BATCH")" 'column "nope" of relation "t_order" does not exist' "unknown header column: error"
# Header names are read by the row reader with the CSV rules (quotes, a doubled quote); a header
# longer than one read (100 KiB) is read whole; one longer than the read-ahead buffer (256 KiB) is
# refused with the object's name.
printf '"n","I""D"\n7,8\n' | write_file b/order/q.csv
load_one b/order q.csv
assert_contains "$(tjson 't[0]["error"]' "$BATCH")" 'column "I"D" of relation "t_order" does not exist' "quoted header name with a doubled quote"
assert_contains "$(tjson 't[0]["statements"][0]' "$BATCH")" 'COPY "t_order" ("n", "I""D") FROM STDIN' "quoted header names"
{ printf 'id,"v'; head -c 300000 /dev/zero | tr '\0' x; printf '"\n1,a\n'; } | write_file b/order/long.csv
load_one b/order long.csv
assert_eq error "$(batch_status "$BATCH")" "header longer than the read-ahead buffer"
assert_eq "b/order/long.csv: the header line is longer than 262144 bytes" "$(tjson 't[0]["error"]' "$BATCH")" "header longer than the read-ahead buffer: error"
{ printf 'id,"V'; printf '%*s' 100000 '' | tr ' ' -; printf '"\n9,w\n'; } | write_file b/order/wide.csv
load_one b/order wide.csv
assert_contains "$(tjson 't[0]["error"]' "$BATCH")" 'column "V----' "a 100 KiB header is read whole"

# A column whose name holds a dot is one column, in a header and in "columns" (not "a"."b"),
# in CSV and JSON lines.
cfg dot t_dot '{"type": "csv", "header": true}'
printf 'id,a.b\n1,x\n' | write_file b/dot/a.csv
loaded b/dot a.csv
assert_contains "$(tjson 't[0]["statements"][0]' "$BATCH")" 'COPY "t_dot" ("id", "a.b") FROM STDIN' "a dotted header name"
cfg dotcols t_dot '{"type": "csv"}' '"columns": ["a.b", "id"]'
printf 'y,2\n' | write_file b/dotcols/a.csv
loaded b/dotcols a.csv
cfg dotjson t_dot '{"type": "jsonl"}' '"columns": ["id", "a.b"]'
printf '{"id": 3, "a.b": "z"}\n' | write_file b/dotjson/a.jsonl
loaded b/dotjson a.jsonl
assert_eq '1|x;2|y;3|z;' "$(rowsof t_dot)" "dotted column names"

# No header: fields in table order.
cfg nohdr t_nohdr '{"type": "csv", "header": false, "delimiter": ";"}'
printf '1;a;10\n2;b;20\n3;;\n' | write_file b/nohdr/a.csv
loaded b/nohdr a.csv
assert_eq '1|a|10;2|b|20;3|<null>|<null>;' "$(rowsof t_nohdr)" "csv without header: table order"

# columns: a subset in another order; the other columns take their defaults.
cfg sub t_sub '{"type": "csv"}' '"columns": ["v", "id"]'
printf 'x,1\ny,2\n' | write_file b/sub/a.csv
loaded b/sub a.csv
assert_eq '1|x|dflt;2|y|dflt;' "$(psql -X -q -A -t -h "$PGDIR" -p "$PGPORT" -U postgres -d dw -c 'SELECT id, v, extra FROM t_sub WHERE at IS NOT NULL ORDER BY 1' | tr '\n' ';')" "columns subset"
assert_contains "$(tjson 't[0]["statements"][0]' "$BATCH")" 'COPY "t_sub" ("v", "id") FROM STDIN' "columns subset: the COPY names them"

# CSV with escape '\' and null "NA" (an empty field is then an empty string, NA a NULL, "NA" text).
cfg esc t_esc '{"type": "csv", "header": true, "quote": "\"", "escape": "\\", "null": "NA"}'
printf 'id,v,n\n1,"he said \\"hi\\"",NA\n2,,"NA"\n3,"back\\\\slash",x\n' | write_file b/esc/a.csv
loaded b/esc a.csv
assert_eq '1|he said "hi"|<null>;2||NA;3|back\slash|x;' "$(rowsof t_esc)" "csv with escape and null"
assert_eq 1 "$(pq dw "SELECT count(*) FROM t_esc WHERE v = '' AND id = 2")" "csv with null NA: an empty field is an empty string"

# PostgreSQL text format: tab-delimited, \N is NULL, backslash escapes.
cfg text t_text '{"type": "text"}'
printf '1\tone\t1\n2\t\\N\t\\N\n3\ta\\tb\t3.25\n4\tback\\\\slash\t4\n' | write_file b/text/a.txt
loaded b/text a.txt
assert_eq "$(printf '1|one|1;2|<null>|<null>;3|a\tb|3.25;4|back\\slash|4;')" "$(rowsof t_text)" "text format"

# JSON lines: unknown keys ignored, missing keys NULL, blank lines skipped, nested values kept.
cfg json t_json '{"type": "jsonl"}'
printf '%s\n' '{"id": 1, "v": "one", "n": 1.5, "unknown": true}' '' '{"id": 2}' \
	'{"v": "quote \" and \u00e9 and \\", "id": 3, "tags": {"a": [1, 2]}}' '' '{"id": 4, "n": null, "v": null}' '' \
	| write_file b/json/a.jsonl
loaded b/json a.jsonl
assert_eq "rows=4" "${OUT##* }" "jsonl: rows"
assert_eq '1|one|1.5|<null>;2|<null>|<null>|<null>;3|quote " and é and \|<null>|{"a": [1, 2]};4|<null>|<null>|<null>;' "$(rowsof t_json)" "jsonl values"
assert_eq 4 "$(tjson 't[0]["objects"][0]["rows"]' "$BATCH")" "jsonl: rows of the object"

# Compression: by extension (.gz .zst .bz2) and by magic bytes alone (no extension), plus a plain
# file, all in one batch.
cfg comp t_comp '{"type": "csv", "header": true, "compression": "auto"}'
gen() { awk -v s="$1" -v n="$2" 'BEGIN { print "id,v"; for (i = s; i < s + n; i++) print i ",row " i }'; }
mkdir -p "$STORE/b/comp"
gen 1 1000 | gzip -c >"$STORE/b/comp/a.csv.gz"
gen 1001 1000 | zstd -q -c >"$STORE/b/comp/b.csv.zst"
gen 2001 1000 | bzip2 -c >"$STORE/b/comp/c.csv.bz2"
gen 3001 500 | gzip -c >"$STORE/b/comp/d-gzip-no-extension"
gen 3501 500 | zstd -q -c >"$STORE/b/comp/e-zstd-no-extension"
gen 4001 500 | bzip2 -c >"$STORE/b/comp/f-bzip2-no-extension"
gen 4501 10 >"$STORE/b/comp/g.csv"
loaded b/comp a.csv.gz b.csv.zst c.csv.bz2 d-gzip-no-extension e-zstd-no-extension f-bzip2-no-extension g.csv
assert_eq "rows=4510" "${OUT##* }" "compressed files: rows"
assert_eq "4510 4510 1 4510" "$(pq dw "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || min(id) || ' ' || max(id) FROM t_comp")" "compressed files: ids"
assert_eq 0 "$(pq dw "SELECT count(*) FROM t_comp WHERE v <> 'row ' || id")" "compressed files: values"
assert_eq "$(printf 'comp/a.csv.gz=1000\ncomp/b.csv.zst=1000\ncomp/c.csv.bz2=1000\ncomp/d-gzip-no-extension=500\ncomp/e-zstd-no-extension=500\ncomp/f-bzip2-no-extension=500\ncomp/g.csv=10')" \
	"$(tjson '[o["key"] + "=" + str(o["rows"]) for o in t[0]["objects"]]' "$BATCH")" "compressed files: rows per object"

# compression "gzip" forced on a file without any extension.
cfg gz t_comp '{"type": "csv", "header": true, "compression": "gzip"}'
gen 9001 7 | gzip -c | write_file b/gz/plainname
loaded b/gz plainname
assert_eq 7 "$(pq dw "SELECT count(*) FROM t_comp WHERE id > 9000")" "compression gzip forced"
