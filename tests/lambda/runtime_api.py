#!/usr/bin/env python3
"""A strict stand-in for AWS Lambda's Runtime API (2018-06-01), standard library only.

Usage: runtime_api.py [--port N] [--port-file PATH]   (listens on 127.0.0.1; port 0: any free one)

The runtime's routes (each answers 202 when the request is right):
  GET  /2018-06-01/runtime/invocation/next          blocks until an invocation is queued
  POST /2018-06-01/runtime/invocation/{id}/response  the body must be JSON
  POST /2018-06-01/runtime/invocation/{id}/error     JSON with string errorMessage and errorType
  POST /2018-06-01/runtime/init/error                as /error
Every deviation is answered 4xx and recorded: an unknown route or method, an answer for an id that
is not the current invocation or was answered already, a second /next while one is unanswered, an
answer after the deadline ("late"), a body that is not the JSON required.

The tests' control routes:
  POST /test/invoke   {"event": ANY, "timeoutMs": N} or {"raw": "TEXT", ...}: queues one, returns {"id"}
  GET  /test/result/{id}?wait=SECONDS   how it was answered: {"status": "response"|"error"|"none",
                      "body", "errorType", "errorMessage", "headerErrorType", "late", "ms"}
  GET  /test/violations   the list of deviations recorded
  GET  /test/init-errors  the init errors posted
"""
import argparse
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

PREFIX = "/2018-06-01/runtime/"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:zload"

lock = threading.Condition()
queue = []            # ids waiting for /next
invocations = {}      # id -> dict
current = None        # id handed out by /next and not answered yet
violations = []
init_errors = []


def now_ms():
    return int(time.time() * 1000)


def violation(text):
    with lock:
        violations.append(text)
        lock.notify_all()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, obj=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, code, text):
        violation(text)
        self.reply(code, {"errorMessage": text, "errorType": "InvalidRequest"})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(n) if n else b""

    # --- the runtime's routes
    def do_GET(self):
        u = urlparse(self.path)
        if u.path == PREFIX + "invocation/next":
            return self.next_invocation()
        if u.path.startswith("/test/result/"):
            return self.result(u.path[len("/test/result/"):], parse_qs(u.query))
        if u.path == "/test/violations":
            with lock:
                return self.reply(200, list(violations))
        if u.path == "/test/init-errors":
            with lock:
                return self.reply(200, list(init_errors))
        self.refuse(404, "unknown route GET %s" % u.path)

    def do_POST(self):
        u = urlparse(self.path)
        data = self.body()
        if u.path == "/test/invoke":
            return self.invoke(data)
        if u.path == PREFIX + "init/error":
            err = self.error_body(data, "init/error")
            if err is None:
                return
            with lock:
                init_errors.append(dict(err, headerErrorType=self.headers.get("Lambda-Runtime-Function-Error-Type")))
                lock.notify_all()
            return self.reply(202, {"status": "OK"})
        parts = u.path[len(PREFIX):].split("/") if u.path.startswith(PREFIX) else []
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            return self.answer(parts[1], parts[2], data)
        self.refuse(404, "unknown route POST %s" % u.path)

    def do_PUT(self):
        self.refuse(405, "method PUT not allowed on %s" % self.path)

    do_DELETE = do_PUT
    do_PATCH = do_PUT
    do_HEAD = do_PUT

    def next_invocation(self):
        global current
        with lock:
            busy = current
        if busy is not None:
            return self.refuse(400, "second /next while invocation %s is unanswered" % busy)
        with lock:
            while not queue:
                lock.wait()
            id_ = queue.pop(0)
            inv = invocations[id_]
            inv["deadline"] = now_ms() + inv["timeoutMs"]
            inv["started"] = now_ms()
            current = id_
        headers = {
            "Lambda-Runtime-Aws-Request-Id": id_,
            "Lambda-Runtime-Deadline-Ms": str(inv["deadline"]),
            "Lambda-Runtime-Trace-Id": "Root=1-%s;Parent=%s;Sampled=0" % (id_[:8], id_[9:13]),
            "Lambda-Runtime-Invoked-Function-Arn": ARN,
        }
        self.reply(200, headers=headers, raw=inv["raw"])

    def error_body(self, data, what):
        try:
            err = json.loads(data)
        except ValueError:
            self.refuse(400, "%s: body is not JSON: %r" % (what, data[:200]))
            return None
        if not isinstance(err, dict) or not isinstance(err.get("errorMessage"), str) \
                or not isinstance(err.get("errorType"), str):
            self.refuse(400, "%s: body lacks string errorMessage and errorType: %r" % (what, data[:200]))
            return None
        return err

    def answer(self, id_, kind, data):
        global current
        with lock:
            inv = invocations.get(id_)
            if inv is None:
                bad = "%s for unknown invocation %s" % (kind, id_)
            elif inv["result"] is not None:
                bad = "%s for invocation %s answered already" % (kind, id_)
            elif id_ != current:
                bad = "%s for invocation %s that is not the current one" % (kind, id_)
            else:
                bad = None
        if bad:
            return self.refuse(400, bad)
        res = {"status": kind, "ms": now_ms() - inv["started"], "late": now_ms() > inv["deadline"]}
        if kind == "response":
            try:
                res["body"] = json.loads(data)
            except ValueError:
                return self.refuse(400, "response for %s: body is not JSON: %r" % (id_, data[:200]))
        else:
            err = self.error_body(data, "error for %s" % id_)
            if err is None:
                return
            res.update(errorType=err["errorType"], errorMessage=err["errorMessage"],
                       headerErrorType=self.headers.get("Lambda-Runtime-Function-Error-Type"))
        with lock:
            inv["result"] = res
            current = None
            lock.notify_all()
        if res["late"]:
            return self.refuse(410, "late: %s for %s %d ms after its deadline" % (kind, id_, now_ms() - inv["deadline"]))
        self.reply(202, {"status": "OK"})

    # --- the tests' routes
    def invoke(self, data):
        try:
            req = json.loads(data)
            raw = req["raw"].encode() if "raw" in req else json.dumps(req["event"]).encode()
            timeout = int(req.get("timeoutMs", 30000))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            return self.reply(400, {"error": "bad /test/invoke body: %s" % e})
        id_ = str(uuid.uuid4())
        with lock:
            invocations[id_] = {"raw": raw, "timeoutMs": timeout, "result": None}
            queue.append(id_)
            lock.notify_all()
        self.reply(200, {"id": id_})

    def result(self, id_, q):
        wait = float(q.get("wait", ["30"])[0])
        end = time.time() + wait
        with lock:
            inv = invocations.get(id_)
            if inv is None:
                return self.reply(404, {"error": "no invocation %s" % id_})
            while inv["result"] is None and time.time() < end:
                lock.wait(end - time.time())
            res = inv["result"] or {"status": "none"}
        self.reply(200, res)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_address[1])
        import os
        os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
