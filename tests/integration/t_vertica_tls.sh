#!/usr/bin/env bash
# Vertica TLS: prefer (the default) uses TLS when the server offers it and plain otherwise;
# require refuses a server without TLS; verify-full accepts the test CA's certificate for
# 127.0.0.1 or localhost and refuses one for another name or from another CA; verify-ca checks the
# CA, not the name; disable never asks. The emulator logs whether each session ran over TLS.
. "$(dirname "$0")/lib_pg.sh"
. "$IT_DIR/lib_vertica.sh"

make_tls_cert
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout "$WS/tls/other.key" -out "$WS/tls/other.pem" \
	>/dev/null 2>&1 || fail "openssl: other CA"
vemu_start tls --user "dbadmin:$VPW:sha512" --tls-cert "$WS/tls/server.pem" --tls-key "$WS/tls/server.key"
TLS_PORT=$VPORT
vemu_start plain --user "dbadmin:$VPW:sha512"
PLAIN_PORT=$VPORT
# a certificate from the same CA for another name only
openssl req -newkey rsa:2048 -nodes -subj /CN=wrong.example -keyout "$WS/tls/wrong.key" -out "$WS/tls/wrong.csr" \
	>/dev/null 2>&1 || fail "openssl: CSR"
printf 'subjectAltName=DNS:wrong.example\n' >"$WS/tls/wrong.ext"
openssl x509 -req -in "$WS/tls/wrong.csr" -CA "$WS/tls/ca.pem" -CAkey "$WS/tls/ca.key" -CAcreateserial -days 2 \
	-extfile "$WS/tls/wrong.ext" -out "$WS/tls/wrong.pem" >/dev/null 2>&1 || fail "openssl: wrong certificate"
vemu_start wrong --user "dbadmin:$VPW:sha512" --tls-cert "$WS/tls/wrong.pem" --tls-key "$WS/tls/wrong.key"
WRONG_PORT=$VPORT
pq dw "CREATE TABLE public.t (id int, v text)" >/dev/null
n=0
load_with() { # load_with PORT HOST TLS-FIELDS: one file; sets $BATCH, $RC
	n=$((n + 1))
	pg_config "c$n" <<EOF2
{"s3Prefix": "b/c$n", "batchSize": 1, "maxAttempts": 1, "format": {"header": true},
 "targets": [{"type": "vertica", "name": "v", "clusterEndpoint": "$2", "clusterPort": $1, "clusterDB": "dw",
              "connectUser": "dbadmin", "connectPassword": "$VPW", "targetTable": "public.t"$3}]}
EOF2
	csv_rows "b/c$n/f.csv" 1 "$n"
	event b "c$n/f.csv"
	BATCH=$(batch_ids --prefix "b/c$n")
}
last_tls() { vemu_events "$1" startup "e['tls']" | tail -n 1; }

load_with "$TLS_PORT" 127.0.0.1 ''
assert_eq "0 complete True" "$RC $(batch_status "$BATCH") $(last_tls tls)" "prefer, with a server that offers TLS"
load_with "$PLAIN_PORT" 127.0.0.1 ''
assert_eq "0 complete False" "$RC $(batch_status "$BATCH") $(last_tls plain)" "prefer, with a server without TLS"
load_with "$PLAIN_PORT" 127.0.0.1 ', "tls": "require"'
assert_eq "1 error" "$RC $(batch_status "$BATCH")" "require, with a server without TLS"
assert_contains "$(batch_field "$BATCH" error)" "TLS" "the error says TLS"
load_with "$TLS_PORT" 127.0.0.1 ', "tls": "require"'
assert_eq "0 complete True" "$RC $(batch_status "$BATCH") $(last_tls tls)" "require"
load_with "$TLS_PORT" 127.0.0.1 ", \"tls\": \"verify-full\", \"tlsRootCert\": \"$WS/tls/ca.pem\""
assert_eq "0 complete True" "$RC $(batch_status "$BATCH") $(last_tls tls)" "verify-full, the name matches"
load_with "$TLS_PORT" localhost ", \"tls\": \"verify-full\", \"tlsRootCert\": \"$WS/tls/ca.pem\""
assert_eq "0 complete" "$RC $(batch_status "$BATCH")" "verify-full with the DNS name in the certificate"
load_with "$WRONG_PORT" 127.0.0.1 ", \"tls\": \"verify-full\", \"tlsRootCert\": \"$WS/tls/ca.pem\""
assert_eq "1 error" "$RC $(batch_status "$BATCH")" "verify-full, the name does not match"
assert_contains "$(batch_field "$BATCH" error)" "certificate" "the error names the certificate"
load_with "$WRONG_PORT" 127.0.0.1 ", \"tls\": \"verify-ca\", \"tlsRootCert\": \"$WS/tls/ca.pem\""
assert_eq "0 complete True" "$RC $(batch_status "$BATCH") $(last_tls wrong)" "verify-ca does not check the name"
load_with "$TLS_PORT" 127.0.0.1 ", \"tls\": \"verify-full\", \"tlsRootCert\": \"$WS/tls/other.pem\""
assert_eq "1 error" "$RC $(batch_status "$BATCH")" "verify-full with another CA"
assert_contains "$(batch_field "$BATCH" error)" "certificate" "the error names the certificate"
load_with "$TLS_PORT" 127.0.0.1 ", \"tls\": \"verify-ca\", \"tlsRootCert\": \"$WS/tls/other.pem\""
assert_eq "1 error" "$RC $(batch_status "$BATCH")" "verify-ca with another CA"
load_with "$TLS_PORT" 127.0.0.1 ', "tls": "disable"'
assert_eq "0 complete False" "$RC $(batch_status "$BATCH") $(last_tls tls)" "disable"
assert_eq 7 "$(pq dw "SELECT count(*) FROM public.t")" "rows of the loads that worked"
