#!/usr/bin/env bash
# The s3: store against moto_server: plain, gzip and oddly named objects load; a missing object
# fails its batch naming the key while another batch loads; a body cut in the middle fails, one
# closed before its first byte is retried; credentials come from the environment, a profile file
# and a container-credentials URL (refreshed before expiry); signatures are checked by moto's IAM
# enforcement and, for every kind of key and query, by botocore in a checking proxy; S3 unreachable
# for a while sends the batch to retry, and it loads once S3 is back.
# (t_s3_bulk.sh: a 2,000-object listing and a 200 MiB object in constant memory.)
. "$(dirname "$0")/lib.sh"

AWS=$(pyenv which aws 2>/dev/null || command -v aws) || fail "the aws CLI is not installed"
MOTO=$(pyenv which moto_server 2>/dev/null || command -v moto_server) || fail "moto_server is not installed"
# The Python that runs the aws CLI has botocore and boto3.
BOTOPY=$(sed -n '1s/^#! *//p' "$AWS")
[[ -x ${BOTOPY%% *} ]] || BOTOPY=python3

# Nothing from the caller's AWS setup leaks in.
for v in $(compgen -e); do
	[[ $v == AWS_* ]] && unset "$v"
done
export HOME=$WS/home AWS_EC2_METADATA_DISABLED=true
mkdir -p "$HOME"
export ZLOAD_HTTP_RETRIES=3 ZLOAD_HTTP_RETRY_BASE_MS=50

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
store_url() { printf 's3://?endpoint=http://127.0.0.1:%s&region=us-east-1&path_style=1' "$1"; }
# awsc PORT ARGS...: the aws CLI against the moto at PORT (keys from the environment, default test/test).
awsc() {
	local port=$1
	shift
	AWS_ACCESS_KEY_ID=${KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${KEY_SECRET:-test} AWS_DEFAULT_REGION=us-east-1 \
		"$AWS" --endpoint-url "http://127.0.0.1:$port" "$@"
}

# Two motos, started at once: A plain, B with IAM enforcement (5 unauthenticated actions to
# create a user, its policy and key, and a role).
PA=$(free_port) PB=$(free_port)
start_bg motoA "$MOTO" -H 127.0.0.1 -p "$PA"
start_bg motoB env INITIAL_NO_AUTH_ACTION_COUNT=5 "$MOTO" -H 127.0.0.1 -p "$PB"
wait_for 30 port_open "$PA"

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export ZLOAD_STORE=$(store_url "$PA")
make_table t "id INTEGER, v TEXT"
target='"targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]'
config() { # config PREFIX BATCHSIZE [EXTRA JSON FIELDS]
	put_config <<EOF
{"s3Prefix": "$1", "batchSize": $2, "format": {"type": "csv", "header": true, "compression": "auto"}, ${3:+$3, }$target}
EOF
}
newest_batch() { # newest_batch PREFIX
	local v
	v=$(batch_ids --prefix "$1")
	printf '%s\n' "${v%%$'\n'*}"
}
ids() { sql "$WH" "SELECT group_concat(id) FROM (SELECT id FROM t WHERE $1 ORDER BY id)"; }

# ---- plain, gzip, odd keys and hive partitions
csv_rows "bkt/in/plain.csv" 3 1
csv_rows "bkt/in/a b+c=d é.csv" 3 10
csv_rows "bkt/in/gz.csv" 5 20
gzip -n "$STORE/bkt/in/gz.csv"
csv_rows "bkt/logs/dt=2026-11-25/part 1.csv" 2 30
csv_rows "bkt/odd/x (1)!*'~;,\$@&=?#[].csv" 2 40
csv_rows "bkt/odd/dt=2026-11-25/ü+ß %41.csv" 2 50
csv_rows "bkt/ok/x.csv" 4 60
csv_rows "bkt/in/nosize.csv" 2 95
csv_rows "bkt/down/a.csv" 3 70
awsc "$PA" s3 mb s3://bkt >/dev/null || fail "cannot create bucket bkt"
awsc "$PA" s3 cp --recursive --quiet "$STORE/bkt" s3://bkt/ || fail "cannot upload to bkt"
config bkt/in 3
config 'bkt/logs/dt=*' 1
event bkt in/plain.csv "in/a b+c=d é.csv" in/gz.csv.gz
assert_eq 0 "$RC" "exit code of the event for plain, odd and gzip objects; stderr [$ERR]"
id=$(batch_ids --prefix bkt/in)
assert_contains "$OUT" "loaded batch=$id status=complete rows=11" "plain, odd and gzip objects"
assert_eq "1,2,3,10,11,12,20,21,22,23,24" "$(ids 'id < 30')" "rows of bkt/in"
# An event without the size: the store's HEAD gives it.
printf '{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"bkt"},"object":{"key":"in/nosize.csv"}}}]}\n' >"$WS/nosize.json"
ok zload event --no-load "$WS/nosize.json"
ok zload files show bkt/in/nosize.csv
assert_contains "$OUT" "size      $(stat -c %s "$STORE/bkt/in/nosize.csv")" "size from HEAD"
event_ok bkt "logs/dt=2026-11-25/part 1.csv"
assert_contains "$OUT" "status=complete rows=2" "hive partition"
assert_eq "30,31" "$(ids 'id BETWEEN 30 AND 39')" "rows of the hive partition"

# ---- a missing object fails its batch naming the key; the other batch of the event loads
config bkt/miss 1
config bkt/ok 1
event bkt 'miss/none here.csv#10' ok/x.csv
assert_eq 1 "$RC" "exit code with a missing object"
miss=$(batch_ids --prefix bkt/miss)
okb=$(batch_ids --prefix bkt/ok)
assert_contains "$OUT" "loaded batch=$miss status=error rows=0 error=target wh: bkt/miss/none here.csv: no such object" "missing object"
assert_eq error "$(batch_status "$miss")" "status of the batch of the missing object"
assert_eq "target wh: bkt/miss/none here.csv: no such object" "$(batch_field "$miss" error)" "error names the key"
assert_eq complete "$(batch_status "$okb")" "the other batch"
assert_eq "60,61,62,63" "$(ids 'id BETWEEN 60 AND 69')" "rows of the other batch"
assert_exit 1 zload --store "$(store_url "$PA")" backfill --no-load nosuchbucket/x
assert_contains "$ERR" "nosuchbucket: no such bucket" "listing a missing bucket"

# ---- errors in the middle of a body: a server that cuts a body after 500 KB (a transient error
# naming the key; nothing of it committed), and one that closes the first response before its
# first byte (retried at once: nothing was handed out yet).
cat >"$WS/cutter.py" <<'PYEOF'
import http.server, socket, sys
seen = set()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_GET(self):
        print(self.path, flush=True)
        if "/cut/" in self.path:
            data = b"id,v\n" + b"".join(b"%d,%s\n" % (i, b"x" * 100) for i in range(1000, 6000))
            self.send_response(200)
            self.send_header("Content-Length", str(2 * len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path not in seen:
            seen.add(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
        else:
            data = b"id,v\n80,a\n81,b\n82,c\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PYEOF
PX=$(free_port)
start_bg cutter "$PYTHON" "$WS/cutter.py" "$PX"
wait_for 10 port_open "$PX"
config bkt/cut 1 '"maxAttempts": 1'
config bkt/flaky 1
ZLOAD_STORE=$(store_url "$PX") event bkt cut/a.csv#1000000 flaky/b.csv#20
cut=$(batch_ids --prefix bkt/cut)
assert_contains "$OUT" "loaded batch=$cut status=error rows=0 error=target wh: bkt/cut/a.csv: transfer from 127.0.0.1:$PX failed after 530005 bytes: transfer closed with 530005 bytes remaining to read" \
	"a body cut in the middle"
assert_eq retry "$(json "j['result']['targets'][0]['status']" zload batches show --json "$cut")" \
	"a cut body is a transient error (maxAttempts 1 made it final)"
assert_contains "$OUT" "status=complete rows=3" "a response closed before its first byte is retried"
assert_eq "80,81,82" "$(ids 'id BETWEEN 80 AND 89')" "rows of the retried object"
assert_eq 0 "$(sql "$WH" 'SELECT count(*) FROM t WHERE id >= 1000')" "nothing of the cut body committed"
assert_eq 2 "$(grep -c flaky "$WS/cutter.log")" "GETs of the object closed before its first byte"

# ---- signatures checked by botocore: a proxy in front of moto A rebuilds each request's canonical
# form as S3 does (path and query decoded, strictly re-encoded, sorted) and recomputes the signature
# with the secret of the key id; a mismatch is a 403 SignatureDoesNotMatch. It also checks
# x-amz-content-sha256 against the body.
cat >"$WS/sigproxy.py" <<'EOF'
import hashlib, http.client, http.server, re, sys, urllib.parse
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

port, upstream = int(sys.argv[1]), sys.argv[2]
keys = dict(a.split("=", 1) for a in sys.argv[3:])
AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, ?"
                  r"SignedHeaders=([^, ]+), ?Signature=([0-9a-f]{64})$")
canon = lambda s, safe: urllib.parse.quote(urllib.parse.unquote(s), safe=safe)

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def fail(self, code, msg):
        body = f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>{msg}</Message></Error>".encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    def check(self, body):
        m = AUTH.match(self.headers.get("Authorization", ""))
        if not m:
            return "AccessDenied", "missing or malformed Authorization header"
        akid, day, region, service, signed, sig = m.groups()
        if akid not in keys:
            return "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
        amzdate = self.headers.get("X-Amz-Date", "")
        signed_list = signed.split(";")
        if not amzdate.startswith(day) or "host" not in signed_list or "x-amz-content-sha256" not in signed_list:
            return "AccessDenied", "X-Amz-Date, host and x-amz-content-sha256 must be signed"
        if self.headers.get("X-Amz-Content-SHA256") != hashlib.sha256(body).hexdigest():
            return "XAmzContentSHA256Mismatch", "x-amz-content-sha256 is not the SHA-256 of the body"
        path, _, query = self.path.partition("?")
        pairs = [p.partition("=") for p in query.split("&")] if query else []
        q = "&".join(canon(k, "~") + "=" + canon(v, "~") for k, _, v in pairs)
        url = "http://" + self.headers["Host"] + canon(path, "/~") + ("?" + q if q else "")
        req = AWSRequest(method=self.command, url=url, data=body,
                         headers={h: self.headers.get(h, "") for h in signed_list})
        req.context["timestamp"] = amzdate
        auth = S3SigV4Auth(Credentials(akid, keys[akid]), service, region)
        if auth.signature(auth.string_to_sign(req, auth.canonical_request(req)), req) != sig:
            return "SignatureDoesNotMatch", ("The request signature we calculated does not match the "
                                             "signature you provided. Check your key and signing method.")
        return None
    def any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        bad = self.check(body)
        print("rejected" if bad else "ok", self.command, self.path, bad[0] if bad else "", flush=True)
        if bad:
            return self.fail(*bad)
        c = http.client.HTTPConnection(upstream, timeout=60)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        c.request(self.command, self.path, body=body if self.command in ("PUT", "POST") else None, headers=hdrs)
        r = c.getresponse()
        data = None if r.getheader("Content-Length") or self.command == "HEAD" else r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)) if data is not None else r.getheader("Content-Length", "0"))
        self.end_headers()
        if self.command != "HEAD":
            if data is not None:
                self.wfile.write(data)
            else:
                while chunk := r.read(65536):
                    self.wfile.write(chunk)
        c.close()
    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = any

