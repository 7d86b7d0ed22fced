#!/usr/bin/env bash
# Repair commands: batches reprocess (complete: the ledger skips it; open: refused; error: loads
# after the cause is fixed), batches unlock, batches delete, files delete, and the filters of
# batches list.
. "$(dirname "$0")/lib.sh"

make_table t "id INTEGER, v TEXT"
put_config ok <<'EOF2'
{"s3Prefix": "b/ok", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
put_config open <<'EOF2'
{"s3Prefix": "b/open", "batchSize": 10, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
put_config late <<'EOF2'
{"s3Prefix": "b/late", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "late", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "late_t"}]}
EOF2
put_config two <<'EOF2'
{"s3Prefix": "b/two", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "first", "type": "sqlite", "path": "@WS@/first.db", "targetTable": "t"},
             {"name": "second", "type": "sqlite", "path": "@WS@/second.db", "targetTable": "t"}]}
EOF2
put_config lock <<'EOF2'
{"s3Prefix": "b/lock", "batchSize": 1, "leaseSecs": 600, "format": {"header": true},
 "targets": [{"name": "other", "type": "sqlite", "path": "@WS@/other.db", "targetTable": "t"}]}
EOF2
csv_rows b/ok/a.csv 5
csv_rows b/open/o.csv 2
csv_rows b/late/l.csv 3
csv_rows b/lock/k.csv 4
csv_rows b/two/w.csv 6

# Reprocess a complete batch: the target's ledger has it, so nothing loads again.
event_ok b ok/a.csv
done_id=$(batch_ids --prefix b/ok)
assert_eq 5 "$(rows t)" "rows after the first load"
ok zload batches reprocess "$done_id"
assert_eq "loaded batch=$done_id status=complete rows=0" "$OUT" "reprocess of a complete batch"
assert_eq 5 "$(rows t)" "rows after reprocessing a complete batch"
assert_eq complete "$(batch_status "$done_id")" "status after reprocess"
assert_eq "batch already in the target's ledger: not loaded again" \
	"$(json "j['result']['targets'][0]['note']" zload batches show --json "$done_id")" "per-target note"

# Reprocess an open batch: refused.
event_ok b open/o.csv
open_id=$(batch_ids --prefix b/open)
assert_eq "queued b/open/o.csv batch=$open_id" "$OUT" "queued in an open batch"
assert_exit 1 zload batches reprocess "$open_id"
assert_eq "zload: batch $open_id is open: only complete or error batches can be reprocessed" "$ERR" "reprocess of an open batch"
assert_eq "" "$OUT" "no output on stdout"
assert_eq open "$(batch_status "$open_id")" "still open"
assert_exit 1 zload batches reprocess 01a00000-0000-7000-8000-000000000000
assert_eq 'zload: no batch "01a00000-0000-7000-8000-000000000000"' "$ERR" "reprocess of an unknown batch"

# A batch that failed (target table missing) loads once the table exists.
event b late/l.csv
late_id=$(batch_ids --prefix b/late)
assert_eq 1 "$RC" "exit code of a failed load"
assert_eq "$(printf 'queued b/late/l.csv batch=%s\nloaded batch=%s status=error rows=0 error=target late: no such table: late_t' "$late_id" "$late_id")" "$OUT" "failed load"
assert_eq error "$(batch_status "$late_id")" "status of the failed batch"
assert_eq "target late: no such table: late_t" "$(batch_field "$late_id" error)" "error of the failed batch"
make_table late_t "id INTEGER, v TEXT"
ok zload batches reprocess "$late_id"
assert_eq "loaded batch=$late_id status=complete rows=3" "$OUT" "reprocess after creating the table"
assert_eq complete "$(batch_status "$late_id")" "status after the repair"
assert_eq null "$(batch_field "$late_id" error)" "error cleared"
assert_eq 1 "$(batch_field "$late_id" attempts)" "attempts restart at 1 on reprocess"
assert_eq 3 "$(rows late_t)" "rows after the repair"

# Two targets, one fails (its database file does not exist yet: an error naming it, and the file
# is not created): the batch is in error; reprocess loads only the failed target (the other's
# ledger has the batch).
make_table "$WS/first.db" t "id INTEGER, v TEXT"
event b two/w.csv
two_id=$(batch_ids --prefix b/two)
assert_eq 1 "$RC" "exit code with one failed target"
assert_eq "loaded batch=$two_id status=error rows=6 error=target second: sqlite target: database file \"$WS/second.db\" does not exist" "$(tail -n 1 <<<"$OUT")" "one target failed"
assert_eq "first:complete:6 second:error:0" \
	"$(json "' '.join(f\"{t['name']}:{t['status']}:{t['rows']}\" for t in j['result']['targets'])" zload batches show --json "$two_id")" "per-target results"
