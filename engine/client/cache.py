"""The cache client: redis-py's ``redis.Redis`` over gRPC. String commands have their own
RPCs (below); hashes, lists, sets, sorted sets and the remaining key commands go through
the generic ``Cache.Command`` RPC (cache_types.py, replies as redis-py gives them in
cache_replies.py).

Code written against ``redis.Redis()`` (with the default ``decode_responses=False``) for
these commands runs unchanged against ``engine.client.client("cache", endpoint=...)``:
the same method names, arguments, return values and exceptions. Any node accepts any
key; the server routes it to the owner of its hash slot.

Arguments are encoded as redis-py's Encoder does: bytes (and memoryview) as they are,
str as UTF-8, int and float as their ``repr``; anything else (bool and None included)
raises :class:`DataError` before anything is sent. Errors the server answers with raise
:class:`ResponseError` with the message Redis would give and the code in
``e.response["Error"]["Code"]``.

The wire carries integers as int64 and times in milliseconds, so a few values Redis
would reject are rejected here with the error Redis gives: an integer argument that is
not a decimal int64 (NotAnInteger), a time in seconds whose milliseconds overflow
(InvalidExpireTime), ``decrby`` of -2**63 (Overflow).

The request and response mapping are module-level pure functions, testable without a
channel; the methods of :class:`CacheClient` only call them around the RPC.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

import grpc
from google.protobuf.message import Message

from engine.client.base import DEFAULT_TIMEOUT, ServiceClient
from engine.client.cache_replies import convert
from engine.client.cache_types import CacheTypeCommands
from engine.client.calls import Caller
from engine.client.credentials import DEFAULT_REGION
from engine.client.errors import (
    CACHE_EXCEPTIONS,
    DataError,
    ResponseError,
    response_metadata,
)
from engine.client.signing import Clock
from engine.client.transport import DEFAULT_ENDPOINT, MAX_MESSAGE_BYTES
from engine.sigv4 import Credentials
from engine.v1 import cache_pb2 as pb
from engine.v1 import cache_pb2_grpc

__all__ = [
    "CacheClient",
    "DataError",
    "ResponseError",
]

# redis-py's typing names: what a key or value may be, and the two kinds of expiry.
EncodableT: TypeAlias = bytes | memoryview | str | int | float
KeyT: TypeAlias = EncodableT
ExpiryT: TypeAlias = int | datetime.timedelta
AbsExpiryT: TypeAlias = int | datetime.datetime

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# Redis's error messages (as redis-py shows them: without the "ERR " prefix).
NOT_AN_INTEGER = "value is not an integer or out of range"
# Room a request needs besides its key and value bytes (field tags, lengths, flags).
_FRAMING_BYTES = 1024


# -- errors raised before sending --------------------------------------------------------


def data_error(message: str, op: str) -> DataError:
    """The DataError redis-py raises for an argument it cannot send."""
    return DataError(
        {"Error": {"Code": "DataError", "Message": message},
         "ResponseMetadata": response_metadata(400)},
        op,
    )


def response_error(code: str, message: str, op: str) -> ResponseError:
    """The ResponseError the server would answer with, for a value the wire cannot carry."""
    return ResponseError(
        {"Error": {"Code": code, "Message": message},
         "ResponseMetadata": response_metadata(400)},
        op,
    )


# -- arguments ----------------------------------------------------------------------------


def encode(value: Any, op: str = "") -> bytes:
    """A key or value as redis-py's Encoder sends it: bytes and memoryview as they are,
    str as UTF-8, int and float as ``repr`` (``1.5`` -> b"1.5", ``10`` -> b"10"); bool,
    None and every other type raise DataError."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, memoryview):
        return value.tobytes()
    if isinstance(value, bool):  # an int subclass: refuse it before the int branch
        raise data_error(
            "Invalid input of type: 'bool'. Convert to a bytes, string, int or float first.",
            op,
        )
    if isinstance(value, int | float):
        return repr(value).encode()
    if isinstance(value, str):
        return value.encode("utf-8")
    raise data_error(
        f"Invalid input of type: '{type(value).__name__}'. "
        "Convert to a bytes, string, int or float first.",
        op,
    )


def parse_int64(raw: bytes) -> int | None:
    """``raw`` as Redis's string2ll reads it: optional "-", decimal digits, no sign "+",
    no spaces, no leading zeros, within int64; None when it is not such an integer."""
    digits = raw[1:] if raw[:1] == b"-" else raw
    if not digits or not digits.isdigit() or (digits[:1] == b"0" and len(raw) > 1):
        return None
    number = int(raw)
    return number if INT64_MIN <= number <= INT64_MAX else None


