"""The cache client without a server: redis-py's argument encoding and checks, the
request protos built from redis-py's arguments, replies shaped as redis-py returns them,
error mapping; and the Cache servicer's delegation to the cache service."""

from __future__ import annotations

import asyncio
import datetime
import pickle

import grpc
import pytest
from helpers_rpc import AbortingContext, FakeRpcError

import engine.client
from engine.api.cache_servicer import CacheApi, CacheServicer
from engine.client import CacheClient, ClientError, DataError, ResponseError, client
from engine.client import cache as conv
from engine.client.errors import CACHE_EXCEPTIONS, error_from_rpc
from engine.client.transport import MAX_MESSAGE_BYTES
from engine.errors import EngineError
from engine.v1 import cache_pb2 as pb
from engine.v1 import cache_pb2_grpc

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
UTC = datetime.UTC


def code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


# -- construction and exports ------------------------------------------------------------


def test_client_factory_and_exports():
    with client("cache", endpoint="localhost:1", region_name="ignored") as c:
        assert isinstance(c, CacheClient)
        assert c.exceptions.ResponseError is ResponseError
        assert c.exceptions.DataError is DataError
        assert c.ResponseError is ResponseError
    assert engine.client.ResponseError is conv.ResponseError is ResponseError
    assert engine.client.DataError is conv.DataError is DataError
    assert issubclass(ResponseError, ClientError)
    assert issubclass(DataError, ClientError)
    assert "CacheClient" in engine.client.__all__


# -- encoding (redis-py's Encoder) -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (b"raw\x00\xff", b"raw\x00\xff"),
        (b"", b""),
        (memoryview(b"view"), b"view"),
        ("text", b"text"),
        ("héllo ✓", "héllo ✓".encode()),
        ("", b""),
        (0, b"0"),
        (42, b"42"),
        (-7, b"-7"),
        (2**70, str(2**70).encode()),
        (1.5, b"1.5"),
        (0.1, b"0.1"),
        (-2.0, b"-2.0"),
        (1e100, b"1e+100"),
        (float("inf"), b"inf"),
    ],
    ids=repr,
)
def test_encode_like_redis_py(value, encoded):
    assert conv.encode(value) == encoded
    assert type(conv.encode(value)) is bytes


@pytest.mark.parametrize(
    ("value", "typename"),
    [(None, "NoneType"), (True, "bool"), (False, "bool"), ([1], "list"), ({"a": 1}, "dict"),
     (bytearray(b"x"), "bytearray"), (object(), "object"), (datetime.timedelta(1), "timedelta")],
    ids=lambda v: type(v).__name__,
)
def test_encode_refuses_other_types_with_redis_py_message(value, typename):
    with pytest.raises(DataError) as info:
        conv.encode(value, "Set")
    assert str(info.value) == (
        f"Invalid input of type: '{typename}'. Convert to a bytes, string, int or float first."
    )
    assert code(info) == "DataError"
    assert info.value.operation_name == "Set"


def test_data_error_pickles_and_keeps_its_response():
    err = conv.data_error("bad", "Get")
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is DataError
    assert copy.response == err.response
    assert str(copy) == "bad"


@pytest.mark.parametrize("key", [None, True, 1.5j, ("a",)], ids=repr)
def test_keys_are_encoded_too(key):
    with pytest.raises(DataError):
        conv.set_request(key, b"v")
    with pytest.raises(DataError):
        conv.incr_request(key, 1)
    with pytest.raises(DataError):
        conv.expire_request(key, px=1)
    with pytest.raises(DataError):
        conv.mset_request({key: b"v"})


def test_str_bytes_int_float_keys_encode_to_their_bytes():
    assert conv.set_request("k", "v").key == b"k"
    assert conv.set_request(b"k", "v").key == b"k"
    assert conv.set_request(12, "v").key == b"12"
    assert conv.set_request(1.25, "v").key == b"1.25"
    assert conv.set_request("ключ", "v").key == "ключ".encode()


# -- integers as Redis parses them -------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "number"),
    [(b"0", 0), (b"7", 7), (b"-7", -7), (b"9223372036854775807", INT64_MAX),
     (b"-9223372036854775808", INT64_MIN)],
)
def test_parse_int64_accepts_decimal_int64(raw, number):
    assert conv.parse_int64(raw) == number


