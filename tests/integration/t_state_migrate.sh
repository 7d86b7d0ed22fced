#!/usr/bin/env bash
# zload state migrate: a SQLite state with something of everything (complete, error, open and
# stale locked batches, a deleted batch, forgotten files, sent, failed and pending notifications,
# a sealed password) is copied into a new SQLite state and into PostgreSQL. Refused while a
# loader's lease is live (nothing written) and into a store that holds other records; a dry run
# writes nothing; a re-run changes nothing; the copy loads as the original would (re-sent events
# are duplicates, the open batch takes new files and loads, the stale batch is reclaimed), and no
# password is printed.
. "$(dirname "$0")/lib_pg.sh"

SRC="sqlite:$WS/state.db"
DST="sqlite:$WS/new/state.db"
PW=$PG_SCRAM_PW
PGURL="postgresql://loader:$PW@127.0.0.1:$PGPORT/dw?schema=zl_mig"
PGSHOWN="postgresql://loader:********@127.0.0.1:$PGPORT/dw?schema=zl_mig"

make_table t "id INTEGER, v TEXT"
make_table "$WS/other.db" t "id INTEGER, v TEXT"
pql dw "CREATE TABLE opened (id int, v text)" >/dev/null
printf '#!/bin/sh\ncat >>%s/sent.jsonl\necho >>%s/sent.jsonl\n' "$WS" "$WS" >"$WS/hook-ok.sh"
printf '#!/bin/sh\ncat >/dev/null\necho "receiver down" >&2\nexit 1\n' >"$WS/hook-fail.sh"
chmod +x "$WS/hook-ok.sh" "$WS/hook-fail.sh"

put_config done <<'EOF'
{"s3Prefix": "b/done", "batchSize": 1, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}],
 "notify": {"success": ["exec:@WS@/hook-ok.sh"]}}
EOF
put_config bad <<'EOF'
{"s3Prefix": "b/bad", "batchSize": 1, "format": {"header": true}, "maxNotifyAttempts": 1,
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "missing_t"}],
 "notify": {"failure": ["exec:@WS@/hook-fail.sh"]}}
EOF
pg_config open <<EOF
{"s3Prefix": "b/open", "batchSize": 10, "format": {"header": true}, "targets": [$(pg_target pg opened)]}
EOF
assert_contains "$OUT" "1 secret sealed" "the open batch's target password is sealed"
put_config stale <<'EOF'
{"s3Prefix": "b/stale", "batchSize": 1, "leaseSecs": 3, "format": {"header": true},
 "targets": [{"name": "other", "type": "sqlite", "path": "@WS@/other.db", "targetTable": "t"}]}
EOF

# Two complete batches (their notifications sent); the older one is deleted (its file record stays)
# and a file of the other is forgotten.
csv_rows b/done/a.csv 3
ok zload backfill b/done
gone_id=$(batch_ids --prefix b/done)
csv_rows b/done/b.csv 2 10
ok zload backfill b/done
done_id=$(batch_ids --prefix b/done --limit 1)
assert_eq 5 "$(rows t)" "rows of the complete batches"
ok zload batches delete --status complete --until "$(batch_field "$gone_id" created)" --yes
assert_eq 1 "$(batch_count --prefix b/done)" "batches of b/done after the delete"
ok zload files delete b/done/b.csv
# Two error batches, their notifications failed; one is queued again (pending) below.
csv_rows b/bad/x.csv 2
csv_rows b/bad/y.csv 1
event b bad/x.csv
assert_eq 1 "$RC" "exit code of the failed load"
event b bad/y.csv
bad_ids=$(batch_ids --prefix b/bad)
# An open batch of two files (a third one forgotten from it).
for k in o1 o2 o3; do csv_rows "b/open/$k.csv" 2 "${k#o}0"; done
event_ok b open/o1.csv open/o2.csv open/o3.csv
open_id=$(batch_ids --prefix b/open)
ok zload files delete b/open/o3.csv
assert_eq 2 "$(batch_field "$open_id" files)" "files of the open batch"
# A batch whose loader is killed while loading: locked, its lease (3 s) live for a moment.
csv_rows b/stale/k.csv 4
hold_lock "$WS/other.db"
s3_event b stale/k.csv >"$WS/stale.json"
start_bg loader "$ZLOAD" event "$WS/stale.json"
wait_for 10 log_has "$WS/loader.log" 'msg="loading batch"'
kill -KILL "$BG_PID"
wait_exit "$BG_PID" 10
release_lock "$WS/other.db"
stale_id=$(batch_ids --prefix b/stale)
owner=$(batch_field "$stale_id" owner)
until=$(batch_field "$stale_id" leaseUntil)

