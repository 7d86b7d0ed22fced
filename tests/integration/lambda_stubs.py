"""Stand-ins for t_lambda_package: an HTTPS server that answers any GET with an empty S3 listing,
and a Lambda Runtime API that hands out one invocation.

  lambda_stubs.py https PORT CERT KEY LOG
  lambda_stubs.py runtime PORT EVENT_FILE LOG

Each request is logged to LOG as "METHOD PATH" (one line, flushed)."""
import http.server
import ssl
import sys
import time

mode, port, log_path = sys.argv[1], int(sys.argv[2]), sys.argv[-1]
log = open(log_path, "a", buffering=1)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    served = 0

    def log_message(self, *a):
        pass

    def reply(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        log.write("GET %s\n" % self.path)
        if mode == "https":
            self.reply(200, b'<?xml version="1.0"?><ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>')
            return
        if self.path != "/2018-06-01/runtime/invocation/next":
            self.reply(404, b"{}")
            return
        if Handler.served:
            time.sleep(3600)  # a real Runtime API blocks until the next invocation
        Handler.served += 1
        with open(sys.argv[3], "rb") as f:
            body = f.read()
        deadline = str(int(time.time() * 1000) + 60000)
        self.reply(200, body, [("Lambda-Runtime-Aws-Request-Id", "req-1"),
                               ("Lambda-Runtime-Deadline-Ms", deadline),
                               ("Lambda-Runtime-Invoked-Function-Arn",
                                "arn:aws:lambda:us-east-1:123456789012:function:zload"),
                               ("Content-Type", "application/json")])

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        log.write("POST %s %s\n" % (self.path, body[:200].decode("utf-8", "replace").replace("\n", " ")))
        self.reply(202, b'{"status":"OK"}')


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
if mode == "https":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