@pytest.mark.parametrize(
    "raw",
    [b"", b"-", b"+1", b" 1", b"1 ", b"01", b"-01", b"-0", b"1.5", b"1e3", b"abc", b"0x10",
     b"9223372036854775808", b"-9223372036854775809", "١٢".encode()],
)
def test_parse_int64_refuses_what_string2ll_refuses(raw):
    assert conv.parse_int64(raw) is None


@pytest.mark.parametrize(("value", "number"), [(5, 5), ("5", 5), (b"-3", -3), (INT64_MAX,
                                                INT64_MAX), (INT64_MIN, INT64_MIN)])
def test_integer_arguments(value, number):
    assert conv.integer(value, "IncrBy") == number


@pytest.mark.parametrize("value", [1.5, 2.0, "x", b"1.0", 2**63, -(2**63) - 1, "01"], ids=repr)
def test_integer_argument_that_redis_would_refuse_is_not_an_integer(value):
    with pytest.raises(ResponseError) as info:
        conv.integer(value, "IncrBy")
    assert code(info) == "NotAnInteger"
    assert str(info.value) == "value is not an integer or out of range"
    assert info.value.operation_name == "IncrBy"


@pytest.mark.parametrize("value", [None, True, [1]], ids=repr)
def test_integer_argument_of_a_type_redis_py_cannot_send_is_a_data_error(value):
    with pytest.raises(DataError):
        conv.integer(value, "IncrBy")


# -- SET ----------------------------------------------------------------------------------


def test_set_request_plain():
    request = conv.set_request("k", "v")
    assert request == pb.CacheSetRequest(key=b"k", value=b"v")
    assert not request.HasField("px") and not request.HasField("pxat")


@pytest.mark.parametrize(
    ("kwargs", "field", "ms"),
    [
        ({"ex": 10}, "px", 10_000),
        ({"ex": "10"}, "px", 10_000),
        ({"ex": datetime.timedelta(seconds=90)}, "px", 90_000),
        ({"ex": datetime.timedelta(seconds=1, milliseconds=999)}, "px", 1_000),  # truncated
        ({"ex": 0}, "px", 0),  # sent; the server answers InvalidExpireTime
        ({"ex": -5}, "px", -5_000),
        ({"px": 1500}, "px", 1500),
        ({"px": datetime.timedelta(seconds=2.5)}, "px", 2500),
        ({"px": datetime.timedelta(microseconds=1999)}, "px", 1),
        ({"exat": 1_700_000_100}, "pxat", 1_700_000_100_000),
        ({"exat": datetime.datetime(2024, 1, 1, tzinfo=UTC)}, "pxat", 1_704_067_200_000),
        ({"exat": datetime.datetime(2024, 1, 1, 0, 0, 0, 900_000, tzinfo=UTC)}, "pxat",
         1_704_067_200_000),
        ({"pxat": 1_700_000_000_123}, "pxat", 1_700_000_000_123),
        ({"pxat": datetime.datetime(2024, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC)}, "pxat",
         1_704_067_200_250),
    ],
    ids=repr,
)
def test_set_request_expiry_in_milliseconds(kwargs, field, ms):
    request = conv.set_request("k", "v", **kwargs)
    assert request.HasField(field)
    other = "pxat" if field == "px" else "px"
    assert not request.HasField(other)
    assert getattr(request, field) == ms


def test_set_request_naive_datetime_is_local_time_as_in_redis_py():
    when = datetime.datetime(2030, 6, 1, 12, 0, 0)
    assert conv.set_request("k", "v", exat=when).pxat == int(when.timestamp()) * 1000
    assert conv.set_request("k", "v", pxat=when).pxat == int(when.timestamp() * 1000)


def test_set_request_flags():
    request = conv.set_request("k", "v", nx=True, get=True)
    assert (request.nx, request.xx, request.keepttl, request.get) == (True, False, False, True)
    request = conv.set_request("k", "v", xx=True, keepttl=True)
    assert (request.nx, request.xx, request.keepttl, request.get) == (False, True, True, False)


