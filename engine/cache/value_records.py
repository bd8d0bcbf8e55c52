"""A key's value as it travels to a replica (cache_records.proto ``CacheKeyState``).

A string travels as its bytes, as before typed values existed, so a replica or primary
of an older build still reads strings. A collection travels as a serialized
``CacheCollection`` in the same ``value`` field, with ``type`` naming what it is: the
replicator's and hand-back's page sizes (len(key) + len(value)) stay right without
knowing about types. Decoding rebuilds the collection with its byte charge, so the
replica charges exactly what the primary does.
"""

from __future__ import annotations

from engine.cache.types.values import (
    FloatText,
    HashValue,
    ListValue,
    SetValue,
    Value,
    ZSetValue,
)
from engine.v1 import cache_records_pb2 as rec

_TYPES = {
    HashValue: rec.CACHE_VALUE_HASH,
    ListValue: rec.CACHE_VALUE_LIST,
    SetValue: rec.CACHE_VALUE_SET,
    ZSetValue: rec.CACHE_VALUE_ZSET,
}


def encode_value(value: Value) -> tuple[int, bytes]:
    """(CacheValueType, the bytes for ``CacheKeyState.value``)."""
    if isinstance(value, bytes | bytearray):
        return rec.CACHE_VALUE_STRING, bytes(value)
    record = rec.CacheCollection()
    if isinstance(value, HashValue):
        for field, item in value.fields.items():
            record.items.extend((field, item))
        record.big = value.big
    elif isinstance(value, ListValue):
        record.items.extend(value.items)
    elif isinstance(value, SetValue):
        record.items.extend(value.members)
        record.big = value.big
    else:
        for score, member in value.order:
            record.items.append(member)
            record.scores.append(score)
        record.big = value.big
    return _TYPES[type(value)], record.SerializeToString(deterministic=True)


def decode_value(kind: int, data: bytes) -> Value:
    """The value a ``CacheKeyState`` carries (ValueError for an unknown type)."""
    if kind == rec.CACHE_VALUE_STRING:
        return data
    record = rec.CacheCollection.FromString(data)
    items = record.items
    if kind == rec.CACHE_VALUE_HASH:
        hashed = HashValue()
        hashed.big = record.big
        for i in range(0, len(items) - 1, 2):
            hashed.put(items[i], items[i + 1])
        return hashed
    if kind == rec.CACHE_VALUE_LIST:
        listed = ListValue()
        listed.items.extend(items)
        listed.charge(list(items), 1)
        return listed
    if kind == rec.CACHE_VALUE_SET:
        members = SetValue()
        members.big = record.big
        for member in items:
            members.add(member)
        return members
    if kind == rec.CACHE_VALUE_ZSET:
        if len(record.scores) != len(items):
            raise ValueError("a sorted set record needs one score per member")
        zset = ZSetValue()
        zset.big = record.big  # first: a big sorted set keeps -0 scores, as a skiplist does
        for member, score in zip(items, record.scores, strict=True):
            zset.put(member, score)
        return zset
    raise ValueError(f"unknown cache value type {kind}")


def string_form(value: Value) -> int:
    """The CacheStringForm of a stored value (the default for anything but the two
    strings whose encoding their bytes do not tell)."""
    if isinstance(value, bytearray):
        return rec.CACHE_STRING_RAW
    if isinstance(value, FloatText):
        return rec.CACHE_STRING_FLOAT_TEXT
    return rec.CACHE_STRING_AS_SET


def key_state(key: bytes, entry: tuple[Value, int | None] | None) -> rec.CacheKeyState:
    """The state to send for ``key`` given :meth:`CacheStore.peek`'s answer."""
    if entry is None:
        return rec.CacheKeyState(key=key, present=False)
    value, at = entry
    kind, data = encode_value(value)
    return rec.CacheKeyState(key=key, present=True, value=data, expire_at_ms=at or 0,
                             type=kind, string_form=string_form(value))  # type: ignore[arg-type]


def state_value(state: rec.CacheKeyState) -> Value | None:
    """The value to :meth:`CacheStore.load` for a received state (None: absent)."""
    if not state.present:
        return None
    value = decode_value(state.type, state.value)
    if state.type == rec.CACHE_VALUE_STRING and state.string_form == rec.CACHE_STRING_RAW:
        return bytearray(value)  # type: ignore[arg-type]
    if state.type == rec.CACHE_VALUE_STRING and state.string_form == rec.CACHE_STRING_FLOAT_TEXT:
        return FloatText(value)  # type: ignore[arg-type]
    return value
