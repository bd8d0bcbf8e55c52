"""The blocking list and sorted-set commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP,
BZPOPMIN, BZPOPMAX, BZMPOP, CLIENT UNBLOCK) on a real `engine serve`, with redis-py and
raw sockets as clients, and their reply bytes next to a real redis-server's.

A client is known to be blocked once CLIENT LIST shows its command (the node registers
the waiter in the same loop step), so no test sleeps; timeouts are short."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import redis
from credentials import ROOT_KEY_ID, ROOT_SECRET
from reference_redis import reference_redis


def reply_end(buf: bytes, pos: int) -> int | None:
    """Where the RESP2/RESP3 reply starting at ``pos`` ends (None: not all here yet)."""
    line = buf.find(b"\r\n", pos)
    if line < 0:
        return None
    kind, head, after = buf[pos:pos + 1], buf[pos + 1:line], line + 2
    if kind in b"$=!":
        size = int(head)
        if size < 0:
            return after
        return after + size + 2 if len(buf) >= after + size + 2 else None
    if kind in b"*~>%|":
        count = int(head)
        for _ in range(max(count, 0) * (2 if kind in b"%|" else 1)):
            end = reply_end(buf, after)
            if end is None:
                return None
            after = end
        return after
    return after  # + - : _ # , ( : one line


class Raw:
    """One RESP connection that hands back each reply's exact bytes."""

    def __init__(self, port: int, auth: bool = True) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        if auth:
            self.send("AUTH", ROOT_KEY_ID, ROOT_SECRET)
            assert self.read() == b"+OK\r\n"

    def send(self, *args: str | bytes) -> None:
        parts = [a.encode() if isinstance(a, str) else a for a in args]
        self.sock.sendall(b"*%d\r\n" % len(parts)
                          + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))

    def read(self) -> bytes:
        """The next whole reply (RESP2 or RESP3), bytes as sent."""
        while (end := reply_end(self.buffer, 0)) is None:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        whole, self.buffer = self.buffer[:end], self.buffer[end:]
        return whole

    def call(self, *args: str | bytes) -> bytes:
        self.send(*args)
        return self.read()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def node(module_server_factory):
    return module_server_factory()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(node, request) -> Iterator[redis.Redis]:
    with redis.Redis(port=node.redis_port, username=ROOT_KEY_ID, password=ROOT_SECRET,
                     protocol=request.param) as c:
        c.flushall()
        yield c


def client_id(raw: Raw) -> int:
    return int(raw.call("CLIENT", "ID")[1:-2])


def wait_blocked(r: redis.Redis, ids: list[int], command: str) -> None:
    """Until each of ``ids`` is running ``command`` (it is then in the waiters)."""
    for _ in range(5000):
        running = {c["id"]: c["cmd"] for c in r.client_list()}
        if all(running.get(str(i)) == command for i in ids):
            return
    raise AssertionError(f"clients {ids} never blocked in {command}")


def test_served_at_once_when_there_is_data(r):
    r.rpush("l", "a", "b", "c")
    assert r.blpop(["none", "l"], timeout=1) in ([b"l", b"a"], (b"l", b"a"))
    assert list(r.brpop(["l"], timeout=1)) == [b"l", b"c"]
    assert r.blmove("l", "m", 1, "LEFT", "RIGHT") == b"b"
    assert r.brpoplpush("m", "l", 1) == b"b"
    assert r.blmpop(1, 2, "x", "l", direction="LEFT", count=5) == [b"l", [b"b"]]
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    assert list(r.bzpopmin(["z"], timeout=1)) == [b"z", b"a", 1.0]
    assert list(r.bzpopmax(["z"], timeout=1)) == [b"z", b"c", 3.0]
    assert r.exists("l", "m") == 0


def test_timeouts_return_none(r):
    assert r.blpop(["empty"], timeout=0.01) is None
    assert r.brpop(["empty", "other"], timeout=0.01) is None
    assert r.blmove("empty", "dst", 0.01) is None
    assert r.blmpop(0.01, 1, "empty", direction="RIGHT") is None
    assert r.bzpopmin(["empty"], timeout=0.01) is None
    assert r.exists("dst") == 0


