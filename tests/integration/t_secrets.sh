#!/usr/bin/env bash
# Secrets at rest with the local provider, against a real PostgreSQL: config put seals a target's
# password (and nothing else opens it but a load), a sealed value moved to another configuration
# or target does not open, env: and file: references, set-password, encrypt, rotate, and the
# upgrade of a state an older zload wrote with plain passwords. Then the test password is looked
# for in the state database and its WAL, every log, batches show, config get and ps: never found.
. "$(dirname "$0")/lib_pg.sh"

pql dw "CREATE TABLE t_a (id int, v text); CREATE TABLE t_b (id int, v text)" >/dev/null
PW=$PG_SCRAM_PW
KEYFILE=$XDG_CONFIG_HOME/zload/master.key
state_db() { sqlite3 "$WS/state.db" "$@"; }
stored() { state_db "SELECT json FROM configs WHERE prefix = '$1'"; }
# stored_field PREFIX PY_EXPR: a python expression over the stored configuration (j).
stored_field() { "$PYTHON" -c 'import json, sys; j = json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$2" <<<"$(stored "$1")"; }
logs=()

# --- config put seals; config get masks; a load opens it -----------------------------------------
[[ ! -e $KEYFILE ]] || fail "a master key exists before the first seal"
pg_config a <<EOF
{"s3Prefix": "b/a", "format": {"header": true}, "targets": [$(pg_target pg t_a)]}
EOF
assert_eq "stored configuration for b/a (1 target; 1 secret sealed by local)" "$OUT" "config put says what it sealed"
assert_eq 600 "$(stat -c %a "$KEYFILE")" "the master key file made on first use is private"
assert_eq 700 "$(stat -c %a "$(dirname "$KEYFILE")")" "so is its directory"
sealed=$(stored_field b/a 'j["targets"][0]["password"]')
[[ $sealed == enc:local:v1:????????:* ]] || fail "the stored password is not sealed: $sealed"
assert_eq "${sealed:13:8}" "$(cut -c1-8 "$KEYFILE")" "the seal names the key that made it"
ok zload config get b/a
assert_contains "$OUT" '"password": "********"' "config get masks the sealed password"
logs+=("$OUT")
csv_rows b/a/1.csv 3 1
load_one b/a 1.csv
assert_eq "loaded batch=$BATCH status=complete rows=3" "$OUT" "a load opens the sealed password [$ERR]"
assert_eq 3 "$(pg_count t_a)" "rows loaded with the sealed password"
logs+=("$OUT" "$ERR")

# --- a sealed value moved elsewhere does not open ------------------------------------------------
pg_config moved <<EOF
{"s3Prefix": "b/moved", "format": {"header": true},
 "targets": [$(pg_target pg t_b dw loader "$sealed")]}
EOF
assert_eq "stored configuration for b/moved (1 target)" "$OUT" "a sealed value is stored as it is"
csv_rows b/moved/1.csv 2 1
load_one b/moved 1.csv
assert_contains "$OUT" "status=error" "a password sealed for b/a does not open in b/moved [$OUT]"
assert_eq "targets[pg].password: does not open: it was sealed for another configuration or field, or altered" \
	"$(tjson 't[0]["error"]' "$BATCH")" "the error names the field, not the value"
assert_eq 0 "$(pg_count t_b)" "nothing loaded with a moved password"
pg_config renamed <<EOF
{"s3Prefix": "b/a", "format": {"header": true},
 "targets": [$(pg_target other t_a dw loader "$sealed")]}
EOF
csv_rows b/a/2.csv 1 10
load_one b/a 2.csv
assert_contains "$(tjson 't[0]["error"]' "$BATCH")" "targets[other].password: does not open" "nor in another target of the same configuration"
pg_config a <<EOF
{"s3Prefix": "b/a", "format": {"header": true}, "targets": [$(pg_target pg t_a)]}
EOF

# --- references: env: and file: -----------------------------------------------------------------
printf '%s\n' "$PW" >"$WS/pw.txt"
pg_config refs <<EOF
{"s3Prefix": "b/refs", "format": {"header": true},
 "targets": [$(pg_target env t_b dw loader "env:ZL_TEST_PGPW"), $(pg_target file t_b dw loader "file:$WS/pw.txt" '"ledgerTable":"zload_ledger_file"')]}
EOF
assert_eq "stored configuration for b/refs (2 targets)" "$OUT" "references are stored as they are"
assert_eq "env:ZL_TEST_PGPW" "$(stored_field b/refs 'j["targets"][0]["password"]')" "env: reference stored"
csv_rows b/refs/1.csv 2 1
ZL_TEST_PGPW=$PW load_one b/refs 1.csv
assert_eq "loaded batch=$BATCH status=complete rows=4" "$OUT" "both references opened [$ERR]"
csv_rows b/refs/2.csv 1 50
load_one b/refs 2.csv
assert_contains "$(tjson 't[0]["error"]' "$BATCH")" "targets[env].password: environment variable ZL_TEST_PGPW is not set" "an unset reference is named"

# --- set-password (stdin without a terminal), then the batch is reprocessed ----------------------
pg_config setpw <<EOF
{"s3Prefix": "b/setpw", "format": {"header": true}, "targets": [$(pg_target pg t_b dw loader wrong-password-1)]}
EOF
csv_rows b/setpw/1.csv 5 100
load_one b/setpw 1.csv
assert_contains "$OUT" "status=error" "a wrong password fails the batch"
failed=$BATCH
printf '%s\n' "$PW" | zload config set-password b/setpw pg >"$WS/.out" 2>"$WS/.err"
assert_eq 0 "$?" "set-password exit code [$(<"$WS/.err")]"
assert_eq "stored the password of postgres target targets[pg] of b/setpw (sealed by local)" "$(<"$WS/.out")" "set-password output"
[[ $(stored_field b/setpw 'j["targets"][0]["password"]') == enc:local:v1:* ]] || fail "set-password stored it sealed"
assert_exit 2 zload config set-password b/setpw nosuch
assert_eq "zload config set-password: b/setpw has no target \"nosuch\" (give its name, or target-N for the N-th of 1)" "$(head -n1 <<<"$ERR")" "an unknown target is named"
printf '' | zload config set-password b/setpw 1 >"$WS/.out" 2>"$WS/.err"
assert_eq 1 "$?" "set-password with no input fails"
assert_contains "$(<"$WS/.err")" "no password on standard input" "and says why"
ok zload batches reprocess "$failed"
ok zload flush b/setpw
assert_eq complete "$(batch_status "$failed")" "the batch loads once the password is right [$OUT $ERR]"

# --- encrypt: what encryptValue.js did -----------------------------------------------------------
assert_exit 2 zload encrypt -
assert_contains "$ERR" "the local provider binds a value to one field of one configuration: give --prefix and --field" "local encrypt needs the field"
assert_exit 2 zload encrypt --prefix b/enc --field 'targets[pg].nosuch' -
assert_contains "$ERR" "nosuch is not a secret field of any target type" "an unknown field is refused"
printf '%s\n' "$PW" | zload encrypt --prefix /b/enc/ --field 'targets[pg].password' - >"$WS/.out" 2>"$WS/.err"
assert_eq 0 "$?" "encrypt exit code [$(<"$WS/.err")]"
enc=$(<"$WS/.out")
[[ $enc == enc:local:v1:* ]] || fail "encrypt printed $enc"
pg_config enc <<EOF
{"s3Prefix": "b/enc", "format": {"header": true}, "targets": [$(pg_target pg t_b dw loader "$enc" '"ledgerTable":"zload_ledger_enc"')]}
EOF
csv_rows b/enc/1.csv 2 200
load_one b/enc 1.csv
assert_eq "loaded batch=$BATCH status=complete rows=2" "$OUT" "a value from zload encrypt opens in its field [$ERR]"
ok zload encrypt --prefix b/enc --field notify.webhookSecret hook-secret-1
[[ $OUT == enc:local:v1:* ]] || fail "encrypt for notify.webhookSecret printed $OUT"
assert_exit 2 zload encrypt --prefix b/enc --field password x
assert_contains "$ERR" "expected targets[NAME].FIELD, targets[N].FIELD, notify.webhookSecret or notify.smtp.password" "a field path is required"
zload encrypt --prefix b/enc --field 'targets[pg].password' "$PW" >"$WS/.out" 2>"$WS/.err"
assert_contains "$(<"$WS/.err")" "warning: a value given as an argument shows in ps" "a value on the command line is warned about"

# --- rotate: a new key, everything re-sealed, the old key dropped --------------------------------
old_key=$(cut -c1-8 "$KEYFILE")
# b/moved holds a value that opens nowhere: the rotation says so and keeps the older key.
assert_exit 1 zload secrets rotate
assert_eq "re-sealed 3 secrets in 3 configurations with local" "$OUT" "rotate output with one configuration failing"
assert_contains "$ERR" "b/moved: targets[pg].password: does not open" "the configuration that failed is named"
assert_contains "$ERR" "1 configuration could not be re-sealed; older keys are kept" "the older key is kept"
assert_eq 2 "$(wc -l <"$KEYFILE")" "two keys while a configuration is not re-sealed"
ok zload config delete b/moved
ok zload secrets rotate
assert_eq "re-sealed 3 secrets in 3 configurations with local" "$OUT" "rotate output"
assert_eq 1 "$(wc -l <"$KEYFILE")" "one key after the rotation"
new_key=$(cut -c1-8 "$KEYFILE")
[[ $new_key != "$old_key" ]] || fail "the rotation kept the key $old_key"
assert_eq "enc:local:v1:$new_key" "$(stored_field b/a 'j["targets"][0]["password"][:21]')" "re-sealed under the new key"
assert_eq "env:ZL_TEST_PGPW" "$(stored_field b/refs 'j["targets"][0]["password"]')" "references stay references"
csv_rows b/a/3.csv 2 300
load_one b/a 3.csv
assert_eq "loaded batch=$BATCH status=complete rows=2" "$OUT" "loads work after the rotation [$ERR]"

# --- upgrade: a state with a plain password, as an older zload stored it -------------------------
UPW='Upgrade-Plain-Pw-77'
pq dw "CREATE ROLE up_user LOGIN PASSWORD '$UPW'; GRANT ALL ON t_b TO up_user; GRANT CREATE ON SCHEMA public TO up_user" >/dev/null
plain="{\"s3Prefix\":\"b/up\",\"format\":{\"header\":true},\"targets\":[$(pg_target pg t_b dw up_user "$UPW" '"ledgerTable":"zload_ledger_up"')]}"
state_db "INSERT INTO configs (prefix, json, updated_at) VALUES ('b/up', '$plain', 0)"
grep -qaF "$UPW" "$WS/state.db" "$WS/state.db-wal" || fail "the test did not write the plain password"
csv_rows b/up/1.csv 4 400
start_serve serve -v --exit-when-idle 1
wait_exit "$SERVE_PID" 30
assert_eq 0 "$RC" "serve exit code"
log_has "$WS/serve.log" 'msg="sealed the plain secrets of a configuration" prefix=b/up secrets=1 provider=local' \
	|| fail "no upgrade log line: $(grep -i seal "$WS/serve.log")"
assert_eq 1 "$(grep -c 'sealed the plain secrets' "$WS/serve.log")" "one upgrade line per configuration"
[[ $(stored_field b/up 'j["targets"][0]["password"]') == enc:local:v1:$new_key:* ]] || fail "the upgrade did not seal b/up"
assert_eq 4 "$(pq dw "SELECT count(*) FROM t_b WHERE id >= 400")" "the upgraded configuration loads"

# --- a daemon with debug logs; every output collected; then the password looked for -------------
csv_rows b/a/4.csv 1 500
csv_rows b/setpw/2.csv 1 500
start_serve serve -v --exit-when-idle 3
ps_seen=
for _ in $(seq 20); do
	ps_seen+=$(ps -eo args)
	sleep 0.1
done
wait_exit "$SERVE_PID" 30
for p in a refs setpw enc up; do
	ok zload config get b/$p
	logs+=("$OUT" "$ERR")
done
ok zload config list --json
logs+=("$OUT")
for id in $(batch_ids); do
	ok zload batches show "$id"
	logs+=("$OUT")
	ok zload batches show --json "$id"
	logs+=("$OUT")
done
all=$(printf '%s\n' "${logs[@]}"; cat "$WS"/*.log; printf '%s\n' "$ps_seen")
assert_contains "$all" 'does not open' "the collected output holds the failures"
for pw in "$PW" "$UPW"; do
	assert_not_contains "$all" "$pw" "a password in zload's output, logs or ps"
	for f in "$WS"/state.db*; do
		if grep -qaF "$pw" "$f"; then fail "a password in $(basename "$f")"; fi
	done
done
echo "$TEST_NAME: ok"
