"""A kill -9 at any moment leaves the old object or the new one, never a mix.

Several uploader threads keep overwriting a fixed set of keys (empty, inline, around the
128 KiB inline threshold, multi-stripe, and one key that flips between inline and shard
files) with numbered generations whose bodies are a pure function of (key, generation).
The server is killed with SIGKILL at varied moments - while a multi-MiB PUT is half sent,
when a PUT has sent all its bytes but not ended its stream, right after a large PUT was
acknowledged, after a random number of acknowledgements - and restarted on the same data
directory each time. After every restart each key must read back exactly one complete
generation: the last acknowledged one or the one still in flight (never an older one, never
a torn body), with a matching ETag, size and listing, and no temp file, pending intent or
unreferenced shard file may be left on disk.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from helpers_objects import (
    INLINE_THRESHOLD,
    KIB,
    MIB,
    channel,
    get_bytes,
    list_pages,
    md5_hex,
    object_stub,
    put_requests,
    read_metadata,
    referenced_data_ids,
    shard_data_ids,
    shard_files,
    split,
    tmp_files,
)

from engine.v1 import objects_pb2 as pb

BUCKET = "crash-test"
WORKERS = 4
CHUNK = 256 * KIB
SHARD_BLOCK_OVERHEAD = 8  # [u32 len][u32 crc32c] before each stripe's payload

# key -> size of generation g. Bodies are random bytes seeded by (key, g).
SIZES: dict[str, Callable[[int], int]] = {
    "empty": lambda g: 0,
    "small": lambda g: 1 * KIB + g % 97,
    "inline-max": lambda g: INLINE_THRESHOLD,  # the largest inline body
    "below-inline": lambda g: INLINE_THRESHOLD - 1,
    "just-over-inline": lambda g: INLINE_THRESHOLD + 1,  # the smallest shard-file body
    "dir/multi-3m": lambda g: 3 * MIB + 17 * (g % 5),
    "dir/multi-5m": lambda g: 5 * MIB,
    "flip": lambda g: 1 * KIB if g % 2 == 0 else 2 * MIB + 5,  # inline <-> shard file
    "deep/a/b/c/d": lambda g: 300 * KIB + g,
}
KEYS = sorted(SIZES)


def body(key: str, gen: int) -> bytes:
    return random.Random(f"{key}#{gen}").randbytes(SIZES[key](gen))


@dataclass
class Trap:
    """Hold one upload of `key` after `fraction` of its chunks, so it can be killed there."""

    key: str
    fraction: float
    claimed: bool = False
    sent_bytes: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class Round:
    """What the uploaders of one server lifetime did, and how the kill is triggered."""

    name: str
    trap: Trap | None = None
    kill_after_acks: int | None = None
    kill_after_large_ack: bool = False
    acks: int = 0
    gens_acked: dict[str, int] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)  # started, not acknowledged
    killed: threading.Event = field(default_factory=threading.Event)
    unexpected: list[str] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    large_acked: threading.Event = field(default_factory=threading.Event)


class Uploads:
    """Per-key generations: what is known durable, and the next number to use."""

    def __init__(self) -> None:
        self.durable = dict.fromkeys(KEYS, 0)  # generation a read must return at least
        self.next_gen = dict.fromkeys(KEYS, 1)

    def owner(self, key: str) -> int:
        return KEYS.index(key) % WORKERS


def chunks_for(data: bytes, key: str, rnd: Round) -> Iterator[bytes]:
    pieces = list(split(data, CHUNK))
    trap = rnd.trap
    if trap is None or trap.key != key or trap.claimed or len(pieces) < 2:
        yield from pieces
        return
    trap.claimed = True
    hold = max(1, min(len(pieces), round(len(pieces) * trap.fraction)))
    for piece in pieces[:hold]:
        yield piece
        trap.sent_bytes += len(piece)
    trap.reached.set()
    trap.release.wait(30)  # the server is dead by now: the rest can only fail
    yield from pieces[hold:]


def uploader(endpoint: str, worker: int, uploads: Uploads, rnd: Round, seed: int) -> None:
    rng = random.Random(seed)
    mine = [k for k in KEYS if uploads.owner(k) == worker]
    with channel(endpoint) as ch:
        stub = object_stub(ch)
        while not rnd.killed.is_set():
            key = rng.choice(mine)
            gen = uploads.next_gen[key]
            uploads.next_gen[key] = gen + 1
            data = body(key, gen)
            rnd.in_flight[key] = gen
            try:
                stub.PutObject(put_requests(BUCKET, key, chunks_for(data, key, rnd), len(data)),
                               timeout=30)
            except grpc.RpcError as exc:
                if not rnd.killed.is_set():
                    rnd.unexpected.append(f"PUT {key} gen {gen} failed while the server was "
                                          f"up: {exc}")
                return
            del rnd.in_flight[key]
            rnd.gens_acked[key] = gen
            with rnd.cond:
                rnd.acks += 1
                rnd.cond.notify_all()
            if len(data) > INLINE_THRESHOLD:
                rnd.large_acked.set()


def wait_for_partial_shard(data_dir: Path, min_size: int, timeout: float = 10) -> int:
    """Bounded poll until the trapped upload shows as a temp shard file of `min_size`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sizes = []
        for f in tmp_files(data_dir):
            try:
                sizes.append(f.stat().st_size)
            except FileNotFoundError:
                continue
        if sizes and max(sizes) >= min_size:
            return max(sizes)
        time.sleep(0.01)
    raise AssertionError(f"no temp shard file of {min_size} bytes appeared under tmp/")


