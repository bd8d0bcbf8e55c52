"""The object service over RemoteDrives: three in-process node servers with two drives
each (three "zones") hold one 4+2 erasure set, reached through node.proto."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from engine._hotpath import crc32c
from engine.api.node_servicer import NodeServicer
from engine.clock import ManualClock
from engine.cluster.peers import PeerPool
from engine.cluster.placement import ErasureSet, StaticPlacement
from engine.cluster.remote_drive import DriveUnavailable, RemoteDrive
from engine.config import StorageConfig
from engine.errors import EngineError
from engine.objects.service import ObjectService, WriteOptions
from engine.storage.codec import ReedSolomonCodec
from engine.storage.drive import LocalDrive
from engine.storage.entries import fingerprint
from engine.storage.errors import UploadNotFound, VolumeNotFound
from engine.v1 import node_pb2, node_pb2_grpc
from engine.v1.records_pb2 import (
    BucketRecord,
    DataLayout,
    MultipartBody,
    ObjectVersion,
    PartBody,
    UploadRecord,
    VersionPatch,
)

SECRET = "s" * 32
STRIPE = 64 * 1024
CONFIG = StorageConfig(stripe_size=STRIPE, inline_threshold=1024, lmdb_map_size=1 << 28)


async def body(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 50_000):
        yield data[i : i + 50_000]


class Cluster:
    """Three node servers on loopback, and a coordinator's view of them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.servers: list[grpc.aio.Server] = []
        self.drives: list[list[LocalDrive]] = []
        self.pool = PeerPool("az-1", SECRET, timeout=2.0)
        self.remote: list[RemoteDrive] = []

    async def start(self) -> ObjectService:
        remote: list[RemoteDrive] = []
        for n in range(3):
            local = [LocalDrive(self.root / f"n{n}" / f"d{j}", CONFIG.lmdb_map_size)
                     for j in range(2)]
            server = grpc.aio.server()
            node_pb2_grpc.add_NodeServicer_to_server(
                NodeServicer(f"n{n}", f"az-{n + 1}", local, SECRET), server)
            port = server.add_insecure_port("127.0.0.1:0")
            await server.start()
            self.servers.append(server)
            self.drives.append(local)
            peer = self.pool.peer(f"n{n}", f"127.0.0.1:{port}", f"az-{n + 1}")
            remote += [RemoteDrive(peer, j) for j in range(2)]
        self.remote = remote
        # shard i -> drive i: data shards 0-3 on n0, n1; parity 4-5 on n2
        eset = ErasureSet(0, tuple(remote), ReedSolomonCodec(4, 2), zone="az-1")
        svc = ObjectService(StaticPlacement([eset]), CONFIG, ManualClock())
        record = BucketRecord(name="bkt", created_ns=1)
        await asyncio.gather(*(d.make_volume(record) for d in remote))
        return svc

    async def stop_node(self, n: int) -> None:
        await self.servers[n].stop(0)

    async def close(self) -> None:
        await self.pool.close()
        for server in self.servers:
            await server.stop(0)
        for drives in self.drives:
            for d in drives:
                d.close()


def run(root: Path, scenario: Any) -> Any:
    async def main() -> Any:
        cluster = Cluster(root)
        try:
            return await scenario(cluster, await cluster.start())
        finally:
            await cluster.close()

    return asyncio.run(main())


async def get(svc: ObjectService, key: str, **kw: Any) -> bytes:
    read = await svc.get_object("bkt", key, **kw)
    assert read.body is not None
    return b"".join([bytes(c) async for c in read.body])


def test_objects_round_trip_through_remote_drives(tmp_path: Path) -> None:
    data = os.urandom(5 * STRIPE + 123)

    async def scenario(c: Cluster, svc: ObjectService) -> None:
        v = await svc.put_object("bkt", "big", body(data), WriteOptions())
        await svc.put_object("bkt", "small", body(b"tiny"), WriteOptions())
        assert v.etag == hashlib.md5(data).hexdigest()
        assert await get(svc, "big") == data
        assert await get(svc, "big", range_header="bytes=70000-200000") == data[70000:200001]
        page, _ = await svc.list_objects_v2("bkt")
        assert [k for k, _ in page.contents] == ["big", "small"]
        shard_files = [p for node in c.drives for d in node for p in
                       (d.path / "shards").rglob("*.*")]
        assert len(shard_files) == 6  # one shard per drive, none for the inline object
        await svc.delete_object("bkt", "big")
        assert not any(p.exists() for p in shard_files)
        with pytest.raises(EngineError) as err:
            await get(svc, "big")
        assert err.value.code == "NoSuchKey"

    run(tmp_path, scenario)


def test_a_whole_zone_down_keeps_reads_and_writes(tmp_path: Path) -> None:
    data = os.urandom(3 * STRIPE)

    async def scenario(c: Cluster, svc: ObjectService) -> None:
        await svc.put_object("bkt", "before", body(data), WriteOptions())
        await c.stop_node(0)  # two data shards gone
        assert await get(svc, "before") == data  # decoded from parity
        await svc.put_object("bkt", "during", body(data[::-1]), WriteOptions())
        assert await get(svc, "during") == data[::-1]
        page, _ = await svc.list_objects_v2("bkt")
        assert [k for k, _ in page.contents] == ["before", "during"]
        await c.stop_node(1)  # a second zone: beyond what 4+2 survives
        with pytest.raises(EngineError) as err:
            await svc.put_object("bkt", "after", body(data), WriteOptions())
        assert err.value.code == "ServiceUnavailable"

    run(tmp_path, scenario)


