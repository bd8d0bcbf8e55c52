"""A command's reply as plain values, and as the ``CacheValue`` message that carries it
between nodes and to gRPC clients.

``bytes`` bulk, ``int`` integer, ``None`` null, ``float`` a double (RESP2 sends it as
text with ``format_double``), ``bool`` a boolean (RESP2 1/0), :class:`Status` a simple
string (``OK``), ``list`` an array, ``tuple`` an array that RESP2 splices into the
array around it (ZRANGE WITHSCORES's (member, score)), ``dict`` a map (RESP2 a flat
array), :class:`Members` a set (RESP2 an array), :data:`NULL_ARRAY` a null where an
array was expected (RESP2 ``*-1``, RESP3 ``_``).
"""

from __future__ import annotations

from typing import Any

from engine.v1 import cache_pb2 as pb


class Status(str):
    """A simple string reply (``+OK``)."""


class Members(list):  # type: ignore[type-arg]
    """A set reply (SMEMBERS, SINTER, ...): RESP3 ``~``, RESP2 an array."""


class _NullArray:
    """Redis's null array: what LPOP key count, LMPOP and ZMPOP answer when they find
    nothing (RESP2 tells it from a null bulk string)."""


OK = Status("OK")
NULL_ARRAY = _NullArray()


def to_proto(value: Any) -> pb.CacheValue:
    if value is None:
        return pb.CacheValue(null=True)
    if value is NULL_ARRAY:
        return pb.CacheValue(null=True, null_array=True)
    if isinstance(value, bool):
        return pb.CacheValue(boolean=value)
    if isinstance(value, int):
        return pb.CacheValue(integer=value)
    if isinstance(value, Status):
        return pb.CacheValue(simple=str(value))
    if isinstance(value, bytes | bytearray):
        return pb.CacheValue(bulk=bytes(value))
    if isinstance(value, str):
        return pb.CacheValue(bulk=value.encode())
    if isinstance(value, float):
        return pb.CacheValue(double=value)
    if isinstance(value, dict):
        items = [to_proto(x) for kv in value.items() for x in kv]
        return pb.CacheValue(map=pb.CacheValues(items=items))
    if isinstance(value, Members):
        return pb.CacheValue(set=pb.CacheValues(items=[to_proto(x) for x in value]))
    if isinstance(value, tuple):
        return pb.CacheValue(pair=pb.CacheValues(items=[to_proto(x) for x in value]))
    if isinstance(value, list):
        return pb.CacheValue(array=pb.CacheValues(items=[to_proto(x) for x in value]))
    raise TypeError(f"no CacheValue for {type(value).__name__}")
