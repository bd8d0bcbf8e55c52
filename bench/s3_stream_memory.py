"""Streaming memory over the S3 REST endpoint: one N GiB PUT and GET, the node's peak RSS.

Starts a single `engine serve` (auth on, a throwaway root key, data in a temporary
directory), then sends one PutObject of ``--size`` bytes (a single request, no
multipart) and reads it back with GetObject, while a thread samples the node's VmRSS
from /proc every 50 ms. Neither side holds the body: the client generates it 1 MiB at a
time from a cheap deterministic pattern, sends it as UNSIGNED-PAYLOAD (signed headers
from botocore's own signer) and hashes it on the way out and on the way back.

    python bench/s3_stream_memory.py --size 5GiB          # exits 1 if the peak is over --limit

Prints the RSS at start, the peak per phase and the node's VmHWM, and the throughput.
The integration test tests/integration/test_s3_http_stream_memory.py runs the same
functions at 256 MiB against a test node.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

HERE = Path(__file__).resolve().parent.parent
ROOT_KEY = "AKIABENCHSTREAM00001"
ROOT_SECRET = "bench-stream-secret-0123456789abcdefghij"
MIB = 1024 * 1024
CHUNK = MIB
_BASE = hashlib.shake_256(b"engine s3 streaming memory").digest(CHUNK)


def chunk(i: int) -> bytes:
    """Chunk i of the body: a fixed random MiB stamped with its index every 64 KiB, so
    a misplaced, repeated or dropped chunk changes the digest."""
    stamp = i.to_bytes(8, "big")
    return b"".join(stamp + _BASE[off + 8:off + 64 * 1024] for off in range(0, CHUNK,
                                                                           64 * 1024))


def body(size: int) -> Iterator[bytes]:
    for i in range(0, size, CHUNK):
        yield chunk(i // CHUNK)[:min(CHUNK, size - i)]


def vm_kib(pid: int, field: str) -> int:
    """A VmRSS/VmHWM line of /proc/PID/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")


