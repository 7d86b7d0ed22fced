#!/usr/bin/env bash
# A batch loaded in parts (parallelism 2) survives what a batch loaded whole survives, redoing
# only the parts not committed: a part failing transiently is retried alone by the sweeper, and
# a loader killed (SIGKILL) after one part committed leaves that part alone for the next loader,
# and one killed in postLoadStatement after every part committed leaves only that statement to
# run. preLoadStatement and postLoadStatement run once in all.
# test-timeout: 180
. "$(dirname "$0")/lib_pg.sh"

pql dw "CREATE TABLE t (id int, v text); CREATE TABLE audit (what text, at timestamptz DEFAULT clock_timestamp());
        CREATE SEQUENCE boom; CREATE TABLE slow (on_id int);
        CREATE FUNCTION inject() RETURNS trigger LANGUAGE plpgsql AS \$\$
        BEGIN
          IF NEW.id = 1000 AND nextval('boom') = 1 THEN
            RAISE EXCEPTION 'injected conflict' USING ERRCODE = '40001';
          END IF;
          IF EXISTS (SELECT 1 FROM slow WHERE on_id = NEW.id) THEN PERFORM pg_sleep(60); END IF;
          RETURN NEW;
        END \$\$;
        CREATE TRIGGER inject BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION inject()" >/dev/null
prepost='"preLoadStatement": "INSERT INTO audit (what) VALUES ('"'"'pre'"'"')", "postLoadStatement": "INSERT INTO audit (what) VALUES ('"'"'post'"'"')"'
parts_of() { pq dw "SELECT string_agg(part::text, ' ' ORDER BY part) FROM zload_ledger WHERE batch_id = '$1'"; }

# 1. Transient: the first row of f1 (part 1) fails once with SQLSTATE 40001.
pg_config tr <<EOF
{"s3Prefix": "b/tr", "batchSize": 2, "maxAttempts": 4, "format": {"header": true},
 "targets": [$(pg_target wh public.t dw loader "$PG_SCRAM_PW" "\"parallelism\": 2, $prepost")]}
EOF
csv_rows b/tr/f1.csv 40 1000
csv_rows b/tr/f2.csv 30 2000
load_one b/tr f1.csv f2.csv
id=$BATCH
assert_eq locked "$(batch_status "$id")" "a transient part failure schedules a retry"
assert_eq "1:retry 2:complete" "$(tjson '" ".join("%s:%s" % (p["part"], p["status"]) for p in t[0]["parts"])' "$id")" "part 1 to retry"
assert_contains "$(tjson 't[0]["error"]' "$id")" "part 1 of 2: " "the error names the part"
assert_contains "$(tjson 't[0]["error"]' "$id")" "injected conflict" "and its cause"
assert_eq 30 "$(pg_count t)" "part 2 committed"
assert_eq "-2 2" "$(parts_of "$id")" "ledger after attempt 1"
start_serve serve0 --exit-when-idle 1
wait_exit "$SERVE_PID" 60
assert_eq 0 "$RC" "serve exit code"
assert_eq complete "$(batch_status "$id")" "retried by the sweeper"
assert_eq 2 "$(batch_field "$id" attempts)" "attempts"
assert_eq 70 "$(pg_count t)" "every row once"
assert_eq 70 "$(pq dw "SELECT count(DISTINCT id) FROM t")" "distinct rows"
assert_eq "-2 0 1 2" "$(parts_of "$id")" "ledger complete"
assert_eq "pre post" "$(pq dw "SELECT string_agg(what, ' ' ORDER BY at) FROM audit")" "pre once, post once"
assert_eq "1:complete:40 2:complete:0" "$(tjson '" ".join("%s:%s:%s" % (p["part"], p["status"], p["rows"]) for p in t[0]["parts"])' "$id")" "only part 1 loaded on the retry"

# 2. SIGKILL while part 2 is still loading (its last row sleeps) and part 1 has committed.
pql dw "TRUNCATE t; TRUNCATE audit; INSERT INTO slow VALUES (5039)" >/dev/null
pg_config kill <<EOF
{"s3Prefix": "b/kill", "batchSize": 2, "leaseSecs": 2, "format": {"header": true},
 "targets": [$(pg_target wh public.t dw loader "$PG_SCRAM_PW" "\"parallelism\": 2, $prepost")]}
