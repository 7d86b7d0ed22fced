#!/usr/bin/env bash
# The status page in a real browser (headless Chromium): `zload serve --metrics` serves GET / and
# GET /batches/ID. With one batch complete (loaded by the serve itself, so the plot has rows), one
# in error and one loading (its target write-locked) under b/done, and one open under a hostile
# prefix (`b/<img src=x onerror=alert(1)>`), the page's DOM has a section per prefix, the open
# batch's file count, the loading batch's loader, lease and load in progress, no element made from
# data (no <img>, no script), and svg#throughput with polylines of one point per step; a screenshot is a valid PNG of
# the window's size; /batches/ID shows the batch's files; an unknown batch is a 404 page. With
# --metrics-token-file, GET / and /metrics without the token are 401, with it 200; the webhook's
# server (--webhook) serves the same page, behind the webhook's token.
# SCREENSHOT_OUT=PATH keeps the screenshot (docs/status-page.png is made so).
# test-timeout: 180
. "$(dirname "$0")/lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[[ -x $CHROMIUM ]] || fail "no browser at $CHROMIUM (scripts/deps.sh installs the Debian package chromium)"

# chrome ARGS... URL: headless Chromium with a profile of its own in the workspace; its log in
# $WS/chromium.txt (not .log: lib.sh's fail prints the serve logs).
chrome() {
	timeout 60 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --no-first-run --no-default-browser-check \
		--disable-background-networking --disable-component-update --disable-sync --disable-extensions \
		--user-data-dir="$WS/chrome" "$@" 2>>"$WS/chromium.txt"
}