def test_a_stale_drive_is_outvoted(tmp_path: Path) -> None:
    async def scenario(c: Cluster, svc: ObjectService) -> None:
        await svc.put_object("bkt", "k", body(b"old"), WriteOptions())
        # one drive keeps the key while the others lose it (it missed the delete)
        stale = c.drives[2][1]
        saved = await stale.read_entry("bkt", "k")
        await svc.delete_object("bkt", "k")
        await stale.write_version("bkt", "k", saved.versions[0], versioning="")
        with pytest.raises(EngineError) as err:
            await get(svc, "k")
        assert err.value.code == "NoSuchKey"
        page, _ = await svc.list_objects_v2("bkt")
        assert page.contents == []

    run(tmp_path, scenario)


def test_peer_calls_need_the_cluster_secret(tmp_path: Path) -> None:
    async def scenario(c: Cluster, svc: ObjectService) -> None:
        peer = c.pool.peer("n0", "", "")
        stub = peer.stub
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Ping(node_pb2.PingRequest(), metadata=(("x-engine-secret", "wrong"),))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListVolumes(node_pb2.DriveRef(drive=0))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        pong = await stub.Ping(node_pb2.PingRequest(), metadata=peer.metadata)
        assert pong.node_id == "n0"

    run(tmp_path, scenario)


def test_an_unreachable_peer_is_a_bounded_failure(tmp_path: Path) -> None:
    async def scenario(c: Cluster, svc: ObjectService) -> None:
        pool = PeerPool("az-1", SECRET, timeout=0.5)
        dead = RemoteDrive(pool.peer("x", "127.0.0.1:1", "az-9"), 0)
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(DriveUnavailable):
            await dead.read_entry("bkt", "k")
        assert loop.time() - start < 2.0
        await pool.close()

    run(tmp_path, scenario)


async def remote_part(drive: RemoteDrive, number: int, data_id: str) -> PartBody:
    """A part's shard streamed to the peer (pending there until PutPart records it)."""
    writer = await drive.create_shard(data_id, 0, "bkt", "mp")
    await writer.write_block(data_id.encode(), crc32c(data_id.encode()))
    await writer.commit()
    return PartBody(number=number, size=len(data_id), etag=data_id,
                    layout=DataLayout(data_id=data_id, data_shards=1, block_size=64))


def test_uploads_and_patches_through_a_remote_drive(tmp_path: Path) -> None:
    async def scenario(c: Cluster, svc: ObjectService) -> None:
        drive, local = c.remote[0], c.drives[0][0]

        def on_disk() -> set[str]:
            return {p.name.split(".")[0] for p in (local.path / "shards").rglob("*.*")}

        record = UploadRecord(upload_id="u1", key="mp", initiated_ns=5, metadata={"m": "1"})
        await drive.create_upload("bkt", record)
        await drive.create_upload("bkt", UploadRecord(upload_id="u2", key="other"))
        with pytest.raises(VolumeNotFound):
            await drive.create_upload("nope", record)
        for number, data_id in ((2, "p2"), (1, "p1"), (1, "p1b"), (3, "p3")):
            await drive.put_part("bkt", "u1", await remote_part(drive, number, data_id))
        assert on_disk() == {"p1b", "p2", "p3"}  # the replaced part 1 is gone
        got = await drive.read_upload("bkt", "u1")
        assert [p.layout.data_id for p in got.parts] == ["p1b", "p2", "p3"]
        assert got.metadata["m"] == "1"
        assert await drive.read_upload("bkt", "zz") is None
        listed = await drive.list_uploads("bkt", "")
        assert [(r.key, r.upload_id, len(r.parts)) for r in listed] == [
            ("mp", "u1", 0), ("other", "u2", 0)]
        assert [r.upload_id for r in await drive.list_uploads("bkt", "o")] == ["u2"]

        with pytest.raises(UploadNotFound):
            await drive.put_part("bkt", "zz", PartBody(number=1, inline_data=b"x"))
        version = ObjectVersion(version_id="null", etag="x-2", size=6, mtime_ns=9,
                                parts=MultipartBody(parts=got.parts[:2]))
        with pytest.raises(UploadNotFound):
            await drive.complete_upload("bkt", "mp", "zz", version, "")
        await drive.complete_upload("bkt", "mp", "u1", version, "")
        assert await drive.read_upload("bkt", "u1") is None
        entry = await drive.read_entry("bkt", "mp")
        assert entry is not None and list(entry.versions) == [version]
        assert on_disk() == {"p1b", "p2"}  # unused part 3 collected on the peer

        tags = VersionPatch(version_id="null", set_tags=True, tags={"t": "1"},
                            expect=fingerprint(version))
        assert await drive.patch_version("bkt", "mp", tags) == "applied"
        assert dict((await drive.read_entry("bkt", "mp")).versions[0].tags) == {"t": "1"}
        tags.expect = "stale"
        assert await drive.patch_version("bkt", "mp", tags) == "changed"
        assert await drive.patch_version("bkt", "mp", VersionPatch(version_id="v9")) == "missing"
        assert await drive.patch_version("bkt", "mp", VersionPatch(version_id="null",
                                                                   remove=True)) == "applied"
        assert await drive.read_entry("bkt", "mp") is None
        assert on_disk() == set()

        await drive.put_part("bkt", "u2", await remote_part(drive, 1, "q1"))
        assert await drive.abort_upload("bkt", "u2") is True
        assert await drive.abort_upload("bkt", "u2") is False
        assert on_disk() == set()
        assert local.meta.intents() == {}

    run(tmp_path, scenario)
