"""A key is data, never a path.

Keys that look like paths (``../../etc/passwd``, ``/leading``, ``a//b``, ``.``), hold
control characters, backslashes or non-ASCII text, or are long enough to need LMDB's
overflow records are stored (inline and as shard files), read back byte-identical, listed
faithfully in UTF-8 byte order (with prefixes, the "/" delimiter and two-key pages), and
deleted, by a real server. Nothing may appear outside its data directory, and no file in
it may be named after a key.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import grpc
import pytest
from helpers_objects import (
    INLINE_THRESHOLD,
    KIB,
    channel,
    expect_error,
    get_bytes,
    list_keys,
    list_pages,
    md5_hex,
    object_stub,
    put_bytes,
    put_requests,
    shard_files,
    tmp_files,
    utf8_order,
)

from engine.storage.keyspace import DIRECT_LIMIT
from engine.v1 import objects_pb2 as pb

BUCKET = "key-safety"
LONG_PREFIX = "long-group/" + "p" * 460  # 471 bytes: past the 447-byte direct LMDB limit

PATH_LIKE = [
    "../../etc/passwd",
    "../../../../tmp/engine-escape",
    "/leading/slash",
    "a//b",
    ".",
    "..",
    "dir/../x",
    "./dot-slash",
    "ctl\x01\x1f\x7fchars",
    "tab\tnew\nline",
    "back\\slash",
    "..\\..\\windows\\engine-escape",
    "\u00e9t\u00e9/\u65e5\u672c/\U0001f600",
    "z\ufb01",  # U+FB01 sorts before U+1F600 in UTF-8 (and after it in UTF-16)
    "z\U0001f600",
    "space key ",
    "%2e%2e%2fencoded",
]
LONG_KEYS = [
    LONG_PREFIX,
    LONG_PREFIX + "/a",
    LONG_PREFIX + "/b/1",
    LONG_PREFIX + "/b/2",
    LONG_PREFIX + "-dash",
    LONG_PREFIX + "\u00e9",
    LONG_PREFIX + "\U0001f600",
    LONG_PREFIX + "/" + "q" * 500,
    LONG_PREFIX[:-1],  # 470 bytes: same overflow record, sorts before the prefix itself
]
EDGE_KEYS = [
    "edge/" + "e" * (DIRECT_LIMIT - 6),  # 446 bytes: the longest direct LMDB key
    "edge/" + "e" * (DIRECT_LIMIT - 5),  # 447 bytes: the shortest overflow key
    "edge/" + "e" * (DIRECT_LIMIT - 6) + "\u00e9x",  # a 2-byte char cut by the 447 limit
    "edge/" + "e" * (DIRECT_LIMIT - 7) + "\U0001f600t",  # a 4-byte char cut by it
]
MAX_KEYS_1024 = [
    "max/" + "m" * 1018 + "\u00e9",  # exactly 1024 bytes
    "\u00e9" * 512,  # 512 characters, 1024 bytes
]
KEYS = PATH_LIKE + LONG_KEYS + EDGE_KEYS + MAX_KEYS_1024

LISTINGS = [  # (prefix, delimiter)
    ("", ""),
    ("", "/"),
    ("../", "/"),
    ("..", ""),
    (".", "/"),
    ("/", "/"),
    ("long-group/", ""),
    ("long-group/", "/"),
    (LONG_PREFIX, ""),
    (LONG_PREFIX, "/"),
    (LONG_PREFIX + "/b/", "/"),
    ("edge/", "/"),
    ("edge/" + "e" * (DIRECT_LIMIT - 7), ""),
    ("\u00e9t\u00e9/", "/"),
    ("z", ""),
    ("max/", "/"),
]


def body_for(key: str, size: int) -> bytes:
    """A body unique to the key, `size` bytes give or take a few."""
    seed = hashlib.sha256(key.encode()).digest()
    n = size + seed[0]
    return (seed * (n // len(seed) + 1))[:n]


def expected_listing(prefix: str, delimiter: str) -> tuple[list[str], list[str]]:
    contents: list[str] = []
    prefixes: set[str] = set()
    for key in KEYS:
        if not key.startswith(prefix):
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            prefixes.add(key[: cut + len(delimiter)])
        else:
            contents.append(key)
    return utf8_order(contents), utf8_order(prefixes)


def check_listing(stub, prefix: str, delimiter: str, max_keys: int | None) -> None:
    contents, prefixes = expected_listing(prefix, delimiter)
    where = f"prefix={prefix[:30]!r} delimiter={delimiter!r} max_keys={max_keys}"
    pages = list_pages(stub, BUCKET, prefix, delimiter, max_keys)
    merged: list[str] = []
    for page in pages:
        items = [c.key for c in page.contents] + list(page.common_prefixes)
        assert page.key_count == len(items), where
        if max_keys is not None:
            assert len(items) <= max_keys, where
            if page.is_truncated:
                assert len(items) == max_keys, where
        merged += utf8_order(items)
    assert merged == utf8_order(contents + prefixes), f"{where}: not in UTF-8 byte order"
    keys, common = list_keys(stub, BUCKET, prefix, delimiter, max_keys)
    assert keys == contents, f"{where}: keys differ"
    assert common == prefixes, f"{where}: common prefixes differ"


SHARD_NAME = re.compile(r"^shards/([0-9a-f]{2})/\1[0-9a-f]{30}\.\d+$")
ALLOWED_DIRS = {"drive-0", "drive-0/meta", "drive-0/shards", "drive-0/tmp", "consensus"}
ALLOWED_FILES = {"drive-0/meta/data.mdb", "drive-0/meta/lock.mdb",
                 # the consensus store (engine/cluster/consensus/store.py)
                 "consensus/data.mdb", "consensus/lock.mdb",
                 # identity: the single node's sealing key and the root's credentials file
                 "iam-seal.key", "root-credentials"}


def assert_no_key_derived_names(data_dir: Path) -> None:
    """Every path under the data dir is one the storage layer names itself."""
    for p in data_dir.rglob("*"):
        rel = str(p.relative_to(data_dir))
        if p.is_dir():
            ok = rel in ALLOWED_DIRS or re.fullmatch(r"drive-0/shards/[0-9a-f]{2}", rel)
        else:
            ok = rel in ALLOWED_FILES or SHARD_NAME.match(rel.removeprefix("drive-0/"))
        assert ok, f"unexpected path in the data dir: {rel!r}"


def escape_targets() -> dict[str, tuple[float, int] | None]:
    """Places a path-traversing key would land in, with their (mtime, size) if present."""
    out: dict[str, tuple[float, int] | None] = {}
    for path in ("/tmp/engine-escape", "/etc/passwd", "/windows/engine-escape"):
        try:
            st = os.stat(path)
            out[path] = (st.st_mtime, st.st_size)
        except FileNotFoundError:
            out[path] = None
    return out


@pytest.mark.slow
@pytest.mark.parametrize("size", [100, INLINE_THRESHOLD + 64 * KIB], ids=["inline", "shards"])
def test_keys_are_data_never_paths(server_factory, tmp_path, size):
    assert all(len(k.encode()) <= 1024 for k in KEYS)
    assert len(set(KEYS)) == len(KEYS)
    sandbox = tmp_path / "sandbox"
    data_dir = sandbox / "data"
    before_escape = escape_targets()
    server = server_factory(data_dir=data_dir).start()
    log_name = f"server-{server.port}.log"
    bodies = {k: body_for(k, size) for k in KEYS}

    with channel(server.endpoint) as ch:
        stub = object_stub(ch)
        stub.CreateBucket(pb.CreateBucketRequest(bucket=BUCKET), timeout=10)
        for key in KEYS:
            response = put_bytes(stub, BUCKET, key, bodies[key])
            assert response.etag == f'"{md5_hex(bodies[key])}"', repr(key)

        for key in KEYS:
            header, data = get_bytes(stub, BUCKET, key)
            assert header.info.key == key, repr(key)
            assert data == bodies[key], f"{key!r}: body differs"
            head = stub.HeadObject(pb.HeadObjectRequest(bucket=BUCKET, key=key), timeout=10)
            assert head.info.size == len(bodies[key]), repr(key)
            assert head.info.etag == f'"{md5_hex(bodies[key])}"', repr(key)

        for prefix, delimiter in LISTINGS:
            for max_keys in (None, 2):
                check_listing(stub, prefix, delimiter, max_keys)
        listed = {c.key: c for p in list_pages(stub, BUCKET) for c in p.contents}
        for key in KEYS:
            assert listed[key].size == len(bodies[key]), repr(key)
            assert listed[key].etag == f'"{md5_hex(bodies[key])}"', repr(key)

        expected_shards = len(KEYS) if size > INLINE_THRESHOLD else 0
        assert len(shard_files(data_dir)) == expected_shards
        assert_no_key_derived_names(data_dir)

        for key in KEYS:
            stub.DeleteObject(pb.DeleteObjectRequest(bucket=BUCKET, key=key), timeout=10)
            err, code = expect_error(
                lambda key=key: get_bytes(stub, BUCKET, key))
            assert (err.code, code) == ("NoSuchKey", grpc.StatusCode.NOT_FOUND), repr(key)
        assert list_keys(stub, BUCKET) == ([], [])

    assert shard_files(data_dir) == [], "deleted objects left shard files"
    assert tmp_files(data_dir) == []
    assert_no_key_derived_names(data_dir)
    assert server.stop() == 0
    assert {p.name for p in sandbox.iterdir()} == {"data", log_name}, \
        "the server created something beside its data dir"
    outside = {str(p) for p in tmp_path.rglob("*")
               if p.name in ("passwd", "engine-escape") or "escape" in p.name}
    assert not outside, f"key-named files appeared: {outside}"
    assert escape_targets() == before_escape, "a path-like key touched a file outside the data dir"


def test_key_length_and_empty_key_errors(server):
    with channel(server.endpoint) as ch:
        stub = object_stub(ch)
        stub.CreateBucket(pb.CreateBucketRequest(bucket=BUCKET), timeout=10)
        too_long = ["k" * 1025, "\u00e9" * 512 + "x", "max/" + "m" * 1019 + "\u00e9"]
        for key in too_long:
            assert len(key.encode()) == 1025
            for data in (b"x", b"y" * (INLINE_THRESHOLD + 1)):
                err, code = expect_error(lambda key=key, data=data: put_bytes(
                    stub, BUCKET, key, data))
                assert (err.code, code) == ("KeyTooLongError", grpc.StatusCode.INVALID_ARGUMENT)
                assert err.http_status == 400
        err, code = expect_error(lambda: stub.PutObject(
            put_requests(BUCKET, "", [b"body"], 4), timeout=10))
        assert (err.code, code) == ("InvalidArgument", grpc.StatusCode.INVALID_ARGUMENT)
        err, code = expect_error(lambda: get_bytes(stub, BUCKET, ""))
        assert (err.code, code) == ("InvalidArgument", grpc.StatusCode.INVALID_ARGUMENT)
        assert list_keys(stub, BUCKET) == ([], []), "a rejected key was stored"
        # the longest legal key still works next to the rejected ones
        key = "k" * 1024
        put_bytes(stub, BUCKET, key, b"ok")
        assert get_bytes(stub, BUCKET, key)[1] == b"ok"
