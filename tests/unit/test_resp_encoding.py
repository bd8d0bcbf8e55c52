"""RESP2/RESP3 replies and request parsing, pinned to the byte strings of the RESP
specification (redis.io, "Redis serialization protocol specification") and to Redis 7's
protocol error texts."""

from __future__ import annotations

import pytest

from engine.api.resp.encoder import NULL_ARRAY, OK, Error, RespSet, Simple, Verbatim, encode
from engine.api.resp.inline import split_args
from engine.api.resp.parser import MAX_MULTIBULK, RequestParser


@pytest.mark.parametrize(("value", "resp2", "resp3"), [
    (OK, b"+OK\r\n", b"+OK\r\n"),
    (Error("Error message"), b"-Error message\r\n", b"-Error message\r\n"),
    (1000, b":1000\r\n", b":1000\r\n"),
    (-1, b":-1\r\n", b":-1\r\n"),
    (b"hello", b"$5\r\nhello\r\n", b"$5\r\nhello\r\n"),
    (b"", b"$0\r\n\r\n", b"$0\r\n\r\n"),
    (None, b"$-1\r\n", b"_\r\n"),
    (NULL_ARRAY, b"*-1\r\n", b"_\r\n"),
    ([], b"*0\r\n", b"*0\r\n"),
    ([b"hello", b"world"], b"*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n",
     b"*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n"),
    ([1, 2, 3], b"*3\r\n:1\r\n:2\r\n:3\r\n", b"*3\r\n:1\r\n:2\r\n:3\r\n"),
    ([1, [Simple("Hello"), Error("World")]], b"*2\r\n:1\r\n*2\r\n+Hello\r\n-World\r\n",
     b"*2\r\n:1\r\n*2\r\n+Hello\r\n-World\r\n"),
    (True, b":1\r\n", b"#t\r\n"),
    (False, b":0\r\n", b"#f\r\n"),
    (1.23, b"$4\r\n1.23\r\n", b",1.23\r\n"),
    (float("inf"), b"$3\r\ninf\r\n", b",inf\r\n"),
    (float("-inf"), b"$4\r\n-inf\r\n", b",-inf\r\n"),
    ({Simple("first"): 1, Simple("second"): 2},
     b"*4\r\n+first\r\n:1\r\n+second\r\n:2\r\n", b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n"),
    (Verbatim("Some string"), b"$11\r\nSome string\r\n", b"=15\r\ntxt:Some string\r\n"),
    (RespSet([b"a", 1]), b"*2\r\n$1\r\na\r\n:1\r\n", b"~2\r\n$1\r\na\r\n:1\r\n"),
])
def test_replies_encode_as_the_spec_shows(value, resp2, resp3):
    assert encode(value, 2) == resp2
    assert encode(value, 3) == resp3


def test_a_map_with_text_keys_is_a_map_of_bulk_strings():
    assert encode({"proto": 3}, 3) == b"%1\r\n$5\r\nproto\r\n:3\r\n"
    assert encode({"proto": 3}, 2) == b"*2\r\n$5\r\nproto\r\n:3\r\n"


@pytest.mark.parametrize(("line", "args"), [
    (b"SET key value", [b"SET", b"key", b"value"]),
    (b"  set   k  v  ", [b"set", b"k", b"v"]),
    (b'SET k "hello world"', [b"SET", b"k", b"hello world"]),
    (b"SET k 'it\\'s'", [b"SET", b"k", b"it's"]),
    (b'SET k "a\\nb\\x41\\"c"', [b"SET", b"k", b'a\nbA"c']),
    (b'SET k ""', [b"SET", b"k", b""]),
    (b'foo"bar"', [b"foobar"]),
    (b"", []),
])
def test_inline_commands_split_as_redis_does(line, args):
    assert split_args(line) == args


@pytest.mark.parametrize("line", [b'SET k "abc', b"SET k 'abc", b'SET k "a"b', b"GET 'a'b"])
def test_unbalanced_quotes_are_refused(line):
    assert split_args(line) is None


def feed(parser: RequestParser, *chunks: bytes):
    commands, error = [], None
    for chunk in chunks:
        got, error = parser.feed(chunk)
        commands += got
    return commands, error.text if error is not None else None


def test_pipelined_requests_mix_arrays_and_inline_lines_and_may_split_anywhere():
    data = (b"*1\r\n$4\r\nPING\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"
            b"*0\r\n\r\nget k\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
    expected = [[b"PING"], [b"PING"], [b"SET", b"k", b"hello"], [b"get", b"k"],
                [b"GET", b"k"]]
    assert feed(RequestParser(1 << 20), data) == (expected, None)
    for cut in range(1, len(data)):
        assert feed(RequestParser(1 << 20), data[:cut], data[cut:]) == (expected, None), cut
    assert feed(RequestParser(1 << 20), *[data[i:i + 1] for i in range(len(data))]) == (
        expected, None)


@pytest.mark.parametrize(("data", "text"), [
    (b"*%d\r\n" % (MAX_MULTIBULK + 1), "ERR Protocol error: invalid multibulk length"),
    (b"*x\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*1\r\n$%d\r\n" % (1025), "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n:5\r\n", "ERR Protocol error: expected '$', got ':'"),
    (b"*2\r\n$3\r\nGET\r\n+a\r\n", "ERR Protocol error: expected '$', got '+'"),
    # Headers are integers as Redis's string2ll reads them (redis-server 7.0 answers each
    # of these so): no leading zero, no plus sign, no space, no overflow, no "-0".
    (b"*01\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*+1\r\n$4\r\nPING\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*1 \r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*99999999999999999999\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*1\r\n$03\r\nabc\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$+3\r\nabc\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$-0\r\n", "ERR Protocol error: invalid bulk length"),
    (b'SET k "v\r\n', "ERR Protocol error: unbalanced quotes in request"),
    (b"x" * (64 * 1024 + 1), "ERR Protocol error: too big inline request"),
])
def test_malformed_requests_get_redis_protocol_errors(data, text):
    assert feed(RequestParser(1024), data) == ([], text)


def test_a_negative_count_is_an_empty_request_as_in_redis():
    assert feed(RequestParser(1024), b"*-5\r\nPING\r\n") == ([[b"PING"]], None)


def test_a_request_arriving_in_pieces_keeps_its_finished_arguments_and_counts_them():
    """Its finished arguments leave the read buffer but still count towards the query
    buffer limit, so a request cannot outgrow it by arriving slowly."""
    parser = RequestParser(1 << 20, query_limit=1000)
    head = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$600\r\n"
    assert parser.feed(head + b"x" * 300) == ([], None)
    commands, error = parser.feed(b"x" * 300 + b"\r\n")
    assert (commands, error) == ([[b"SET", b"k", b"x" * 600]], None)
    parser = RequestParser(1 << 20, query_limit=1000)
    big = b"*3\r\n$3\r\nSET\r\n$700\r\n" + b"k" * 700 + b"\r\n$600\r\n"
    commands, error = parser.feed(big + b"x" * 400)
    assert commands == [] and error is not None and error.text is None


def test_requests_before_the_error_still_run():
    assert feed(RequestParser(1024), b"PING\r\n*1\r\n$9999\r\n") == (
        [[b"PING"]], "ERR Protocol error: invalid bulk length")


def test_an_unauthenticated_client_gets_redis_stricter_limits():
    parser = RequestParser(1 << 20, authenticated=lambda: False)
    assert feed(parser, b"*11\r\n") == ([], "ERR Protocol error: unauthenticated multibulk length")
    parser = RequestParser(1 << 20, authenticated=lambda: False)
    assert feed(parser, b"*2\r\n$4\r\nAUTH\r\n$16385\r\n") == (
        [], "ERR Protocol error: unauthenticated bulk length")


def test_an_unfinished_request_past_the_query_buffer_limit_closes_silently():
    parser = RequestParser(1 << 20, query_limit=100)
    commands, error = parser.feed(b"*1\r\n$1000\r\n" + b"x" * 200)
    assert commands == [] and error is not None and error.text is None


def test_before_auth_requests_are_parsed_one_at_a_time():
    """A pipelined AUTH lifts the limits for what follows it (redis-benchmark sends AUTH
    in front of its first batch), as Redis parses and runs one request at a time."""
    logged_in = False
    parser = RequestParser(1 << 20, authenticated=lambda: logged_in)
    big = b"*12\r\n$4\r\nMSET\r\n" + b"$1\r\nk\r\n$1\r\nv\r\n" * 5 + b"$1\r\nk\r\n"
    commands, error = parser.feed(b"AUTH u p\r\n" + big + b"PING\r\n")
    assert (commands, error, parser.held) == ([[b"AUTH", b"u", b"p"]], None, True)
    logged_in = True
    commands, error = parser.feed(b"")
    assert error is None and commands == [[b"MSET", *[b"k", b"v"] * 5, b"k"], [b"PING"]]
    assert not parser.held
