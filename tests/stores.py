#!/usr/bin/env python3
"""Test helper: create buckets and upload objects to the local S3 (moto), Azure Blob
(Azurite) and GCS (fake-gcs-server) servers that tests/emulators.sh starts.

    python3 tests/stores.py mkbucket s3|azure|gcs BUCKET
    python3 tests/stores.py upload   s3|azure|gcs BUCKET DIR [--prefix P]
    python3 tests/stores.py many     s3|azure|gcs BUCKET COUNT [--prefix P] [--seed N]
    python3 tests/stores.py big      s3|azure|gcs BUCKET KEY SIZE [--seed N]
    python3 tests/stores.py put      s3|azure|gcs BUCKET KEY FILE
    python3 tests/stores.py ls       s3|azure BUCKET
    python3 tests/stores.py queue    sqs NAME     (an SQS queue and an SNS topic delivering to it)
    python3 tests/stores.py queue    azqueue NAME (an Azure Storage queue on Azurite)
    python3 tests/stores.py drain    sqs QUEUE_URL, or azqueue NAME (prints the bodies waiting)
    python3 tests/stores.py notify   s3 BUCKET QUEUE_NAME (bucket -> queue ObjectCreated events)
    python3 tests/stores.py send     sqs QUEUE_URL BODY, or azqueue NAME BODY (base64, as Event Grid)
    python3 tests/stores.py latency  s3 BUCKET COUNT FINDINGS_JSONL (upload one by one, time each
                                     until its finding appears in the file)

Endpoints come from DLP_TEST_S3, DLP_TEST_AZURITE and DLP_TEST_GCS (see
tests/emulators.sh). `many` and `big` print a JSON line with what they planted, so a test can
check the scan found all of it.
"""
import argparse
import concurrent.futures
import io
import json
import os
import random
import sys
import urllib.parse
import urllib.request

AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def endpoint(store):
    var = {"s3": "DLP_TEST_S3", "azure": "DLP_TEST_AZURITE", "gcs": "DLP_TEST_GCS"}[store]
    url = os.environ.get(var)
    if not url:
        sys.exit(f"stores.py: {var} is not set; start the servers with: bash tests/emulators.sh start")
    return url.rstrip("/")


def s3_client(url, key="test", secret="test"):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32),
    )


def azure_container(bucket):
    from azure.storage.blob import BlobServiceClient

    cs = (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
          f"BlobEndpoint={endpoint('azure')};")
    return BlobServiceClient.from_connection_string(cs, api_version="2025-01-05").get_container_client(bucket)


class Store:
    """put(key, bytes-or-file) on one bucket of one server."""

    def __init__(self, kind, bucket):
        self.kind, self.bucket = kind, bucket
        if kind == "s3":
            self.s3 = s3_client(endpoint("s3"))
        elif kind == "azure":
            self.az = azure_container(bucket)
        elif kind == "gcs":
            self.gcs = endpoint("gcs")
        else:
            sys.exit(f"stores.py: unknown store {kind!r} (s3, azure or gcs)")

    def mkbucket(self):
        if self.kind == "s3":
            try:
                self.s3.create_bucket(Bucket=self.bucket)
            except self.s3.exceptions.BucketAlreadyOwnedByYou:
                pass
        elif self.kind == "azure":
            from azure.core.exceptions import ResourceExistsError
            try:
                self.az.create_container()
            except ResourceExistsError:
                pass
        else:
            req = urllib.request.Request(f"{self.gcs}/storage/v1/b?project=test", method="POST",
                                         data=json.dumps({"name": self.bucket}).encode(),
                                         headers={"Content-Type": "application/json"})
            try:
                urllib.request.urlopen(req).read()
            except urllib.error.HTTPError as e:
                if e.code != 409:
                    raise

    def put(self, key, data):
        """data: bytes, or a binary file object (streamed, for large objects)."""
        if self.kind == "s3":
            if isinstance(data, bytes):
                self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
            else:
                from boto3.s3.transfer import TransferConfig
                cfg = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=64 << 20, max_concurrency=2)
                self.s3.upload_fileobj(data, self.bucket, key, Config=cfg)
        elif self.kind == "azure":
            self.az.upload_blob(key, data, overwrite=True, max_concurrency=2)
        else:
            body = data if isinstance(data, bytes) else data.read()
            q = urllib.parse.urlencode({"uploadType": "media", "name": key})
            req = urllib.request.Request(f"{self.gcs}/upload/storage/v1/b/{urllib.parse.quote(self.bucket)}/o?{q}",
                                         method="POST", data=body,
                                         headers={"Content-Type": "application/octet-stream"})
            urllib.request.urlopen(req).read()