class RssSampler(threading.Thread):
    """The node's VmRSS every 50 ms, the peak kept per phase (``phase`` is set by the
    caller as it goes)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.phase = "idle"
        self.peaks: dict[str, int] = {}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.05):
            try:
                rss = vm_kib(self.pid, "VmRSS") * 1024
            except (OSError, LookupError):
                return
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), rss)

    def stop(self) -> dict[str, int]:
        self._done.set()
        self.join(5)
        return self.peaks


def _signed(method: str, url: str, key: str, secret: str, headers: dict[str, str],
            region: str = "us-east-1") -> dict[str, str]:
    request = AWSRequest(method=method, url=url, headers=headers)
    auth = S3SigV4Auth(Credentials(key, secret), "s3", region)
    auth.payload = lambda request: "UNSIGNED-PAYLOAD"  # type: ignore[method-assign]
    auth.add_auth(request)
    return {"Host": urlsplit(url).netloc, **dict(request.headers.items())}


def _connection(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=300)


def put_stream(url: str, bucket: str, key: str, size: int, *, access_key: str = ROOT_KEY,
               secret: str = ROOT_SECRET) -> tuple[str, str]:
    """PUT ``size`` pattern bytes as one request; (the ETag answered, the MD5 sent)."""
    target = f"{url}/{bucket}/{key}"
    headers = _signed("PUT", target, access_key, secret, {"Content-Length": str(size)})
    conn = _connection(url)
    try:
        conn.putrequest("PUT", f"/{bucket}/{key}", skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        md5 = hashlib.md5()
        for data in body(size):
            md5.update(data)
            conn.send(data)
        response = conn.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"PUT answered {response.status}: {answer[:300]!r}")
        return response.getheader("ETag", "").strip('"'), md5.hexdigest()
    finally:
        conn.close()


def get_stream(url: str, bucket: str, key: str, *, access_key: str = ROOT_KEY,
               secret: str = ROOT_SECRET) -> tuple[int, str]:
    """GET the object 1 MiB at a time; (bytes received, their MD5)."""
    target = f"{url}/{bucket}/{key}"
    headers = _signed("GET", target, access_key, secret, {})
    conn = _connection(url)
    try:
        conn.putrequest("GET", f"/{bucket}/{key}", skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"GET answered {response.status}: {response.read(300)!r}")
        md5 = hashlib.md5()
        got = 0
        while data := response.read(CHUNK):
            md5.update(data)
            got += len(data)
        return got, md5.hexdigest()
    finally:
        conn.close()


def stream_round_trip(url: str, pid: int, size: int, bucket: str, *,
                      access_key: str = ROOT_KEY, secret: str = ROOT_SECRET) -> dict[str, float]:
    """PUT then GET ``size`` bytes through the node at ``url`` (process ``pid``); the
    figures: RSS at start, peaks per phase and VmHWM (bytes), seconds per phase."""
    sampler = RssSampler(pid)
    start_rss = vm_kib(pid, "VmRSS") * 1024
    sampler.start()
    try:
        sampler.phase = "put"
        began = time.monotonic()
        etag, sent = put_stream(url, bucket, "big.bin", size, access_key=access_key,
                                secret=secret)
        put_seconds = time.monotonic() - began
        if etag != sent:
            raise RuntimeError(f"the PUT's ETag {etag} is not the MD5 sent {sent}")
        sampler.phase = "get"
        began = time.monotonic()
        got, received = get_stream(url, bucket, "big.bin", access_key=access_key,
                                   secret=secret)
        get_seconds = time.monotonic() - began
        if (got, received) != (size, sent):
            raise RuntimeError(f"the GET returned {got} bytes, MD5 {received}")
        hwm = vm_kib(pid, "VmHWM") * 1024
    finally:
        peaks = sampler.stop()
    return {"start_rss": start_rss, "put_peak": peaks.get("put", 0),
            "get_peak": peaks.get("get", 0), "hwm": hwm,
            "put_seconds": put_seconds, "get_seconds": get_seconds}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _client(url: str) -> object:
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET,
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


def _create_bucket(url: str, bucket: str, deadline: float = 30.0) -> None:
    """Create the bucket once the node answers (its consensus groups settle after the
    port opens)."""
    s3 = _client(url)
    end = time.monotonic() + deadline
    while True:
        try:
            s3.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
            return
        except Exception:
            if time.monotonic() > end:
                raise
            time.sleep(0.3)


def main() -> int:
    from engine.bench.sizes import size_arg

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=size_arg, default=5 * 1024 * MIB,
                        help="object size, e.g. 256MiB or 5GiB (default 5GiB)")
    parser.add_argument("--limit", type=size_arg, default=200 * MIB,
                        help="exit 1 when the node's peak RSS is over this (default 200MiB)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the node keeps its data (default: a temporary directory)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="engine-s3-stream-", dir=args.dir))
    free = shutil.disk_usage(scratch).free
    if free < args.size * 1.2:
        print(f"not enough disk in {scratch}: {free / 2**30:.1f} GiB free for "
              f"{args.size / 2**30:.1f} GiB", file=sys.stderr)
        shutil.rmtree(scratch, ignore_errors=True)
        return 2
    http_port, grpc_port = _free_port(), _free_port()
    url = f"http://127.0.0.1:{http_port}"
    env = {**os.environ, "ENGINE_ROOT_ACCESS_KEY_ID": ROOT_KEY,
           "ENGINE_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
    node = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--data",
                             str(scratch / "data"), "--listen", f"127.0.0.1:{grpc_port}",
                             "--http-listen", f"127.0.0.1:{http_port}"], cwd=HERE, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _create_bucket(url, "stream")
        figures = stream_round_trip(url, node.pid, args.size, "stream")
    finally:
        node.terminate()
        node.wait(30)
        shutil.rmtree(scratch, ignore_errors=True)
    size_mb = args.size / 1e6
    print(f"{args.size / 2**30:.2f} GiB: PUT {figures['put_seconds']:.1f} s "
          f"({size_mb / figures['put_seconds']:.0f} MB/s), GET {figures['get_seconds']:.1f} s "
          f"({size_mb / figures['get_seconds']:.0f} MB/s)")
    print(f"node RSS: {figures['start_rss'] / MIB:.0f} MiB at start; peak while PUT "
          f"{figures['put_peak'] / MIB:.0f} MiB, while GET {figures['get_peak'] / MIB:.0f} "
          f"MiB; VmHWM {figures['hwm'] / MIB:.0f} MiB (limit {args.limit / MIB:.0f} MiB)")
    return 0 if figures["hwm"] <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