def test_bad_timeouts_and_wrong_types(r):
    for bad, text in ((b"-1", "timeout is negative"),
                      (b"x", "timeout is not a float or out of range"),
                      (b"nan", "timeout is not a float or out of range"),
                      (b" 1", "timeout is not a float or out of range"),
                      (b"1e400", "timeout is negative"),  # Redis 7.0's C cast
                      (b"inf", "timeout is negative")):
        with pytest.raises(redis.ResponseError, match=text):
            r.execute_command("BLPOP", "k", bad)
    r.set("s", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.blpop(["s"], timeout=0.01)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.bzpopmin(["s"], timeout=0.01)
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("BLMOVE", "a", "b", "UP", "LEFT", 0)


def test_a_push_from_another_client_wakes_the_waiter(node, r):
    waiter = Raw(node.redis_port)
    try:
        wid = client_id(waiter)
        waiter.send("BLPOP", "q", "0")
        wait_blocked(r, [wid], "blpop")
        assert r.lpush("q", "job") == 1  # the pusher sees the list before the pop
        assert waiter.read() == b"*2\r\n$1\r\nq\r\n$3\r\njob\r\n"
        assert r.exists("q") == 0
    finally:
        waiter.close()


def test_two_waiters_are_served_in_the_order_they_blocked(node, r):
    first, second = Raw(node.redis_port), Raw(node.redis_port)
    try:
        ids = [client_id(first), client_id(second)]
        first.send("BRPOP", "a", "q", "0")
        wait_blocked(r, ids[:1], "brpop")
        second.send("BRPOP", "q", "0")
        wait_blocked(r, ids, "brpop")
        r.rpush("q", "1", "2")  # one write serves both, longest waiting first
        assert first.read() == b"*2\r\n$1\r\nq\r\n$1\r\n2\r\n"
        assert second.read() == b"*2\r\n$1\r\nq\r\n$1\r\n1\r\n"
    finally:
        first.close()
        second.close()


def test_blmove_wakes_a_waiter_on_its_destination_and_zadd_a_bzpopmin(node, r):
    mover, popper, zwaiter = (Raw(node.redis_port) for _ in range(3))
    try:
        ids = [client_id(x) for x in (mover, popper, zwaiter)]
        mover.send("BLMOVE", "{t}src", "{t}dst", "LEFT", "RIGHT", "0")
        popper.send("BLPOP", "{t}dst", "0")
        zwaiter.send("BZPOPMAX", "zq", "0")
        wait_blocked(r, ids[:1], "blmove")
        wait_blocked(r, ids[1:2], "blpop")
        wait_blocked(r, ids[2:], "bzpopmax")
        r.rpush("{t}src", "x")
        assert mover.read() == b"$1\r\nx\r\n"
        assert popper.read() == b"*2\r\n$6\r\n{t}dst\r\n$1\r\nx\r\n"
        r.zadd("zq", {"m": 2.5})
        assert zwaiter.read() == b"*3\r\n$2\r\nzq\r\n$1\r\nm\r\n$3\r\n2.5\r\n"
        assert r.exists("{t}src", "{t}dst", "zq") == 0
    finally:
        for x in (mover, popper, zwaiter):
            x.close()


def test_rename_into_a_key_wakes_its_waiter_and_pipelined_commands_wait(node, r):
    waiter = Raw(node.redis_port)
    try:
        wid = client_id(waiter)
        waiter.sock.sendall(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nk\r\n$1\r\n0\r\n"
                            b"*1\r\n$4\r\nPING\r\n")
        wait_blocked(r, [wid], "blpop")
        r.rpush("tmp", "v")
        r.rename("tmp", "k")
        assert waiter.read() == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
        assert waiter.read() == b"+PONG\r\n"  # run only after the block ended
    finally:
        waiter.close()


def test_a_client_that_disconnects_while_blocked_takes_nothing(node, r):
    gone, stays = Raw(node.redis_port), Raw(node.redis_port)
    try:
        ids = [client_id(gone), client_id(stays)]
        gone.send("BLPOP", "d", "0")
        wait_blocked(r, ids[:1], "blpop")
        gone.close()
        for _ in range(5000):
            if str(ids[0]) not in {c["id"] for c in r.client_list()}:
                break
        r.rpush("d", "kept")
        assert r.lrange("d", 0, -1) == [b"kept"]
        stays.send("BLPOP", "d", "0")
        assert stays.read() == b"*2\r\n$1\r\nd\r\n$4\r\nkept\r\n"
    finally:
        stays.close()


def test_client_unblock(node, r):
    waiter = Raw(node.redis_port)
    try:
        wid = client_id(waiter)
        assert r.client_unblock(wid) == 0  # not blocked
        waiter.send("BLPOP", "u", "0")
        wait_blocked(r, [wid], "blpop")
        assert r.info("clients")["blocked_clients"] == 1
        assert r.client_unblock(wid) == 1
        assert waiter.read() == b"*-1\r\n"
        waiter.send("BZPOPMIN", "u", "0")
        wait_blocked(r, [wid], "bzpopmin")
        assert r.client_unblock(wid, error=True) == 1
        assert waiter.read() == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
        r.rpush("u", "v")
        assert r.llen("u") == 1
    finally:
        waiter.close()


def threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def test_a_thousand_waiters_hold_no_threads_and_others_stay_fast(node):
    n = 1000
    r = redis.Redis(port=node.redis_port, username=ROOT_KEY_ID, password=ROOT_SECRET)
    r.flushall()
    before = threads(node.pid)
    waiters = [Raw(node.redis_port) for _ in range(n)]
    try:
        for w in waiters:
            w.send("BLPOP", "many", "0")
        for _ in range(5000):
            if sum(c["cmd"] == "blpop" for c in r.client_list()) == n:
                break
        else:
            raise AssertionError("the waiters never all blocked")
        started = time.monotonic()
        for i in range(200):
            r.set(f"k{i}", "v")
            assert r.get(f"k{i}") == b"v"
        assert time.monotonic() - started < 5  # 400 round trips, under 12 ms each
        assert threads(node.pid) <= before + 2
        r.rpush("many", *range(n))
        got = sorted(int(w.read().split(b"\r\n")[-2]) for w in waiters)
        assert got == list(range(n))
        assert r.exists("many") == 0
    finally:
        for w in waiters:
            w.close()
        r.close()


# -- the same bytes as redis-server ------------------------------------------------------

CASES: list[tuple[int, list[list[str]]]] = [
    (2, [["RPUSH", "l", "a", "b"], ["BLPOP", "x", "l", "0"], ["BRPOP", "l", "0.01"],
         ["BLPOP", "l", "0.01"], ["BLMOVE", "l", "m", "LEFT", "LEFT", "0.01"],
         ["BLMPOP", "0.01", "1", "l", "LEFT"], ["BLMPOP", "0.01", "0", "l", "LEFT"],
         ["BLPOP", "l", "-1"], ["BLPOP", "l", "abc"], ["BRPOPLPUSH", "l", "m", "1x"],
         ["ZADD", "z", "1.5", "a", "2", "b", "3", "c"], ["BZPOPMIN", "z", "0"],
         ["BZMPOP", "0", "1", "z", "MAX", "COUNT", "5"], ["BZPOPMAX", "z", "0.01"],
         ["BZMPOP", "0", "1", "z", "UP"], ["ZADD", "z", "1", "a"],
         ["ZMPOP", "1", "z", "MIN", "COUNT", "0"], ["ZMPOP", "2", "z", "MIN"],
         ["ZMPOP", "1", "z", "MAX", "COUNT"], ["ZMPOP", "1", "z", "MAX", "COUNT", "2"],
         ["SET", "s", "v"], ["BLPOP", "s", "0"],
         ["ZMPOP", "1", "s", "MIN"], ["BZPOPMIN", "s", "0"], ["CLIENT", "UNBLOCK", "x"],
         ["CLIENT", "UNBLOCK", "1", "FOO"], ["CLIENT", "UNBLOCK", "999999"]]),
    (3, [["RPUSH", "l", "a"], ["BLMPOP", "0", "1", "l", "RIGHT", "COUNT", "2"],
         ["BLPOP", "l", "0.01"], ["ZADD", "z", "1.5", "a", "2", "b"],
         ["BZPOPMIN", "z", "0"], ["BZMPOP", "0", "1", "z", "MIN"],
         ["BZPOPMIN", "z", "0.01"]]),
]


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    with reference_redis() as port:
        yield port


@pytest.mark.parametrize(("proto", "lines"), CASES, ids=["resp2", "resp3"])
def test_same_bytes_as_redis_server(node, redis_port, proto, lines):
    ours, theirs = Raw(node.redis_port), Raw(redis_port, auth=False)
    try:
        for conn in (ours, theirs):
            conn.call("HELLO", str(proto))
            conn.call("FLUSHALL")
        mismatches = []
        for line in lines:
            expected, got = theirs.call(*line), ours.call(*line)
            if expected != got:
                mismatches.append(f"{' '.join(line)}: redis {expected!r} engine {got!r}")
        assert not mismatches, "\n".join(mismatches)
    finally:
        ours.close()
        theirs.close()


def test_a_transaction_serves_waiters_after_exec_and_never_blocks(node, r):
    waiter = Raw(node.redis_port)
    try:
        wid = client_id(waiter)
        waiter.send("BLPOP", "tq", "0")
        wait_blocked(r, [wid], "blpop")
        with r.pipeline(transaction=True) as tx:
            tx.lpush("tq", "a").llen("tq").blpop(["empty"], timeout=0)
            assert tx.execute() == [1, 1, None]  # the waiter is served after EXEC
        assert waiter.read() == b"*2\r\n$2\r\ntq\r\n$1\r\na\r\n"
        assert r.exists("tq") == 0
    finally:
        waiter.close()