# While the lease is live: refused, naming the batch, its loader and the lease's end; nothing is
# written (neither the SQLite file nor the PostgreSQL schema is created).
assert_exit 1 zload state migrate --from "$SRC" --to "$DST"
assert_eq "zload: cannot migrate $SRC -> $DST: the source is in use: batch $stale_id (prefix b/stale) is locked by $owner until $until; stop the loaders (zload serve) or wait until the leases end, then run again" \
	"$ERR" "refused while a lease is live"
assert_eq "" "$OUT" "nothing on stdout when refused"
[[ ! -e $WS/new ]] || fail "a refused migrate created the destination"
assert_exit 1 zload state migrate --from "$SRC" --to "$PGURL"
assert_contains "$ERR" "zload: cannot migrate $SRC -> $PGSHOWN: the source is in use: batch $stale_id" "refused, into PostgreSQL"
assert_not_contains "$ERR" "$PW" "no password in the refusal"
assert_eq 0 "$(pq dw "SELECT count(*) FROM pg_namespace WHERE nspname = 'zl_mig'")" "no schema created when refused"

# Queue one failed notification again: pending (the migrate copies it as it is).
failed_ids=$(json "[n['id'] for n in j]" zload notifications list --status failed --json)
assert_eq 2 "$(wc -l <<<"$failed_ids")" "failed notifications"
ok zload notifications retry "$(tail -n 1 <<<"$failed_ids")"

# Once the lease has ended the batch is copied as it is. A dry run counts and writes nothing.
SUMMARY="4 configurations, 5 batches, 7 files, 3 notifications"
wait_for 10 zload state migrate --dry-run --from "$SRC" --to "$DST"
ok zload state migrate --dry-run --from "$SRC" --to "$DST"
assert_eq "would migrate $SRC -> $DST: $SUMMARY (dry run: nothing written)" "$OUT" "dry run"
[[ ! -e $WS/new ]] || fail "a dry run created the destination"

ok zload state migrate --from "$SRC" --to "$DST"
assert_eq "migrated $SRC -> $DST: $SUMMARY" "$OUT" "migrate summary"
assert_eq "" "$ERR" "migrate writes nothing on stderr"

# The destination holds every row as the source has it (files in their order within batches;
# the outbox's ids are new, in the same order).
tables() {
	sql "$1" "SELECT prefix, json FROM configs ORDER BY prefix"
	sql "$1" "SELECT * FROM batches ORDER BY id"
	sql "$1" "SELECT file_id, bucket, key, etag, prefix, size, received_at, batch_id FROM files ORDER BY batch_id, rowid"
	sql "$1" "SELECT batch_id, prefix, dest, event, subject, body, status, attempts, max_attempts, created_at, next_at,
		sent_at, lease_until, owner, last_error FROM outbox ORDER BY id"
}
assert_eq "$(tables "$WS/state.db")" "$(tables "$WS/new/state.db")" "rows of the destination"
assert_eq 7 "$(sql "$WS/new/state.db" "SELECT count(*) FROM files")" "file records in the destination"
assert_eq 1 "$(sql "$WS/new/state.db" "SELECT count(*) FROM files WHERE file_id LIKE 'b/done/b.csv#forgotten-%'")" \
	"the forgotten file's record"