assert_eq 1 "$(batch_field "$two_id" attempts)" "a missing database file is not retried"
assert_eq 6 "$(rows t "$WS/first.db")" "rows of the first target"
[[ ! -e $WS/second.db ]] || fail "the second target's database file was created"
make_table "$WS/second.db" t "id INTEGER, v TEXT"
ok zload batches reprocess "$two_id"
assert_eq "loaded batch=$two_id status=complete rows=6" "$OUT" "reprocess with one target already loaded"
assert_eq "first:complete:0 second:complete:6" \
	"$(json "' '.join(f\"{t['name']}:{t['status']}:{t['rows']}\" for t in j['result']['targets'])" zload batches show --json "$two_id")" "per-target results after reprocess"
assert_eq "batch already in the target's ledger: not loaded again" \
	"$(json "j['result']['targets'][0]['note']" zload batches show --json "$two_id")" "the loaded target is skipped"
assert_eq "6 6" "$(rows t "$WS/first.db") $(rows t "$WS/second.db")" "each target holds the rows once"

# Unlock: a loader is killed while it holds the lock (its target is write-locked, so it waits);
# with a 600 s lease nobody reclaims the batch. unlock refuses while the lease is live, naming its
# holder and until when; --force returns it to open.
make_table "$WS/other.db" t "id INTEGER, v TEXT"
hold_lock "$WS/other.db"
s3_event b lock/k.csv >"$WS/lock.json"
start_bg loader "$ZLOAD" event "$WS/lock.json"
wait_for 10 log_has "$WS/loader.log" 'msg="loading batch"'
kill -KILL "$BG_PID"
wait_exit "$BG_PID" 10
release_lock "$WS/other.db"
lock_id=$(batch_ids --prefix b/lock)
assert_eq locked "$(batch_status "$lock_id")" "status after the loader died"
owner=$(batch_field "$lock_id" owner)
until=$(batch_field "$lock_id" leaseUntil)
assert_exit 1 zload batches unlock "$lock_id"
assert_eq "zload: batch $lock_id is locked by $owner until $until: its loader may still be loading it; use --force to unlock it anyway" "$ERR" "unlock of a live lease"
assert_eq locked "$(batch_status "$lock_id")" "still locked"
ok zload batches unlock --force "${lock_id:0:20}"
assert_eq "unlocked batch $lock_id: it is open again and loads at the next sweep" "$OUT" "unlock output (abbreviated id)"
assert_eq open "$(batch_status "$lock_id")" "status after unlock"
assert_eq null "$(batch_field "$lock_id" owner)" "owner after unlock"
assert_exit 1 zload batches unlock "$lock_id"
assert_eq "zload: batch $lock_id is open, not locked" "$ERR" "unlock of an open batch"
assert_exit 1 zload batches unlock "$done_id"
assert_eq "zload: batch $done_id is complete, not locked" "$ERR" "unlock of a complete batch"
assert_eq complete "$(batch_status "$done_id")" "a complete batch stays complete"
ok zload flush b/lock
assert_eq "loaded batch=$lock_id status=complete rows=4" "$OUT" "the unlocked batch loads"
assert_eq 4 "$(rows t "$WS/other.db")" "rows of the unlocked batch"

# files delete: the next event for the file loads it again.
ok zload files delete b/ok/a.csv
assert_eq "forgot file b/ok/a.csv: its next event will load it again" "$OUT" "files delete output"
assert_exit 1 zload files show b/ok/a.csv
assert_exit 1 zload files delete b/ok/a.csv
assert_eq 'zload: no file record "b/ok/a.csv"' "$ERR" "files delete of a forgotten file"
event_ok b ok/a.csv
again_id=$(batch_ids --prefix b/ok | head -n 1)
[[ $again_id != "$done_id" ]] || fail "the file was queued in its old batch"
assert_eq "$(printf 'queued b/ok/a.csv batch=%s\nloaded batch=%s status=complete rows=5' "$again_id" "$again_id")" "$OUT" "event after files delete"
assert_eq 10 "$(rows t)" "rows after loading the forgotten file again"

