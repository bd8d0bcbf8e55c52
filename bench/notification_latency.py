"""S3 event notification latency: PUT acknowledged -> its event receivable in the queue.

Starts one `engine serve` (auth on, a throwaway root key) on free loopback ports, a
bucket whose ObjectCreated events go to a standard queue, then ``--threads`` boto3
writers PUT 4 KiB objects (unique keys) back to back for ``--duration`` seconds while
``--readers`` boto3 consumers long-poll the queue (receive 10, delete 10). For each key:
latency = when a consumer received its event - when its writer got the PUT's answer
(negative when the event beat the answer to the client). Reports p50/p90/p99/max, events
missing (must be 0) and duplicated, and the PUT rate with and without a notification
configuration (the outbox's cost), in alternating rounds.

    python bench/notification_latency.py --rounds 2 --duration 10
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config

HERE = Path(__file__).resolve().parent.parent
ROOT_KEY = "AKIABENCHNOTIFY00001"
ROOT_SECRET = "bench-notify-secret-0123456789abcdefghij"
BODY = os.urandom(4096)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(kind: str, url: str) -> object:
    return boto3.client(kind, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET,
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 3},
                                      max_pool_connections=64))


def wait_ready(url: str, deadline: float = 60.0) -> None:
    s3 = client("s3", url)
    end = time.monotonic() + deadline
    while True:
        try:
            s3.list_buckets()  # type: ignore[attr-defined]
            return
        except Exception:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def setup(url: str, bucket: str, notify: bool) -> str:
    s3, sqs = client("s3", url), client("sqs", url)
    s3.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    if not notify:
        return ""
    queue = sqs.create_queue(QueueName=f"q-{bucket}")["QueueUrl"]  # type: ignore[attr-defined]
    arn = sqs.get_queue_attributes(  # type: ignore[attr-defined]
        QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={  # type: ignore[attr-defined]
        "Policy": json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": arn}]})})
    s3.put_bucket_notification_configuration(  # type: ignore[attr-defined]
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
            {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    return str(queue)


def run_round(url: str, bucket: str, queue: str, threads: int, readers: int,
              seconds: float) -> dict[str, float]:
    acked: dict[str, float] = {}
    seen: dict[str, list[float]] = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    writers_done = threading.Event()

    def write(i: int) -> None:
        s3 = client("s3", url)
        n = 0
        while time.monotonic() < stop:
            key = f"w{i}/{n}"
            s3.put_object(Bucket=bucket, Key=key, Body=BODY)  # type: ignore[attr-defined]
            with lock:
                acked[key] = time.monotonic()
            n += 1

    def read() -> None:
        sqs = client("sqs", url)
        quiet = 0
        while not writers_done.is_set() or quiet < 2:
            got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,  # type: ignore[attr-defined]
                                      WaitTimeSeconds=1).get("Messages", [])
            now = time.monotonic()
            quiet = 0 if got else quiet + 1
            for m in got:
                for r in json.loads(m["Body"]).get("Records", []):
                    with lock:
                        seen.setdefault(r["s3"]["object"]["key"], []).append(now)
            if got:
                sqs.delete_message_batch(QueueUrl=queue, Entries=[  # type: ignore[attr-defined]
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(got)])

    consumers = [threading.Thread(target=read) for _ in range(readers if queue else 0)]
    producers = [threading.Thread(target=write, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for t in consumers + producers:
        t.start()
    for t in producers:
        t.join()
    elapsed = time.monotonic() - started
    writers_done.set()
    for t in consumers:
        t.join()
    figures: dict[str, float] = {"put_per_s": len(acked) / elapsed, "puts": len(acked)}
    if queue:
        lat = sorted((seen[k][0] - t) * 1000 for k, t in acked.items() if k in seen)
        q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
        figures.update(p50_ms=q[49], p90_ms=q[89], p99_ms=q[98], max_ms=lat[-1],
                       missing=sum(k not in seen for k in acked),
                       duplicated=sum(len(v) > 1 for v in seen.values()))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8, help="PUT writers")
    parser.add_argument("--readers", type=int, default=2, help="queue consumers")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="engine-notify-bench-"))
    http, grpc_port = free_port(), free_port()
    env = {**os.environ, "ENGINE_ROOT_ACCESS_KEY_ID": ROOT_KEY,
           "ENGINE_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "serve", "--data", str(scratch / "d"),
         "--listen", f"127.0.0.1:{grpc_port}", "--http-listen", f"127.0.0.1:{http}"],
        cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{http}"
    try:
        wait_ready(url)
        for r in range(args.rounds):
            for notify in (True, False):
                bucket = f"r{r}-{'on' if notify else 'off'}"
                queue = setup(url, bucket, notify)
                figures = run_round(url, bucket, queue, args.threads, args.readers,
                                    args.duration)
                label = "notifications on " if notify else "notifications off"
                print(f"round {r + 1} {label}: " + ", ".join(
                    f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in figures.items()), flush=True)
    finally:
        proc.kill()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
