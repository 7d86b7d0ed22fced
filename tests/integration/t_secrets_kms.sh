#!/usr/bin/env bash
# Secrets with AWS KMS (moto_server), against a real PostgreSQL: --secrets kms seals with the
# original loader's alias and encryption context, stored as the original's JSON byte array (the
# aws CLI decrypts it with that context); a value the original's encryptValue.js would have made
# (aws kms encrypt, same context, bytes as JSON) loads unchanged, under either provider; a
# ciphertext made under another context fails its batch with KMS's error; KMS down leaves the
# batch to be retried; local seals move to KMS with secrets rotate.
. "$(dirname "$0")/lib_pg.sh"
. "$(dirname "$0")/lib_s3.sh"

moto_start
export AWS_ENDPOINT_URL_KMS=http://127.0.0.1:$MOTO_PORT
pql dw "CREATE TABLE t_k (id int, v text)" >/dev/null
PW=$PG_SCRAM_PW
CTX='module=AWSLambdaVerticaLoader,region=us-east-1'
stored_field() {
	"$PYTHON" -c 'import json, sys; j = json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$2" \
		<<<"$(sqlite3 "$WS/state.db" "SELECT json FROM configs WHERE prefix = '$1'")"
}
# bytes_of JSON_ARRAY FILE: writes the bytes of "[1,2,...]" to FILE.
bytes_of() { "$PYTHON" -c 'import json, sys; open(sys.argv[2], "wb").write(bytes(json.loads(sys.argv[1])))' "$1" "$2"; }
# original_encrypt PLAIN [CONTEXT]: what the original's encryptValue.js stores (KMS bytes as JSON).
original_encrypt() {
	printf '%s' "$1" >"$WS/plain.bin"
	awsc kms encrypt --key-id alias/LambaVerticaLoaderKey --plaintext "fileb://$WS/plain.bin" \
		--encryption-context "${2:-$CTX}" --query CiphertextBlob --output text >"$WS/blob.b64" || fail "aws kms encrypt"
	"$PYTHON" -c 'import base64, json, sys; print(json.dumps(list(base64.b64decode(open(sys.argv[1]).read()))).replace(" ", ""))' "$WS/blob.b64"
}

key_id=$(awsc kms create-key --query KeyMetadata.KeyId --output text) || fail "create-key"
awsc kms create-alias --alias-name alias/LambaVerticaLoaderKey --target-key-id "$key_id" || fail "create-alias"

# --- --secrets kms seals with the original's alias and context, in the original's form ----------
f=$WS/config-kms.json
printf '{"s3Prefix": "b/kms", "format": {"header": true}, "targets": [%s]}' "$(pg_target pg t_k)" >"$f"
ok zload --secrets kms config put "$f"
assert_eq "stored configuration for b/kms (1 target; 1 secret sealed by kms:alias/LambaVerticaLoaderKey)" "$OUT" "config put with kms"
sealed=$(stored_field b/kms 'j["targets"][0]["password"]')
[[ $sealed == '['[0-9]*']' ]] || fail "the stored password is not a byte array: ${sealed:0:40}"
bytes_of "$sealed" "$WS/sealed.bin"
assert_eq "$PW" "$(awsc kms decrypt --ciphertext-blob "fileb://$WS/sealed.bin" --encryption-context "$CTX" \
	--query Plaintext --output text | base64 -d)" "the aws CLI opens zload's ciphertext with the original's context"
if awsc kms decrypt --ciphertext-blob "fileb://$WS/sealed.bin" --encryption-context module=other,region=us-east-1 \
	>/dev/null 2>"$WS/.err"; then fail "the ciphertext opened under another context"; fi
assert_contains "$(<"$WS/.err")" InvalidCiphertextException "and not under another context"
csv_rows b/kms/1.csv 3 1
ZLOAD_SECRETS=kms load_one b/kms 1.csv
assert_eq "loaded batch=$BATCH status=complete rows=3" "$OUT" "a load opens the KMS-sealed password [$ERR]"

# --- the original's stored ciphertext loads unchanged, whichever provider seals new values -------
orig=$(original_encrypt "$PW")
printf '{"s3Prefix": "b/orig", "format": {"header": true}, "targets": [%s]}' \
	"$(pg_target pg t_k dw loader "$orig" '"ledgerTable":"zload_ledger_orig"')" >"$WS/orig.json"
ok zload config put "$WS/orig.json"
assert_eq "stored configuration for b/orig (1 target)" "$OUT" "the original's ciphertext is stored as it is (local provider)"
assert_eq "$orig" "$(stored_field b/orig 'j["targets"][0]["password"]')" "byte for byte"
csv_rows b/orig/1.csv 2 10
load_one b/orig 1.csv
assert_eq "loaded batch=$BATCH status=complete rows=2" "$OUT" "the original's ciphertext opens [$ERR]"

# --- a ciphertext made under another context fails its batch with KMS's error --------------------
other=$(original_encrypt "$PW" 'module=AWSLambdaVerticaLoader,region=eu-west-1')
printf '{"s3Prefix": "b/ctx", "format": {"header": true}, "targets": [%s]}' \
	"$(pg_target pg t_k dw loader "$other" '"ledgerTable":"zload_ledger_ctx"')" >"$WS/ctx.json"
