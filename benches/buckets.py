#!/usr/bin/env python3
"""Bucket scan throughput against the local servers of tests/emulators.sh, beside a
baseline measured in the same run: the same objects fetched with plain keep-alive HTTP GETs
from Python threads (no scanning), so the server's own limit is visible.

    bash tests/emulators.sh start && source tests/.run/env
    cargo build --release -p dlp-worker
    python3 benches/buckets.py [--objects 10000] [--stores s3,gcs] [--concurrency 1,8,32]

Prints one Markdown table: store, concurrency, objects/s and MB/s of `dlp-worker scan`, the
baseline's objects/s, and the scanner's peak RSS.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BIN = os.environ.get("DLP_WORKER_BIN", os.path.join(ROOT, "target/release/dlp-worker"))
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def store_env(store):
    env = dict(os.environ, AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent")
    if store == "s3":
        env.update(AWS_ENDPOINT_URL=os.environ["DLP_TEST_S3"], AWS_ACCESS_KEY_ID="test",
                   AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1")
    elif store == "gcs":
        env["STORAGE_EMULATOR_HOST"] = os.environ["DLP_TEST_GCS"]
    else:
        env["AZURE_STORAGE_CONNECTION_STRING"] = (
            f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
            f"BlobEndpoint={os.environ['DLP_TEST_AZURITE']};")
    return env


def baseline(store, bucket, keys, threads):
    """GET every key with `threads` keep-alive connections; returns seconds."""
    if store == "s3":
        import boto3
        from botocore.config import Config
        s3 = boto3.client("s3", endpoint_url=os.environ["DLP_TEST_S3"], region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test",
                          config=Config(max_pool_connections=max(threads, 10)))
        get = lambda k: s3.get_object(Bucket=bucket, Key=k)["Body"].read()  # noqa: E731
    elif store == "gcs":
        host = os.environ["DLP_TEST_GCS"].split("://", 1)[1]
        local = threading.local()

        def get(k):
            c = getattr(local, "c", None) or http.client.HTTPConnection(host)
            local.c = c
            c.request("GET", f"/{bucket}/" + urllib.parse.quote(k))
            r = c.getresponse()
            r.read()
            assert r.status == 200, r.status
    else:
        sys.exit("baseline: s3 or gcs")
    t = time.time()
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        list(ex.map(get, keys))
    return time.time() - t


def scan(store, url, concurrency):
    """Runs the scanner; returns (seconds, objects, bytes, peak RSS KiB)."""
    t = time.time()
    p = subprocess.run(["/usr/bin/time", "-f", "peak-rss-kib %M", BIN, "scan", "--format", "json", "--quiet",
                        "--concurrency", str(concurrency), url], env=store_env(store), capture_output=True, text=True)
    secs = time.time() - t
    if p.returncode not in (0, 1):
        sys.exit(f"scan {url} failed ({p.returncode}): {p.stderr[-2000:]}")
    cov = json.loads(p.stdout)["coverage"]
    rss = int(re.search(r"peak-rss-kib (\d+)", p.stderr).group(1))
    return secs, cov["objects_scanned"], cov["bytes_scanned"], rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=10000)
    ap.add_argument("--stores", default="s3,gcs")
    ap.add_argument("--concurrency", default="1,8,32")
    a = ap.parse_args()
    bucket = f"bench-many-{a.objects}"
    print("| store | concurrency | dlp-worker objects/s | dlp-worker MB/s | GET-only baseline objects/s | ratio | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for store in a.stores.split(","):
        # The same generator as the tests (tests/stores.py many), uploaded once per server.
        subprocess.run([sys.executable, os.path.join(ROOT, "tests/stores.py"), "many", store, bucket, str(a.objects)],
                       check=True, capture_output=True)
        keys = [f"{i // 1000:03d}/obj-{i:05d}.txt" for i in range(a.objects)]
        scheme = {"s3": "s3", "gcs": "gs", "azure": "az"}[store]
        for c in map(int, a.concurrency.split(",")):
            secs, n, nbytes, rss = scan(store, f"{scheme}://{bucket}", c)
            base = baseline(store, bucket, keys, c)
            print(f"| {store} | {c} | {n / secs:.0f} | {nbytes / secs / 1e6:.1f} | {len(keys) / base:.0f} | "
                  f"{(n / secs) / (len(keys) / base):.2f} | {rss / 1024:.0f} |", flush=True)


if __name__ == "__main__":
    main()
