#!/usr/bin/env bash
# Concurrent webhook requests share group commits on PostgreSQL state, and a group that fails
# still answers each request for itself. 20 POSTs sent at once while another session holds the
# prefix's claim lock pile up and are claimed in at most 3 groups; in that group the database
# refuses one key (a trigger raising an error) and kills the group's connection once (a trigger
# terminating its own backend): the request holding the refused key alone is 503 (its other
# records recorded, the refused one not), the 19 others are 200 with their own counts, a key all 20
# carry is queued for exactly one; every record but the refused one is in the state once. Sent
# again without the trigger, the refused request is 200 with the refused key queued, the rest
# duplicates.
. "$(dirname "$0")/lib_pg.sh"

. "$IT_DIR/lib_webhook.sh"

export ZLOAD_STATE="postgresql://loader:$PG_SCRAM_PW@127.0.0.1:$PGPORT/dw?schema=zl_state&retry=5"
pql dw "CREATE TABLE t (id int, v text)" >/dev/null
pg_config g <<EOF2
{"s3Prefix": "b/g", "batchSize": 0, "batchTimeoutSecs": 86400, "format": {"header": true},
 "targets": [$(pg_target pg t)]}
EOF2
claimed() { pq dw "SELECT count(*) FROM zl_state.files"; }
metric() {
	http GET /metrics
	assert_eq 200 "$CODE" "GET /metrics"
	awk -v n="$1" '$1 == n { print $2 }' <<<"$BODY"
}
# reply I: request I's "status body" from $WS/r.replies.
reply() { sed -n "s/^$1 //p" "$WS/r.replies"; }

pq dw "CREATE FUNCTION zl_state.refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
  IF NEW.key = 'g/poison.csv' THEN RAISE EXCEPTION 'poison key refused'; END IF; RETURN NEW; END \$\$;
  CREATE TRIGGER refuse BEFORE INSERT ON zl_state.files FOR EACH ROW EXECUTE FUNCTION zl_state.refuse();
  CREATE SEQUENCE zl_state.kill_once; GRANT USAGE ON SEQUENCE zl_state.kill_once TO loader;
  CREATE FUNCTION zl_state.kill() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS \$\$ BEGIN
  IF NEW.key = 'g/r12-1.csv' AND nextval('zl_state.kill_once') = 1 THEN
    PERFORM pg_terminate_backend(pg_backend_pid()); END IF; RETURN NEW; END \$\$;
  CREATE TRIGGER kill BEFORE INSERT ON zl_state.files FOR EACH ROW EXECUTE FUNCTION zl_state.kill()" >/dev/null

start_hook_at hook 0
assert_contains "$(<"$WS/hook.log")" "handlers=64 claims=grouped" "the webhook groups on PostgreSQL state"

# Another session holds b/g's claim lock (the one a group takes), so the POSTs pile up.
mkfifo "$WS/lock.fifo"
psql -X -q -A -t -h "$PGDIR" -p "$PGPORT" -U postgres -d dw <"$WS/lock.fifo" >"$WS/lock.out" 2>&1 &
lock_pid=$!
BG_PIDS+=("$lock_pid")
exec {lock_fd}>"$WS/lock.fifo"
echo "SELECT pg_advisory_lock(hashtext('zload claim zl_state'), hashtext('b/g')); SELECT 'held';" >&"$lock_fd"
wait_for 10 grep -qx held "$WS/lock.out"
start_bg posters "$PYTHON" "$IT_DIR/post_many.py" "$PORT" 20 20 2 --key "g/r%02d-%d.csv" --shared g/shared.csv \
	--add 5:g/poison.csv --replies "$WS/r.replies"
posters=$BG_PID
sleep 1
kill -0 "$posters" 2>/dev/null || fail "the POSTs did not wait for the claim lock: $(cat "$WS/posters.log")"
printf 'SELECT pg_advisory_unlock_all();\n\\q\n' >&"$lock_fd"
exec {lock_fd}>&-
wait_exit "$posters" 60
assert_eq 0 "$RC" "the client's exit code"

assert_eq '{"200": 19, "503": 1}' "$(json 'json.dumps(j["status"], sort_keys=True)' tail -n 1 "$WS/posters.log")" \
	"statuses of the 20 replies"
assert_contains "$(reply 5)" '503 {"records":4,' "the request with the refused key"
assert_contains "$(reply 5)" '"failed":1}' "its refused record failed"
"$PYTHON" - "$WS/r.replies" <<'EOF2' || fail "per-request counts: $(cat "$WS/r.replies")"
import json, sys
queued = dup = shared = 0
for line in open(sys.argv[1]):
    i, status, body = line.split(" ", 2)
    c = json.loads(body)
    want = 4 if i == "5" else 3
    assert c["records"] == want and c["malformed"] == 0, line
    assert c["failed"] == (1 if i == "5" else 0), line
    assert c["queued"] + c["duplicate"] + c["failed"] == want, line
    queued += c["queued"]
    dup += c["duplicate"]
    shared += c["queued"] == 3  # its two keys and g/shared.csv
assert shared == 1, "g/shared.csv queued by %d requests" % shared
assert queued == 41 and dup == 19, (queued, dup)  # 20 x 2 keys + g/shared.csv once
EOF2
assert_eq 41 "$(claimed)" "files in the state: all but the refused key"
assert_eq 0 "$(pq dw "SELECT count(*) FROM zl_state.files WHERE key = 'g/poison.csv'")" "the refused key not recorded"
assert_eq 41 "$(pq dw "SELECT sum(file_count) FROM zl_state.batches")" "batch totals"
assert_eq 2 "$(pq dw "SELECT last_value FROM zl_state.kill_once")" "the group's connection was killed once, and the key claimed again"
assert_contains "$(<"$WS/hook.log")" "group of claims lost; claiming them one by one" "the lost group logged"
groups=$(metric 'zload_group_commit_bodies_count{intake="webhook"}')
assert_eq 20 "$(metric 'zload_group_commit_bodies_sum{intake="webhook"}')" "bodies in groups"
(( groups >= 1 && groups <= 3 )) || fail "the 20 bodies took $groups groups (want at most 3)"
echo "REPORT 20 POSTs behind the claim lock: $groups groups"

# The refused request again, the trigger gone: its refused key is queued, the rest duplicates.
pq dw "DROP TRIGGER refuse ON zl_state.files; DROP TRIGGER kill ON zl_state.files" >/dev/null
out=$("$PYTHON" "$IT_DIR/post_many.py" "$PORT" 1 1 2 --first 5 --key "g/r%02d-%d.csv" --shared g/shared.csv \
	--add 5:g/poison.csv --replies "$WS/again.replies")
assert_eq '{"200": 1}' "$(json 'json.dumps(j["status"], sort_keys=True)' echo "$out")" "the refused request sent again"
assert_eq "5 200 $(counts 4 1 3)" "$(<"$WS/again.replies")" "its counts"
assert_eq 42 "$(claimed)" "files in the state"
stop_hook
