"""The object read cache against a real `engine serve`: repeated GETs of small objects are
served from the cache tier (object_hits), large ones never are, `--object-cache-max 0`
turns it off, and no write path (PUT, DELETE, multipart completion, copy, versions) can
make a GET return a stale body -- checked by a race of writers against readers.

Bodies are larger than the inline threshold (128 KiB): an inline body lives in the
version record itself, so the read cache leaves it alone.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from helpers_s3 import KIB, MIB, PART, error_code, unique_name
from helpers_sqs import SqsServer, start_server

from engine.client import CacheClient, ClientError, S3Client, client

MAX = 6 * MIB  # --object-cache-max of the module's server
SMALL = 300 * KIB  # above the inline threshold, below MAX


def _serve(factory: pytest.TempPathFactory, name: str, *extra: str) -> Iterator[SqsServer]:
    server = start_server(factory.mktemp(name) / "data", *extra)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqsServer]:
    yield from _serve(tmp_path_factory, "read-cache", "--object-cache-max", str(MAX))


@pytest.fixture(scope="module")
def off_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqsServer]:
    yield from _serve(tmp_path_factory, "read-cache-off", "--object-cache-max", "0")


@pytest.fixture(scope="module")
def s3(server: SqsServer) -> Iterator[S3Client]:
    with client("s3", endpoint=server.endpoint) as c:
        yield c


@pytest.fixture(scope="module")
def cache(server: SqsServer) -> Iterator[CacheClient]:
    with client("cache", endpoint=server.endpoint) as c:
        yield c


@pytest.fixture
def bucket(s3: S3Client, request: pytest.FixtureRequest) -> str:
    name = unique_name(request.node.name)
    s3.create_bucket(Bucket=name)
    return name


def hits(cache: CacheClient) -> int:
    return int(cache.stats()["total"]["object_hits"])


def get(s3: S3Client, bucket: str, key: str, **kw: object) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read())


def get_until_hit(s3: S3Client, cache: CacheClient, bucket: str, key: str,
                  expected: bytes, **kw: object) -> None:
    """GET until one is served from the cache (the first read stores the body in the
    background), every one returning `expected`."""
    before = hits(cache)
    for _ in range(20):
        assert get(s3, bucket, key, **kw) == expected
        if hits(cache) > before:
            return
        time.sleep(0.05)
    pytest.fail(f"no GET of {key} was served from the cache")


# -- hits, the size rule, off ------------------------------------------------------------


def test_second_get_of_a_small_object_is_a_hit(s3, cache, bucket):
    data = os.urandom(SMALL)
    s3.put_object(Bucket=bucket, Key="k", Body=data)
    get_until_hit(s3, cache, bucket, "k", data)
    before = hits(cache)
    assert get(s3, bucket, "k") == data
    assert get(s3, bucket, "k", Range="bytes=100-199") == data[100:200]
    assert hits(cache) == before + 2


def test_objects_larger_than_the_max_are_never_cached(s3, cache, bucket):
    data = os.urandom(MAX + 1)
    s3.put_object(Bucket=bucket, Key="big", Body=data)
    before = cache.stats()["total"]
    for _ in range(3):
        assert get(s3, bucket, "big") == data
    after = cache.stats()["total"]
    assert (after["object_hits"], after["object_misses"]) == (
        before["object_hits"], before["object_misses"])


def test_max_zero_turns_the_cache_off(off_server):
    with client("s3", endpoint=off_server.endpoint) as s3, \
            client("cache", endpoint=off_server.endpoint) as cache:
        name = unique_name("off")
        s3.create_bucket(Bucket=name)
        data = os.urandom(SMALL)
        s3.put_object(Bucket=name, Key="k", Body=data)
        for _ in range(3):
            assert get(s3, name, "k") == data
        total = cache.stats()["total"]
        assert (total["object_hits"], total["object_misses"]) == (0, 0)


# -- every write path serves the new state next --------------------------------------------


def test_overwrite_serves_the_new_body(s3, cache, bucket):
    old, new = os.urandom(SMALL), os.urandom(SMALL)
    s3.put_object(Bucket=bucket, Key="k", Body=old)
    get_until_hit(s3, cache, bucket, "k", old)
    s3.put_object(Bucket=bucket, Key="k", Body=new)
    assert get(s3, bucket, "k") == new
    get_until_hit(s3, cache, bucket, "k", new)


def test_overwrite_with_identical_bytes_is_a_new_entry(s3, cache, bucket):
    data = os.urandom(SMALL)
    s3.put_object(Bucket=bucket, Key="k", Body=data)
    get_until_hit(s3, cache, bucket, "k", data)
    s3.put_object(Bucket=bucket, Key="k", Body=data)
    misses = cache.stats()["total"]["object_misses"]
    assert get(s3, bucket, "k") == data
    assert cache.stats()["total"]["object_misses"] == misses + 1


def test_delete_then_get_is_no_such_key(s3, cache, bucket):
    data = os.urandom(SMALL)
    s3.put_object(Bucket=bucket, Key="k", Body=data)
    s3.put_object(Bucket=bucket, Key="k2", Body=data)
    get_until_hit(s3, cache, bucket, "k", data)
    get_until_hit(s3, cache, bucket, "k2", data)
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k2"}]})
    for key in ("k", "k2"):
        with pytest.raises(ClientError) as info:
            get(s3, bucket, key)
        assert error_code(info) == "NoSuchKey"


def test_multipart_completion_serves_the_new_body(s3, cache, bucket):
    old = os.urandom(SMALL)
    s3.put_object(Bucket=bucket, Key="k", Body=old)
    get_until_hit(s3, cache, bucket, "k", old)
    first, tail = os.urandom(PART), os.urandom(200 * KIB)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    parts = []
    for number, body in enumerate((first, tail), 1):
        etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=number,
                              Body=body)["ETag"]
        parts.append({"ETag": etag, "PartNumber": number})
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload,
                                 MultipartUpload={"Parts": parts})
    assert get(s3, bucket, "k") == first + tail
    get_until_hit(s3, cache, bucket, "k", first + tail)
    assert get(s3, bucket, "k", PartNumber=2) == tail  # a part, cut from the cached body


def test_copy_onto_a_key_serves_the_new_body(s3, cache, bucket):
    old, new = os.urandom(SMALL), os.urandom(SMALL)
    s3.put_object(Bucket=bucket, Key="k", Body=old)
    s3.put_object(Bucket=bucket, Key="src", Body=new)
    get_until_hit(s3, cache, bucket, "k", old)
    s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "src"})
    assert get(s3, bucket, "k") == new
    # A copy onto itself that only changes metadata rewrites the data too.
    get_until_hit(s3, cache, bucket, "k", new)
    s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k"},
                   MetadataDirective="REPLACE", Metadata={"a": "b"})
    obj = s3.get_object(Bucket=bucket, Key="k")
    assert obj["Body"].read() == new and obj["Metadata"] == {"a": "b"}


def test_versions_are_cached_apart(s3, cache, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old, new = os.urandom(SMALL), os.urandom(SMALL)
    v_old = s3.put_object(Bucket=bucket, Key="k", Body=old)["VersionId"]
    get_until_hit(s3, cache, bucket, "k", old)
    v_new = s3.put_object(Bucket=bucket, Key="k", Body=new)["VersionId"]
    assert get(s3, bucket, "k") == new
    get_until_hit(s3, cache, bucket, "k", old, VersionId=v_old)
    get_until_hit(s3, cache, bucket, "k", new, VersionId=v_new)
    assert get(s3, bucket, "k") == new
    # A delete marker hides the key; removing the newest version uncovers the old.
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    with pytest.raises(ClientError) as info:
        get(s3, bucket, "k")
    assert error_code(info) == "NoSuchKey"
    s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v_new)
    assert get(s3, bucket, "k") == old


# -- the race ------------------------------------------------------------------------------


@dataclass
class Write:
    start: float
    ack: float | None = None  # None: not acknowledged (in flight, or failed)


@dataclass
class Read:
    key: str
    start: float
    end: float
    digest: bytes


@dataclass
class Ledger:
    writes: dict[bytes, tuple[str, Write]] = field(default_factory=dict)  # body digest
    reads: list[Read] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def body_for(key: str, seq: int) -> bytes:
    head = f"{key}:{seq:08d}:".encode()
    return head + random.randbytes(200 * KIB - len(head))


def stale_reads(ledger: Ledger) -> list[str]:
    """Reads that returned a body no writer had started before the read ended, or a body
    older than one acknowledged before the read started: body X is older than write W
    when X was acknowledged before W was even sent (they did not overlap)."""
    by_key: dict[str, list[Write]] = {}
    for key, w in ledger.writes.values():
        by_key.setdefault(key, []).append(w)
    problems = []
    for r in ledger.reads:
        found = ledger.writes.get(r.digest)
        if found is None or found[0] != r.key:
            problems.append(f"{r.key}: a body nobody wrote")
            continue
        x = found[1]
        if x.start > r.end:
            problems.append(f"{r.key}: a body written after the read ended")
            continue
        for w in by_key[r.key]:
            if w.ack is not None and w.ack < r.start and x.ack is not None \
                    and x.ack < w.start:
                problems.append(f"{r.key}: read at {r.start:.6f} returned a body acknowledged "
                                f"at {x.ack:.6f}, superseded by one acknowledged at "
                                f"{w.ack:.6f}")
                break
    return problems


def test_racing_writers_never_let_a_stale_body_be_read(server, s3, cache, bucket):
    keys = ["r0", "r1", "r2"]
    ledger = Ledger()
    seq = iter(range(1, 10**9))
    seq_lock = threading.Lock()

    def put(key: str) -> None:
        with seq_lock:
            n = next(seq)
        body = body_for(key, n)
        w = Write(time.monotonic())
        with ledger.lock:
            ledger.writes[hashlib.sha256(body).digest()] = (key, w)
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        w.ack = time.monotonic()

    for key in keys:
        put(key)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        rng = random.Random(i)
        try:
            while not stop.is_set():
                put(rng.choice(keys))
                time.sleep(rng.uniform(0, 0.03))
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    def reader(i: int) -> None:
        rng = random.Random(1000 + i)
        with client("s3", endpoint=server.endpoint) as mine:
            try:
                while not stop.is_set():
                    key = rng.choice(keys)
                    start = time.monotonic()
                    body = get(mine, bucket, key)
                    end = time.monotonic()
                    with ledger.lock:
                        ledger.reads.append(
                            Read(key, start, end, hashlib.sha256(body).digest()))
            except BaseException as exc:  # reported by the test
                errors.append(exc)

    before = hits(cache)
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=reader, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    time.sleep(4.0)
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors[:3]
    assert len(ledger.reads) > 100
    assert stale_reads(ledger) == []
    assert hits(cache) > before  # the cache really served some of those reads


def test_stale_read_detection():
    """The checker itself flags a body superseded before the read started."""
    ledger = Ledger()
    ledger.writes[b"x"] = ("k", Write(1.0, 2.0))
    ledger.writes[b"w"] = ("k", Write(3.0, 4.0))
    ledger.reads.append(Read("k", 5.0, 6.0, b"x"))  # x was superseded by w at 4.0
    ledger.reads.append(Read("k", 3.5, 6.0, b"x"))  # read started before w's ack: fine
    ledger.reads.append(Read("k", 5.0, 6.0, b"w"))
    ledger.reads.append(Read("k", 5.0, 6.0, b"?"))
    problems = stale_reads(ledger)
    assert len(problems) == 2 and "superseded" in problems[0] and "nobody" in problems[1]