def ls(store):
    """Prints {key: {size, sha256, tags, metadata}} of every object in the bucket."""
    import hashlib
    out = {}
    if store.kind == "s3":
        pages = store.s3.get_paginator("list_objects_v2").paginate(Bucket=store.bucket)
        for page in pages:
            for o in page.get("Contents", []):
                got = store.s3.get_object(Bucket=store.bucket, Key=o["Key"])
                body = got["Body"].read()
                tags = store.s3.get_object_tagging(Bucket=store.bucket, Key=o["Key"])["TagSet"]
                out[o["Key"]] = {"size": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                                 "tags": {t["Key"]: t["Value"] for t in tags}, "metadata": got.get("Metadata", {})}
    elif store.kind == "azure":
        for b in store.az.list_blobs(include=["tags", "metadata"]):
            body = store.az.download_blob(b.name).readall()
            out[b.name] = {"size": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                           "tags": dict(b.tags or {}), "metadata": dict(b.metadata or {})}
    else:
        sys.exit("stores.py ls: s3 or azure")
    print(json.dumps(out, sort_keys=True))


def sqs_clients():
    import boto3
    kw = dict(endpoint_url=endpoint("s3"), region_name="us-east-1", aws_access_key_id="test",
              aws_secret_access_key="test")
    return boto3.client("sqs", **kw), boto3.client("sns", **kw)


def queue(store, name):
    if store == "azqueue":
        q = azure_queue(name)
        q.create_queue()
        print(json.dumps({"queue_url": f"{os.environ['DLP_TEST_AZURE_QUEUE']}/{name}"}))
        return
    sqs, sns = sqs_clients()
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name=name)["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    print(json.dumps({"queue_url": url, "topic_arn": topic}))


def drain(store, url):
    if store == "azqueue":
        import base64
        q = azure_queue(url)
        try:
            msgs = list(q.receive_messages(messages_per_page=32))
        except Exception as e:  # the queue does not exist: nothing in it
            if "QueueNotFound" in str(e):
                msgs = []
            else:
                raise
        for m in msgs:
            q.delete_message(m)
        print(json.dumps([base64.b64decode(m.content).decode() for m in msgs]))
        return
    sqs, _ = sqs_clients()
    bodies, empty = [], 0
    while empty < 2:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        empty = empty + 1 if not got else 0
        for m in got:
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    print(json.dumps(bodies))


def notify(bucket, queue_name):
    sqs, _ = sqs_clients()
    s3 = s3_client(endpoint("s3"))
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"Id": "dlp", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    print(json.dumps({"queue_url": url}))


def azure_queue(name):
    from azure.storage.queue import QueueClient
    conn = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + AZURITE_KEY + ";"
            f"QueueEndpoint={os.environ['DLP_TEST_AZURE_QUEUE']};")
    # Azurite 3.35 knows API versions up to 2025; the SDK may default to a newer one.
    return QueueClient.from_connection_string(conn, name, api_version="2021-12-02")


def send(store, url, body):
    """SQS: BODY as is. Azure queue (by name): BODY base64-encoded, as Event Grid queues it."""
    if store == "azqueue":
        import base64
        azure_queue(url).send_message(base64.b64encode(body.encode()).decode())
        return
    sqs, _ = sqs_clients()
    sqs.send_message(QueueUrl=url, MessageBody=body)


def latency(bucket, count, findings):
    """Uploads COUNT objects with a card, one at a time; for each, the seconds from the start
    of the upload to its finding in FINDINGS (a JSON Lines file a listener appends to)."""
    import time
    s3 = s3_client(endpoint("s3"))
    rng = random.Random(5)
    times, missing = [], []
    seen = set()
    pos = 0

    def poll():
        nonlocal pos
        try:
            with open(findings, "rb") as fh:
                fh.seek(pos)
                data = fh.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1
        pos += end
        for line in data[:end].splitlines():
            seen.add(json.loads(line)["object"])

    for i in range(count):
        key = f"in/up-{i:04d}.txt"
        url = f"s3://{bucket}/{key}"
        start = time.monotonic()
        s3.put_object(Bucket=bucket, Key=key, Body=f"upload {i}: card {luhn_card(rng)}\n".encode())
        while url not in seen and time.monotonic() - start < 30:
            poll()
            if url not in seen:
                time.sleep(0.01)
        if url in seen:
            times.append(time.monotonic() - start)
        else:
            missing.append(key)
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))] if times else None
    print(json.dumps({"uploads": count, "found": len(times), "missing": missing,
                      "median_s": pick(0.5), "p99_s": pick(0.99), "max_s": times[-1] if times else None}))


