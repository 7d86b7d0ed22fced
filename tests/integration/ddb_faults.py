"""A DynamoDB stand-in's fault injector: a proxy in front of moto that answers some requests the
way DynamoDB does under load, on a fixed schedule, and forwards the rest.

  python ddb_faults.py --port-file FILE --upstream http://127.0.0.1:MOTO --stats FILE

Per action, counting from 1:
- TransactWriteItems: call 4k+1 is refused with ProvisionedThroughputExceededException (not
  applied); 4k+2 is applied, then answered HTTP 500 as if the answer were lost; 4k+3 is
  cancelled with TransactionConflict (not applied); 4k+4 goes through.
- GetItem and Query: every 5th is refused with ThrottlingException.
A TransactWriteItems whose ClientRequestToken was applied before is answered as DynamoDB answers
a retry within ten minutes: success, nothing applied again. The counts of injected faults are
written to the stats file as JSON after every request.
"""
import argparse
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "com.amazonaws.dynamodb.v20120810#"
lock = threading.Lock()
calls = {}
stats = {"throughput": 0, "lost_answer": 0, "conflict": 0, "throttled_read": 0, "token_replay": 0,
         "forwarded": 0}
tokens = {}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--stats", required=True)
    args = ap.parse_args()

    def save():
        with open(args.stats + ".tmp", "w") as f:
            json.dump(stats, f)
        import os
        os.replace(args.stats + ".tmp", args.stats)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def forward(self, body):
            req = urllib.request.Request(args.upstream + self.path, data=body, method="POST")
            for k in ("X-Amz-Target", "Content-Type", "Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
                if self.headers.get(k):
                    req.add_header(k, self.headers[k])
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as e:
                return e.code, e.read()

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            action = (self.headers.get("X-Amz-Target") or "").split(".")[-1]
            with lock:
                token = json.loads(body).get("ClientRequestToken") if action == "TransactWriteItems" else None
                if token and token in tokens:  # a replay takes no turn in the schedule
                    stats["token_replay"] += 1
                    save()
                    return self.answer(200, tokens[token])
                n = calls[action] = calls.get(action, 0) + 1
                if action == "TransactWriteItems":
                    kind = ("throughput", "lost_answer", "conflict", None)[(n - 1) % 4]
                elif action in ("GetItem", "Query") and n % 5 == 0:
                    kind = "throttled_read"
                else:
                    kind = None
                if kind in ("throughput", "conflict", "throttled_read"):
                    stats[kind] += 1
                    save()
                if kind == "throughput":
                    return self.answer(400, {"__type": PREFIX + "ProvisionedThroughputExceededException",
                                             "message": "The level of configured provisioned throughput for the table was exceeded."})
                if kind == "conflict":
                    reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
                    return self.answer(400, {"__type": PREFIX + "TransactionCanceledException", "CancellationReasons": reasons,
                                             "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]"})
                if kind == "throttled_read":
                    return self.answer(400, {"__type": PREFIX + "ThrottlingException", "message": "Rate of requests exceeds the allowed throughput."})
                status, data = self.forward(body)
                stats["forwarded"] += 1
                if action == "TransactWriteItems" and status == 200 and token:
                    tokens[token] = json.loads(data or b"{}")
                if kind == "lost_answer" and status == 200:
                    stats["lost_answer"] += 1
                    save()
                    return self.answer(500, {"__type": PREFIX + "InternalServerError", "message": "Internal server error"})
                save()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    save()
    with open(args.port_file, "w") as f:
        f.write(str(srv.server_address[1]))
    srv.serve_forever()


if __name__ == "__main__":
    main()