@pytest.mark.parametrize(
    "kwargs",
    [{"ex": 1, "px": 1000}, {"ex": 1, "exat": 5}, {"px": 1, "pxat": 5}, {"exat": 1, "pxat": 5},
     {"ex": 1, "keepttl": True}, {"pxat": 1, "keepttl": True}, {"ex": 0, "px": 0}],
    ids=repr,
)
def test_set_expiry_forms_are_mutually_exclusive(kwargs):
    with pytest.raises(DataError, match="mutually exclusive") as info:
        conv.set_request("k", "v", **kwargs)
    assert code(info) == "DataError"


def test_set_nx_and_xx_are_mutually_exclusive():
    with pytest.raises(DataError, match="``nx`` and ``xx`` are mutually exclusive"):
        conv.set_request("k", "v", nx=True, xx=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ex": 1.5}, "ex must be datetime.timedelta or int"),
        ({"ex": "1.5"}, "ex must be datetime.timedelta or int"),
        ({"ex": b"10"}, "ex must be datetime.timedelta or int"),
        ({"ex": datetime.datetime(2024, 1, 1)}, "ex must be datetime.timedelta or int"),
        ({"px": 1.5}, "px must be datetime.timedelta or int"),
        ({"px": "10"}, "px must be datetime.timedelta or int"),
        ({"ex": True}, "Invalid input of type: 'bool'"),
        ({"px": False}, "Invalid input of type: 'bool'"),
        ({"exat": [1]}, "Invalid input of type: 'list'"),
        ({"pxat": datetime.timedelta(1)}, "Invalid input of type: 'timedelta'"),
    ],
    ids=repr,
)
def test_set_expiry_of_the_wrong_type_is_a_data_error(kwargs, message):
    with pytest.raises(DataError) as info:
        conv.set_request("k", "v", **kwargs)
    assert message in str(info.value)


def test_set_absolute_expiry_that_is_not_an_integer_is_refused_as_redis_refuses_it():
    with pytest.raises(ResponseError) as info:
        conv.set_request("k", "v", exat=1.5)
    assert code(info) == "NotAnInteger"
    assert conv.set_request("k", "v", exat="17").pxat == 17_000