http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
PP=$(free_port)
PROXY_SECRET='pr0xy/Secret+key=='
start_proxy() {
	start_bg "proxy$1" $BOTOPY "$WS/sigproxy.py" "$PP" "127.0.0.1:$PA" "AKPROXY=$PROXY_SECRET"
	PROXY_PID=$BG_PID
	wait_for 10 port_open "$PP"
}
proxy_log() { cat "$WS"/proxy*.log; }
start_proxy 1
export ZLOAD_STORE=$(store_url "$PP") AWS_ACCESS_KEY_ID=AKPROXY AWS_SECRET_ACCESS_KEY=$PROXY_SECRET
config bkt/odd 1
config 'bkt/odd/dt=*' 1
odd="odd/x (1)!*'~;,\$@&=?#[].csv" # has a '#': its size is given (KEY#SIZE)
event bkt "$odd#$(stat -c %s "$STORE/bkt/$odd")" "odd/dt=2026-11-25/ü+ß %41.csv"
assert_eq 0 "$RC" "exit code through the checking proxy; stdout [$OUT] stderr [$ERR]"
assert_eq "40,41,50,51" "$(ids 'id BETWEEN 40 AND 59')" "odd keys through the checking proxy"
assert_contains "$(proxy_log)" "ok GET /bkt/odd/x%20%281%29%21%2A%27~%3B%2C%24%40%26%3D%3F%23%5B%5D.csv" \
	"the proxy saw the strictly encoded key"
