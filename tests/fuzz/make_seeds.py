#!/usr/bin/env python3
"""Writes the seed corpora of the event, lambda_event, aws_json, s3_xml, rows, decompress and config fuzz
targets: real-looking inputs taken from the unit and integration tests (tests/unit/test_event.c,
test_format.c, test_route.c, tests/integration/lib*.sh) and examples/."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def s3rec(key, bucket="land", name="ObjectCreated:Put", size=42, etag=None):
    o = {"key": key, "size": size}
    if etag:
        o["eTag"] = etag
    return {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-25T10:00:00.000Z", "eventName": name,
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": "arn:aws:s3:::" + bucket},
                   "object": o}}


def s3(*recs):
    return json.dumps({"Records": list(recs)})


def sns_envelope(msg):
    return json.dumps({"Type": "Notification", "MessageId": "n1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                       "Message": msg, "Timestamp": "2026-11-25T10:00:00.000Z"})


def sqs_batch(*bodies):
    return json.dumps({"Records": [{"messageId": "m%d" % i, "receiptHandle": "rm%d" % i, "body": b,
                                    "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                                    "awsRegion": "us-east-1"} for i, b in enumerate(bodies, 1)]})


def sns_batch(msg):
    return json.dumps({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                                    "Sns": {"Type": "Notification", "MessageId": "n1", "Message": msg}}]})


one = s3(s3rec("logs/dt%3D2026-11-25/a+b.csv", etag="abc"))
events = {
    "s3_put": one,
    "s3_mixed": s3(s3rec("logs/dt%3D2026-11-25/a+b.csv", etag="abc"), s3rec("x", name="ObjectRemoved:Delete"),
                   s3rec("y.csv", name="ObjectCreated:CompleteMultipartUpload"), {"eventName": "ObjectCreated:Put",
                   "s3": {"bucket": {"name": "land"}, "object": {}}}, 7),
    "test_event": '{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-25T10:00:00.000Z","Bucket":"land"}',
    "sns_envelope": sns_envelope(one),
    "sns_subscribe": '{"Type":"SubscriptionConfirmation","SubscribeURL":"https://sns.example/confirm","Token":"t"}',
    "sqs_batch": sqs_batch(one, s3(s3rec("q2.csv")), "not json"),
    "sns_batch": sns_batch(one),
    "sqs_of_sns": sqs_batch(sns_envelope(one)),
    "eventbridge": json.dumps({"version": "0", "id": "e1", "detail-type": "Object Created", "source": "aws.s3",
                               "account": "123456789012", "time": "2026-11-25T10:00:00Z", "region": "us-east-1",
                               "detail": {"bucket": {"name": "b"}, "object": {"key": "raw/2023-08-08T14:03:40+x.csv",
                                                                               "size": 9, "etag": "e1"}}}),
    "eventbridge_deleted": '{"source":"aws.s3","detail-type":"Object Deleted","detail":{}}',
    "minio": json.dumps({"EventName": "s3:ObjectCreated:Put", "Key": "b/k.csv",
                         "Records": [s3rec("k.csv", bucket="b", name="s3:ObjectCreated:Put", size=3),
                                     {"eventName": "s3:ObjectRemoved:Delete", "s3": {}}]}),
    "bad_escape": s3(s3rec("a%zz.csv"), s3rec("%00")),
    "deep": sns_envelope(sns_envelope(sns_envelope(sns_envelope(one)))),
    "sqs_fail": sqs_batch(s3(s3rec("fail/a.csv")), s3(s3rec("ok.csv"))),
    "scheduled": json.dumps({"version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events",
                             "detail": {}}),
}
for k, v in events.items():
    write("event", k, v)
    write("lambda_event", k, v)

# aws_json: first byte selects the HTTP status (see fuzz_aws_json.c), the rest is the reply body.
replies = {
    "sqs_receive": (200, json.dumps({"Messages": [
        {"MessageId": "m1", "ReceiptHandle": "AQEB1", "MD5OfBody": "x", "Body": one},
        {"MessageId": "m2", "ReceiptHandle": "AQEB2", "Body": sns_envelope(one)}]})),
    "sqs_empty": (200, "{}"),
    "kms_encrypt": (200, json.dumps({"CiphertextBlob": "AQICAHhvZXhhbXBsZQ==", "KeyId": "arn:aws:kms:us-east-1:1:key/k",
                                     "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})),
    "kms_decrypt": (200, json.dumps({"Plaintext": "c2VjcmV0", "KeyId": "arn:aws:kms:us-east-1:1:key/k"})),
    "error_400": (400, json.dumps({"__type": "com.amazonaws.sqs#QueueDoesNotExist",
                                   "message": "The specified queue does not exist."})),
    "error_500": (500, "<html>Internal Server Error</html>"),
    "error_kms": (400, json.dumps({"__type": "InvalidCiphertextException", "Message": "bad"})),
}
codes = {200: 0, 400: 1, 429: 2, 500: 3, 503: 4}
for k, (st, body) in replies.items():
    write("aws_json", k, bytes([codes[st]]) + body.encode())

# s3_xml: first byte 'L' a ListObjectsV2 page, 'E' an error body.
lists = {
    "list_page": """<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>land</Name><Prefix>logs/</Prefix>
