#!/usr/bin/env bash
# Vertica authentication through the emulator: SHA-512 (codes 66048 and 65536), MD5 (5 and
# 65541) and cleartext each load; a wrong password and an expired one fail the batch with the
# server's reason (permanent: no retry); a password in its grace period loads, with a warning; the
# startup carries the binary protocol_version 3.16 and zload's client label.
. "$(dirname "$0")/lib_pg.sh"
. "$IT_DIR/lib_vertica.sh"

users=(ada:pw-ada:sha512 bea:pw-bea:sha512-65536 cid:pw-cid:md5 dan:pw-dan:md5-65541 eve:pw-eve:cleartext
       fay:pw-fay:expired gus:pw-gus:grace)
args=()
for u in "${users[@]}"; do args+=(--user "$u"); done
vemu_start v "${args[@]}"
pq dw "CREATE TABLE public.t (id int, v text)" >/dev/null
target() { # target USER PASSWORD
	printf '{"type":"vertica","name":"v","clusterEndpoint":"127.0.0.1","clusterPort":%s,"clusterDB":"dw","connectUser":"%s","connectPassword":"%s","targetTable":"public.t"}' \
		"$VPORT" "$1" "$2"
}
n=0
load_as() { # load_as USER PASSWORD: one file through a configuration for that user; sets $BATCH
	n=$((n + 1))
	pg_config "u$n" <<EOF2
{"s3Prefix": "b/u$n", "batchSize": 1, "maxAttempts": 1, "format": {"header": true}, "targets": [$(target "$1" "$2")]}
EOF2
	csv_rows "b/u$n/f.csv" 2 $((n * 10))
	event b "u$n/f.csv"
	BATCH=$(batch_ids --prefix "b/u$n")
}
for u in ada:sha512 bea:sha512-65536 cid:md5 dan:md5-65541 eve:cleartext; do
	load_as "${u%%:*}" "pw-${u%%:*}"
	assert_eq "0 complete" "$RC $(batch_status "$BATCH")" "login as ${u%%:*} (${u#*:})"
done
assert_eq "ada:sha512:66048:ok bea:sha512-65536:65536:ok cid:md5:5:ok dan:md5-65541:65541:ok eve:cleartext:3:ok" \
	"$(vemu_events v auth "f\"{e['user']}:{e['method']}:{e['code']}:{e['outcome']}\"" | tr '\n' ' ' | sed 's/ $//')" "methods and outcomes"
assert_eq 10 "$(pq dw "SELECT count(*) FROM public.t")" "rows loaded by the five users"
assert_eq "3.16 3.16" "$(vemu_events v startup "e['protocol_text']" | head -n 2 | tr '\n' ' ' | sed 's/ $//')" "protocol 3.16"
assert_contains "$(vemu_events v startup "e['params']['client_label']" | head -n 1)" "zload-" "client label"
assert_eq "off" "$(vemu_events v startup "e['params']['autocommit']" | head -n 1)" "autocommit off"

load_as ada wrong-password
assert_eq "1 error" "$RC $(batch_status "$BATCH")" "a wrong password fails the batch"
assert_contains "$(batch_field "$BATCH" error)" "Invalid username or password" "the server's reason"
assert_eq 1 "$(batch_field "$BATCH" attempts)" "no retry of a wrong password"
load_as fay pw-fay
assert_eq "1 error" "$RC $(batch_status "$BATCH")" "an expired password fails the batch"
assert_contains "$(batch_field "$BATCH" error)" "password expired" "the expired password is named"
load_as gus pw-gus
assert_eq "0 complete" "$RC $(batch_status "$BATCH")" "a password in its grace period still loads"
assert_contains "$ERR" "grace" "the grace period is warned about"