assert_contains "$(proxy_log)" "ok GET /bkt/odd/dt%3D2026-11-25/%C3%BC%2B%C3%9F%20%2541.csv" \
	"the proxy saw the strictly encoded partition key"
# Listing (sorted query, encoded prefix), put and copy-in-place are checked too.
assert_exit 0 zload backfill --no-load "bkt/odd/dt=2026-11-25/ü"
assert_contains "$OUT" "listed 1, queued 0, already known 1" "listing through the checking proxy"
assert_contains "$(proxy_log)" "ok GET /bkt?encoding-type=url&list-type=2&prefix=odd%2Fdt%3D2026-11-25%2F%C3%BC" "listing query"
assert_exit 0 zload trigger "bkt/odd/dt=2026-11-25"
assert_contains "$(proxy_log)" "ok PUT /bkt/odd/dt%3D2026-11-25/lambda-vertica-trigger-file.dummy" "put through the checking proxy"
assert_exit 0 zload files reprocess "bkt/$odd"
assert_contains "$(proxy_log)" "ok PUT /bkt/odd/x%20%281%29" "copy in place through the checking proxy"
assert_eq "text/csv" "$(awsc "$PA" s3api head-object --bucket bkt --key "$odd" --query ContentType --output text)" \
	"copy in place keeps the content type"
