"""The memcached endpoint's request parser and syntax, and its commands on a real
CacheStore with a manual clock (engine/api/memcached/)."""

from __future__ import annotations

import pytest

from engine.api.memcached.context import MemcachedContext
from engine.api.memcached.counters import apply_delta, counter_value
from engine.api.memcached.dispatch import execute
from engine.api.memcached.items import MEMCACHED, Items, expiry_ms
from engine.api.memcached.parser import MAX_LINE, LineTooLong, RequestParser
from engine.api.memcached.syntax import split
from engine.cache.store import CacheStore
from engine.clock import ManualClock

MIB = 1024 * 1024


def test_lines_and_data_blocks_across_chunks():
    parser = RequestParser(MIB)
    stream = b"set k 1 0 5\r\nhe\r\nl\r\nget  k   j\r\nmn\r\n"
    requests = []
    for byte in range(len(stream)):  # one byte at a time: nothing is lost or doubled
        requests += parser.feed(stream[byte:byte + 1])
    assert [r.tokens for r in requests] == [[b"set", b"k", b"1", b"0", b"5"],
                                            [b"get", b"k", b"j"], [b"mn"]]
    assert requests[0].data == b"he\r\nl" and not requests[0].bad_chunk
    assert parser.buffered == 0


def test_a_data_block_without_crlf_is_a_bad_chunk_and_the_rest_is_a_command():
    requests = RequestParser(MIB).feed(b"set a 0 0 3\r\nabcd\r\nget a\r\n")
    assert requests[0].bad_chunk
    assert [r.tokens for r in requests[1:]] == [[], [b"get", b"a"]]  # "\n" is a line


def test_a_line_memcached_refuses_reads_no_data():
    # a bad number or key: the data line is read as the next command, as memcached does
    requests = RequestParser(MIB).feed(b"set a -1 0 1\r\nx\r\nms k abc\r\ny\r\n")
    assert [r.tokens for r in requests] == [[b"set", b"a", b"-1", b"0", b"1"], [b"x"],
                                            [b"ms", b"k", b"abc"], [b"y"]]


def test_a_too_large_block_is_skipped_without_being_held():
    parser = RequestParser(MIB)
    first = parser.feed(b"set big 0 0 2000000000\r\n")
    assert first[0].too_large and first[0].data is None
    for _ in range(100):
        assert parser.feed(b"x" * 65536) == []
        assert parser.buffered == 0
    parser.feed(b"x" * (2000000000 - 100 * 65536))
    assert [r.tokens for r in parser.feed(b"\r\nmn\r\n")] == [[b"mn"]]


def test_the_item_limit_counts_key_and_header():
    parser = RequestParser(1000)
    assert not parser.feed(b"set k 0 0 951\r\n")[0:1]  # waiting for its 951 bytes
    assert parser.feed(b"x" * 951 + b"\r\n")[0].data == b"x" * 951
    assert parser.feed(b"set k 0 0 952\r\n")[0].too_large  # 1 + 952 + 48 > 1000


def test_a_line_without_end_is_bounded():
    parser = RequestParser(MIB)
    parser.feed(b"x" * MAX_LINE)
    with pytest.raises(LineTooLong):
        parser.feed(b"x")
    multiget = RequestParser(MIB)  # a multiget may be long, as memcached allows
    assert multiget.feed(b"get " + b"k " * 100_000) == []
    assert len(multiget.feed(b"\r\n")[0].tokens) == 100_001
    with pytest.raises(LineTooLong):
        RequestParser(MIB).feed(b"get " + b"k" * (3 * MIB))


def test_tokens_split_on_spaces_only():
    assert split(b"  get a\tb  c ") == [b"get", b"a\tb", b"c"]


def test_expiry_times_follow_memcached():
    now = 1_700_000_000_000
    assert expiry_ms(0, now) is None
    assert expiry_ms(-1, now) == now  # already expired
    assert expiry_ms(60, now) == now + 60_000
    assert expiry_ms(2592000, now) == now + 2592000_000  # 30 days: still relative
    assert expiry_ms(2592001, now) == 2592001_000  # beyond: a Unix time (in the past)