EOF
csv_rows b/kill/f1.csv 60 4000
csv_rows b/kill/f2.csv 40 5000
s3_event b kill/f1.csv kill/f2.csv >"$WS/kill.json"
ok zload event --no-load "$WS/kill.json"
id=$(batch_ids --prefix b/kill)
start_bg flush "$ZLOAD" flush b/kill
pid=$BG_PID
in_ledger() { [[ $(parts_of "$id") == "-2 1" ]]; }
sleeping() { [[ $(pq postgres "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'") == 1 ]]; }
wait_for 30 in_ledger
wait_for 30 sleeping
kill -KILL "$pid"
wait_exit "$pid" 10
assert_eq 137 "$RC" "the loader was killed"
assert_eq 60 "$(pg_count t)" "part 1 (f1) committed before the kill"
assert_eq locked "$(batch_status "$id")" "locked by the killed loader"
# The killed loader's sleeping backend would notice its client gone only after the sleep.
pq dw "DELETE FROM slow; SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" >/dev/null
start_serve serve1 --exit-when-idle 1
wait_exit "$SERVE_PID" 60
assert_eq 0 "$RC" "serve exit code"
log=$(<"$WS/serve1.log")
assert_contains "$log" "msg=\"batch locked\" batch=$id prefix=b/kill reason=\"lease expired\"" "reclaimed by the sweeper"
assert_eq complete "$(batch_status "$id")" "loaded by the next loader"
assert_eq 100 "$(pg_count t)" "every row once"
assert_eq 100 "$(pq dw "SELECT count(DISTINCT id) FROM t")" "distinct rows"
assert_eq "-2 0 1 2" "$(parts_of "$id")" "ledger complete"
assert_eq "pre post" "$(pq dw "SELECT string_agg(what, ' ' ORDER BY at) FROM audit")" "pre once, post once"
assert_eq "1:complete:0 2:complete:40" "$(tjson '" ".join("%s:%s:%s" % (p["part"], p["status"], p["rows"]) for p in t[0]["parts"])' "$id")" "only part 2 loaded by the next loader"

# 3. SIGKILL after every part committed, while postLoadStatement runs: the next loader runs only
# postLoadStatement (with the row 0), loading nothing again.
pql dw "TRUNCATE t; TRUNCATE audit; INSERT INTO slow VALUES (-1);
        CREATE FUNCTION nap() RETURNS int LANGUAGE plpgsql AS \$\$
        BEGIN IF EXISTS (SELECT 1 FROM slow WHERE on_id = -1) THEN PERFORM pg_sleep(60); END IF; RETURN 1; END \$\$" >/dev/null
napping_post='"preLoadStatement": "INSERT INTO audit (what) VALUES ('"'"'pre'"'"')", "postLoadStatement": "INSERT INTO audit (what) SELECT '"'"'post'"'"' FROM (SELECT nap()) x"'
pg_config post <<EOF
{"s3Prefix": "b/post", "batchSize": 2, "leaseSecs": 2, "format": {"header": true},
 "targets": [$(pg_target wh public.t dw loader "$PG_SCRAM_PW" "\"parallelism\": 2, $napping_post")]}
EOF
csv_rows b/post/f1.csv 60 6000
csv_rows b/post/f2.csv 40 7000
s3_event b post/f1.csv post/f2.csv >"$WS/post.json"
ok zload event --no-load "$WS/post.json"
id=$(batch_ids --prefix b/post)
start_bg flush2 "$ZLOAD" flush b/post
pid=$BG_PID
parts_in() { [[ $(parts_of "$id") == "-2 1 2" ]]; }
wait_for 30 parts_in
wait_for 30 sleeping
kill -KILL "$pid"
wait_exit "$pid" 10
assert_eq 100 "$(pg_count t)" "both parts committed before the kill"
pq dw "DELETE FROM slow; SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" >/dev/null
start_serve serve2 --exit-when-idle 1
wait_exit "$SERVE_PID" 60
assert_eq 0 "$RC" "serve exit code"
assert_eq complete "$(batch_status "$id")" "closed by the next loader"
assert_eq 100 "$(pg_count t)" "nothing loaded twice"
assert_eq "-2 0 1 2" "$(parts_of "$id")" "ledger complete"
assert_eq "pre post" "$(pq dw "SELECT string_agg(what, ' ' ORDER BY at) FROM audit")" "pre once, post once"
assert_eq "1:complete:0 2:complete:0" "$(tjson '" ".join("%s:%s:%s" % (p["part"], p["status"], p["rows"]) for p in t[0]["parts"])' "$id")" "no part loaded by the next loader"
assert_eq "INSERT INTO audit (what) SELECT 'post' FROM (SELECT nap()) x" "$(tjson 't[0]["statements"]' "$id")" "it ran postLoadStatement alone"