assert_not_contains "$(proxy_log)" "rejected" "no request was rejected"
# A wrong secret is rejected by the proxy: the batch fails with S3's words, and loads once repaired.
csv_rows "bkt/odd/wrong.csv" 1 90
awsc "$PA" s3 cp --quiet "$STORE/bkt/odd/wrong.csv" "s3://bkt/odd/wrong.csv" || fail "upload wrong.csv"
AWS_SECRET_ACCESS_KEY=not-the-secret event bkt odd/wrong.csv
assert_eq 1 "$RC" "exit code with a wrong secret"
wrong=$(newest_batch bkt/odd)
assert_contains "$(proxy_log)" "rejected GET /bkt/odd/wrong.csv SignatureDoesNotMatch" "the proxy rejects a wrong secret"
assert_eq "target wh: bkt/odd/wrong.csv: S3 HTTP 403 SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided. Check your key and signing method." \
	"$(batch_field "$wrong" error)" "error with a wrong secret"
ok zload batches reprocess "$wrong"
assert_eq complete "$(batch_status "$wrong")" "status after reprocess with the right secret"
assert_eq "40,41,50,51,90" "$(ids 'id BETWEEN 40 AND 59 OR id = 90')" "rows after the repair"

# ---- S3 unreachable for a while: the proxy stops, the batch goes to retry with the connection
# error; the proxy starts again on the same port and the retry loads the rows once.
config bkt/down 1
kill -KILL "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null
event bkt down/a.csv
down=$(batch_ids --prefix bkt/down)
assert_contains "$OUT" "loaded batch=$down status=retry rows=0 error=target wh: bkt/down/a.csv: GET 127.0.0.1:$PP: " "S3 down"
assert_contains "$OUT" "(3 attempts)" "the GET was tried ZLOAD_HTTP_RETRIES times"
assert_contains "$(batch_field "$down" error)" "Failed to connect to 127.0.0.1 port $PP" "connection error"
assert_eq locked "$(batch_status "$down")" "status while S3 is down"
start_proxy 2
start_serve serve
wait_for 20 status_is "$down" complete
assert_eq "70,71,72" "$(ids 'id BETWEEN 70 AND 79')" "rows after S3 came back"
assert_eq 2 "$(batch_field "$down" attempts)" "attempts"
kill -TERM "$SERVE_PID"
wait_exit "$SERVE_PID" 20
assert_eq 0 "$RC" "serve exit code"

