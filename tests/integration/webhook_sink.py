#!/usr/bin/env python3
"""A webhook receiver for the notification scenarios: python3 webhook_sink.py PORT DIR [SECRET].
Each POST is written to DIR/N.json ({"path", "headers", "body", "signature_ok"}), N from 1; with
SECRET the X-Zload-Signature header must be sha256=HMAC-SHA256(SECRET, body), else it must be
absent. Answers 200, or 401 when the signature is wrong. Prints "listening" once bound."""
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading

port, out = int(sys.argv[1]), sys.argv[2]
secret = sys.argv[3] if len(sys.argv) > 3 else ""
lock = threading.Lock()
count = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        got = self.headers.get("X-Zload-Signature")
        if secret:
            ok = got == "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        else:
            ok = got is None
        with lock:
            count[0] += 1
            path = os.path.join(out, "%d.json" % count[0])
            with open(path + ".part", "w") as f:
                json.dump({"path": self.path, "headers": dict(self.headers), "body": body.decode(),
                           "signature_ok": ok}, f)
            os.rename(path + ".part", path)
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("listening", flush=True)
server.serve_forever()
