"""RequestMemo: a bucket's record is read once per request (authorization and the
operation both ask), never shared between requests, and never kept across a change."""

from __future__ import annotations

import asyncio

from engine.objects.buckets import RequestMemo
from engine.v1.records_pb2 import BucketRecord


class Counting:
    """A registry that counts reads (the wrapper's only dependency)."""

    def __init__(self) -> None:
        self.records = {"photos": BucketRecord(name="photos", policy="v1")}
        self.reads = 0

    async def get(self, name: str, *, stale_ok: bool = False) -> BucketRecord:
        self.reads += 1
        return self.records[name]

    async def update(self, record: BucketRecord) -> None:
        self.records[record.name] = record


def test_one_read_per_request_and_none_shared_between_requests() -> None:
    inner = Counting()
    memo = RequestMemo(inner)  # type: ignore[arg-type]

    async def request() -> list[str]:
        first = await memo.get("photos", stale_ok=True)
        second = await memo.get("photos", stale_ok=True)
        return [first.policy, second.policy]

    async def scenario() -> None:
        # Each request is its own task, as each gRPC call is.
        assert await asyncio.create_task(request()) == ["v1", "v1"]
        assert inner.reads == 1
        assert await asyncio.create_task(request()) == ["v1", "v1"]
        assert inner.reads == 2

    asyncio.run(scenario())


def test_current_reads_and_changes_go_to_the_registry() -> None:
    inner = Counting()
    memo = RequestMemo(inner)  # type: ignore[arg-type]

    async def request() -> None:
        await memo.get("photos", stale_ok=True)
        await memo.get("photos")  # must be current: read again
        assert inner.reads == 2
        await memo.update(BucketRecord(name="photos", policy="v2"))
        assert (await memo.get("photos", stale_ok=True)).policy == "v2"
        assert inner.reads == 3

    asyncio.run(request())