# ---- moto with IAM enforcement: a user with a key, and a role to assume. (moto's own signature
# check fails for keys with %-escapes other than spaces, even for the aws CLI: the keys here are
# plain; the checking proxy above covers the others.)
wait_for 30 port_open "$PB"
allow_all='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
awsc "$PB" iam create-user --user-name loader >/dev/null || fail "create-user"
awsc "$PB" iam put-user-policy --user-name loader --policy-name all --policy-document "$allow_all" || fail "put-user-policy"
awsc "$PB" iam create-access-key --user-name loader >"$WS/key.json" || fail "create-access-key"
awsc "$PB" iam create-role --role-name reader >/dev/null \
	--assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}' ||
	fail "create-role"
awsc "$PB" iam put-role-policy --role-name reader --policy-name all --policy-document "$allow_all" || fail "put-role-policy"
KEY_ID=$(json "j['AccessKey']['AccessKeyId']" cat "$WS/key.json")
KEY_SECRET=$(json "j['AccessKey']['SecretAccessKey']" cat "$WS/key.json")
KEY_ID=test KEY_SECRET=test awsc "$PB" s3 ls >/dev/null 2>&1 && fail "moto B does not enforce IAM"
export KEY_ID KEY_SECRET
awsc "$PB" sts assume-role --role-arn arn:aws:iam::123456789012:role/reader --role-session-name zload \
	>"$WS/role.json" || fail "assume-role"
n=100
for k in in/env in/wrong in/badkey in/profile in/container1 in/container2 two/refresh1 two/refresh2 two/short1 two/short2 in/imds; do
	csv_rows "sig/$k.csv" 1 "$((n++))"
done
awsc "$PB" s3 mb s3://sig >/dev/null || fail "mb sig"
awsc "$PB" s3 cp --recursive --quiet "$STORE/sig" s3://sig/ || fail "cp sig"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
export ZLOAD_STORE=$(store_url "$PB")
config sig/in 1
config sig/two 2

# From the environment: the right secret loads; a wrong one or an unknown key fails with S3's words.
AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$KEY_SECRET event sig in/env.csv
assert_eq 0 "$RC" "environment credentials: stdout [$OUT] stderr [$ERR]"
AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY="x$KEY_SECRET" event sig in/wrong.csv
assert_eq 1 "$RC" "exit code with a wrong secret"
b=$(newest_batch sig/in)
assert_eq error "$(batch_status "$b")" "status with a wrong secret"
assert_eq "target wh: sig/in/wrong.csv: S3 HTTP 403 SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided. Check your key and signing method." \
	"$(batch_field "$b" error)" "error with a wrong secret"
AWS_ACCESS_KEY_ID=AKIAUNKNOWNKEY000000 AWS_SECRET_ACCESS_KEY=$KEY_SECRET event sig in/badkey.csv
b=$(newest_batch sig/in)
assert_eq "target wh: sig/in/badkey.csv: S3 HTTP 403 InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records." \
	"$(batch_field "$b" error)" "error with an unknown key id"

# From a profile of a shared credentials file (the default profile there has a wrong secret).
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = wrong\n\n[loader]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	"$KEY_ID" "$KEY_ID" "$KEY_SECRET" >"$WS/credentials"
AWS_SHARED_CREDENTIALS_FILE=$WS/credentials AWS_PROFILE=loader event sig in/profile.csv
assert_eq 0 "$RC" "profile credentials: stdout [$OUT] stderr [$ERR]"