<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
<Contents><Key>logs/dt%3D2026-11-25/a+b.csv</Key><LastModified>2026-11-25T10:00:00.000Z</LastModified>
<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>42</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>logs/b.csv.gz</Key><LastModified>2026-11-25T10:00:01Z</LastModified><ETag>"e2"</ETag><Size>7</Size></Contents>
</ListBucketResult>""",
    "list_last": """<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key></Contents></ListBucketResult>""",
}
errors = {
    "error_nosuchkey": """<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a.csv</Key>
<RequestId>4442587FB7D0A2F9</RequestId></Error>""",
    "error_slowdown": "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
    "error_region": "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region 'us-east-1' is wrong; "
                    "expecting 'eu-west-1'</Message><Region>eu-west-1</Region></Error>",
}
for k, v in lists.items():
    write("s3_xml", k, "L" + v)
for k, v in errors.items():
    write("s3_xml", k, "E" + v)

# rows: byte 0 type|header<<2|null<<3|chunk<<5, byte 1 delimiter (0x80|index), byte 2 quote, byte 3 escape.
CSV, JSONL, TEXT = 0, 1, 2
rows = {
    "csv_header": (CSV | 4, 0, 0, 0, open(os.path.join(HERE, "../../examples/data/2026-11-25-a.csv"), "rb").read()),
    "csv_quoted": (CSV | 1 << 5, 0, 0, 0, b"\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",plain\nnext,\"\"\"\",x\"y,z\n"),
    "csv_crlf": (CSV, 0, 0, 0, b"\"a\",\"b\"\r\n\"q\r\nr\",d\r\ne,f"),
    "csv_pipe": (CSV | 2 << 3, 0x82, 1, 0, b"a|'b|c'|'it''s'|\"q\"\n'x\ny'||z\n"),
    "csv_escape": (CSV | 4 | 3 << 5, 0, 0, 1, b"id,name\n1,\"a \\\"b\\\" c\"\n2,\\N\n"),
    "csv_bom": (CSV | 4, 0, 0, 0, b"\xEF\xBB\xBFid,\"full name\",score\n1,Ann,3.5\n2,\"Bob, Jr\",\n"),
    "jsonl": (JSONL, 0, 0, 0, b"{\"id\":1,\"s\":\"x\",\"n\":null,\"b\":true,\"f\":2.5,\"a\":[1,\"b\"],\"o\":{\"k\":{}},"
              b"\"u\":\"\\u00e9\\n\"}\n{}\n{\"big\":9223372036854775807}"),
    "jsonl_blank": (JSONL | 2 << 5, 0, 0, 0, b"\n  \n{\"a\":1}\r\n\t\r\n{\"a\":\"2\"}\r\n\n"),
    "jsonl_bad": (JSONL, 0, 0, 0, b"{\"a\":1}\n[1,2]\n"),
    "text": (TEXT, 0, 0, 0, b"1\tAnn\t\\N\n2\tB\\tob\\\\\\n\t\\x41\\101\n\\.\nignored\n"),
    "text_pipe": (TEXT | 2 << 3 | 1 << 5, 0x82, 0, 0, b"a|b\\|c|NULL\n\\N|x\n"),
}
for k, (b0, b1, b2, b3, body) in rows.items():
    write("rows", k, bytes([b0, b1, b2, b3]) + body)

# decompress: byte 0 comp (0 auto, 1 gzip, 2 zstd, 3 bzip2) | name << 2 (0 .csv, 1 .gz, 2 .zst, 3 .bz2)
# | inner chunks << 4 | read sizes << 6.
import bz2
import gzip
import shutil
import subprocess

csv = open(os.path.join(HERE, "../../examples/data/2026-11-25-a.csv"), "rb").read()
dz = {
    "gzip_auto": (0 | 1 << 2, gzip.compress(csv, mtime=0)),
    "gzip_members": (1 | 1 << 4 | 1 << 6, gzip.compress(b"a,b\n", mtime=0) + gzip.compress(b"c,d\n", mtime=0)),
    "gzip_truncated": (0, gzip.compress(csv, mtime=0)[:-9]),
    "bzip2_auto": (0 | 3 << 2, bz2.compress(csv)),
    "bzip2_streams": (3 | 2 << 4 | 3 << 6, bz2.compress(b"a,b\n") + bz2.compress(b"c,d\n")),
    "plain_named_gz": (0 | 1 << 2, csv),
    "empty_gz": (1, b""),
}
if shutil.which("zstd"):
    z = lambda b: subprocess.run(["zstd", "-q", "-c"], input=b, stdout=subprocess.PIPE, check=True).stdout
    dz["zstd_auto"] = (0 | 2 << 2, z(csv))
    dz["zstd_frames"] = (2 | 3 << 4 | 2 << 6, z(b"a,b\n") + z(b"c,d\n"))
for k, (b0, body) in dz.items():
    write("decompress", k, bytes([b0]) + body)

# config: the examples (copied from examples/*-config.json) and the original loader's form.
cfgs = {
    "sqlite_csv": {"s3Prefix": "b/logs/dt=*/h=*", "filenameFilterRegex": ".*\\.csv(\\.gz)?$", "batchSize": 100,
                   "batchSizeBytes": 0, "batchTimeoutSecs": 60, "dedupe": "key",
                   "format": {"type": "csv", "delimiter": ",", "header": True, "compression": "auto", "null": "\\N"},
                   "targets": [{"type": "sqlite", "path": "/tmp/x.db", "targetTable": "t"}]},
    "vertica_original": {"s3Prefix": "land/events", "batchSize": 10, "batchTimeoutSecs": 30,
                         "loadClusters": [{"clusterEndpoint": "v1.example", "clusterPort": 5433,
                                           "connectUser": "loader", "connectPassword": "secret",
                                           "targetTable": "public.events", "loadMode": "server",
                                           "s3MountDir": "/mnt/s3/", "copyOptions": "ON ANY NODE",
                                           "preLoadStatement": "SELECT 1", "postLoadStatement": "SELECT 2"}],
                         "successTopicARN": "arn:aws:sns:us-east-1:123456789012:ok",
                         "failureTopicARN": "arn:aws:sns:us-east-1:123456789012:fail"},
    "two_targets": {"s3Prefix": "landing/events", "format": {"type": "text", "delimiter": "|"},
                    "targets": [{"name": "pg", "type": "postgres", "conninfo": "host=db1 dbname=dw user=loader",
                                 "password": "p", "targetTable": "public.events"},
                                {"name": "v", "type": "vertica", "clusterEndpoint": "v1", "targetTable": "e"}],
                    "notify": {"success": ["https://hooks.example/ok"], "failure": ["mailto:ops@example.com"]}},
}
for k, v in cfgs.items():
    write("config", k, json.dumps(v, indent=1))
for k in ("demo", "postgres", "s3", "notify"):
    write("config", k, open(os.path.join(HERE, "../../examples/%s-config.json" % k), "rb").read())