assert_contains "$(sql "$WS/new/state.db" "SELECT json FROM configs WHERE prefix = 'b/open'")" '"password":"enc:local:' \
	"the password stays sealed"

# ... and the commands show the same.
same_on() {
	local to=$1 a b
	shift
	a=$(zload --state "$SRC" "$@" 2>&1)
	b=$(zload --state "$to" "$@" 2>&1)
	assert_eq "$a" "$b" "zload $* on the source and on $to"
}
compare_with() {
	local to=$1 id k
	same_on "$to" batches list --json
	same_on "$to" batches list
	for id in $(batch_ids); do same_on "$to" batches show --json "$id"; done
	assert_eq "$(json "[{k: v for k, v in n.items() if k != 'id'} for n in j]" zload --state "$SRC" notifications list --json)" \
		"$(json "[{k: v for k, v in n.items() if k != 'id'} for n in j]" zload --state "$to" notifications list --json)" \
		"notifications list --json on the source and on $to (but the ids)"
	same_on "$to" config list --json
	same_on "$to" config get b/open
	for k in done/a done/b bad/x bad/y open/o1 open/o2 open/o3 stale/k; do same_on "$to" files show --json "b/$k.csv"; done
}
compare_with "$DST"
assert_eq "failed pending sent" \
	"$(json "' '.join(sorted(n['status'] for n in j))" zload --state "$DST" notifications list --json)" "notification statuses"
assert_eq locked "$(ZLOAD_STATE=$DST batch_status "$stale_id")" "the stale batch, copied as it is"
assert_eq "$owner" "$(ZLOAD_STATE=$DST batch_field "$stale_id" owner)" "its owner"

# A re-run changes nothing.
before=$(sql "$WS/new/state.db" .dump)
ok zload state migrate --from "$SRC" --to "$DST"
assert_eq "migrated $SRC -> $DST: $SUMMARY" "$OUT" "re-run summary"
assert_eq "$before" "$(sql "$WS/new/state.db" .dump)" "a re-run changes nothing"
ok zload state migrate --json --from "$SRC" --to "$DST"
assert_eq "$SRC $DST False 4 5 7 3" \
	"$(json "' '.join(str(j[k]) for k in ['from', 'to', 'dryRun', 'configurations', 'batches', 'files', 'notifications'])" \
		zload state migrate --json --from "$SRC" --to "$DST")" "--json summary"

# A destination that holds other records is refused, naming the record, and nothing is copied.
echo '{"s3Prefix": "b/done", "batchSize": 7, "targets": [{"name": "wh", "type": "sqlite", "path": "/x.db", "targetTable": "t"}]}' >"$WS/mine.json"
ok zload --state "sqlite:$WS/mine.db" config put "$WS/mine.json"
assert_exit 1 zload state migrate --from "$SRC" --to "sqlite:$WS/mine.db"
assert_eq "zload: cannot migrate $SRC -> sqlite:$WS/mine.db: the destination has another configuration for prefix \"b/done\"" \
	"$ERR" "another configuration in the destination"
assert_eq 0 "$(ZLOAD_STATE=sqlite:$WS/mine.db batch_count)" "no batch copied into it"
assert_eq 1 "$(sql "$WS/mine.db" "SELECT count(*) FROM configs")" "its configuration only"
assert_exit 2 zload state migrate --from "$SRC"
assert_contains "$ERR" "needs --from URL and --to URL" "usage without --to"
assert_exit 2 zload state migrate --from "$SRC" --to "$SRC"
assert_contains "$ERR" "--from and --to name the same store" "the same store twice"

