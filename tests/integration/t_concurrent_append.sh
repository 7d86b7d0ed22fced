#!/usr/bin/env bash
# Two `zload event` processes run at once, each appending 300 distinct files (30 invocations of 10
# records) to one prefix with batchSize 7 and loading the batches they fill; `zload flush` loads
# the rest. Every file ends in exactly one batch of at most 7 files and every row is in the
# warehouse once.
# (One record per invocation would take a minute: each zload process costs ~50-90 ms to start.)
. "$(dirname "$0")/lib.sh"

n=300 per=10
make_table t "id INTEGER, v TEXT"
put_config conc <<'EOF2'
{"s3Prefix": "b/conc", "batchSize": 7, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF2
mkdir -p "$STORE/b/conc"
# The files (file i has i % 3 + 1 rows) and the event bodies, written in one go.
expected=$("$PYTHON" - "$STORE" "$WS" "$n" "$per" <<'EOF2'
import json, os, sys
store, ws, n, per = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
total = 0
for p in "ab":
    for i in range(n):
        rows = i % 3 + 1
        body = "id,v\n" + "".join(f"{i},{p}{k}\n" for k in range(rows))
        with open(f"{store}/b/conc/{p}-{i}.csv", "w") as f:
            f.write(body)
        total += rows
    for i in range(0, n, per):
        records = [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"},
                    "object": {"key": f"conc/{p}-{k}.csv", "size": os.path.getsize(f"{store}/b/conc/{p}-{k}.csv")}}}
                   for k in range(i, i + per)]
        with open(f"{ws}/ev-{p}-{i}.json", "w") as f:
            json.dump({"Records": records}, f)
print(total)
EOF2
)
[[ $expected == 1200 ]] || fail "test set-up: $expected rows"

appender() { # appender P: one invocation per file; counts failures
	local p=$1 i bad=0
	for ((i = 0; i < n; i += per)); do
		"$ZLOAD" event "$WS/ev-$p-$i.json" >>"$WS/$p.out" 2>>"$WS/$p.err" || bad=$((bad + 1))
	done
	echo "$bad" >"$WS/$p.failed"
}
appender a &
pa=$!
BG_PIDS+=("$pa")
appender b &
pb=$!
BG_PIDS+=("$pb")
wait_exit "$pa" 100
wait_exit "$pb" 100
assert_eq "0 0" "$(cat "$WS/a.failed") $(cat "$WS/b.failed")" "failed invocations; stderr: $(grep -v 'level=info' "$WS/a.err" "$WS/b.err" | head -5)"
assert_eq $((2 * n)) "$(cat "$WS/a.out" "$WS/b.out" | grep -c '^queued b/conc/')" "queued lines"
assert_eq 0 "$(cat "$WS/a.out" "$WS/b.out" | grep -v '^queued b/conc/' | grep -vc '^loaded batch=.* status=complete rows=[0-9]*$')" "other output lines"

ok zload flush b/conc
assert_eq 0 "$(batch_count --status open --prefix b/conc)" "open batches after flush"
json "sum(b['files'] for b in j)" zload batches list --json --prefix b/conc >"$WS/sum"
assert_eq $((2 * n)) "$(<"$WS/sum")" "sum of the batches' file counts"
assert_eq "complete" "$(json "sorted(set(b['status'] for b in j))" zload batches list --json)" "statuses of all batches"
# Every batch reached batchSize (the last one may be smaller), none holds more (issue #7, item 4:
# concurrent appenders once made batches of 8-9 files), and no batch is empty.
small=$(json "len([b for b in j if b['files'] < 7])" zload batches list --json)
((small <= 1)) || fail "$small batches smaller than batchSize"
assert_eq 7 "$(json "max(b['files'] for b in j)" zload batches list --json)" "the largest batch holds batchSize files"

