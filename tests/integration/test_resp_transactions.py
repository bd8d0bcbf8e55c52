"""MULTI/EXEC/DISCARD/WATCH/UNWATCH on the RESP endpoint of a real `engine serve`:
redis-py's transactional pipelines and WatchError retry loops, and the raw RESP2/RESP3
bytes of the edge cases compared with a real redis-server (docs/cache.md,
"Transactions")."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import redis
from credentials import ROOT_KEY_ID, ROOT_SECRET
from reference_redis import reference_redis

from engine.client import client

END = b"$7\r\n__end__\r\n"


@pytest.fixture(scope="module")
def node(module_server_factory):
    return module_server_factory()


@pytest.fixture
def r(node) -> Iterator[redis.Redis]:
    with redis.Redis(port=node.redis_port, username=ROOT_KEY_ID, password=ROOT_SECRET,
                     decode_responses=True) as c:
        yield c


@pytest.mark.parametrize("protocol", [2, 3])
def test_pipeline_runs_queued_commands_and_returns_every_reply(node, protocol):
    with redis.Redis(port=node.redis_port, username=ROOT_KEY_ID, password=ROOT_SECRET,
                     protocol=protocol, decode_responses=True) as r:
        p = f"tx{protocol}:"
        with r.pipeline(transaction=True) as pipe:
            pipe.set(p + "a", "1").incr(p + "a").rpush(p + "l", "x", "y").lrange(p + "l", 0, -1)
            pipe.hset(p + "h", mapping={"f": "v"}).ping()
            assert pipe.execute() == [True, 2, 2, ["x", "y"], 1, True]
        with r.pipeline(transaction=True) as pipe:  # an error inside EXEC is one element
            pipe.incr(p + "l").get(p + "a")
            results = pipe.execute(raise_on_error=False)
        assert isinstance(results[0], redis.ResponseError) and "WRONGTYPE" in str(results[0])
        assert results[1] == "2"


def test_discard_drops_the_queue(node, r):
    conn = redis.Connection(port=node.redis_port, username=ROOT_KEY_ID, password=ROOT_SECRET,
                            decode_responses=True)
    try:
        for argv, reply in [(("MULTI",), "OK"), (("SET", "disc:a", "1"), "QUEUED"),
                            (("DISCARD",), "OK")]:
            conn.send_command(*argv)
            assert conn.read_response() == reply
    finally:
        conn.disconnect()
    assert r.get("disc:a") is None


def test_watch_error_when_another_client_writes_the_watched_key(node, r):
    r.set("race:n", "0")
    attempts = []

    def bump(pipe: redis.client.Pipeline) -> None:
        value = int(pipe.get("race:n"))
        attempts.append(value)
        if len(attempts) == 1:  # the other client gets in between WATCH and EXEC
            with redis.Redis(port=node.redis_port, username=ROOT_KEY_ID,
                             password=ROOT_SECRET) as other:
                other.incr("race:n")
        pipe.multi()
        pipe.set("race:n", value + 10)

    r.transaction(bump, "race:n")
    assert attempts == [0, 1]
    assert r.get("race:n") == "11"
    with r.pipeline() as pipe:  # UNWATCH: a later write no longer aborts
        pipe.watch("race:n")
        pipe.unwatch()
        r.set("race:n", "x")
        pipe.multi()
        pipe.get("race:n")
        assert pipe.execute() == ["x"]


def test_two_clients_racing_on_a_watched_counter_lose_no_increment(node):
    rounds = 30

    def worker() -> None:
        with redis.Redis(port=node.redis_port, username=ROOT_KEY_ID,
                         password=ROOT_SECRET) as c:
            for _ in range(rounds):
                def incr(pipe: redis.client.Pipeline) -> None:
                    value = int(pipe.get("race:counter") or 0)
                    pipe.multi()
                    pipe.set("race:counter", value + 1)
                c.transaction(incr, "race:counter")

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with redis.Redis(port=node.redis_port, username=ROOT_KEY_ID, password=ROOT_SECRET) as c:
        assert int(c.get("race:counter")) == 2 * rounds


def test_a_command_the_user_may_not_run_aborts_the_transaction(node, r):
    client("elasticache", endpoint=node.endpoint).create_user(
        UserId="txreader", UserName="txreader", Engine="redis",
        AccessString="on ~app:* +@read +@connection +@transaction",
        Passwords=["txreader-password-01"])
    r.set("app:tx", "1")
    conn = redis.Connection(port=node.redis_port, username="txreader",
                            password="txreader-password-01", decode_responses=True)
    replies = []
    try:
        for argv in (("MULTI",), ("GET", "app:tx"), ("SET", "app:tx", "2"), ("EXEC",),
                     ("MULTI",), ("GET", "app:tx"), ("EXEC",)):
            conn.send_command(*argv)
            try:
                replies.append(conn.read_response())
            except redis.ResponseError as exc:
                replies.append(f"-{exc}")
    finally:
        conn.disconnect()
    assert replies == [
        "OK", "QUEUED", "-User txreader has no permissions to run the 'set' command",
        "-Transaction discarded because of previous errors.", "OK", "QUEUED", ["1"]]
    assert r.get("app:tx") == "1"


def test_no_other_clients_command_runs_inside_exec(node, r):
    """A reader polling while a long transaction runs sees none of it or all of it."""
    done = threading.Event()
    seen: set[str | None] = set()

    def poll() -> None:
        with redis.Redis(port=node.redis_port, username=ROOT_KEY_ID, password=ROOT_SECRET,
                         decode_responses=True) as reader:
            for _ in range(2000):
                seen.add(reader.get("atomic:n"))
                if done.is_set():
                    break

    reader = threading.Thread(target=poll)
    reader.start()
    with r.pipeline(transaction=True) as pipe:
        for _ in range(3):
            for _ in range(2000):
                pipe.incr("atomic:n")
            pipe.execute()
    done.set()
    reader.join(60)
    assert seen <= {None, "2000", "4000", "6000"}, sorted(x for x in seen if x)[:5]


def test_watch_and_multi_show_in_client_list(r):
    assert r.execute_command("MULTI") == "OK"
    assert r.execute_command("GET", "x") == "QUEUED"
    assert r.execute_command("CLIENT", "INFO") == "QUEUED"
    info = r.execute_command("EXEC")[1]
    assert "flags=x" in info and " multi=2 " in info


# -- the same bytes as redis-server ---------------------------------------------------------

SCRIPT = [
    ["EXEC"], ["DISCARD"], ["UNWATCH"],
    ["MULTI"], ["SET", "a", "1"], ["NOSUCHCMD", "x"], ["GET", "a"], ["EXEC"],
    ["GET", "a"],
    ["MULTI"], ["GET", "a", "b"], ["EXEC"],
    ["MULTI"], ["MULTI"], ["WATCH", "a"], ["SET", "s", "hello"], ["INCR", "s"],
    ["LPUSH", "s", "x"], ["SET", "s", "v", "FOO"], ["GET", "s"], ["EXEC"],
    ["MULTI"], ["EXEC"],
    ["MULTI"], ["SET", "a", "2"], ["DISCARD"], ["GET", "a"],
    ["WATCH", "w"], ["SET", "w", "1"], ["MULTI"], ["GET", "w"], ["EXEC"],
    ["WATCH", "w"], ["MULTI"], ["INCR", "w"], ["EXEC"],
    ["WATCH", "gone"], ["MULTI"], ["SET", "gone", "x"], ["EXEC"],
    ["WATCH", "w"], ["DEL", "w"], ["UNWATCH"], ["MULTI"], ["GET", "w"], ["EXEC"],
    ["WATCH", "w"], ["SET", "w", "2"], ["MULTI"], ["PING"], ["DISCARD"], ["MULTI"],
    ["PING"], ["EXEC"],
    ["MULTI"], ["UNWATCH"], ["HSET", "h", "f", "1"], ["HGETALL", "h"], ["EXEC"],
    ["MULTI"], ["GET", "x"], ["SUBSCRIBE", "ch"], ["EXEC"],  # allowed: subscribed after
]


def _command(argv: list[str]) -> bytes:
    out = f"*{len(argv)}\r\n"
    for arg in argv:
        out += f"${len(arg.encode())}\r\n{arg}\r\n"
    return out.encode()


def _until_end(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(END):
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    return data[:-len(END)]


def _session(port: int, proto: int, auth: bool) -> bytes:
    """The replies to SCRIPT (after HELLO ``proto``, which is not compared)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        hello = ["HELLO", str(proto)] + (["AUTH", ROOT_KEY_ID, ROOT_SECRET] if auth else [])
        sock.sendall(_command(hello) + _command(["FLUSHALL"]) + _command(["PING", "__end__"]))
        _until_end(sock)
        sock.sendall(b"".join(_command(argv) for argv in SCRIPT)
                     + _command(["PING", "__end__"]))
        return _until_end(sock)


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    with reference_redis() as port:
        yield port


@pytest.mark.parametrize("proto", [2, 3])
def test_same_bytes_as_redis_server(node, redis_port, proto):
    expected = _session(redis_port, proto, auth=False)
    got = _session(node.redis_port, proto, auth=True)
    assert got.split(b"\r\n") == expected.split(b"\r\n")