@pytest.mark.parametrize("kwargs", [{"ex": INT64_MAX // 1000 + 1}, {"ex": 2**62},
                                    {"exat": INT64_MAX // 1000 + 1},
                                    {"ex": INT64_MIN // 1000 - 1}], ids=repr)
def test_set_seconds_whose_milliseconds_overflow_are_an_invalid_expire_time(kwargs):
    with pytest.raises(ResponseError) as info:
        conv.set_request("k", "v", **kwargs)
    assert code(info) == "InvalidExpireTime"
    assert str(info.value) == "invalid expire time in 'set' command"


def test_set_seconds_at_the_limit_reach_the_server():
    assert conv.set_request("k", "v", ex=INT64_MAX // 1000).px == INT64_MAX // 1000 * 1000
    assert conv.set_request("k", "v", px=INT64_MAX).px == INT64_MAX


def test_set_value_of_a_bad_type():
    with pytest.raises(DataError, match="'NoneType'"):
        conv.set_request("k", None)
    with pytest.raises(DataError, match="'bool'"):
        conv.set_request("k", True)


@pytest.mark.parametrize(
    ("response", "get", "result"),
    [
        (pb.CacheSetResponse(written=True), False, True),
        (pb.CacheSetResponse(written=False), False, None),
        (pb.CacheSetResponse(written=True, had_old=True, old_value=b"old"), True, b"old"),
        (pb.CacheSetResponse(written=True, had_old=True, old_value=b""), True, b""),
        (pb.CacheSetResponse(written=True, had_old=False), True, None),
        (pb.CacheSetResponse(written=False, had_old=True, old_value=b"kept"), True, b"kept"),
        (pb.CacheSetResponse(written=False, had_old=False), True, None),
    ],
)
def test_set_result_as_redis_py_returns_it(response, get, result):
    assert conv.set_result(response, get) == result
    assert type(conv.set_result(response, get)) is type(result)


# -- INCRBY / DECRBY ----------------------------------------------------------------------


def test_incr_request():
    assert conv.incr_request("n", 1) == pb.CacheIncrByRequest(key=b"n", amount=1)
    assert conv.incr_request("n", -4).amount == -4
    assert conv.incr_request("n", "12").amount == 12
    assert conv.incr_request("n", INT64_MAX).amount == INT64_MAX
    assert conv.incr_request("n", INT64_MIN).amount == INT64_MIN


def test_decr_request_negates_the_amount():
    assert conv.incr_request("n", 3, decrement=True).amount == -3
    assert conv.incr_request("n", -3, decrement=True).amount == 3
    assert conv.incr_request("n", INT64_MAX, decrement=True).amount == -INT64_MAX


def test_decr_by_the_smallest_int64_overflows_as_in_redis():
    with pytest.raises(ResponseError) as info:
        conv.incr_request("n", INT64_MIN, decrement=True)
    assert code(info) == "Overflow"


@pytest.mark.parametrize("amount", [1.5, 2**63, "one"], ids=repr)
def test_incr_by_what_is_not_an_int64_is_not_an_integer(amount):
    with pytest.raises(ResponseError) as info:
        conv.incr_request("n", amount)
    assert code(info) == "NotAnInteger"


@pytest.mark.parametrize("amount", [None, True], ids=repr)
def test_incr_by_a_type_redis_py_cannot_send_is_a_data_error(amount):
    with pytest.raises(DataError):
        conv.incr_request("n", amount)


# -- multi-key commands -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "args", "result"),
    [
        ("a", (), ["a"]),
        (b"a", ("b",), [b"a", "b"]),
        (["a", "b"], (), ["a", "b"]),
        (("a",), ("b", "c"), ["a", "b", "c"]),
        (memoryview(b"m"), (), [memoryview(b"m")]),
        (iter(["x", "y"]), (), ["x", "y"]),
        (5, (), [5]),
        ([], (), []),
    ],
    ids=repr,
)
def test_keys_list_as_redis_py_list_or_args(keys, args, result):
    assert conv.keys_list(keys, args) == result


def test_multi_key_commands_encode_every_key():
    assert conv.encode_keys(["a", b"b", 3, 1.5], "mget", "MGet") == [b"a", b"b", b"3", b"1.5"]
    with pytest.raises(DataError):
        conv.encode_keys(["a", None], "del", "Delete")


@pytest.mark.parametrize("command", ["del", "exists", "mget"])
def test_multi_key_commands_without_keys_are_refused_as_redis_does(command):
    with pytest.raises(ResponseError) as info:
        conv.encode_keys([], command, "Op")
    assert code(info) == "SyntaxError"
    assert str(info.value) == f"wrong number of arguments for '{command}' command"


def test_mset_request_keeps_order_and_encodes():
    request = conv.mset_request({"a": 1, b"b": "β", 3: 2.5, "d": b""})
    assert [(e.key, e.value) for e in request.entries] == [
        (b"a", b"1"), (b"b", "β".encode()), (b"3", b"2.5"), (b"d", b"")]


def test_mset_request_refuses_bad_values_and_empty_mappings():
    with pytest.raises(DataError):
        conv.mset_request({"a": None})
    with pytest.raises(ResponseError) as info:
        conv.mset_request({})
    assert code(info) == "SyntaxError"


def test_a_value_no_request_can_carry_is_too_large_before_sending():
    big = b"x" * MAX_MESSAGE_BYTES
    for build in (lambda: conv.set_request("k", big), lambda: conv.mset_request({"k": big})):
        with pytest.raises(ResponseError) as info:
            build()
        assert code(info) == "ValueTooLarge"
    with pytest.raises(ResponseError) as info:
        conv.set_request(big, "v")
    assert code(info) == "KeyTooLarge"
    # below the channel's limit the server decides (its limit is lower)
    assert len(conv.set_request("k", b"x" * (MAX_MESSAGE_BYTES // 2)).value) == (
        MAX_MESSAGE_BYTES // 2)


def test_mget_result_keeps_order_and_tells_missing_from_empty():
    response = pb.CacheMGetResponse(values=[
        pb.CacheGetResponse(found=True, value=b"1"),
        pb.CacheGetResponse(found=False),
        pb.CacheGetResponse(found=True, value=b""),
    ])
    assert conv.mget_result(response, 3) == [b"1", None, b""]


def test_mget_result_with_the_wrong_number_of_values_is_a_protocol_error():
    with pytest.raises(ClientError) as info:
        conv.mget_result(pb.CacheMGetResponse(values=[pb.CacheGetResponse()]), 2)
    assert code(info) == "InternalError"


# -- EXPIRE family ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("time", "unit_ms", "ms"),
    [
        (10, False, 10_000),
        ("10", False, 10_000),
        (-1, False, -1_000),
        (0, False, 0),
        (datetime.timedelta(minutes=2), False, 120_000),
        (datetime.timedelta(seconds=1.9), False, 1_000),  # redis-py truncates to seconds
        (1500, True, 1500),
        (datetime.timedelta(seconds=1.9), True, 1900),
        (datetime.timedelta(microseconds=999), True, 0),
    ],
    ids=repr,
)
def test_relative_expire_times(time, unit_ms, ms):
    assert conv.relative_ms(time, unit_ms=unit_ms, command="expire") == ms


@pytest.mark.parametrize(
    ("when", "unit_ms", "ms"),
    [
        (1_700_000_000, False, 1_700_000_000_000),
        (1_700_000_000_123, True, 1_700_000_000_123),
        (datetime.datetime(2024, 1, 1, 0, 0, 1, 999_000, tzinfo=UTC), False,
         1_704_067_201_000),
        (datetime.datetime(2024, 1, 1, 0, 0, 1, 999_000, tzinfo=UTC), True, 1_704_067_201_999),
    ],
    ids=repr,
)
def test_absolute_expire_times(when, unit_ms, ms):
    assert conv.absolute_ms(when, unit_ms=unit_ms, command="expireat") == ms


@pytest.mark.parametrize("seconds", [INT64_MAX // 1000 + 1, INT64_MIN // 1000 - 1, 2**62])
def test_expire_seconds_whose_milliseconds_overflow_are_invalid(seconds):
    with pytest.raises(ResponseError) as info:
        conv.relative_ms(seconds, unit_ms=False, command="expire")
    assert code(info) == "InvalidExpireTime"
    assert str(info.value) == "invalid expire time in 'expire' command"
    with pytest.raises(ResponseError) as info:
        conv.absolute_ms(seconds, unit_ms=False, command="expireat")
    assert str(info.value) == "invalid expire time in 'expireat' command"


@pytest.mark.parametrize("time", [1.5, "1.5", 2**63], ids=repr)
def test_expire_time_that_is_not_an_integer(time):
    with pytest.raises(ResponseError) as info:
        conv.relative_ms(time, unit_ms=True, command="pexpire")
    assert code(info) == "NotAnInteger"


@pytest.mark.parametrize("time", [None, True], ids=repr)
def test_expire_time_of_a_type_redis_py_cannot_send(time):
    with pytest.raises(DataError):
        conv.relative_ms(time, unit_ms=False, command="expire")


def test_expire_request_fields():
    request = conv.expire_request("k", px=5000, nx=True)
    assert request.key == b"k" and request.px == 5000 and not request.HasField("pxat")
    assert (request.nx, request.xx, request.gt, request.lt) == (True, False, False, False)
    request = conv.expire_request(b"k", pxat=17, xx=True, gt=True, lt=True)
    assert request.pxat == 17 and not request.HasField("px")
    assert (request.nx, request.xx, request.gt, request.lt) == (False, True, True, True)
    assert conv.expire_request("k", px=0).HasField("px")  # zero is sent, not dropped


# -- TTL ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pttl", "ttl"),
    [(-2, -2), (-1, -1), (0, 0), (1, 0), (499, 0), (500, 1), (1000, 1), (1499, 1),
     (1500, 2), (6499, 6), (6500, 7), (10_000, 10), (INT64_MAX, (INT64_MAX + 500) // 1000)],
)
def test_ttl_rounds_milliseconds_as_redis(pttl, ttl):
    assert conv.ttl_seconds(pttl) == ttl


# -- STATS --------------------------------------------------------------------------------


def test_stats_result_shape():
    def node(node_id, n, reachable=True):
        return pb.CacheNodeStats(node_id=node_id, hits=n, misses=n + 1, evictions=n + 2,
                                 expirations=n + 3, keys=n + 4, bytes_used=n + 5,
                                 budget=n + 6, object_hits=n + 7, object_misses=n + 8,
                                 reachable=reachable)

    response = pb.CacheStatsResponse(nodes=[node("n1", 10), node("n2", 0, reachable=False)],
                                     total=node("total", 10))
    stats = conv.stats_result(response)
    assert set(stats) == {"nodes", "total"}
    assert set(stats["nodes"]) == {"n1", "n2"}
    assert stats["nodes"]["n1"] == {
        "hits": 10, "misses": 11, "evictions": 12, "expirations": 13, "keys": 14,
        "bytes_used": 15, "budget": 16, "object_hits": 17, "object_misses": 18,
        "reachable": True,
    }
    assert stats["nodes"]["n2"]["reachable"] is False
    assert stats["total"]["hits"] == 10
    assert set(stats["total"]) == set(stats["nodes"]["n1"])
    assert all(type(v) is int for k, v in stats["total"].items() if k != "reachable")


# -- errors from the server ---------------------------------------------------------------


@pytest.mark.parametrize(
    "err_code",
    ["NotAnInteger", "Overflow", "InvalidExpireTime", "SyntaxError", "ValueTooLarge",
     "KeyTooLarge", "OOM", "InternalError", "SomethingNew"],
)
def test_every_service_error_is_a_response_error_with_its_code(err_code):
    err = EngineError(err_code, f"message of {err_code}")
    exc = error_from_rpc(FakeRpcError.of(err), "IncrBy", exceptions=CACHE_EXCEPTIONS)
    assert type(exc) is ResponseError
    assert exc.response["Error"]["Code"] == err_code
    assert exc.response["Error"]["Message"] == f"message of {err_code}"
    assert str(exc) == f"message of {err_code}"  # as redis-py shows it
    assert exc.operation_name == "IncrBy"


def test_transport_errors_are_not_response_errors():
    err = EngineError("UNAVAILABLE", "down", grpc_status=grpc.StatusCode.UNAVAILABLE)
    exc = error_from_rpc(FakeRpcError.of(err, with_detail=False), "Get",
                         endpoint="h:1", exceptions=CACHE_EXCEPTIONS)
    assert isinstance(exc, engine.client.EndpointConnectionError)
    assert not isinstance(exc, ResponseError)


def test_cache_codes_are_in_the_catalogue_as_client_errors():
    for err_code in ("NotAnInteger", "Overflow", "InvalidExpireTime", "SyntaxError",
                     "ValueTooLarge", "KeyTooLarge", "OOM"):
        err = EngineError(err_code)
        assert err.http_status == 400, err_code
        assert err.message != err_code, f"{err_code} has no default message"


# -- servicer -----------------------------------------------------------------------------

RPCS = {
    "Get": "get", "Set": "set", "Delete": "delete", "Exists": "exists", "IncrBy": "incr_by",
    "MGet": "mget", "MSet": "mset", "Expire": "expire", "Ttl": "ttl",
    "FlushAll": "flush_all", "Stats": "stats", "Command": "command",
}
SERVICE = pb.DESCRIPTOR.services_by_name["Cache"]


def test_every_rpc_of_the_proto_is_mapped():
    assert {m.name for m in SERVICE.methods} == set(RPCS)


class RecordingService:
    """Answers every RPC with an empty response of the right type, recording the call."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        rpc = {snake: rpc for rpc, snake in RPCS.items()}[name]
        response_type = SERVICE.methods_by_name[rpc].output_type

        async def method(request):
            self.calls.append((name, request))
            return getattr(pb, response_type.name)()

        return method


@pytest.mark.parametrize("rpc", sorted(RPCS))
def test_servicer_delegates_each_rpc_to_the_snake_case_method(rpc):
    service = RecordingService()
    servicer = CacheServicer(service)
    method = SERVICE.methods_by_name[rpc]
    request = getattr(pb, method.input_type.name)()
    response = asyncio.run(getattr(servicer, rpc)(request, context=None))
    assert service.calls == [(RPCS[rpc], request)]
    assert type(response).__name__ == method.output_type.name
    # overridden (the generated base answers UNIMPLEMENTED) and listed in the Protocol
    assert getattr(CacheServicer, rpc) is not getattr(cache_pb2_grpc.CacheServicer, rpc)
    assert RPCS[rpc] in CacheApi.__dict__


def test_servicer_turns_service_errors_into_statuses():
    class Failing:
        async def incr_by(self, request):
            raise EngineError("NotAnInteger")

    context = AbortingContext()
    with pytest.raises(RuntimeError, match="aborted"):
        asyncio.run(CacheServicer(Failing()).IncrBy(pb.CacheIncrByRequest(), context))
    assert context.status is not None
    assert context.status.code == grpc.StatusCode.INVALID_ARGUMENT
