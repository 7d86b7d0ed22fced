#!/usr/bin/env bash
# The dir: store stays inside its root. A symbolic link leading outside it, to a file or to a
# directory, is refused with a message naming the key by an event (at claim time: nothing recorded), by backfill
# (listed as refused: exit 1) and by serve (start-up scan and live); no row of the CSVs outside
# loads. Links that stay inside the root load.
. "$(dirname "$0")/lib.sh"

refused=': refused: a symbolic link leads outside the store root'
make_table t "id INTEGER, v TEXT"
mkdir -p "$WS/outside/dir"
awk 'BEGIN { print "id,v"; for (i = 900; i < 903; i++) print i ",secret" }' >"$WS/outside/secret.csv"
awk 'BEGIN { print "id,v"; for (i = 910; i < 912; i++) print i ",secret" }' >"$WS/outside/dir/x.csv"
start=1
for b in ev bf sv; do
	put_config "$b" <<EOF
{"s3Prefix": "$b/in", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF
	csv_rows "$b/keep/real.csv" 2 "$start"
	mkdir -p "$STORE/$b/in"
	ln -s "$WS/outside/secret.csv" "$STORE/$b/in/out.csv"
	ln -s "$WS/outside/dir" "$STORE/$b/in/outdir"
	start=$((start + 10))
done
ln -s ../keep/real.csv "$STORE/ev/in/ok.csv"        # relative, inside
ln -s ../keep/real.csv "$STORE/bf/in/ok.csv"
ln -s "$STORE/sv/keep/real.csv" "$STORE/sv/in/ok.csv" # absolute, inside
csv_rows bf/in/plain.csv 3 100
csv_rows sv/in/plain.csv 3 200
secret_rows() { sql "$WH" 'SELECT count(*) FROM t WHERE id >= 900'; }

# Events: the object is refused when it is claimed (nothing recorded, no batch poisoned).
event ev in/out.csv
assert_eq 1 "$RC" "event for a link to a file outside: exit code"
assert_eq "" "$OUT" "event for a link to a file outside: nothing queued"
assert_contains "$ERR" "msg=\"object refused\" bucket=ev key=in/out.csv error=\"ev/in/out.csv$refused\"" "event: the refusal names the key"
assert_exit 1 zload files show ev/in/out.csv
assert_eq 0 "$(batch_count --prefix ev/in)" "no batch for a refused object"
event ev in/outdir/x.csv
assert_eq 1 "$RC" "event under a link to a directory outside: exit code"
assert_contains "$ERR" "error=\"ev/in/outdir/x.csv$refused\"" "event under a link to a directory outside"
event_ok ev in/ok.csv
assert_contains "$OUT" "status=complete rows=2" "event for a link inside"
assert_eq 0 "$(secret_rows)" "rows from outside after the events"
assert_eq 2 "$(rows t)" "rows after the events"

# Backfill: refused entries are reported and counted, the rest loads.
assert_exit 1 zload backfill bf/in
assert_contains "$ERR" "msg=\"object refused\" bucket=bf key=in/out.csv error=\"bf/in/out.csv$refused\"" "backfill: file link"
assert_contains "$ERR" "msg=\"object refused\" bucket=bf key=in/outdir error=\"bf/in/outdir$refused\"" "backfill: directory link"
assert_contains "$OUT" "listed 2, queued 2, already known 0, not routed or filtered 0, refused 2" "backfill summary"
assert_eq 2 "$(grep -c 'status=complete' <<<"$OUT")" "backfill loads the two objects inside"
assert_eq 0 "$(secret_rows)" "rows from outside after backfill"
assert_eq 7 "$(rows t)" "rows after backfill"

# Serve: the start-up scan, then links made while it runs.
start_serve serve --exit-when-idle 3
wait_for 15 log_has "$WS/serve.log" "sv/in/outdir$refused"
wait_for 15 log_has "$WS/serve.log" "sv/in/out.csv$refused"
ln -s "$WS/outside/secret.csv" "$STORE/sv/in/late.csv"
ln -s "$WS/outside/dir" "$STORE/sv/in/latedir"
wait_for 15 log_has "$WS/serve.log" "sv/in/late.csv$refused"
wait_for 15 log_has "$WS/serve.log" "sv/in/latedir$refused"
wait_exit "$SERVE_PID" 30
assert_eq 0 "$RC" "serve exit code"
log=$(<"$WS/serve.log")
assert_contains "$log" "msg=\"object refused\" bucket=sv key=in/out.csv error=\"sv/in/out.csv$refused\"" "serve: scan, file link"
assert_contains "$log" "msg=\"object refused\" bucket=sv key=in/outdir error=\"sv/in/outdir$refused\"" "serve: scan, directory link"
assert_not_contains "$log" "outdir/x.csv" "serve never looks inside a linked directory"
assert_eq 0 "$(secret_rows)" "rows from outside after serve"
assert_eq 12 "$(rows t)" "rows after serve (the inside link and plain.csv)"
assert_eq "$(printf '21\n22\n200\n201\n202')" "$(sql "$WH" 'SELECT id FROM t WHERE id BETWEEN 21 AND 29 OR id BETWEEN 200 AND 299 ORDER BY id')" "rows serve loaded"
assert_exit 1 zload files show sv/in/out.csv
assert_exit 1 zload files show bf/in/out.csv