def upload_dir(store, root, prefix):
    jobs = []
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            jobs.append((prefix + rel, path))

    def one(job):
        key, path = job
        with open(path, "rb") as fh:
            store.put(key, fh.read())

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(one, jobs))
    print(json.dumps({"uploaded": len(jobs)}))


def luhn_card(rng):
    digits = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    digits.append((10 - total % 10) % 10)
    s = "".join(map(str, digits))
    return f"{s[0:4]} {s[4:8]} {s[8:12]} {s[12:16]}"


def many(store, count, prefix, seed):
    """COUNT small text objects of 200 B to 4 KiB; every 10th has one card number."""
    rng = random.Random(seed)
    words = "the order was shipped to our customer on time and the invoice follows next week".split()
    objs = []
    for i in range(count):
        text = " ".join(rng.choice(words) for _ in range(rng.randrange(40, 700)))
        if i % 10 == 0:
            text += f"\npayment card: {luhn_card(rng)}\n"
        objs.append((f"{prefix}{i // 1000:03d}/obj-{i:05d}.txt", text.encode()))

    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        list(ex.map(lambda kv: store.put(*kv), objs))
    print(json.dumps({"objects": count, "cards": (count + 9) // 10, "bytes": sum(len(v) for _, v in objs)}))


class BigObject(io.RawIOBase):
    """SIZE bytes of log-like text, generated as it is read, with a card number planted
    in each 64 MiB block at a random place."""

    BLOCK = 64 << 20

    def __init__(self, size, seed):
        rng = random.Random(seed)
        line = b"2026-11-30T12:00:00Z INFO request served path=/api/v1/items status=200 bytes=5123\n"
        self.filler = (line * (self.BLOCK // len(line) + 1))[: self.BLOCK]
        self.size, self.pos, self.rng, self.planted = size, 0, rng, 0

    def readable(self):
        return True

    def readinto(self, b):
        if self.pos >= self.size:
            return 0
        start = self.pos % self.BLOCK
        n = min(len(b), self.BLOCK - start, self.size - self.pos)
        chunk = bytearray(self.filler[start:start + n])
        if start == 0 and n >= 4096:
            at = self.rng.randrange(0, n - 200)
            at = chunk.rfind(b"\n", 0, at) + 1
            card = f"card={luhn_card(self.rng)}\n".encode()
            chunk[at:at + len(card)] = card
            self.planted += 1
        b[:n] = chunk
        self.pos += n
        return n


def big(store, key, size, seed):
    src = BigObject(size, seed)
    store.put(key, io.BufferedReader(src, 8 << 20))
    print(json.dumps({"key": key, "bytes": size, "cards": src.planted}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, extra in [("mkbucket", []), ("upload", ["dir"]), ("many", ["count"]), ("big", ["key", "size"]),
                        ("put", ["key", "file"]), ("ls", [])]:
        sp = sub.add_parser(name)
        sp.add_argument("store")
        sp.add_argument("bucket")
        for e in extra:
            sp.add_argument(e)
        sp.add_argument("--prefix", default="")
        sp.add_argument("--seed", type=int, default=1)
    for name, extra in [("queue", []), ("drain", []), ("notify", ["queue"]), ("send", ["body"]),
                        ("latency", ["count", "findings"])]:
        sp = sub.add_parser(name)
        sp.add_argument("store")
        sp.add_argument("bucket")
        for e in extra:
            sp.add_argument(e)
    a = p.parse_args()
    if a.cmd == "queue":
        return queue(a.store, a.bucket)
    if a.cmd == "drain":
        return drain(a.store, a.bucket)
    if a.cmd == "notify":
        return notify(a.bucket, a.queue)
    if a.cmd == "send":
        return send(a.store, a.bucket, a.body)
    if a.cmd == "latency":
        return latency(a.bucket, int(a.count), a.findings)
    store = Store(a.store, a.bucket)
    if a.cmd == "mkbucket":
        store.mkbucket()
    elif a.cmd == "upload":
        store.mkbucket()
        upload_dir(store, a.dir, a.prefix)
    elif a.cmd == "many":
        store.mkbucket()
        many(store, int(a.count), a.prefix, a.seed)
    elif a.cmd == "big":
        store.mkbucket()
        big(store, a.key, int(a.size), a.seed)
    elif a.cmd == "ls":
        ls(store)
    elif a.cmd == "put":
        with open(a.file, "rb") as fh:
            store.put(a.key, fh.read())


if __name__ == "__main__":
    main()
