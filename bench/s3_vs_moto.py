"""The S3 REST endpoint beside moto's S3 server, both driven by boto3 on this machine.

Starts a single `engine serve` (auth on, a throwaway root key) and `moto_server`, each on
a free loopback port, then alternates rounds between them: 4 KiB PUT and GET from
``--threads`` boto3 clients (one per thread, as boto3 advises) for ``--duration``
seconds each, and one 64 MiB PUT and GET (single request, no multipart). boto3 is the
same client for both, so the difference is the servers'. moto keeps objects in memory
and is no storage engine; it is the reference users compare a local S3 with.

    python bench/s3_vs_moto.py --rounds 3 --duration 8
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import boto3
from botocore.config import Config

HERE = Path(__file__).resolve().parent.parent
ROOT_KEY = "AKIABENCHMOTO0000001"
ROOT_SECRET = "bench-moto-secret-0123456789abcdefghijklm"
SMALL = 4096
LARGE = 64 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, deadline: float = 30.0) -> None:
    import urllib.error
    import urllib.request

    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers (403 for an unsigned ListBuckets)
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing answers at {url}")


def client(url: str) -> object:
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET,
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1},
                                      max_pool_connections=64))


def closed_loop(threads: int, seconds: float, op: Callable[[object, int], None],
                url: str) -> float:
    """Calls per second of ``threads`` clients each calling ``op`` back to back."""
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def run(i: int) -> None:
        c = client(url)
        n = 0
        while time.monotonic() < stop:
            op(c, i * 1_000_000 + n)
            n += 1
        counts[i] = n

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.monotonic() - started)


def round_for(url: str, bucket: str, threads: int, seconds: float) -> dict[str, float]:
    body = os.urandom(SMALL)
    keys = 2000

    def put(c: object, n: int) -> None:
        c.put_object(Bucket=bucket, Key=f"k{n % keys}", Body=body)  # type: ignore[attr-defined]

    def get(c: object, n: int) -> None:
        c.get_object(Bucket=bucket, Key=f"k{n % keys}")["Body"].read()  # type: ignore[attr-defined]

    c = client(url)
    for k in range(keys):  # every key exists before the GET phase
        c.put_object(Bucket=bucket, Key=f"k{k}", Body=body)  # type: ignore[attr-defined]
    figures = {"put_4k": closed_loop(threads, seconds, put, url),
               "get_4k": closed_loop(threads, seconds, get, url)}
    big = os.urandom(LARGE)
    started = time.monotonic()
    c.put_object(Bucket=bucket, Key="big", Body=big)  # type: ignore[attr-defined]
    figures["put_64m_MBps"] = LARGE / (time.monotonic() - started) / 1e6
    started = time.monotonic()
    got = c.get_object(Bucket=bucket, Key="big")["Body"].read()  # type: ignore[attr-defined]
    figures["get_64m_MBps"] = LARGE / (time.monotonic() - started) / 1e6
    assert len(got) == LARGE
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="engine-s3-moto-"))
    engine_port, moto_port, grpc_port = free_port(), free_port(), free_port()
    env = {**os.environ, "ENGINE_ROOT_ACCESS_KEY_ID": ROOT_KEY,
           "ENGINE_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
    procs = [
        subprocess.Popen([sys.executable, "-m", "engine", "serve", "--data", str(scratch / "d"),
                          "--listen", f"127.0.0.1:{grpc_port}",
                          "--http-listen", f"127.0.0.1:{engine_port}"], cwd=HERE, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1",
                          "-p", str(moto_port)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL),
    ]
    servers = {"engine": f"http://127.0.0.1:{engine_port}",
               "moto": f"http://127.0.0.1:{moto_port}"}
    try:
        for url in servers.values():
            wait_http(url)
        time.sleep(3)  # the node's consensus groups settle after the port opens
        for name, url in servers.items():
            client(url).create_bucket(Bucket=f"bench-{name}")  # type: ignore[attr-defined]
        for rnd in range(args.rounds):
            for name, url in servers.items():
                f = round_for(url, f"bench-{name}", args.threads, args.duration)
                print(f"{name:6s} {rnd} PUT 4KiB {f['put_4k']:7,.0f}/s  GET 4KiB "
                      f"{f['get_4k']:7,.0f}/s  PUT 64MiB {f['put_64m_MBps']:6.0f} MB/s  "
                      f"GET 64MiB {f['get_64m_MBps']:6.0f} MB/s", flush=True)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
