"""The cache tier as a node serves it: route each key to its slot's owner, run it there.

Every node computes the same :class:`SlotMap` from the topology, so any node can take any
call: keys whose slot this node owns run on the local store; others are forwarded to the
owner (cache_records.proto ``CacheNode.Execute``); multi-key calls are split by owner and
their answers merged in the caller's order.

With ``--cache-replicas 1`` a slot's primary copies the final state of every key it
writes to the slot's replica in another AZ (engine/cache/replicator.py). When the
primary cannot be reached, reads and writes go to the replica instead, so the tier keeps
working through the loss of an AZ. Leases (engine/cache/lease.py) keep the two from
writing the same slots at once and hand the replica's writes back to the primary.

A single node is the same code with a one-node map and no peers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from google.protobuf.message import Message

from engine.cache import commands
from engine.cache.lease import LEASE_SECONDS, POLL_SECONDS, RENEW_TIMEOUT, LeaseKeeper, StandIn
from engine.cache.local import OBJECTS, USER, call_keys, execute, is_write, key_states, load
from engine.cache.replicator import Replicator
from engine.cache.resync import ResyncSource, ResyncTarget
from engine.cache.slots import SlotMap, key_slot
from engine.cache.store import CacheStore
from engine.cache.tier_keys import keyless
from engine.cache.waiters import Waiters
from engine.cluster.peers import Peer
from engine.errors import EngineError
from engine.v1 import cache_pb2 as pb
from engine.v1 import cache_records_pb2 as rec

FORWARD_SECONDS = 1.0  # per attempt: a hung owner must leave time to try its replica
DOWN_SECONDS = 1.0  # after a failure, go straight to the replica for this long
RETRY_SECONDS = 5.0  # how long a call keeps trying while primary and replica hand over
ENSURE_SECONDS = 0.5  # how long a primary without its lease waits for a renewal
RESYNC_SECONDS = 5.0  # per page of a restarted replica's copy (up to 4 MiB)
SWEEP_SECONDS = 0.1  # active expiry period (Redis runs its cycle 10 times a second)
SWEEP_LIMIT = 1000  # keys per sweep call; repeated while a call fills its limit
# Only "no answer" sends a call to the replica: an error answered by a live primary
# (even an unexpected one) must not split writes between the two copies.
_UNREACHABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                grpc.StatusCode.CANCELLED}


_REPLICATED = (USER, OBJECTS)
# Writes run_now ran whose copies the caller awaits: (the slot's owners, store keys).
Copies = list[tuple[tuple[str, ...], list[bytes]]]


class CacheService:
    """The CacheApi of engine/api/cache_servicer.py, and the object read cache's tier."""

    def __init__(self, store: CacheStore, node_id: str, slots: SlotMap, *,
                 peer: Callable[[str], Peer] | None = None,
                 all_nodes: Sequence[str] = ()) -> None:
        self.store = store
        self.node_id = node_id
        self.waiters = Waiters(store)  # clients blocked on keys (BLPOP, ...)
        self.slots = slots
        self.object_hits = 0
        self.object_misses = 0
        self._peer = peer
        self._others = [n for n in all_nodes if n != node_id]
        self._replicator = Replicator(peer) if peer is not None else None
        self._down_until: dict[str, float] = {}
        ranges = [owners for _, _, owners in slots.ranges() if len(owners) > 1]
        self._leases = LeaseKeeper(
            node_id, sorted({o[1] for o in ranges if o[0] == node_id}), self._lease_call,
            lambda states: load(self.store, states))
        primaries = sorted({o[0] for o in ranges if o[1] == node_id})
        self._stand_ins = {p: StandIn(p) for p in primaries}
        self._resync_source = ResyncSource()
        self._resync = ResyncTarget(node_id, primaries, self._resync_call,
                                    lambda states: load(self.store, states))

    # -- the Cache service ---------------------------------------------------------------

    async def get(self, request: pb.CacheGetRequest) -> pb.CacheGetResponse:
        return (await self._one(rec.CacheCall(get=request))).get

    async def set(self, request: pb.CacheSetRequest) -> pb.CacheSetResponse:
        return (await self._one(rec.CacheCall(set=request))).set

    async def incr_by(self, request: pb.CacheIncrByRequest) -> pb.CacheIncrByResponse:
        return (await self._one(rec.CacheCall(incr_by=request))).incr_by

    async def expire(self, request: pb.CacheExpireRequest) -> pb.CacheExpireResponse:
        return (await self._one(rec.CacheCall(expire=request))).expire

    async def ttl(self, request: pb.CacheKeyRequest) -> pb.CacheTtlResponse:
        return (await self._one(rec.CacheCall(ttl=request))).ttl

    async def delete(self, request: pb.CacheKeysRequest) -> pb.CacheCountResponse:
        return pb.CacheCountResponse(count=await self._count("delete", "del", request))

    async def exists(self, request: pb.CacheKeysRequest) -> pb.CacheCountResponse:
        return pb.CacheCountResponse(count=await self._count("exists", "exists", request))

    async def mget(self, request: pb.CacheKeysRequest) -> pb.CacheMGetResponse:
        keys = _need_keys(request.keys, "mget")
        values: list[pb.CacheGetResponse] = [pb.CacheGetResponse()] * len(keys)

        async def part(owners: tuple[str, ...], indexes: list[int]) -> None:
            call = rec.CacheCall(mget=pb.CacheKeysRequest(keys=[keys[i] for i in indexes]))
            reply = await self._run(owners, call)
            for i, value in zip(indexes, reply.mget.values, strict=True):
                values[i] = value

        await asyncio.gather(*(part(owners, idx)
                               for owners, idx in self.slots.group_keys(keys).items()))
        return pb.CacheMGetResponse(values=values)

    async def mset(self, request: pb.CacheMSetRequest) -> pb.CacheMSetResponse:
        entries = list(request.entries)
        _need_keys(entries, "mset")
        groups = self.slots.group_keys([e.key for e in entries])

        async def part(owners: tuple[str, ...], indexes: list[int]) -> None:
            call = rec.CacheCall(mset=pb.CacheMSetRequest(entries=[entries[i] for i in indexes]))
            await self._run(owners, call)

        await asyncio.gather(*(part(owners, idx) for owners, idx in groups.items()))
        return pb.CacheMSetResponse()

    async def command(self, request: pb.CacheCommand, *,
                      whole_tier: bool = True) -> pb.CacheValue:
        """Any data command (engine/cache/commands/). Its keys must share a slot on a
        cluster (CROSSSLOT, as Redis Cluster) and run on the slot's owner like GET/SET.
        Keyless reads (KEYS, SCAN, RANDOMKEY, DBSIZE) merge every node's answer for its
        primary slots (tier_keys.py), or with ``whole_tier`` False (RESP, as a Redis
        Cluster node) give this node's."""
        argv = list(request.argv)
        spec = commands.lookup(argv)  # unknown command, arity: refused before routing
        keys = commands.keys_of(argv)
        call = rec.CacheCall(command=request)
        if not keys:
            if whole_tier and self._others:
                return await keyless(spec.name, argv, [self.node_id, *self._others],
                                     self._keyless_on)
            return self._keyless_here(call)
        slots = {key_slot(k) for k in keys}
        if len(slots) > 1 and self._others:
            raise EngineError("CrossSlot")
        return (await self._run(self.slots.owners(slots.pop()), call)).value

    def run_now(self, argv: list[bytes], slot: int, *, on_copy: bool = False,
                copies: Copies | None = None) -> tuple[Any, list[bytes]] | None:
        """A data command (engine/cache/commands/) run on this node's store at once, no
        protobuf and no await: its reply as plain values (commands/reply.py) and the store
        keys it wrote; None when it must take :meth:`command`'s path instead.

        That is when another node serves ``slot`` (-1: no key, or not in cluster mode), or
        this primary's lease has lapsed (its renewal is awaited), or the command writes a
        slot that has a replica and ``copies`` is None. With ``copies``, such a write runs
        and adds (owners, keys written) there: the caller must ``await
        copy_all(copies)`` before it answers, as :meth:`command` awaits the copy (so a
        pipeline's writes wait for their copies once, together). ``on_copy``: a read on
        this replica's own copy (READONLY), wherever the slot's primary is. EngineErrors
        (bad input) propagate unchanged, as from :meth:`command`."""
        owned = None
        owners: tuple[str, ...] = ()
        if self._others:
            owned = self._primary_here
            if slot >= 0 and not on_copy:
                owners = self.slots.owners(slot)
                if owners[0] != self.node_id:
                    return None
                if len(owners) > 1 and (not self._leases.serving(owners[1]) or (
                        copies is None and commands.is_write(argv))):
                    return None
        reply, written = commands.run(self.store, argv, USER, owned)
        if written and self.waiters:  # the blocked clients it serves, in this loop step
            written = written + self.waiters.serve(written)
        if written and len(owners) > 1:
            assert copies is not None
            copies.append((owners, written))
        return reply, written

    async def copy_all(self, copies: Copies) -> None:
        """Send the final state of the keys :meth:`run_now` wrote to their replicas, one
        copy per replica."""
        by_replica: dict[tuple[str, ...], dict[bytes, None]] = {}
        for owners, written in copies:
            by_replica.setdefault(owners[:2], {}).update(dict.fromkeys(written))
        await asyncio.gather(*(self._copy(owners, list(keys))
                               for owners, keys in by_replica.items()))

    def _primary_here(self, key: bytes) -> bool:
        return self.slots.primary(key_slot(key)) == self.node_id

    def _keyless_here(self, call: rec.CacheCall) -> pb.CacheValue:
        owned = self._primary_here if self._others else None
        return execute(self.store, call, owned)[0].value

    async def _keyless_on(self, node_id: str, argv: list[bytes]) -> pb.CacheValue | None:
        call = rec.CacheCall(command=pb.CacheCommand(argv=argv))
        if node_id == self.node_id:
            return self._keyless_here(call)
        try:
            reply = await self._call(node_id, "Execute", call, FORWARD_SECONDS)
        except EngineError as err:
            if err.code == "ServiceUnavailable" or err.grpc_status in _UNREACHABLE:
                return None
            raise
        return reply.value

    async def flush_all(self, request: pb.CacheFlushAllRequest) -> pb.CacheFlushAllResponse:
        """Every reachable node empties its store (a node that is down comes back empty)."""
        self.store.flushall()

        async def flush(node_id: str) -> None:
            with contextlib.suppress(EngineError):
                await self._call(node_id, "FlushLocal", request, FORWARD_SECONDS)

        await asyncio.gather(*(flush(n) for n in self._others))
        return pb.CacheFlushAllResponse()

    async def stats(self, request: pb.CacheStatsRequest) -> pb.CacheStatsResponse:
        async def remote(node_id: str) -> pb.CacheNodeStats:
            try:
                return await self._call(node_id, "LocalStats", request, FORWARD_SECONDS)
            except EngineError:
                return pb.CacheNodeStats(node_id=node_id, reachable=False)

        nodes = [self.local_stats(), *await asyncio.gather(*(remote(n) for n in self._others))]
        nodes.sort(key=lambda s: s.node_id)
        total = pb.CacheNodeStats(node_id="total", reachable=all(s.reachable for s in nodes))
        for s in nodes:
            for name in ("hits", "misses", "evictions", "expirations", "keys", "bytes_used",
                         "budget", "object_hits", "object_misses"):
                setattr(total, name, getattr(total, name) + getattr(s, name))
        return pb.CacheStatsResponse(nodes=nodes, total=total)

    def read_local(self, call: rec.CacheCall) -> rec.CacheReply:
        """A read on this node's own copy, never forwarded: a replica serving a RESP
        client that sent READONLY (it may lag its primary by the replication delay)."""
        if is_write(call):
            raise EngineError("InvalidArgument", "only reads run on a replica's copy")
        if call.WhichOneof("op") == "command":
            commands.lookup(list(call.command.argv))
        return execute(self.store, call)[0]

    # -- the object read cache (engine/objects/read_cache.py) ------------------------------

    async def object_get(self, key: bytes) -> bytes | None:
        reply = await self._one(rec.CacheCall(get=pb.CacheGetRequest(key=key), objects=True))
        if reply.get.found:
            self.object_hits += 1
            return reply.get.value
        self.object_misses += 1
        return None

    async def object_put(self, key: bytes, body: bytes) -> None:
        await self._one(rec.CacheCall(set=pb.CacheSetRequest(key=key, value=body),
                                      objects=True))

    async def object_drop(self, keys: Sequence[bytes]) -> None:
        for owners, indexes in self.slots.group_keys(list(keys)).items():
            call = rec.CacheCall(delete=pb.CacheKeysRequest(keys=[keys[i] for i in indexes]),
                                 objects=True)
            await self._run(owners, call)

    # -- transactions (engine/api/resp/transactions.py) -------------------------------------

    async def hold_slot(self, slot: int | None) -> tuple[str, ...] | None:
        """The owners of ``slot`` (None: no key) when this node is its primary and holds
        its lease, so that a transaction may run here with :meth:`run_here` back to back;
        None when it must go through the tier command by command instead."""
        owners = self.slots.owners(slot) if slot is not None else (self.node_id,)
        if owners[0] != self.node_id:
            return None
        if len(owners) > 1 and not await self._leases.ensure(owners[1], ENSURE_SECONDS):
            return None
        return owners

    def run_here(self, argv: list[bytes]) -> tuple[pb.CacheValue, list[bytes]]:
        """One data command on this node's store at once (no await, so nothing else runs
        in between): its reply and the store keys it wrote. EngineErrors propagate."""
        call = rec.CacheCall(command=pb.CacheCommand(argv=argv))
        reply, written = execute(self.store, call, self._primary_here if self._others else None)
        return reply.value, written

    async def replicate(self, owners: tuple[str, ...], written: list[bytes]) -> None:
        """Copy the final state of keys :meth:`run_here` wrote to the slot's replica."""
        if written and self.waiters:  # clients blocked on them: served after EXEC, as Redis
            written = written + self.waiters.serve(written)
        await self._copy(owners, written)

    async def _copy(self, owners: tuple[str, ...], written: list[bytes]) -> None:
        if written and self._replicator is not None and len(owners) > 1:
            lease = self._leases.leases[owners[1]]
            await self._replicator.copy(owners[1], key_states(self.store, written),
                                        self.node_id, lease.token)

    # -- served to peers (engine/api/cache_node_servicer.py) ---------------------------------

    async def execute_forwarded(self, call: rec.CacheCall) -> rec.CacheReply:
        keys = call_keys(call)
        if not keys and call.WhichOneof("op") == "command":  # KEYS, SCAN, ... of a tier scan
            return rec.CacheReply(value=self._keyless_here(call))
        owners = self.slots.owners(key_slot(keys[0])) if keys else (self.node_id,)
        try:
            return await self._local(owners, call)
        except _Unreachable:
            raise EngineError("ServiceUnavailable",
                              f"cache node {self.node_id} is renewing its lease") from None
        except _TryAgain:
            raise EngineError("TryAgain") from None

    def load(self, request: rec.CacheLoadRequest) -> None:
        stand_in = self._stand_ins.get(request.primary)
        if stand_in is not None and not stand_in.accepts(request.token):
            # Queued by the primary before this node took writes in its place.
            raise EngineError("LeaseExpired")
        load(self.store, list(request.keys))
        self._resync.fresh(request.primary, (s.key for s in request.keys))

    def lease(self, request: rec.CacheLeaseRequest) -> rec.CacheLeaseReply:
        """Renew ``request.primary``'s lease; hand back what this node wrote for it."""
        stand_in = self._stand_ins.get(request.primary)
        if stand_in is None:
            raise EngineError("InvalidArgument",
                              f"{self.node_id} is not a cache replica of {request.primary}")
        return stand_in.answer(request, time.monotonic(), self._snapshot,
                               lambda: self._keys_of((request.primary, self.node_id)))

    def resync(self, request: rec.CacheResyncRequest) -> rec.CacheLeaseReply:
        """The next page of every key of this node's slots that ``request.replica`` holds
        copies of, for a replica that has just started."""
        owners = (self.node_id, request.replica)
        if request.replica not in self._leases.leases:
            raise EngineError("InvalidArgument",
                              f"{request.replica} is not a cache replica of {self.node_id}")
        return self._resync_source.page(request, lambda: self._snapshot(self._keys_of(owners)))

    def local_stats(self) -> pb.CacheNodeStats:
        s = self.store.stats()
        return pb.CacheNodeStats(
            node_id=self.node_id, hits=s.hits, misses=s.misses, evictions=s.evictions,
            expirations=s.expirations, keys=s.keys, bytes_used=s.bytes_used, budget=s.budget,
            object_hits=self.object_hits, object_misses=self.object_misses, reachable=True)

    # -- background ------------------------------------------------------------------------

    async def sweep_forever(self) -> None:
        """Active expiry: expired keys leave memory even if nobody reads them again."""
        while True:
            for _ in range(10):
                if self.store.sweep(SWEEP_LIMIT) < SWEEP_LIMIT:
                    break
                await asyncio.sleep(0)
            await asyncio.sleep(SWEEP_SECONDS)

    async def run_replication(self) -> None:
        """Renew this node's leases from its replicas for as long as the node runs, and
        copy once the keys of the primaries it is replica of."""
        await asyncio.gather(self._leases.run(), self._resync.run())

    async def close(self) -> None:
        if self._replicator is not None:
            await self._replicator.close()

    # -- routing ---------------------------------------------------------------------------

    async def _one(self, call: rec.CacheCall) -> rec.CacheReply:
        key = call_keys(call)[0]
        return await self._run(self.slots.owners(key_slot(key)), call)

    async def _count(self, op: str, command: str, request: pb.CacheKeysRequest) -> int:
        keys = _need_keys(request.keys, command)
        counts: list[int] = []

        async def part(owners: tuple[str, ...], indexes: list[int]) -> None:
            sub = pb.CacheKeysRequest(keys=[keys[i] for i in indexes])
            counts.append((await self._run(owners, rec.CacheCall(**{op: sub}))).count.count)

        await asyncio.gather(*(part(owners, idx)
                               for owners, idx in self.slots.group_keys(keys).items()))
        return sum(counts)

    async def _run(self, owners: tuple[str, ...], call: rec.CacheCall) -> rec.CacheReply:
        """On the primary; on the replica when the primary does not answer. A replica
        that answers TryAgain saw the primary renew its lease: back to the primary."""
        primary = owners[0]
        replica = owners[1] if len(owners) > 1 else None
        loop = asyncio.get_running_loop()
        give_up = loop.time() + RETRY_SECONDS
        while True:
            call.failover = False
            try:
                if primary == self.node_id:
                    return await self._local(owners, call)
                if replica is None or self._down_until.get(primary, 0.0) <= loop.time():
                    try:
                        return await self._forward(primary, call, FORWARD_SECONDS)
                    except _Unreachable:
                        self._down_until[primary] = loop.time() + DOWN_SECONDS
                        raise
            except _Unreachable as exc:
                if replica is None:
                    raise EngineError("ServiceUnavailable",
                                      f"cache node {primary} is unreachable") from exc
            call.failover = True
            try:
                if replica == self.node_id:
                    return await self._local(owners, call)
                # The replica may wait out the primary's lease before it writes; the last
                # owner left is waited for if its channel is still reconnecting.
                return await self._forward(replica, call, FORWARD_SECONDS + LEASE_SECONDS,
                                           wait_for_ready=True)
            except _Unreachable as exc:
                raise EngineError("ServiceUnavailable",
                                  f"cache nodes {primary} and {replica} are unreachable"
                                  ) from exc
            except _TryAgain as exc:
                self._down_until.pop(primary, None)
                if loop.time() >= give_up:
                    raise EngineError("ServiceUnavailable",
                                      f"cache node {primary} is handing over to {replica}"
                                      ) from exc
                await asyncio.sleep(POLL_SECONDS)

    async def _local(self, owners: tuple[str, ...], call: rec.CacheCall) -> rec.CacheReply:
        primary = owners[0]
        stand_in = None
        if len(owners) > 1:
            if primary == self.node_id:
                if not await self._leases.ensure(owners[1], ENSURE_SECONDS):
                    raise _Unreachable(self.node_id)
            elif call.failover and is_write(call):
                stand_in = self._stand_ins.get(primary)
            if stand_in is not None:
                if not await stand_in.wait_expired(time.monotonic, LEASE_SECONDS):
                    raise _TryAgain(primary)
                stand_in.take_over()
        reply, written = execute(self.store, call)
        if written and self.waiters:  # the blocked clients the write serves
            written += self.waiters.serve(written)
        if written and stand_in is not None:
            stand_in.wrote(written)
            self._resync.fresh(primary, written)
        elif primary == self.node_id:
            await self._copy(owners, written)
        return reply

    def _snapshot(self, keys: list[bytes]) -> list[rec.CacheKeyState]:
        return key_states(self.store, keys)

    def _keys_of(self, owners: tuple[str, ...]) -> list[bytes]:
        """Stored keys of the slots these nodes own, in the namespaces the tier
        replicates (clients' and the object read cache's): memcached items (another
        prefix) belong to the node that took them and never travel."""
        return [k for k in self.store.stored_keys()
                if k[:1] in _REPLICATED and self.slots.owners(key_slot(k[1:])) == owners]

    async def _lease_call(self, replica: str, request: rec.CacheLeaseRequest
                          ) -> rec.CacheLeaseReply:
        return await self._call(replica, "Lease", request, RENEW_TIMEOUT)

    async def _resync_call(self, primary: str, request: rec.CacheResyncRequest
                           ) -> rec.CacheLeaseReply:
        return await self._call(primary, "Resync", request, RESYNC_SECONDS)

    async def _call(self, node_id: str, rpc: str, request: Message, timeout: float, *,
                    wait_for_ready: bool = False) -> Any:
        """A CacheNode call to a peer (engine/cluster/peers.py: Peer.call)."""
        peer = self._peer_of(node_id)
        return await peer.call(getattr(peer.cache_stub, rpc), request, timeout=timeout,
                               wait_for_ready=wait_for_ready)

    async def _forward(self, node_id: str, call: rec.CacheCall, timeout: float, *,
                       wait_for_ready: bool = False) -> rec.CacheReply:
        try:
            return await self._call(node_id, "Execute", call, timeout,
                                    wait_for_ready=wait_for_ready)
        except EngineError as err:
            if err.code == "TryAgain":
                raise _TryAgain(node_id) from err
            if err.code == "ServiceUnavailable" or err.grpc_status in _UNREACHABLE:
                raise _Unreachable(node_id) from err
            raise

    def _peer_of(self, node_id: str) -> Peer:
        if self._peer is None:
            raise EngineError("ServiceUnavailable", f"no route to cache node {node_id}")
        return self._peer(node_id)


class _Unreachable(Exception):
    """No answer from the node (or, from this node, no lease to serve with)."""


class _TryAgain(Exception):
    """The replica will not write: the primary holds its lease."""


def _need_keys(keys: Sequence[object], command: str) -> list:
    if not keys:
        raise EngineError("SyntaxError", f"wrong number of arguments for '{command}' command")
    return list(keys)
