"""Raw-gRPC helpers for the process-level object tests (no SDK on purpose).

Also reads a stopped-or-idle node's drive directly (LMDB read-only, shard files), so tests
can check that no garbage is left behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import grpc
import lmdb

from engine.client import signed_channels
from engine.errors import EngineError
from engine.storage import keyspace
from engine.v1 import objects_pb2 as pb
from engine.v1 import objects_pb2_grpc
from engine.v1.records_pb2 import ObjectEntry, OverflowEntry

MIB = 1024 * 1024
KIB = 1024
INLINE_THRESHOLD = 128 * KIB  # bodies up to this size live in the LMDB record
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 32 * MIB),
    ("grpc.max_send_message_length", 32 * MIB),
]


def channel(endpoint: str) -> grpc.Channel:
    return signed_channels.insecure_channel(endpoint, CHANNEL_OPTIONS)


def object_stub(ch: grpc.Channel) -> objects_pb2_grpc.ObjectStoreStub:
    return objects_pb2_grpc.ObjectStoreStub(ch)


def expect_error(call: Callable[[], Any]) -> tuple[EngineError, grpc.StatusCode]:
    """Run `call`, which must fail; the decoded error and its gRPC status code."""
    try:
        call()
    except grpc.RpcError as exc:
        return EngineError.from_rpc_error(exc), exc.code()  # type: ignore[attr-defined]
    raise AssertionError("the call succeeded but an error was expected")


# -- requests --------------------------------------------------------------------------


def put_requests(
    bucket: str, key: str, chunks: Iterable[bytes], content_length: int | None = None
) -> Iterator[pb.PutObjectRequest]:
    header = pb.PutObjectHeader(bucket=bucket, key=key)
    if content_length is not None:
        header.content_length = content_length
    yield pb.PutObjectRequest(header=header)
    for chunk in chunks:
        yield pb.PutObjectRequest(chunk=chunk)


def split(data: bytes, size: int = 256 * KIB) -> Iterator[bytes]:
    view = memoryview(data)
    for i in range(0, len(data), size):
        yield bytes(view[i : i + size])


def put_bytes(
    stub: objects_pb2_grpc.ObjectStoreStub, bucket: str, key: str, data: bytes,
    timeout: float = 60,
) -> pb.PutObjectResponse:
    return stub.PutObject(put_requests(bucket, key, split(data), len(data)), timeout=timeout)


def get_bytes(
    stub: objects_pb2_grpc.ObjectStoreStub, bucket: str, key: str, range_: str | None = None,
    timeout: float = 60,
) -> tuple[pb.GetObjectHeader, bytes]:
    request = pb.GetObjectRequest(bucket=bucket, key=key)
    if range_ is not None:
        request.range = range_
    stream = stub.GetObject(request, timeout=timeout)
    first = next(stream)
    assert first.WhichOneof("part") == "header", "GetObject must start with the header"
    body = bytearray()
    for message in stream:
        assert message.WhichOneof("part") == "chunk", "only the first message is a header"
        body += message.chunk
    return first.header, bytes(body)


def list_pages(
    stub: objects_pb2_grpc.ObjectStoreStub, bucket: str, prefix: str = "", delimiter: str = "",
    max_keys: int | None = None,
) -> list[pb.ListObjectsV2Response]:
    """Every page of a ListObjectsV2 walk, following continuation tokens."""
    pages: list[pb.ListObjectsV2Response] = []
    token = ""
    while True:
        request = pb.ListObjectsV2Request(bucket=bucket, prefix=prefix, delimiter=delimiter,
                                          continuation_token=token)
        if max_keys is not None:
            request.max_keys = max_keys
        page = stub.ListObjectsV2(request, timeout=30)
        pages.append(page)
        if not page.is_truncated:
            return pages
        assert page.next_continuation_token, "a truncated page must carry a token"
        token = page.next_continuation_token
        assert len(pages) < 10_000, "listing does not terminate"


def list_keys(
    stub: objects_pb2_grpc.ObjectStoreStub, bucket: str, prefix: str = "", delimiter: str = "",
    max_keys: int | None = None,
) -> tuple[list[str], list[str]]:
    """(keys, common prefixes) over all pages, in the order the server returned them."""
    keys: list[str] = []
    prefixes: list[str] = []
    for page in list_pages(stub, bucket, prefix, delimiter, max_keys):
        keys += [c.key for c in page.contents]
        prefixes += list(page.common_prefixes)
    return keys, prefixes


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def utf8_order(keys: Iterable[str]) -> list[str]:
    """S3's listing order: by UTF-8 bytes (differs from str order past the BMP)."""
    return sorted(keys, key=lambda k: k.encode())


# -- on-disk state of a drive ------------------------------------------------------------


def drive_dir(data_dir: Path) -> Path:
    return data_dir / "drive-0"


def tmp_files(data_dir: Path) -> list[Path]:
    tmp = drive_dir(data_dir) / "tmp"
    return sorted(tmp.iterdir()) if tmp.exists() else []


def shard_files(data_dir: Path) -> list[Path]:
    shards = drive_dir(data_dir) / "shards"
    return sorted(p for p in shards.rglob("*") if p.is_file()) if shards.exists() else []


def shard_data_ids(data_dir: Path) -> set[str]:
    """Data ids that have at least one shard file (`<xx>/<dataid>.<i>`)."""
    return {p.name.split(".", 1)[0] for p in shard_files(data_dir)}


def read_metadata(data_dir: Path) -> tuple[dict[tuple[str, str], ObjectEntry], dict[str, bytes]]:
    """({(bucket, key): entry}, intents) straight from the drive's LMDB, read-only.

    Safe while the server runs (LMDB readers never block the writer), but only meaningful
    when no write is in flight.
    """
    env = lmdb.open(str(drive_dir(data_dir) / "meta"), readonly=True, max_dbs=4, lock=True,
                    readahead=False)
    try:
        volumes = env.open_db(b"volumes", create=False)
        objects = env.open_db(b"objects", create=False)
        intents_db = env.open_db(b"intents", create=False)
        entries: dict[tuple[str, str], ObjectEntry] = {}
        with env.begin() as txn:
            buckets = [k.decode() for k, _ in txn.cursor(db=volumes)]
            for stored, raw in txn.cursor(db=objects):
                bucket = next(b for b in buckets if stored.startswith(keyspace.bucket_prefix(b)))
                part, overflow = keyspace.split(bucket, stored)
                if overflow:
                    for key, entry in OverflowEntry.FromString(raw).entries.items():
                        entries[(bucket, key)] = entry
                else:
                    entries[(bucket, part)] = ObjectEntry.FromString(raw)
            intents = {k.decode(): v for k, v in txn.cursor(db=intents_db)}
    finally:
        env.close()
    return entries, intents


def referenced_data_ids(entries: dict[tuple[str, str], ObjectEntry]) -> set[str]:
    return {v.layout.data_id for e in entries.values() for v in e.versions
            if v.WhichOneof("body") == "layout"}
