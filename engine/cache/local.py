"""One cache command run against this node's store, and the key states it left behind.

A command reaches the store the same way whether a client called this node or another
node forwarded it (cache_records.proto ``CacheCall``): :func:`execute` maps it onto
:class:`CacheStore` and returns the reply plus the keys it wrote, whose final states the
caller copies to the slot's replica.

Namespaces: user keys live under ``USER`` and the object read cache under ``OBJECTS``
(engine/objects/read_cache.py), so no client key can collide with a cached object body.
Both share the one byte budget.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.cache import commands
from engine.cache.commands.reply import to_proto
from engine.cache.store import CacheStore
from engine.cache.value_records import key_state, state_value
from engine.v1 import cache_pb2 as pb
from engine.v1 import cache_records_pb2 as rec

USER = b"u"
OBJECTS = b"o"

Written = list[bytes]  # store keys (namespaced) whose state changed


def execute(store: CacheStore, call: rec.CacheCall,
            owned: Callable[[bytes], bool] | None = None) -> tuple[rec.CacheReply, Written]:
    """Run ``call`` on ``store``; EngineErrors (bad input) propagate unchanged.
    ``owned``: for keyless reads (KEYS, SCAN, ...), which client keys this node serves."""
    ns = OBJECTS if call.objects else USER
    op = call.WhichOneof("op")
    if op == "command":
        reply, written = commands.run(store, list(call.command.argv), ns, owned)
        return rec.CacheReply(value=to_proto(reply)), written
    if op == "get":
        value = store.get(ns + call.get.key)
        return rec.CacheReply(get=_found(value)), []
    if op == "mget":
        values = store.mget([ns + k for k in call.mget.keys])
        return rec.CacheReply(mget=pb.CacheMGetResponse(values=[_found(v) for v in values])), []
    if op == "exists":
        count = store.exists([ns + k for k in call.exists.keys])
        return rec.CacheReply(count=pb.CacheCountResponse(count=count)), []
    if op == "ttl":
        return rec.CacheReply(ttl=pb.CacheTtlResponse(pttl=store.pttl(ns + call.ttl.key))), []
    if op == "set":
        return _set(store, call.set, ns)
    if op == "delete":
        keys = [ns + k for k in call.delete.keys]
        count = store.delete(keys)
        return rec.CacheReply(count=pb.CacheCountResponse(count=count)), keys
    if op == "incr_by":
        key = ns + call.incr_by.key
        value = store.incrby(key, call.incr_by.amount)
        return rec.CacheReply(incr_by=pb.CacheIncrByResponse(value=value)), [key]
    if op == "mset":
        pairs = [(ns + e.key, e.value) for e in call.mset.entries]
        store.mset(pairs)
        return rec.CacheReply(mset=pb.CacheMSetResponse()), [k for k, _ in pairs]
    if op == "expire":
        req = call.expire
        key = ns + req.key
        done = store.expire(
            key, px=req.px if req.HasField("px") else None,
            pxat=req.pxat if req.HasField("pxat") else None,
            nx=req.nx, xx=req.xx, gt=req.gt, lt=req.lt,
        )
        return rec.CacheReply(expire=pb.CacheExpireResponse(set=done)), [key] if done else []
    raise ValueError(f"unknown cache command {op!r}")


def _set(store: CacheStore, req: pb.CacheSetRequest,
         ns: bytes) -> tuple[rec.CacheReply, Written]:
    key = ns + req.key
    written, old = store.set(
        key, req.value, px=req.px if req.HasField("px") else None,
        pxat=req.pxat if req.HasField("pxat") else None,
        nx=req.nx, xx=req.xx, keepttl=req.keepttl, get=req.get,
    )
    reply = pb.CacheSetResponse(written=written, had_old=old is not None, old_value=old or b"")
    return rec.CacheReply(set=reply), [key] if written else []


def _found(value: bytes | None) -> pb.CacheGetResponse:
    if value is None:
        return pb.CacheGetResponse(found=False)
    return pb.CacheGetResponse(found=True, value=value)


_WRITES = frozenset({"set", "delete", "incr_by", "mset", "expire"})


def is_write(call: rec.CacheCall) -> bool:
    """Whether ``call`` may change a key (whether or not it ends up doing so)."""
    if call.WhichOneof("op") == "command":
        return commands.is_write(list(call.command.argv))
    return call.WhichOneof("op") in _WRITES


def call_keys(call: rec.CacheCall) -> list[bytes]:
    """The client keys a command touches (all in one owner's slots once split)."""
    op = call.WhichOneof("op")
    if op in ("delete", "exists", "mget"):
        return list(getattr(call, op).keys)
    if op == "mset":
        return [e.key for e in call.mset.entries]
    if op is None:
        return []
    if op == "command":
        return commands.keys_of(list(call.command.argv))
    return [getattr(call, op).key]


def key_states(store: CacheStore, keys: Written) -> list[rec.CacheKeyState]:
    """What a replica must hold for ``keys`` now (deduplicated, last write wins)."""
    return [key_state(key, store.peek(key)) for key in dict.fromkeys(keys)]


def load(store: CacheStore, states: list[rec.CacheKeyState]) -> None:
    """Install the primary's key states on this replica. A state that no longer fits is
    dropped (the store removes the key rather than keep an older value)."""
    for state in states:
        try:
            store.load(state.key, state_value(state), state.expire_at_ms or None)
        except Exception:
            continue