def integer(value: Any, op: str) -> int:
    """An integer argument: the int as it is, anything else encoded and parsed as Redis
    parses it. Not an int64 -> ResponseError NotAnInteger (Redis's reply)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number: int | None = value if INT64_MIN <= value <= INT64_MAX else None
    else:
        number = parse_int64(encode(value, op))
    if number is None:
        raise response_error("NotAnInteger", NOT_AN_INTEGER, op)
    return number


def seconds_to_ms(seconds: int, command: str, op: str) -> int:
    """Seconds as milliseconds; beyond int64 Redis answers "invalid expire time"."""
    if not INT64_MIN // 1000 <= seconds <= INT64_MAX // 1000:
        raise response_error(
            "InvalidExpireTime", f"invalid expire time in '{command}' command", op
        )
    return seconds * 1000


def timedelta_seconds(delta: datetime.timedelta) -> int:
    """A timedelta as redis-py sends it for a time in seconds (truncated)."""
    return int(delta.total_seconds())


def timedelta_ms(delta: datetime.timedelta) -> int:
    """A timedelta as redis-py sends it for a time in milliseconds (truncated)."""
    return int(delta.total_seconds() * 1000)


def datetime_seconds(when: datetime.datetime) -> int:
    """A datetime as redis-py sends it for a Unix time in seconds (naive = local time)."""
    return int(when.timestamp())


def datetime_ms(when: datetime.datetime) -> int:
    """A datetime as redis-py sends it for a Unix time in milliseconds."""
    return int(when.timestamp() * 1000)


def check_sendable(key: bytes, value: bytes, op: str) -> None:
    """A key and value no request can carry (over the channel's message limit, far above
    the server's own limits) fail here with the code the server gives for too large ones,
    instead of as a transport error."""
    if len(key) + len(value) + _FRAMING_BYTES <= MAX_MESSAGE_BYTES:
        return
    if len(value) >= len(key):
        raise response_error("ValueTooLarge", f"value of {len(value)} bytes exceeds the "
                             f"{MAX_MESSAGE_BYTES} bytes a request can carry", op)
    raise response_error("KeyTooLarge", f"key of {len(key)} bytes exceeds the "
                         f"{MAX_MESSAGE_BYTES} bytes a request can carry", op)


def keys_list(keys: Any, args: Iterable[Any] = ()) -> list[Any]:
    """redis-py's ``list_or_args``: one key, or an iterable of keys, plus more keys."""
    if isinstance(keys, bytes | str | memoryview):
        result = [keys]
    else:
        try:
            result = list(keys)
        except TypeError:
            result = [keys]
    result.extend(args)
    return result


def encode_keys(keys: Iterable[Any], command: str, op: str) -> list[bytes]:
    """Keys of a multi-key command; none at all is Redis's arity error."""
    encoded = [encode(k, op) for k in keys]
    if not encoded:
        raise response_error(
            "SyntaxError", f"wrong number of arguments for '{command}' command", op
        )
    return encoded


def _given(value: Any) -> bool:
    return value is not None and value is not False


# -- requests -----------------------------------------------------------------------------


def set_request(
    name: KeyT,
    value: EncodableT,
    ex: ExpiryT | str | None = None,
    px: ExpiryT | None = None,
    nx: bool = False,
    xx: bool = False,
    keepttl: bool = False,
    get: bool = False,
    exat: AbsExpiryT | None = None,
    pxat: AbsExpiryT | None = None,
) -> pb.CacheSetRequest:
    """SET's arguments, checked and converted as redis-py does, as a CacheSetRequest."""
    op = "Set"
    if sum(_given(v) for v in (ex, px, exat, pxat, keepttl)) > 1:
        raise data_error(
            "``ex``, ``px``, ``exat``, ``pxat``, and ``keepttl`` are mutually exclusive.", op
        )
    if nx and xx:
        raise data_error("``nx`` and ``xx`` are mutually exclusive.", op)
    key, data = encode(name, op), encode(value, op)
    check_sendable(key, data, op)
    request = pb.CacheSetRequest(key=key, value=data, nx=bool(nx), xx=bool(xx),
                                 keepttl=bool(keepttl), get=bool(get))
    if ex is not None:
        if isinstance(ex, datetime.timedelta):
            seconds = timedelta_seconds(ex)
        elif isinstance(ex, int):
            seconds = integer(ex, op)  # a bool: DataError, as redis-py's Encoder
        elif isinstance(ex, str) and ex.isdigit():
            seconds = integer(int(ex), op)
        else:
            raise data_error("ex must be datetime.timedelta or int", op)
        request.px = seconds_to_ms(seconds, "set", op)
    elif px is not None:
        if isinstance(px, datetime.timedelta):
            request.px = timedelta_ms(px)
        elif isinstance(px, int):
            request.px = integer(px, op)  # a bool: DataError from the Encoder
        else:
            raise data_error("px must be datetime.timedelta or int", op)
    elif exat is not None:
        seconds = (datetime_seconds(exat) if isinstance(exat, datetime.datetime)
                   else integer(exat, op))
        request.pxat = seconds_to_ms(seconds, "set", op)
    elif pxat is not None:
        request.pxat = (datetime_ms(pxat) if isinstance(pxat, datetime.datetime)
                        else integer(pxat, op))
    return request


def incr_request(name: KeyT, amount: Any, *, decrement: bool = False) -> pb.CacheIncrByRequest:
    """INCRBY (or DECRBY, as the negated amount)."""
    op = "IncrBy"
    key = encode(name, op)
    number = integer(amount, op)
    if decrement:
        if number == INT64_MIN:  # its negation does not fit; Redis refuses it so too
            raise response_error("Overflow", "decrement would overflow", op)
        number = -number
    return pb.CacheIncrByRequest(key=key, amount=number)


def mset_request(mapping: Mapping[Any, Any]) -> pb.CacheMSetRequest:
    """MSET's mapping, in order. Each entry must fit in a request on its own (else
    ValueTooLarge); several that do not fit together fail as a transport error."""
    op = "MSet"
    entries = []
    for k, v in mapping.items():
        key, data = encode(k, op), encode(v, op)
        check_sendable(key, data, op)
        entries.append(pb.CacheEntry(key=key, value=data))
    if not entries:
        raise response_error("SyntaxError", "wrong number of arguments for 'mset' command", op)
    return pb.CacheMSetRequest(entries=entries)


def expire_request(
    name: KeyT,
    *,
    px: int | None = None,
    pxat: int | None = None,
    nx: bool = False,
    xx: bool = False,
    gt: bool = False,
    lt: bool = False,
) -> pb.CacheExpireRequest:
    """EXPIRE and friends, with the time already in milliseconds (relative or absolute).
    Conflicting flags are sent as they are: the server answers SyntaxError, as Redis."""
    request = pb.CacheExpireRequest(key=encode(name, "Expire"), nx=bool(nx), xx=bool(xx),
                                    gt=bool(gt), lt=bool(lt))
    if px is not None:
        request.px = px
    if pxat is not None:
        request.pxat = pxat
    return request


def relative_ms(time: ExpiryT, *, unit_ms: bool, command: str) -> int:
    """``expire``'s time (seconds) or ``pexpire``'s (ms), int or timedelta, in ms."""
    op = "Expire"
    if isinstance(time, datetime.timedelta):
        return timedelta_ms(time) if unit_ms else seconds_to_ms(
            timedelta_seconds(time), command, op)
    number = integer(time, op)
    return number if unit_ms else seconds_to_ms(number, command, op)


def absolute_ms(when: AbsExpiryT, *, unit_ms: bool, command: str) -> int:
    """``expireat``'s Unix time (seconds) or ``pexpireat``'s (ms), int or datetime, in ms."""
    op = "Expire"
    if isinstance(when, datetime.datetime):
        return datetime_ms(when) if unit_ms else seconds_to_ms(
            datetime_seconds(when), command, op)
    number = integer(when, op)
    return number if unit_ms else seconds_to_ms(number, command, op)


# -- responses ----------------------------------------------------------------------------


def set_result(response: pb.CacheSetResponse, get: bool) -> bytes | bool | None:
    """SET's reply as redis-py returns it: with ``get`` the previous value (or None);
    otherwise True when written and None when ``nx``/``xx`` stopped the write."""
    if get:
        return response.old_value if response.had_old else None
    return True if response.written else None


def ttl_seconds(pttl: int) -> int:
    """TTL from PTTL as Redis computes it: rounded to the nearest second (half up);
    -2 (no such key) and -1 (no expiry) pass through."""
    if pttl < 0:
        return pttl
    return (pttl + 500) // 1000


def mget_result(response: pb.CacheMGetResponse, count: int) -> list[bytes | None]:
    if len(response.values) != count:
        raise Caller.protocol_error(
            "MGet", f"{len(response.values)} values for {count} keys")
    return [v.value if v.found else None for v in response.values]


STAT_FIELDS = ("hits", "misses", "evictions", "expirations", "keys", "bytes_used", "budget",
               "object_hits", "object_misses")


def node_stats(stats: pb.CacheNodeStats) -> dict[str, Any]:
    counters: dict[str, Any] = {name: int(getattr(stats, name)) for name in STAT_FIELDS}
    counters["reachable"] = bool(stats.reachable)
    return counters


def stats_result(response: pb.CacheStatsResponse) -> dict[str, Any]:
    """The stats dict (see :meth:`CacheClient.stats`)."""
    return {
        "nodes": {n.node_id: node_stats(n) for n in response.nodes},
        "total": node_stats(response.total),
    }


# -- the client ---------------------------------------------------------------------------


class CacheClient(CacheTypeCommands, ServiceClient):
    """A cache client bound to one endpoint (redis.Redis's string commands); thread-safe,
    one gRPC channel, reusable, a context manager (``close()`` on exit).

    Values come back as bytes (redis-py's ``decode_responses=False``). Every method
    raises ResponseError for an error the server answers with, DataError for an argument
    it refuses to send, and the SDK's EndpointConnectionError / ReadTimeoutError when the
    node cannot be reached in time (all are ``engine.client.ClientError``).
    """

    ResponseError = ResponseError
    DataError = DataError

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        channel: grpc.Channel | None = None,
        credentials: Credentials | None = None,
        region_name: str = DEFAULT_REGION,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(endpoint, timeout=timeout, channel=channel,
                         exceptions=CACHE_EXCEPTIONS, credentials=credentials,
                         region_name=region_name, clock=clock)
        self._stub = cache_pb2_grpc.CacheStub(self._channel)

    def _call(self, rpc: str, request: Message) -> Any:
        return self._calls.unary(rpc, getattr(self._stub, rpc), request)

    def execute_command(self, *args: Any, **options: Any) -> Any:
        """Any data command as Redis takes it (``"HSET", "h", "f", "v"``) through the
        Cache.Command RPC; the reply as redis-py's method for it returns it (``options``
        are what its callback needs: ``withscores=True``, ...). The methods for hashes,
        lists, sets and sorted sets (engine/client/cache_types.py) are built on it."""
        argv = [encode(a, "Command") for a in args]
        reply = self._call("Command", pb.CacheCommand(argv=argv))
        return convert(argv[0].decode("utf-8", "replace") if argv else "", reply, options)

    def _refuse(self, message: str, op: str) -> Exception:
        return data_error(message, op)

    # -- strings -----------------------------------------------------------------------

    def get(self, name: KeyT) -> bytes | None:
        """The value of ``name``, or None when there is no such key."""
        resp = self._call("Get", pb.CacheGetRequest(key=encode(name, "Get")))
        return resp.value if resp.found else None

    def set(
        self,
        name: KeyT,
        value: EncodableT,
        ex: ExpiryT | None = None,
        px: ExpiryT | None = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
        get: bool = False,
        exat: AbsExpiryT | None = None,
        pxat: AbsExpiryT | None = None,
    ) -> bytes | bool | None:
        """Set ``name`` to ``value``.

        ``ex`` / ``px``: expire after that many seconds / milliseconds (int or timedelta);
        ``exat`` / ``pxat``: at that Unix time in seconds / milliseconds on the engine
        clock (int or datetime); ``keepttl``: keep the key's expiry (otherwise a write
        clears it). At most one of the four and keepttl. ``nx``: only if the key does not
        exist; ``xx``: only if it does. ``get``: return the previous value.

        Returns True, or None when ``nx``/``xx`` stopped the write; with ``get`` the
        previous value, or None when there was none.
        """
        request = set_request(name, value, ex=ex, px=px, nx=nx, xx=xx, keepttl=keepttl,
                              get=get, exat=exat, pxat=pxat)
        return set_result(self._call("Set", request), bool(get))

    def delete(self, *names: KeyT) -> int:
        """Delete the keys; the number that existed."""
        keys = encode_keys(names, "del", "Delete")
        return int(self._call("Delete", pb.CacheKeysRequest(keys=keys)).count)

    def exists(self, *names: KeyT) -> int:
        """How many of the keys exist (a key named twice counts twice)."""
        keys = encode_keys(names, "exists", "Exists")
        return int(self._call("Exists", pb.CacheKeysRequest(keys=keys)).count)

    def incrby(self, name: KeyT, amount: int = 1) -> int:
        """Add ``amount`` to the integer at ``name`` (a missing key counts as 0); the new
        value. ResponseError NotAnInteger when the value is not a decimal int64, Overflow
        when the result would leave int64."""
        return int(self._call("IncrBy", incr_request(name, amount)).value)

    incr = incrby

    def decrby(self, name: KeyT, amount: int = 1) -> int:
        """Subtract ``amount`` from the integer at ``name``; the new value."""
        return int(self._call("IncrBy", incr_request(name, amount, decrement=True)).value)

    decr = decrby

    def mget(self, keys: KeyT | Iterable[KeyT], *args: KeyT) -> list[bytes | None]:
        """The values of the keys, in order, None for each missing one; ``keys`` is one
        key or an iterable of keys, ``args`` more keys."""
        names = encode_keys(keys_list(keys, args), "mget", "MGet")
        resp = self._call("MGet", pb.CacheKeysRequest(keys=names))
        return mget_result(resp, len(names))

    def mset(self, mapping: Mapping[KeyT, EncodableT]) -> bool:
        """Set every key of ``mapping`` to its value (clearing their expiries), all or
        none; True. One call carries at most 16 MiB of keys and values (the channel's
        message limit): a larger mapping fails with a ClientError "RESOURCE_EXHAUSTED"."""
        self._call("MSet", mset_request(mapping))
        return True

    # -- expiry ------------------------------------------------------------------------

    def expire(self, name: KeyT, time: ExpiryT, nx: bool = False, xx: bool = False,
               gt: bool = False, lt: bool = False) -> bool:
        """Expire ``name`` after ``time`` seconds (int or timedelta); a time at or
        before now deletes it. ``nx``: only if it has no expiry; ``xx``: only if it has
        one; ``gt`` / ``lt``: only if the new expiry is later / earlier (no expiry counts
        as infinite). Whether the expiry was set (False for a missing key)."""
        px = relative_ms(time, unit_ms=False, command="expire")
        return self._expire(expire_request(name, px=px, nx=nx, xx=xx, gt=gt, lt=lt))

    def pexpire(self, name: KeyT, time: ExpiryT, nx: bool = False, xx: bool = False,
                gt: bool = False, lt: bool = False) -> bool:
        """:meth:`expire` with ``time`` in milliseconds (int or timedelta)."""
        px = relative_ms(time, unit_ms=True, command="pexpire")
        return self._expire(expire_request(name, px=px, nx=nx, xx=xx, gt=gt, lt=lt))

    def expireat(self, name: KeyT, when: AbsExpiryT, nx: bool = False, xx: bool = False,
                 gt: bool = False, lt: bool = False) -> bool:
        """:meth:`expire` at a Unix time in seconds on the engine clock (int or datetime)."""
        pxat = absolute_ms(when, unit_ms=False, command="expireat")
        return self._expire(expire_request(name, pxat=pxat, nx=nx, xx=xx, gt=gt, lt=lt))

    def pexpireat(self, name: KeyT, when: AbsExpiryT, nx: bool = False, xx: bool = False,
                  gt: bool = False, lt: bool = False) -> bool:
        """:meth:`expire` at a Unix time in milliseconds (int or datetime)."""
        pxat = absolute_ms(when, unit_ms=True, command="pexpireat")
        return self._expire(expire_request(name, pxat=pxat, nx=nx, xx=xx, gt=gt, lt=lt))

    def _expire(self, request: pb.CacheExpireRequest) -> bool:
        return bool(self._call("Expire", request).set)

    def ttl(self, name: KeyT) -> int:
        """Seconds until ``name`` expires, rounded as Redis rounds; -1 when it has no
        expiry, -2 when there is no such key."""
        return ttl_seconds(self.pttl(name))

    def pttl(self, name: KeyT) -> int:
        """Milliseconds until ``name`` expires; -1 without expiry, -2 without the key."""
        return int(self._call("Ttl", pb.CacheKeyRequest(key=encode(name, "Ttl"))).pttl)

    # -- the whole tier ----------------------------------------------------------------

    def flushall(self, asynchronous: bool = False) -> bool:
        """Delete every key on every node; True. ``asynchronous`` is accepted for
        redis-py's sake: the flush is done when the call returns either way."""
        self._call("FlushAll", pb.CacheFlushAllRequest())
        return True

    def stats(self) -> dict[str, Any]:
        """The tier's counters, per node and summed::

            {"nodes": {node_id: counters, ...}, "total": counters}

        where ``counters`` is a dict with the int members ``hits``, ``misses`` (key
        lookups that found / did not find the key), ``evictions`` (entries the LRU
        removed to stay within the budget), ``expirations`` (entries removed because
        their TTL passed), ``keys``, ``bytes_used``, ``budget`` (the node's
        ``--cache-bytes``), ``object_hits``, ``object_misses`` (object GETs served /
        not served from the tier), and the bool ``reachable`` (False for a node that
        did not answer: its counters are 0). ``total`` sums the reachable nodes.
        """
        return stats_result(self._call("Stats", pb.CacheStatsRequest()))