# Every file is listed by exactly one batch, and its record (checked in the state database for
# all files, and with `zload files show` for every 10th) names that batch.
"$PYTHON" - "$ZLOAD" "$n" >"$WS/check" 2>&1 <<'EOF2'
import json, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
zload, n = sys.argv[1], int(sys.argv[2])
run = lambda *a: subprocess.run([zload, *a], check=True, capture_output=True, text=True).stdout
pool = ThreadPoolExecutor(4)
batches = json.loads(run("batches", "list", "--json"))
owner = {}
for b, out in zip(batches, pool.map(lambda b: run("batches", "show", "--json", b["id"]), batches)):
    show = json.loads(out)
    if len(show["fileList"]) != b["files"]:
        print(f"batch {b['id']}: files={b['files']} but fileList has {len(show['fileList'])}")
    for f in show["fileList"]:
        if f["key"] in owner:
            print(f"{f['key']} is in batches {owner[f['key']]} and {b['id']}")
        owner[f["key"]] = b["id"]
keys = [f"conc/{p}-{i}.csv" for p in "ab" for i in range(n)]
missing = [k for k in keys if k not in owner]
if missing or len(owner) != len(keys):
    print(f"{len(missing)} files in no batch (e.g. {missing[:3]}); {len(owner)} files listed")
sample = keys[::10]
for k, out in zip(sample, pool.map(lambda k: run("files", "show", "b/" + k), sample)):
    if f"batch     {owner.get(k)}\n" not in out or "status    complete" not in out:
        print(f"files show b/{k}: {out!r}, expected batch {owner.get(k)}")
print("checked", len(owner))
EOF2
assert_eq "checked $((2 * n))" "$(<"$WS/check")" "batch membership"
sql "$WS/state.db" "SELECT count(*), count(DISTINCT file_id), count(b.id) FROM files f LEFT JOIN batches b ON b.id = f.batch_id" >"$WS/records"
assert_eq "$((2 * n))|$((2 * n))|$((2 * n))" "$(<"$WS/records")" "file records, distinct, naming an existing batch"
assert_eq "$expected" "$(rows t)" "rows in the warehouse == rows in all files"
assert_eq "$expected" "$(sql "$WH" "SELECT count(*) FROM (SELECT DISTINCT id, v FROM t)")" "no row loaded twice"
assert_eq "$(batch_count)" "$(sql "$WH" 'SELECT count(*) FROM zload_ledger')" "ledger rows == batches"

# The same cap holds when nothing locks (event --no-load, no daemon running): three appenders, 70
# files each, make batches of 7 that a flush then loads (once, every batch took all it got).
put_config conc2 <<'EOF2'
{"s3Prefix": "b/conc2", "batchSize": 7, "format": {"header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t2"}]}
EOF2
make_table t2 "id INTEGER, v TEXT"
"$PYTHON" - "$STORE" "$WS" <<'EOF2'
import json, os, sys
store, ws = sys.argv[1], sys.argv[2]
os.makedirs(f"{store}/b/conc2", exist_ok=True)
for p in "xyz":
    for i in range(70):
        with open(f"{store}/b/conc2/{p}-{i}.csv", "w") as f:
            f.write(f"id,v\n{i},{p}\n")
    for i in range(0, 70, 7):
        records = [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"},
                    "object": {"key": f"conc2/{p}-{k}.csv", "size": 10}}} for k in range(i, i + 7)]
        with open(f"{ws}/ev2-{p}-{i}.json", "w") as f:
            json.dump({"Records": records}, f)
EOF2
pids=()
for p in x y z; do
	(for ((i = 0; i < 70; i += 7)); do "$ZLOAD" event --no-load "$WS/ev2-$p-$i.json" >/dev/null 2>>"$WS/$p.err" || echo bad; done) >"$WS/$p.bad" &
	pids+=("$!")
	BG_PIDS+=("$!")
done
for pid in "${pids[@]}"; do wait_exit "$pid" 60; done
assert_eq "" "$(cat "$WS"/[xyz].bad)" "failed --no-load invocations"
assert_eq "210 7" "$(json "f\"{sum(b['files'] for b in j)} {max(b['files'] for b in j)}\"" zload batches list --json --prefix b/conc2)" \
	"files in the b/conc2 batches, and the most in one"
ok zload flush b/conc2
assert_eq 210 "$(rows t2)" "rows of b/conc2"
assert_eq 0 "$(batch_count --prefix b/conc2 --status open)" "open b/conc2 batches after flush"