# Into PostgreSQL: the same records, the password never printed; a re-run changes nothing.
ok zload state migrate --from "$SRC" --to "$PGURL"
assert_eq "migrated $SRC -> $PGSHOWN: $SUMMARY" "$OUT" "migrate into PostgreSQL"
assert_not_contains "$OUT$ERR" "$PW" "no password printed"
compare_with "$PGURL"
pg_rows() { pq dw "SELECT (SELECT count(*) FROM zl_mig.configs), (SELECT count(*) FROM zl_mig.batches), (SELECT count(*) FROM zl_mig.files), (SELECT count(*) FROM zl_mig.outbox), (SELECT max(updated_at) FROM zl_mig.batches)"; }
pg_before=$(pg_rows)
ok zload state migrate --from "$SRC" --to "$PGURL"
assert_eq "migrated $SRC -> $PGSHOWN: $SUMMARY" "$OUT" "re-run into PostgreSQL"
assert_eq "$pg_before" "$(pg_rows)" "a re-run into PostgreSQL changes nothing"
# It works as a state: re-sent events are duplicates, and the event's sweep reclaims the stale
# batch (its lease has ended) and loads it.
ZLOAD_STATE=$PGURL event b done/a.csv bad/x.csv open/o1.csv
assert_eq "$(printf 'duplicate b/done/a.csv\nduplicate b/bad/x.csv\nduplicate b/open/o1.csv\nloaded batch=%s status=complete rows=4' "$stale_id")" \
	"$OUT" "re-sent events, PostgreSQL state"
assert_eq 4 "$(rows t "$WS/other.db")" "rows of the stale batch, loaded from the PostgreSQL copy"

# The copy loads as the source would: re-sent events are duplicates (also of the deleted batch),
# the open batch takes a new file and loads (its sealed password opens), and serve reclaims the
# stale batch and loads it, and loads the forgotten file again.
export ZLOAD_STATE=$DST
s3_event b done/a.csv bad/x.csv open/o1.csv stale/k.csv >"$WS/again.json"
ok zload event --no-load "$WS/again.json"
assert_eq "$(printf 'duplicate b/done/a.csv\nduplicate b/bad/x.csv\nduplicate b/open/o1.csv\nduplicate b/stale/k.csv')" "$OUT" \
	"re-sent events"
csv_rows b/open/o4.csv 3 40
s3_event b open/o4.csv >"$WS/o4.json"
ok zload event --no-load "$WS/o4.json"
assert_eq "queued b/open/o4.csv batch=$open_id" "$OUT" "a new file joins the copied open batch"
ok zload flush b/open
assert_contains "$OUT" "loaded batch=$open_id status=complete rows=7" "flush of the copied open batch"
assert_eq 7 "$(pg_count opened)" "rows of the open batch"
assert_eq 3 "$(batch_field "$open_id" files)" "files of the loaded batch"
start_serve serve --exit-when-idle 1
wait_exit "$SERVE_PID" 30
assert_eq 0 "$RC" "serve --exit-when-idle on the destination"
# (the PostgreSQL copy loaded it already: the target's ledger has the batch, so it is not loaded twice)
assert_eq complete "$(batch_status "$stale_id")" "the stale batch, reclaimed and loaded"
assert_eq "batch already in the target's ledger: not loaded again" \
	"$(json "j['result']['targets'][0]['note']" zload batches show --json "$stale_id")" "the ledger keeps it once"
assert_eq 4 "$(rows t "$WS/other.db")" "rows of the stale batch"
again=$(json "j['batch']" zload files show --json b/done/b.csv)
[[ $again != "$done_id" ]] || fail "the forgotten file is still in its old batch"
assert_eq complete "$(batch_status "$again")" "the forgotten file, loaded again"
assert_eq 7 "$(rows t)" "rows of b/done after the forgotten file loaded again"

# The source is as it was.
assert_eq locked "$(ZLOAD_STATE=$SRC batch_status "$stale_id")" "the source's stale batch"
assert_eq open "$(ZLOAD_STATE=$SRC batch_status "$open_id")" "the source's open batch"
