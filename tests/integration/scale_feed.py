"""Feeds the scale-out scenario (tests/integration/t_scale_out.sh) and bench/scale.sh: puts small CSV
objects into a moto S3 bucket and moves S3 notifications between SQS queues, with boto3.

  scale_feed.py put ENDPOINT BUCKET PREFIX N [START]   N objects PREFIX/oNNNNNN.csv (8 threads);
        object i holds i % 3 + 2 rows "id,obj,v" with ids i*10+r (unique), obj = i
  scale_feed.py replay ENDPOINT FROM_URL TO_URL N      every message of FROM_URL sent again to TO_URL
        (same body) and deleted from FROM_URL, until N ObjectCreated notifications went through;
        prints the count to stdout every 100 and at the end
  scale_feed.py collect ENDPOINT FROM_URL N FILE       the bodies of N ObjectCreated notifications
        of FROM_URL, one JSON line each, into FILE (deleted from the queue)
  scale_feed.py send ENDPOINT TO_URL FILE [COPIES]     every line of FILE as a message body, COPIES
        times each (default 1), 10 per SendMessageBatch; the copies of a body are not adjacent
Rows of object i: rows(i) = i % 3 + 2.
"""
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config


def client(kind, endpoint):
    return boto3.client(kind, endpoint_url=endpoint, region_name="us-east-1",
                        config=Config(retries={"max_attempts": 10, "mode": "standard"},
                                      max_pool_connections=16))


def rows(i):
    return i % 3 + 2


def body(i):
    return "id,obj,v\n" + "".join("%d,%d,v%d\n" % (i * 10 + r, i, r) for r in range(rows(i)))


def put(endpoint, bucket, prefix, n, start=1):
    s3 = client("s3", endpoint)
    keys = range(start, start + n)
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda i: s3.put_object(Bucket=bucket, Key="%s/o%06d.csv" % (prefix, i),
                                            Body=body(i).encode()), keys))


def created(b):
    return '"ObjectCreated:' in b


def drain(sqs, url, on_batch, want):
    """Receives from url until want ObjectCreated bodies were seen; on_batch(msgs) before delete."""
    seen = 0
    last = -1
    while seen < want:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        msgs = r.get("Messages", [])
        if not msgs:
            continue
        on_batch(msgs)
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]} for k, m in enumerate(msgs)])
        seen += sum(1 for m in msgs if created(m["Body"]))
        if seen // 100 != last // 100 or seen >= want:
            print(seen, flush=True)
            last = seen
    return seen


def replay(endpoint, src, dst, want):
    sqs = client("sqs", endpoint)

    def resend(msgs):
        r = sqs.send_message_batch(QueueUrl=dst, Entries=[
            {"Id": str(k), "MessageBody": m["Body"]} for k, m in enumerate(msgs)])
        if r.get("Failed"):
            sys.exit("send_message_batch failed: %r" % r["Failed"])

    drain(sqs, src, resend, want)


def collect(endpoint, src, want, path):
    sqs = client("sqs", endpoint)
    with open(path, "w") as f:
        def keep(msgs):
            for m in msgs:
                if created(m["Body"]):
                    f.write(json.dumps(m["Body"]) + "\n")
        drain(sqs, src, keep, want)


def send(endpoint, dst, path, copies=1):
    sqs = client("sqs", endpoint)
    bodies = [json.loads(line) for line in open(path)]
    # copy c of every body after copy c-1 of all of them, in chunks of 10 sent by 4 threads
    all_bodies = [b for _ in range(copies) for b in bodies]
    chunks = [all_bodies[k:k + 10] for k in range(0, len(all_bodies), 10)]

    def one(chunk):
        r = sqs.send_message_batch(QueueUrl=dst, Entries=[
            {"Id": str(k), "MessageBody": b} for k, b in enumerate(chunk)])
        if r.get("Failed"):
            raise RuntimeError("send_message_batch failed: %r" % r["Failed"])

    with ThreadPoolExecutor(4) as ex:
        list(ex.map(one, chunks))


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "put" and len(argv) in (6, 7):
        put(argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]) if len(argv) == 7 else 1)
    elif cmd == "replay" and len(argv) == 6:
        replay(argv[2], argv[3], argv[4], int(argv[5]))
    elif cmd == "collect" and len(argv) == 6:
        collect(argv[2], argv[3], int(argv[4]), argv[5])
    elif cmd == "send" and len(argv) in (5, 6):
        send(argv[2], argv[3], argv[4], int(argv[5]) if len(argv) == 6 else 1)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