def run_round(server, uploads: Uploads, rnd: Round, rng: random.Random) -> None:
    threads = [
        threading.Thread(target=uploader, name=f"uploader-{w}",
                         args=(server.endpoint, w, uploads, rnd, rng.randrange(1 << 30)))
        for w in range(WORKERS)
    ]
    for t in threads:
        t.start()
    try:
        if rnd.trap is not None:
            assert rnd.trap.reached.wait(20), f"{rnd.name}: the trapped upload never started"
            stripes_sent = rnd.trap.sent_bytes // MIB
            wait_for_partial_shard(server.data_dir, stripes_sent * (MIB + SHARD_BLOCK_OVERHEAD))
        elif rnd.kill_after_large_ack:
            assert rnd.large_acked.wait(20), f"{rnd.name}: no large PUT was acknowledged"
        else:
            assert rnd.kill_after_acks is not None
            with rnd.cond:
                assert rnd.cond.wait_for(lambda: rnd.acks >= rnd.kill_after_acks, 30), \
                    f"{rnd.name}: only {rnd.acks} PUTs acknowledged"
        in_flight_at_kill = dict(rnd.in_flight)
        rnd.killed.set()  # from here on, failing uploads are expected
        server.kill9()
    finally:
        rnd.killed.set()
        if rnd.trap is not None:
            rnd.trap.release.set()
        for t in threads:
            t.join(30)
    assert not any(t.is_alive() for t in threads), "an uploader did not stop after the kill"
    assert not rnd.unexpected, rnd.unexpected
    print(f"{rnd.name}: {rnd.acks} PUTs acknowledged, killed with {len(in_flight_at_kill)} "
          f"in flight: {in_flight_at_kill}")