# From a container-credentials URL: the assumed role's key, secret and session token, behind an
# authorization token. Credentials valid for an hour are fetched once per process; credentials
# expiring within 5 minutes are fetched again before each request. The same server plays the EC2
# instance metadata service (IMDSv2: a session token, then the role, then its credentials).
cat >"$WS/creds.py" <<'PYEOF'
import datetime, http.server, json, sys, urllib.parse
port, role, token, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
IMDS_TOKEN = "imds-session-token"
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def reply(self, code, body=b"", ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def note(self, ok):
        with open(log, "a") as f:
            print(self.command, self.path, "ok" if ok else "unauthorized", file=f)
    def creds(self, ttl, code=None):
        c = json.load(open(role))["Credentials"]
        exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=ttl)
        doc = {"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
               "Token": c["SessionToken"], "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if code:
            doc["Code"] = code
        self.reply(200, json.dumps(doc).encode(), "application/json")
    def do_PUT(self):
        ok = self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        self.note(ok)
        self.reply(200, IMDS_TOKEN.encode()) if ok else self.reply(400)
    def do_GET(self):
        if self.path.startswith("/latest/"):
            ok = self.headers.get("X-aws-ec2-metadata-token") == IMDS_TOKEN
            self.note(ok)
            if not ok:
                return self.reply(401)
            if self.path == "/latest/meta-data/iam/security-credentials/":
                return self.reply(200, b"reader")
            if self.path == "/latest/meta-data/iam/security-credentials/reader":
                return self.creds(21600, "Success")
            return self.reply(404)
        ok = self.headers.get("Authorization") == token
        self.note(ok)
        if not ok:
            return self.reply(401)
        self.creds(int(urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query).get("ttl", ["3600"])[0]))
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PYEOF
PCR=$(free_port)
start_bg creds "$PYTHON" "$WS/creds.py" "$PCR" "$WS/role.json" "Bearer s3cr3t-t0ken" "$WS/creds-requests.log"
wait_for 10 port_open "$PCR"
fetches() { grep -c -- "$1" "$WS/creds-requests.log"; }
export AWS_SHARED_CREDENTIALS_FILE=$WS/none
AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$PCR/creds?ttl=3600" AWS_CONTAINER_AUTHORIZATION_TOKEN="Bearer s3cr3t-t0ken" \
	event sig in/container1.csv
assert_eq 0 "$RC" "container credentials: stdout [$OUT] stderr [$ERR]"
assert_eq 1 "$(fetches 'ttl=3600 ok')" "container credentials fetched"
printf 'Bearer s3cr3t-t0ken\n' >"$WS/token"
AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$PCR/creds?ttl=3600" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$WS/token \
	event sig two/refresh1.csv two/refresh2.csv
assert_contains "$OUT" "status=complete rows=2" "two objects with hour-long credentials (token from a file)"
assert_eq 2 "$(fetches 'ttl=3600 ok')" "hour-long credentials: one fetch for the two GETs of a process"
AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$PCR/creds?ttl=120" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$WS/token \
	event sig two/short1.csv two/short2.csv
assert_contains "$OUT" "status=complete rows=2" "two objects with credentials expiring in 2 minutes"
assert_eq 2 "$(fetches 'ttl=120 ok')" "credentials expiring within 5 minutes: fetched again before the second GET"
AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$PCR/creds" AWS_CONTAINER_AUTHORIZATION_TOKEN="Bearer wrong" \
	event sig in/container2.csv
assert_eq 1 "$RC" "exit code with a wrong container authorization token"
assert_contains "$OUT" "error=target wh: sig/in/container2.csv: container credentials from http://127.0.0.1:$PCR/creds: HTTP 401" \
	"container credentials refused"
AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:$PCR/ event sig in/imds.csv
assert_eq 0 "$RC" "instance metadata credentials: stdout [$OUT] stderr [$ERR]"
assert_eq "$(printf 'PUT /latest/api/token ok\nGET /latest/meta-data/iam/security-credentials/ ok\nGET /latest/meta-data/iam/security-credentials/reader ok')" \
	"$(grep latest "$WS/creds-requests.log")" "IMDSv2 requests"
unset AWS_SHARED_CREDENTIALS_FILE
assert_eq "100,103,104,106,107,108,109,110" "$(ids 'id BETWEEN 100 AND 199')" "rows loaded with good credentials"