def test_counters_are_unsigned_64_bit():
    assert counter_value(b"12") == 12 and counter_value(b"12 ") == 12
    assert counter_value(b"1 2") == 1 and counter_value(b" 7") == 7
    assert counter_value(b"12a") is None and counter_value(b"") is None
    assert counter_value(b"-1") is None and counter_value(b"18446744073709551616") is None
    assert apply_delta(2**64 - 1, 2, True) == 1  # incr wraps
    assert apply_delta(5, 10, False) == 0  # decr stops at 0


@pytest.fixture
def node():
    clock = ManualClock()
    store = CacheStore(64 * MIB, clock)
    return MemcachedContext(Items(store, clock)), store, clock


def run(ctx: MemcachedContext, raw: bytes) -> bytes:
    out = bytearray()
    for request in RequestParser(ctx.max_item).feed(raw):
        reply = execute(ctx, request)
        out += reply if isinstance(reply, bytes) else b"".join(reply)
    return bytes(out)


def test_flush_all_empties_only_the_memcached_namespace(node):
    ctx, store, _ = node
    store.set(b"uredis-key", b"v")
    store.set(b"ocached-object", b"v")
    assert run(ctx, b"set a 0 0 1\r\nx\r\nflush_all\r\nget a\r\n") == b"STORED\r\nOK\r\nEND\r\n"
    assert store.get(b"uredis-key") == b"v" and store.get(b"ocached-object") == b"v"


def test_a_delayed_flush_drops_items_stored_before_it_is_due(node):
    ctx, _, clock = node
    assert run(ctx, b"set a 0 0 1\r\nx\r\nflush_all 10\r\n") == b"STORED\r\nOK\r\n"
    clock.advance(5)
    assert run(ctx, b"set b 0 0 1\r\ny\r\nget a b\r\n").count(b"VALUE") == 2
    clock.advance(5)
    assert run(ctx, b"get a b\r\n") == b"END\r\n"
    assert run(ctx, b"set c 0 0 1\r\nz\r\nget c\r\n").endswith(b"VALUE c 0 1\r\nz\r\nEND\r\n")


def test_items_expire_on_the_engine_clock(node):
    ctx, store, clock = node
    run(ctx, b"set a 3 10 1\r\nx\r\n")
    clock.advance(10)
    assert run(ctx, b"get a\r\n") == b"VALUE a 3 1\r\nx\r\nEND\r\n"  # live at its second
    clock.advance(1)
    assert run(ctx, b"get a\r\n") == b"END\r\n"
    assert store.peek(MEMCACHED + b"a") is None


def test_read_modify_write_keeps_flags_and_expiry(node):
    ctx, store, _ = node
    run(ctx, b"set n 42 100 2\r\n10\r\n")
    assert run(ctx, b"incr n 18446744073709551615\r\n") == b"9\r\n"
    assert run(ctx, b"append n 0 0 1\r\n1\r\nprepend n 0 0 1\r\n0\r\n") == b"STORED\r\n" * 2
    assert run(ctx, b"get n\r\n") == b"VALUE n 42 3\r\n091\r\nEND\r\n"
    assert 99_000 < store.pttl(MEMCACHED + b"n") <= 100_000


def test_a_past_exptime_on_read_removes_the_item(node):
    ctx, store, _ = node
    run(ctx, b"set a 0 0 1\r\nx\r\nset b 0 0 1\r\ny\r\n")
    assert run(ctx, b"gat -1 a\r\n") == b"VALUE a 0 1\r\nx\r\nEND\r\n"
    assert run(ctx, b"mg b v T-1\r\n") == b"VA 1\r\ny\r\n"
    assert run(ctx, b"get a b\r\n") == b"END\r\n"
    assert store.peek(MEMCACHED + b"a") is None and store.peek(MEMCACHED + b"b") is None