def verify(server, uploads: Uploads, rnd: Round | None) -> None:
    """Every key holds one complete allowed generation; nothing else is on disk."""
    in_flight = rnd.in_flight if rnd else {}
    acked = rnd.gens_acked if rnd else {}
    with channel(server.endpoint) as ch:
        stub = object_stub(ch)
        found: dict[str, int] = {}
        for key in KEYS:
            floor = acked.get(key, uploads.durable[key])
            allowed = {floor} | ({in_flight[key]} if key in in_flight else set())
            header, data = get_bytes(stub, BUCKET, key)
            matches = [g for g in sorted(allowed) if body(key, g) == data]
            assert matches, (
                f"{key}: {len(data)} bytes match none of the allowed generations {allowed} "
                f"(acknowledged {floor}): torn, lost or rolled back"
            )
            gen = matches[0]
            found[key] = gen
            etag = f'"{md5_hex(data)}"'
            assert header.info.etag == etag, f"{key}: ETag is not the MD5 of the body"
            assert header.info.size == len(data) == header.content_length
            head = stub.HeadObject(pb.HeadObjectRequest(bucket=BUCKET, key=key), timeout=10)
            assert (head.info.size, head.info.etag) == (len(data), etag)
        if rnd is not None and rnd.trap is not None and rnd.trap.claimed:
            trapped = rnd.trap.key
            assert found[trapped] != in_flight.get(trapped), \
                f"{trapped}: an upload killed mid-stream became visible"
        listed = [c for p in list_pages(stub, BUCKET) for c in p.contents]
        assert [c.key for c in listed] == KEYS, "listing must show exactly the keys"
        for c in listed:
            expected = body(c.key, found[c.key])
            assert (c.size, c.etag) == (len(expected), f'"{md5_hex(expected)}"'), c.key
    uploads.durable.update(found)

    data_dir = server.data_dir
    assert tmp_files(data_dir) == [], "unfinished writes left in tmp/"
    entries, intents = read_metadata(data_dir)
    assert intents == {}, f"intents left after recovery: {intents}"
    assert sorted(k for b, k in entries if b == BUCKET) == KEYS
    live = referenced_data_ids(entries)
    large = sum(SIZES[k](g) > INLINE_THRESHOLD for k, g in found.items())
    assert len(live) == large, "every non-inline object has its own data id, inline ones none"
    assert shard_data_ids(data_dir) == live, "shard files on disk != shard files referenced"
    assert len(shard_files(data_dir)) == large, "single drive: one shard file per object"


@pytest.mark.slow
def test_kill9_at_any_moment_leaves_old_or_new_never_a_mix(server_factory):
    seed = int(os.environ.get("ENGINE_TEST_SEED") or random.randrange(1 << 32))
    print(f"seed {seed} (rerun with ENGINE_TEST_SEED={seed})")
    rng = random.Random(seed)
    started = time.monotonic()
    server = server_factory().start()
    data_dir = server.data_dir
    uploads = Uploads()
    with channel(server.endpoint) as ch:
        stub = object_stub(ch)
        stub.CreateBucket(pb.CreateBucketRequest(bucket=BUCKET), timeout=10)
        for key in KEYS:
            data = body(key, 0)
            stub.PutObject(put_requests(BUCKET, key, split(data, CHUNK), len(data)), timeout=30)
    verify(server, uploads, None)

    rounds = [
        Round("kill with a 5 MiB PUT half sent", trap=Trap("dir/multi-5m", 0.5)),
        Round(f"kill after {(n := rng.randint(1, 15))} acknowledgements", kill_after_acks=n),
        Round("kill with a 2 MiB PUT fully sent but its stream still open",
              trap=Trap("flip", 1.0)),
        Round("kill right after a large PUT was acknowledged", kill_after_large_ack=True),
        Round("kill with a 3 MiB PUT after its first chunk", trap=Trap("dir/multi-3m", 0.0)),
        Round(f"kill after {(n := rng.randint(10, 40))} acknowledgements", kill_after_acks=n),
        Round("kill with a 5 MiB PUT 90% sent", trap=Trap("dir/multi-5m", 0.9)),
        Round("kill with a 300 KiB PUT half sent", trap=Trap("deep/a/b/c/d", 0.5)),
    ]
    for rnd in rounds:
        if rnd.trap is not None and rnd.trap.key == "flip" and uploads.next_gen["flip"] % 2 == 0:
            uploads.next_gen["flip"] += 1  # make the trapped generation the 2 MiB one
        run_round(server, uploads, rnd, rng)
        server = server_factory(data_dir=data_dir).start()
        verify(server, uploads, rnd)

    assert server.stop() == 0
    elapsed = time.monotonic() - started
    print(f"{len(rounds)} kill -9 rounds in {elapsed:.1f}s")
    assert elapsed < 90, "the crash test should stay well under a minute and a half"
