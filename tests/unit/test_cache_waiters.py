"""The waiters registry (engine/cache/waiters.py) on a real store: a write serves the
clients blocked on its keys in the order they blocked, in the same step, and says which
keys those pops wrote (so they are replicated with the write)."""

from __future__ import annotations

import asyncio

from engine.cache.local import USER, execute
from engine.cache.store import CacheStore
from engine.cache.waiters import Waiters
from engine.clock import ManualClock
from engine.v1 import cache_pb2 as pb
from engine.v1 import cache_records_pb2 as rec


def call(*argv: bytes) -> rec.CacheCall:
    return rec.CacheCall(command=pb.CacheCommand(argv=list(argv)))


def write(store: CacheStore, waiters: Waiters, *argv: bytes) -> list[bytes]:
    """As CacheService._local does: run, then serve the blocked clients."""
    _, written = execute(store, call(*argv))
    return written + waiters.serve(written)


def run(test) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(test(CacheStore(1 << 20, ManualClock(1_000_000.0))))


def test_fifo_per_key_and_the_pops_are_written_keys() -> None:
    async def test(store: CacheStore) -> None:
        waiters = Waiters(store)
        first = waiters.add([USER + b"q"], call(b"LMPOP", b"1", b"q", b"LEFT"))
        second = waiters.add([USER + b"x", USER + b"q"],
                             call(b"LMPOP", b"2", b"x", b"q", b"LEFT"))
        assert write(store, waiters, b"RPUSH", b"q", b"a") == [USER + b"q", USER + b"q"]
        assert first.future.result().array.items[0].bulk == b"q"
        assert not second.future.done() and len(waiters) == 2
        write(store, waiters, b"RPUSH", b"q", b"b", b"c")
        assert second.future.done() and len(waiters) == 0
        assert store.lrange(USER + b"q", 0, -1) == [b"c"]

    run(test)


def test_blmove_chain_and_wrong_type_stays_blocked() -> None:
    async def test(store: CacheStore) -> None:
        waiters = Waiters(store)
        mover = waiters.add([USER + b"s"], call(b"LMOVE", b"s", b"d", b"LEFT", b"LEFT"))
        popper = waiters.add([USER + b"d"], call(b"LMPOP", b"1", b"d", b"LEFT"))
        zset = waiters.add([USER + b"z"], call(b"ZMPOP", b"1", b"z", b"MIN"))
        write(store, waiters, b"LPUSH", b"s", b"v")
        assert mover.future.result().bulk == b"v"
        assert popper.future.done() and not store.exists([USER + b"s", USER + b"d"])
        write(store, waiters, b"SET", b"z", b"string")
        assert not zset.future.done() and waiters.clients() == 1
        waiters.remove(zset)
        waiters.remove(zset)
        assert len(waiters) == 0

    run(test)
