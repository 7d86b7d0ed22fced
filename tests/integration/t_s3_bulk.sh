#!/usr/bin/env bash
# The s3: store with many and large objects, against moto_server: a 2,000-object listing is read
# in pages of 1,000 (and under a prefix), and a backfill queues only the objects not yet loaded; a 200 MiB object streams into SQLite with zload's peak
# RSS well under 64 MiB (printed).
. "$(dirname "$0")/lib.sh"

MOTO=$(pyenv which moto_server 2>/dev/null || command -v moto_server) || fail "moto_server is not installed"
for v in $(compgen -e); do
	[[ $v == AWS_* ]] && unset "$v"
done
export HOME=$WS/home AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
mkdir -p "$HOME"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PM=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_bg moto "$MOTO" -H 127.0.0.1 -p "$PM"
export ZLOAD_STORE="s3://?endpoint=http://127.0.0.1:$PM&region=us-east-1&path_style=1"

# 200 MiB: 1,000,000 rows of 208 bytes.
mkdir -p "$STORE/bulk/big"
awk 'BEGIN { pad = sprintf("%0200d", 0); for (i = 1; i <= 1000000; i++) print i "," pad }' >"$STORE/bulk/big/big.csv"
wait_for 30 port_open "$PM"

# The objects are put with plain HTTP (moto without IAM enforcement checks no signature): boto3
# or the aws CLI would take twice as long for 2,000 objects.
cat >"$WS/seed.py" <<'EOF'
import http.client, os, sys, threading
port, big = int(sys.argv[1]), sys.argv[2]
H = {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, "
                      "SignedHeaders=host, Signature=0", "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
def put(c, path, body, size=None):
    h = dict(H, **({"Content-Length": str(size)} if size is not None else {}))
    c.request("PUT", path, body=body, headers=h)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"PUT {path}: HTTP {r.status}")
put(http.client.HTTPConnection("127.0.0.1", port), "/bulk", b"")
def work(k, n):
    c = http.client.HTTPConnection("127.0.0.1", port)
    for i in range(k, 2000, n):
        put(c, f"/bulk/many/k{i}.csv", f"id,v\n{i},x\n".encode())
ts = [threading.Thread(target=work, args=(k, 4)) for k in range(4)]
[t.start() for t in ts]
with open(big, "rb") as f:
    put(http.client.HTTPConnection("127.0.0.1", port, timeout=300), "/bulk/big/big.csv", f, os.path.getsize(big))
[t.join() for t in ts]
EOF
"$PYTHON" "$WS/seed.py" "$PM" "$STORE/bulk/big/big.csv" || fail "cannot put the objects"

# ---- 2,000 objects: two pages of 1,000, then a prefix (1,111 keys: k1, k10-k19, k100-k199, k1000-k1999).
put_config many <<'EOF'
{"s3Prefix": "bulk/many", "batchSize": 5000, "format": {"type": "csv", "header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF
make_table t "id INTEGER, v TEXT"
# Some objects are loaded first (the 1,111 under k1), then the backfill of all 2,000 queues only the rest.
assert_exit 0 zload -v backfill --no-load bulk/many/k1
assert_contains "$OUT" "listed 1111, queued 1111, already known 0" "backfill of a prefix"
assert_contains "$ERR" 'msg="s3 listing done" bucket=bulk prefix=many/k1 pages=2 rc=0' "two pages under the prefix"
assert_exit 0 zload flush bulk/many
assert_contains "$OUT" "status=complete rows=1111" "the first 1,111 objects loaded"
assert_exit 0 zload -v backfill --no-load bulk/many
assert_contains "$OUT" "listed 2000, queued 889, already known 1111" "backfill of 2,000 objects, 1,111 already loaded"
assert_contains "$ERR" 'msg="s3 listing done" bucket=bulk prefix=many pages=2 rc=0' "two pages"
b=$(batch_ids --prefix bulk/many --status open)
assert_eq 889 "$(batch_field "$b" files)" "files in the open batch"
want_bytes=$("$PYTHON" -c 'print(sum(len(f"id,v\n{i},x\n") for i in range(2000) if not str(i).startswith("1")))')
assert_eq "$want_bytes" "$(batch_field "$b" bytes)" "bytes of the open batch (sizes from the listing)"
assert_exit 0 zload flush bulk/many
assert_contains "$OUT" "status=complete rows=889" "the other 889 objects loaded"
assert_eq "2000|2000|1999000" "$(sql "$WH" 'SELECT count(*), count(DISTINCT id), sum(id) FROM t')" "every object loaded exactly once"

# ---- 200 MiB streamed into SQLite in constant memory.
make_table big "id INTEGER, v TEXT"
put_config big <<'EOF'
{"s3Prefix": "bulk/big", "batchSize": 1, "format": {"type": "csv", "header": false},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "big"}]}
EOF
s3_event bulk big/big.csv >"$WS/big-event.json"
/usr/bin/time -f %M -o "$WS/rss" "$ZLOAD" event "$WS/big-event.json" >"$WS/.out" 2>"$WS/.err" ||
	fail "the 200 MiB object: $(<"$WS/.out") $(<"$WS/.err")"
assert_contains "$(<"$WS/.out")" "status=complete rows=1000000" "the 200 MiB object"
assert_eq "1000000|500000500000" "$(sql "$WH" 'SELECT count(*), sum(id) FROM big')" "rows of the 200 MiB object"
rss=$(tail -n 1 "$WS/rss")
echo "$TEST_NAME: peak RSS of zload loading a $(($(stat -c %s "$STORE/bulk/big/big.csv") >> 20)) MiB object from S3: $((rss / 1024)) MiB"
((rss < 64 * 1024)) || fail "peak RSS $rss KiB is not under 64 MiB"
