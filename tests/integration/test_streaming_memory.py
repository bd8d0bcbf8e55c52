"""Memory stays bounded while streaming: a 1 GiB PUT and GET through gRPC keep the
server's peak RSS under 200 MiB.

Neither side ever holds the body: the test generates 1 MiB chunks from a cheap
deterministic pattern and hashes as it goes, and the server must stream stripes to disk
and back. A ranged GET across a stripe boundary in the middle checks the bytes too.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_objects import MIB, channel, get_bytes, object_stub, put_requests

from engine.v1 import objects_pb2 as pb

BUCKET = "big-stream"
KEY = "one-gibibyte.bin"
SIZE = 1024 * MIB
CHUNK = MIB
PEAK_RSS_LIMIT = 200 * MIB
_BASE = hashlib.shake_256(b"engine streaming memory test").digest(CHUNK)


def chunk(i: int) -> bytes:
    """Chunk i of the body: a fixed random MiB stamped with its index every 64 KiB, so a
    misplaced, repeated or dropped chunk changes the bytes."""
    stamp = i.to_bytes(8, "big")
    parts = []
    for off in range(0, CHUNK, 64 * 1024):
        parts.append(stamp)
        parts.append(_BASE[off + 8 : off + 64 * 1024])
    return b"".join(parts)


def body_range(first: int, last: int) -> bytes:
    """Bytes first..last (inclusive) of the body."""
    out = bytearray()
    for i in range(first // CHUNK, last // CHUNK + 1):
        lo = max(first - i * CHUNK, 0)
        hi = min(last - i * CHUNK + 1, CHUNK)
        out += chunk(i)[lo:hi]
    return bytes(out)


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


class RssSampler(threading.Thread):
    """Watches the server's VmRSS while a phase runs, to say where memory goes."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.phase = "idle"
        self.peaks: dict[str, int] = {}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.05):
            try:
                rss = status_kib(self.pid, "VmRSS")
            except (OSError, AssertionError):
                return
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), rss)

    def stop(self) -> None:
        self._done.set()
        self.join(5)


@pytest.mark.slow
def test_1gib_put_and_get_stream_with_bounded_server_memory(server):
    sampler = RssSampler(server.pid)
    sampler.start()
    baseline_kib = status_kib(server.pid, "VmRSS")
    with channel(server.endpoint) as ch:
        stub = object_stub(ch)
        stub.CreateBucket(pb.CreateBucketRequest(bucket=BUCKET), timeout=10)

        sent = hashlib.md5()

        def body() -> Iterator[bytes]:
            for i in range(SIZE // CHUNK):
                data = chunk(i)
                sent.update(data)
                yield data

        sampler.phase = "put"
        t0 = time.monotonic()
        response = stub.PutObject(put_requests(BUCKET, KEY, body(), SIZE), timeout=300)
        put_seconds = time.monotonic() - t0
        assert response.size == SIZE
        assert response.etag == f'"{sent.hexdigest()}"'

        sampler.phase = "get"
        t0 = time.monotonic()
        received = hashlib.md5()
        got = 0
        stream = stub.GetObject(pb.GetObjectRequest(bucket=BUCKET, key=KEY), timeout=300)
        header = next(stream).header
        assert header.content_length == SIZE
        assert header.info.etag == response.etag
        for message in stream:
            assert message.WhichOneof("part") == "chunk"
            received.update(message.chunk)
            got += len(message.chunk)
        get_seconds = time.monotonic() - t0
        assert got == SIZE
        assert received.hexdigest() == sent.hexdigest(), "the GET returned different bytes"

        sampler.phase = "range"
        first, last = SIZE // 2 - 1000, SIZE // 2 + 3 * MIB + 999  # across stripe boundaries
        header, data = get_bytes(stub, BUCKET, KEY, f"bytes={first}-{last}")
        assert header.content_range == f"bytes {first}-{last}/{SIZE}"
        assert header.content_length == len(data) == last - first + 1
        assert data == body_range(first, last)
        header, data = get_bytes(stub, BUCKET, KEY, "bytes=-5")
        assert data == body_range(SIZE - 5, SIZE - 1)

        peak_kib = status_kib(server.pid, "VmHWM")
        sampler.stop()
        stub.DeleteObject(pb.DeleteObjectRequest(bucket=BUCKET, key=KEY), timeout=30)

    mib = 1024 * 1024
    print(f"\n1 GiB PUT {put_seconds:.1f}s ({SIZE / mib / put_seconds:.0f} MiB/s), "
          f"GET {get_seconds:.1f}s ({SIZE / mib / get_seconds:.0f} MiB/s)")
    print(f"server RSS: {baseline_kib / 1024:.0f} MiB at start, peak (VmHWM) "
          f"{peak_kib / 1024:.0f} MiB; sampled peaks by phase (MiB): "
          f"{ {k: round(v / 1024) for k, v in sampler.peaks.items()} }")
    assert peak_kib * 1024 < PEAK_RSS_LIMIT, \
        f"server peak RSS {peak_kib / 1024:.0f} MiB while streaming 1 GiB (limit 200 MiB)"
    assert put_seconds + get_seconds < 120, "1 GiB through gRPC should take well under a minute"