ok zload config put "$WS/ctx.json"
csv_rows b/ctx/1.csv 2 20
load_one b/ctx 1.csv
assert_contains "$OUT" "status=error" "a ciphertext of another context fails [$OUT]"
assert_contains "$(tjson 't[0]["error"]' "$BATCH")" "targets[pg].password: kms Decrypt: HTTP 400 InvalidCiphertextException" "KMS's error, naming the field"

# --- local seals move to KMS with a rotation -----------------------------------------------------
printf '{"s3Prefix": "b/mv", "format": {"header": true}, "targets": [%s]}' \
	"$(pg_target pg t_k dw loader "$PW" '"ledgerTable":"zload_ledger_mv"')" >"$WS/mv.json"
ok zload config put "$WS/mv.json"
[[ $(stored_field b/mv 'j["targets"][0]["password"]') == enc:local:v1:* ]] || fail "b/mv is not sealed locally"
ok zload config delete b/ctx
ok zload --secrets kms secrets rotate
assert_eq "re-sealed 3 secrets in 3 configurations with kms:alias/LambaVerticaLoaderKey" "$OUT" "rotate into KMS"
[[ $(stored_field b/mv 'j["targets"][0]["password"]') == '['* ]] || fail "b/mv was not moved to KMS"
csv_rows b/mv/1.csv 4 30
load_one b/mv 1.csv
assert_eq "loaded batch=$BATCH status=complete rows=4" "$OUT" "the moved secret opens [$ERR]"

# --- zload encrypt with kms: no field needed; the value opens anywhere ---------------------------
printf '%s\n' "$PW" | zload --secrets kms encrypt >"$WS/.out" 2>"$WS/.err"
assert_eq 0 "$?" "encrypt with kms [$(<"$WS/.err")]"
enc=$(<"$WS/.out")
[[ $enc == '['* ]] || fail "encrypt printed ${enc:0:40}"
bytes_of "$enc" "$WS/enc.bin"
assert_eq "$PW" "$(awsc kms decrypt --ciphertext-blob "fileb://$WS/enc.bin" --encryption-context "$CTX" \
	--query Plaintext --output text | base64 -d)" "zload encrypt's value opens with the original's context"

# --- the README's secrets block, line by line as it stands ----------------------------------------
readme_lines=$(awk '/^### Passwords and other secrets/ { on = 1; next } on && /^```sh/ { in_block = 1; next } in_block && /^```/ { exit } in_block && NF' "$REPO/README.md" |
	sed 's/ *# .*$//')
assert_eq 5 "$(wc -l <<<"$readme_lines")" "the README's secrets block"
pql dw "CREATE TABLE t_dw (id int, v text)" >/dev/null
printf '{"s3Prefix": "land/dw", "format": {"header": true}, "targets": [%s]}' \
	"$(pg_target dw t_dw dw loader wrong-pw '"ledgerTable":"zload_ledger_dw"')" >"$WS/dw.json"
ok zload config put "$WS/dw.json"
n=0
while IFS= read -r line; do
	n=$((n + 1))
	printf '%s\n' "$PW" | eval "${line//zload /\"\$ZLOAD\" }" >"$WS/readme$n.out" 2>"$WS/readme$n.err" ||
		fail "README: $line: $(<"$WS/readme$n.err")"
done <<<"$readme_lines"
assert_eq "stored the password of postgres target targets[dw] of land/dw (sealed by local)" "$(<"$WS/readme1.out")" "README: set-password"
[[ $(<"$WS/readme2.out") == enc:local:v1:* && $(<"$WS/readme3.out") == '['* ]] || fail "README: encrypt printed $(<"$WS/readme2.out") / $(<"$WS/readme3.out")"
assert_contains "$(<"$WS/readme5.out")" "with kms:alias/LambaVerticaLoaderKey" "README: the move to KMS"
[[ $(stored_field land/dw 'j["targets"][0]["password"]') == '['* ]] || fail "README: land/dw is not sealed by KMS"
csv_rows land/dw/1.csv 2 1
load_one land/dw 1.csv
assert_eq "loaded batch=$BATCH status=complete rows=2" "$OUT" "README: land/dw loads with the password set [$ERR]"

# --- KMS down: the batch is retried, not failed --------------------------------------------------
kill "$MOTO_PID"
wait_for 10 not_running "$MOTO_PID"
csv_rows b/kms/2.csv 1 40
ZLOAD_HTTP_RETRIES=1 load_one b/kms 2.csv
assert_contains "$OUT" "status=retry" "KMS unreachable: the batch waits for a retry [$OUT]"
assert_eq locked "$(batch_status "$BATCH")" "the batch is kept for a retry"
assert_contains "$(tjson 't[0]["error"]' "$BATCH")" "targets[pg].password" "the error names the field"

all=$(cat "$WS"/*.log; zload batches list; for id in $(batch_ids); do zload batches show "$id"; done)
assert_not_contains "$all" "$PW" "the password in logs or batch records"
if grep -qaF "$PW" "$WS"/state.db*; then fail "the password in the state database"; fi
echo "$TEST_NAME: ok"