# page_http PATH [CURL ARGS...]: GET PATH at $PORT; status in $CODE, content type in $TYPE, body in $BODY.
page_http() {
	local path=$1 out
	shift
	out=$(curl -sS --max-time 30 -o "$WS/.http" -w '%{http_code} %{content_type}' "$@" "http://127.0.0.1:$PORT$path") ||
		fail "curl GET $path failed"
	CODE=${out%% *}
	TYPE=${out#* }
	BODY=$(<"$WS/.http")
}

# start_pages NAME [SERVE OPTIONS]: serve --metrics on a port of its choosing; $PORT from its log.
start_pages() {
	local name=$1
	shift
	start_serve "$name" --metrics 127.0.0.1:0 "$@"
	PORT=$(grep -o 'msg="metrics and status page listening" listen=127.0.0.1:[0-9]* port=[0-9]*' "$WS/$name.log" |
		sed 's/.*port=//')
	[[ -n $PORT ]] || fail "no port in the log of $name"
}

stop_pages() {
	kill -TERM "$SERVE_PID"
	wait_exit "$SERVE_PID" 15
	assert_eq 0 "$RC" "exit code of serve after SIGTERM"
}

HOSTILE='<img src=x onerror=alert(1)>'
make_table t "id INTEGER, v TEXT"
put_config loaded <<'EOF'
{"s3Prefix": "b/done", "batchSize": 1, "format": {"type": "csv", "header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF
put_config open <<EOF
{"s3Prefix": "b/$HOSTILE", "batchSize": 10, "batchTimeoutSecs": 3600, "format": {"type": "csv", "header": true},
 "targets": [{"name": "wh", "type": "sqlite", "path": "@WS@/warehouse.db", "targetTable": "t"}]}
EOF

# One batch in error (a row of three fields) and three files waiting in an open batch, from the
# command line.
printf 'id,v\n1,a,extra\n' | write_file b/done/x.csv
event b done/x.csv
assert_eq 1 "$RC" "exit code of the failed load"
csv_rows "b/$HOSTILE/o1.csv" 1 200
csv_rows "b/$HOSTILE/o2.csv" 1 201
csv_rows "b/$HOSTILE/o3.csv" 1 202
event_ok b "$HOSTILE/o1.csv" "$HOSTILE/o2.csv" "$HOSTILE/o3.csv"
open_id=$(batch_ids --status open --prefix "b/$HOSTILE")
err_id=$(batch_ids --status error)

# The serve loads one file itself (the watcher sees it), so its series has rows.
start_pages pages1
csv_rows b/done/a.csv 5 1
wait_for 20 count_is 1 batch_count --status complete
done_id=$(batch_ids --status complete)
assert_eq 5 "$(rows t)" "rows of the complete batch"

# A batch loading: the warehouse is write-locked, so the serve's load of the next file waits on it
# (10 s, then a retry) with the batch locked and the load in progress.
hold_lock "$WH"
csv_rows b/done/slow.csv 4 50
loading_again() { (($(grep -c 'msg="loading batch"' "$WS/pages1.log") >= 2)); }
wait_for 20 loading_again
slow_id=$(batch_ids --status locked)
[[ -n $slow_id ]] || fail "no locked batch"

page_http /
assert_eq 200 "$CODE" "GET / (the status page, from src/runtime/pages.c)"
assert_contains "$TYPE" "text/html" "content type of GET /"
assert_contains "$BODY" '<meta http-equiv="refresh" content="5">' "refresh meta"

# ---- the DOM as the browser built it
chrome --dump-dom "http://127.0.0.1:$PORT/" >"$WS/dom.html" || fail "chromium --dump-dom / failed: $(tail -5 "$WS/chromium.txt")"
"$PYTHON" - "$WS/dom.html" "b/$HOSTILE" "$open_id" "$done_id" "$err_id" "$slow_id" <<'PY' || fail "the status page's DOM (KEEP=1 keeps $WS/dom.html)"
import sys
from html.parser import HTMLParser

path, hostile, open_id, done_id, err_id, slow_id = sys.argv[1:]
problems = []

class Dom(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.elements, self.texts = [], [], []
    def handle_starttag(self, tag, attrs):
        el = {"tag": tag, "attrs": dict(attrs), "text": "", "parents": list(self.stack)}
        self.elements.append(el)
        if tag not in ("meta", "br", "line", "polyline", "input", "link", "img"):
            self.stack.append(el)
    def handle_startendtag(self, tag, attrs):
        self.elements.append({"tag": tag, "attrs": dict(attrs), "text": "", "parents": list(self.stack)})
    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i]["tag"] == tag:
                del self.stack[i:]
                break
    def handle_data(self, data):
        for el in self.stack:
            el["text"] += data

d = Dom()
d.feed(open(path, encoding="utf-8").read())
els = d.elements
def classes(el): return el["attrs"].get("class", "").split()
def check(cond, what):
    if not cond:
        problems.append(what)

# Nothing fetched, nothing made from data.
for el in els:
    check(el["tag"] not in ("script", "img", "link", "iframe", "object", "embed"), "a <%s> element" % el["tag"])
    for k, v in el["attrs"].items():
        check(not k.startswith("on"), "an event handler attribute %s on <%s>" % (k, el["tag"]))
        if k in ("src", "href"):
            check(not (v or "").startswith(("http:", "https:", "//")), "an external reference %s=%s" % (k, v))
check(any(el["tag"] == "meta" and el["attrs"].get("http-equiv") == "refresh" and el["attrs"].get("content") == "5"
          for el in els), "the refresh meta")

sections = {el["attrs"].get("data-prefix"): el for el in els if el["tag"] == "section" and "prefix" in classes(el)}
check(set(sections) == {"b/done", hostile}, "prefix sections: %r" % sorted(sections))
for prefix, sec in sections.items():
    h2 = [el for el in els if el["tag"] == "h2" and sec in el["parents"]]
    check(h2 and h2[0]["text"] == prefix, "the heading of %r: %r" % (prefix, h2 and h2[0]["text"]))

def rows_in(sec, cls):
    return [el for el in els if el["tag"] == "tr" and cls in classes(el) and sec in el["parents"]]
if hostile in sections:
    sec = sections[hostile]
    opens = rows_in(sec, "open")
    check(len(opens) == 1, "open batches of the hostile prefix: %d" % len(opens))
    if opens:
        tr = opens[0]
        check(tr["attrs"].get("data-batch") == open_id, "the open batch's id %r" % tr["attrs"].get("data-batch"))
        check(tr["attrs"].get("data-files") == "3", "the open batch's data-files %r" % tr["attrs"].get("data-files"))
        cells = [el["text"] for el in els if el["tag"] == "td" and tr in el["parents"]]
        check(len(cells) >= 2 and cells[1] == "3", "the open batch's files cell: %r" % cells)
        check(any("falls due" in c and ("in 59 min" in c or "in 1 h" in c) for c in cells), "when it falls due: %r" % cells)
    check(sec["attrs"].get("data-files-waiting") == "3", "files waiting %r" % sec["attrs"].get("data-files-waiting"))
if "b/done" in sections:
    rec = rows_in(sections["b/done"], "recent")
    check([tr["attrs"].get("data-batch") for tr in rec] == [done_id, err_id], "last loads of b/done, newest first: %r"
          % [tr["attrs"] for tr in rec])
    links = [el["attrs"].get("href") for el in els if el["tag"] == "a" and rec and rec[0] in el["parents"]]
    check("/batches/" + done_id in links, "link to the complete batch: %r" % links)
    if rec:
        cells = [el["text"] for el in els if el["tag"] == "td" and rec[0] in el["parents"]]
        check("5" in cells, "rows of the last load: %r" % cells)
    locked = rows_in(sections["b/done"], "locked")
    check([tr["attrs"].get("data-batch") for tr in locked] == [slow_id], "loading in b/done: %r" % locked)
    if locked:
        tds = [el for el in els if el["tag"] == "td" and locked[0] in el["parents"]]
        owner = [el["text"] for el in tds if "owner" in classes(el)]
        check(owner and owner[0].strip() and "waiting" not in owner[0], "the loader: %r" % owner)
        spans = [el["attrs"] for el in els if el["tag"] == "span" and "load" in classes(el) and locked[0] in el["parents"]]
        check([a.get("data-target") for a in spans] == ["wh"], "the load in progress: %r" % spans)
        check(any("lease until" in el["text"] and "(in " in el["text"] for el in tds), "the lease: %r" % [el["text"] for el in tds])
    errs = rows_in(sections["b/done"], "error")
    check([tr["attrs"].get("data-batch") for tr in errs] == [err_id], "errors of b/done: %r" % errs)
    texts = [el["text"] for el in els if el["tag"] == "td" and errs and errs[0] in el["parents"]]
    check(any("b/done/x.csv line 2: expected 2 fields, got 3" in t for t in texts), "the error's reason: %r" % texts)
probs = [el for el in els if el["tag"] == "section" and el["attrs"].get("id") == "problems"]
check(probs and probs[0]["attrs"].get("data-healthy") == "0", "the problems section says unhealthy")
check(probs and err_id in probs[0]["text"], "the problems name the batch in error: %r" % (probs and probs[0]["text"]))

svgs = [el for el in els if el["tag"] == "svg" and el["attrs"].get("id") == "throughput"]
check(len(svgs) == 1, "one svg#throughput")
for cls in ("rows", "files"):
    lines = [el for el in els if el["tag"] == "polyline" and cls in classes(el) and svgs and svgs[0] in el["parents"]]
    check(len(lines) == 1, "one polyline.%s" % cls)
    if lines:
        pts = lines[0]["attrs"].get("points", "").split()
        check(len(pts) >= 2 and len(pts) == int(svgs[0]["attrs"].get("data-steps", "0")),
              "points of polyline.%s: %d" % (cls, len(pts)))
        ys = [float(p.split(",")[1]) for p in pts]
        if cls == "rows":
            check(min(ys) < max(ys), "polyline.rows is flat: the serve's load is not in the series")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
PY

# ---- a screenshot: a PNG of the window's size
chrome --screenshot="$WS/status.png" --window-size=1280,1000 --hide-scrollbars "http://127.0.0.1:$PORT/" >/dev/null ||
	fail "chromium --screenshot failed: $(tail -5 "$WS/chromium.txt")"
assert_eq "1280x1000" "$("$PYTHON" - "$WS/status.png" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
if len(data) < 33 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
    sys.exit("not a PNG (%d bytes)" % len(data))
w, h = struct.unpack(">II", data[16:24])
print("%dx%d" % (w, h))
PY
)" "size of the screenshot"
(($(stat -c %s "$WS/status.png") > 10000)) || fail "the screenshot is nearly empty: $(stat -c %s "$WS/status.png") bytes"
if [[ -n ${SCREENSHOT_OUT:-} ]]; then
	cp "$WS/status.png" "$SCREENSHOT_OUT" || fail "cannot copy the screenshot to $SCREENSHOT_OUT"
fi

# The lock goes: the load completes.
release_lock "$WH"
wait_for 60 status_is "$slow_id" complete
assert_eq 9 "$(rows t)" "rows once the warehouse is free"

# ---- one batch's page: the text of batches show, escaped, in a <pre>
chrome --dump-dom "http://127.0.0.1:$PORT/batches/$open_id" >"$WS/batch.html" || fail "chromium --dump-dom /batches/ID failed"
"$PYTHON" - "$WS/batch.html" "$open_id" "b/$HOSTILE" "$(zload batches show "$open_id")" <<'PY' || fail "the batch page's DOM (KEEP=1 keeps $WS/batch.html)"
import sys
from html.parser import HTMLParser
path, bid, prefix, show = sys.argv[1:]
class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.pre, self.in_pre, self.article = [], "", False, None
    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "pre":
            self.in_pre = True
        if tag == "article":
            self.article = dict(attrs)
    def handle_endtag(self, tag):
        if tag == "pre":
            self.in_pre = False
    def handle_data(self, data):
        if self.in_pre:
            self.pre += data
p = P()
p.feed(open(path, encoding="utf-8").read())
bad = []
if "img" in p.tags or "script" in p.tags:
    bad.append("an <img> or <script> element")
if not p.article or p.article.get("data-batch") != bid or p.article.get("data-files") != "3":
    bad.append("the article's attributes: %r" % p.article)
for name in ("o1.csv", "o2.csv", "o3.csv"):
    if "  %s/%s  " % (prefix, name) not in p.pre:
        bad.append("file %s not in the <pre>" % name)
if p.pre.rstrip("\n") != show.rstrip("\n"):
    bad.append("the <pre> is not what batches show prints:\n%s\n---\n%s" % (p.pre, show))
if bad:
    sys.exit("\n".join(bad))
PY
page_http /batches/01a00000-0000-7000-8000-000000000000
assert_eq 404 "$CODE" "an unknown batch"
assert_contains "$TYPE" "text/html" "content type of the 404"
page_http /metrics
assert_eq 200 "$CODE" "GET /metrics beside the pages"
assert_contains "$BODY" "zload_rows_loaded_total" "the exposition"
stop_pages

# ---- --metrics-token-file: the pages need the token
printf 'pag3 t0ken\n' >"$WS/metrics.token"
start_pages pages2 --no-watch --metrics-token-file "$WS/metrics.token"
assert_contains "$(<"$WS/pages2.log")" "auth=bearer" "listening with a token"
for path in / /metrics "/batches/$done_id"; do
	page_http "$path"
	assert_eq 401 "$CODE" "GET $path without the token"
	page_http "$path" -H 'Authorization: Bearer wrong'
	assert_eq 401 "$CODE" "GET $path with a wrong token"
	page_http "$path" -H 'Authorization: Bearer pag3 t0ken'
	assert_eq 200 "$CODE" "GET $path with the token"
done
assert_contains "$BODY" "b/done/a.csv" "the batch page with the token"
stop_pages

# ---- the webhook's server serves the page too, behind the webhook's token
PORT=$(free_port)
start_serve hook --no-watch --webhook "127.0.0.1:$PORT" --webhook-token hooktok
page_http /
assert_eq 401 "$CODE" "GET / on the webhook without its token"
page_http / -H 'Authorization: Bearer hooktok'
assert_eq 200 "$CODE" "GET / on the webhook with its token"
assert_contains "$BODY" 'data-prefix="b/done"' "the status page on the webhook's server"
stop_pages