# batches delete: a dry run without --yes, then --yes.
complete_ids=$(batch_ids --status complete)
assert_eq 5 "$(wc -l <<<"$complete_ids")" "complete batches"
ok zload batches delete --status complete
expected=$(for id in $complete_ids; do
	printf 'would delete %s complete %s\n' "$id" "$(json "j['prefix']" zload batches show --json "$id")"
done)
assert_eq "$expected
5 batches would be deleted; run again with --yes to delete" "$OUT" "dry run output"
assert_eq 5 "$(batch_count --status complete)" "the dry run deletes nothing"
assert_exit 2 zload batches delete --status open
assert_eq "$(printf 'zload batches delete: --status: "open" is not one of complete, error\nTry '"'"'zload batches delete --help'"'"'.')" "$ERR" "--status open"
assert_exit 2 zload batches delete
assert_contains "$ERR" "--status complete|error is required" "delete without --status"
ok zload batches delete --status complete --yes
assert_eq "${expected//would delete/deleted}
5 batches deleted" "$OUT" "delete output"
assert_eq 0 "$(batch_count --status complete)" "complete batches after delete"
assert_eq "[]" "$(zload batches list --status complete --json)" "list --status complete --json after delete"
assert_eq 1 "$(batch_count)" "the open batch is left"
ok zload files show b/late/l.csv
assert_contains "$OUT" "status    (batch deleted)" "a file whose batch was deleted"

# batches list filters: --prefix, --status, --since and --until (ISO-8601 and Unix seconds).
event_ok b late/l.csv
assert_eq "duplicate b/late/l.csv" "$OUT" "a file record outlives its deleted batch"
csv_rows b/open/p.csv 1
event_ok b open/p.csv # joins the open batch
a_id=$open_id
a_created=$(batch_field "$a_id" created)
a_ms=$("$PYTHON" -c 'import datetime,sys; print(int(datetime.datetime.fromisoformat(sys.argv[1].replace("Z","+00:00")).timestamp()*1000))' "$a_created")
s=$((a_ms / 1000 + 1))
wait_for 3 test "$(now_ms)" -gt $((s * 1000)) # the next batch is created in a later second
ok zload batches delete --status complete --yes
ok zload files delete b/ok/a.csv
event_ok b ok/a.csv
b_id=$(batch_ids --prefix b/ok)
assert_eq "$(printf '%s\n%s' "$b_id" "$a_id")" "$(batch_ids)" "all batches, newest first"
assert_eq "$a_id" "$(batch_ids --prefix b/open)" "--prefix b/open"
assert_eq "$b_id" "$(batch_ids --prefix b/ok)" "--prefix b/ok"
assert_eq "" "$(batch_ids --prefix b/none)" "--prefix with no batch"
assert_eq "$a_id" "$(batch_ids --status open)" "--status open"
assert_eq "$b_id" "$(batch_ids --status complete)" "--status complete"
assert_eq "" "$(batch_ids --status error)" "--status error"
assert_eq "$b_id" "$(batch_ids --since "$s")" "--since Unix seconds"
assert_eq "$b_id" "$(batch_ids --since "$(date -u -d "@$s" +%Y-%m-%dT%H:%M:%SZ)")" "--since ISO-8601"
assert_eq "$b_id" "$(batch_ids --since "$(date -u -d "@$s" +%Y-%m-%dT%H:%M:%S+00:00)")" "--since ISO-8601 with an offset"
assert_eq "$a_id" "$(batch_ids --until "$a_created")" "--until the first batch's creation time"
assert_eq "$a_id" "$(batch_ids --until "$((a_ms / 1000)).$(printf '%03d' $((a_ms % 1000)))")" "--until Unix seconds with a fraction"
assert_eq "$(printf '%s\n%s' "$b_id" "$a_id")" "$(batch_ids --since "$a_created")" "--since is inclusive"
assert_eq "" "$(batch_ids --since "$s" --prefix b/open)" "--since and --prefix"
assert_eq "$a_id" "$(batch_ids --until "$s" --status open)" "--until and --status"
assert_eq "$b_id" "$(batch_ids --limit 1)" "--limit 1"
assert_exit 2 zload batches list --since yesterday
assert_contains "$ERR" '--since: "yesterday" is not an ISO-8601 time or Unix seconds' "bad --since"
assert_exit 2 zload batches list --status 'done'
assert_contains "$ERR" '--status: "done" is not one of open, locked, complete, error' "bad --status"
