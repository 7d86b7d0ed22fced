#!/usr/bin/env python3
"""POSTs event bodies to a zload webhook from several clients at once, and sums the replies.

usage: post_many.py PORT CLIENTS REQUESTS RECORDS [--key FMT] [--shared KEY] [--add I:KEY]...
                    [--malformed I] [--first I] [--replies FILE]

Request i carries RECORDS records, keys FMT % (i, j) (default "in/r%05d-%d.csv", bucket "b"),
plus the key --shared when given and the keys --add gives it; request --malformed is not JSON.
Requests are numbered from --first (default 0). Each client keeps one
connection open; all start together. Prints one JSON line: replies by status, the sums of the
200 replies' counts, the seconds taken and requests per second. --replies writes
"i status body" per request.
"""
import argparse
import http.client
import json
import sys
import threading
import time


def record(key):
    return {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "b"}, "object": {"key": key, "size": 1}}}


def body(args, i):
    if i == args.malformed:
        return b'{"Records": ['
    keys = [args.key % (i, j) for j in range(args.records)]
    if args.shared:
        keys.append(args.shared)
    keys += [a.split(":", 1)[1] for a in args.add if int(a.split(":", 1)[0]) == i]
    return json.dumps({"Records": [record(k) for k in keys]}).encode()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("clients", type=int)
    p.add_argument("requests", type=int)
    p.add_argument("records", type=int)
    p.add_argument("--key", default="in/r%05d-%d.csv")
    p.add_argument("--shared")
    p.add_argument("--add", action="append", default=[])
    p.add_argument("--malformed", type=int, default=-1)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--replies")
    args = p.parse_args()
    bodies = [body(args, args.first + i) for i in range(args.requests)]
    replies = [None] * args.requests
    next_i = [0]
    lock = threading.Lock()
    go = threading.Barrier(args.clients + 1)

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
        go.wait()
        while True:
            with lock:
                i = next_i[0]
                next_i[0] += 1
            if i >= args.requests:
                break
            for attempt in range(3):  # a connection the server closed (idle) is opened again
                try:
                    conn.request("POST", "/events", bodies[i], {"Content-Type": "application/json"})
                    r = conn.getresponse()
                    replies[i] = (r.status, r.read().decode())
                    break
                except (http.client.HTTPException, OSError) as e:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
                    replies[i] = (0, str(e))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    go.wait()
    start = time.monotonic()
    for t in threads:
        t.join()
    secs = time.monotonic() - start
    status, sums = {}, {}
    for st, text in replies:
        status[str(st)] = status.get(str(st), 0) + 1
        if st == 200:
            for k, v in json.loads(text).items():
                sums[k] = sums.get(k, 0) + v
    if args.replies:
        with open(args.replies, "w") as f:
            for i, (st, text) in enumerate(replies):
                f.write("%d %d %s\n" % (args.first + i, st, text))
    print(json.dumps({"status": status, "sums": sums, "secs": round(secs, 3),
                      "rps": round(args.requests / secs, 1) if secs > 0 else 0}, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
