#!/usr/bin/env bash
# Vertica loadMode s3 on a session kept between batches: the session is given the loader's own AWS
# credentials once (ALTER SESSION SET AWSAuth ...) and keeps them for the next batch; once they
# are renewed (here the shared credentials file changes, as temporary credentials are), the next
# batch on the same session sets them again before its ledger check and COPY.
. "$(dirname "$0")/lib_pg.sh"
. "$(dirname "$0")/lib_s3.sh"
. "$IT_DIR/lib_vertica.sh"

moto_start
vemu_start v --user "dbadmin:$VPW:sha512" --s3-endpoint "http://127.0.0.1:$MOTO_PORT"
pq dw "CREATE TABLE public.s (id int, v text)" >/dev/null
awsc s3 mb s3://bkt >/dev/null || fail "bucket"
ZLOAD_STORE=$(store_url "$MOTO_PORT")
export ZLOAD_STORE
pg_config s3 <<EOF2
{"s3Prefix": "bkt/in", "batchSize": 1, "format": {"header": true},
 "targets": [$(vt_target v public.s "\"loadMode\": \"s3\", \"awsRegion\": \"us-east-1\", \"s3Endpoint\": \"127.0.0.1:$MOTO_PORT\", \"s3Https\": false")]}
EOF2
creds() { printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$1" "$2" >"$WS/creds.tmp" && mv "$WS/creds.tmp" "$WS/creds"; }
creds first one
MPORT=$(free_port)
# the daemon's credentials come from the file alone
start_bg s env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN AWS_SHARED_CREDENTIALS_FILE="$WS/creds" \
	AWS_CONFIG_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true "$ZLOAD" serve --no-watch --workers 1 --metrics "$MPORT"
SERVE_PID=$BG_PID
wait_for 10 grep -qE '(msg=|"msg":")serving' "$WS/s.log"
metric() {
	curl -sS --max-time 10 "http://127.0.0.1:$MPORT/metrics" >"$WS/metrics.txt" || fail "curl /metrics failed"
	awk -v want="$1" '$1 == want { v = $2 } END { print v + 0 }' "$WS/metrics.txt"
}
# put N: uploads in/sN.csv (rows N*10, N*10+1), queues its event, waits for the batch to complete.
put() {
	printf 'id,v\n%d,a\n%d,b\n' $(($1 * 10)) $(($1 * 10 + 1)) >"$WS/s$1.csv"
	awsc s3 cp --quiet "$WS/s$1.csv" "s3://bkt/in/s$1.csv" || fail "upload s$1"
	s3_event bkt "in/s$1.csv#$(stat -c %s "$WS/s$1.csv")" >"$WS/e$1.json"
	ok zload event --no-load "$WS/e$1.json"
	wait_for 30 count_is "$(($1 * 2))" pg_count public.s
}
auths() { vemu_loader_sql v | grep '^ALTER SESSION SET AWSAuth' | tr '\n' ' ' | sed 's/ $//'; }

put 1
put 2
assert_eq "ALTER SESSION SET AWSAuth = 'first:one'" "$(auths)" "the credentials were set once for two batches"
assert_eq 1 "$(metric 'zload_target_connections_total{target="v",how="reused"}')" "the second batch reused the session"
creds second two
put 3
assert_eq "ALTER SESSION SET AWSAuth = 'first:one' ALTER SESSION SET AWSAuth = 'second:two'" "$(auths)" \
	"renewed credentials were set again on the same session"
assert_eq 2 "$(metric 'zload_target_connections_total{target="v",how="reused"}')" "the third batch reused the session too"
assert_eq 1 "$(metric 'zload_target_connections_total{target="v",how="opened"}')" "one session"
last=$(vemu_loader_sql v | grep -n . | grep -E "AWSAuth = 'second:two'|^[0-9]+:COPY .*s3://bkt/in/s3.csv" | cut -d: -f1 | tr '\n' ' ')
[[ $last =~ ^([0-9]+)\ ([0-9]+)\ $ ]] && ((BASH_REMATCH[1] < BASH_REMATCH[2])) ||
	fail "the renewed credentials before the third batch's COPY (lines: $last)"
assert_eq "10,11,20,21,30,31" "$(pq dw "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.s")" "rows read from S3, once"
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 30
assert_eq 0 "$RC" "serve exits 0"
