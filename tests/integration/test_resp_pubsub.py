"""Pub/sub on the RESP endpoint of a real `engine serve`: redis-py's PubSub (RESP2 and
RESP3 push frames), redis-cli's subscribe, the wire replies pinned byte for byte as
redis-server 7 sends them, channel permissions, and the pubsub output buffer limit
against a subscriber that never reads (hard limit at once, soft limit on the engine
clock, which this node runs manually)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from credentials import ROOT_KEY_ID, ROOT_SECRET
from helpers_sqs import advance_clock

from engine.client import client

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def node(module_server_factory):
    return module_server_factory("--manual-clock")


def connect(node, **kw) -> redis.Redis:
    return redis.Redis(port=node.redis_port, username=ROOT_KEY_ID, password=ROOT_SECRET, **kw)


@pytest.fixture
def r(node) -> Iterator[redis.Redis]:
    with connect(node, protocol=2) as c:
        yield c


def raw_socket(node, rcvbuf: int | None = None) -> socket.socket:
    """An authenticated RESP connection; ``rcvbuf`` shrinks what the kernel holds for it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(5)
    s.connect(("127.0.0.1", node.redis_port))
    assert exchange(s, b"AUTH %s %s\r\n" % (ROOT_KEY_ID.encode(), ROOT_SECRET.encode()),
                    b"+OK\r\n") == b"+OK\r\n"
    return s


def exchange(s: socket.socket, request: bytes, expect: bytes) -> bytes:
    """Send ``request``; read until ``expect``'s length arrived (or the peer went quiet)."""
    s.sendall(request)
    got = b""
    deadline = time.monotonic() + 5
    while len(got) < len(expect) and time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def read_until(s: socket.socket, end: bytes) -> bytes:
    got = b""
    while not got.endswith(end):
        chunk = s.recv(65536)
        assert chunk, f"closed after {got!r}"
        got += chunk
    return got


# What redis-server 7.0.15 answered to these, on one connection, byte for byte.
REDIS_REPLIES: list[tuple[bytes, bytes]] = [
    (b"SUBSCRIBE a b\r\n",
     b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"),
    (b"GET x\r\n", b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                   b"PING / QUIT / RESET are allowed in this context\r\n"),
    (b"PING\r\n", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"),
    (b"PING hi\r\n", b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n"),
    (b"CLIENT ID\r\n", b"-ERR Can't execute 'client|id': only (P|S)SUBSCRIBE / "
                       b"(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"),
    (b"PSUBSCRIBE p*\r\n", b"*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n"),
    (b"UNSUBSCRIBE\r\n", b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:2\r\n"
                         b"*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:1\r\n"),
    (b"PUNSUBSCRIBE\r\n", b"*3\r\n$12\r\npunsubscribe\r\n$2\r\np*\r\n:0\r\n"),
    (b"UNSUBSCRIBE\r\n", b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"),
    (b"PING\r\n", b"+PONG\r\n"),
    (b"HELLO 3\r\n", b"%7\r\n"),  # (only its start: the server's version differs)
    (b"SUBSCRIBE c\r\n", b">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"),
    (b"PUBLISH c m\r\n", b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n:1\r\n"),
    (b"PSUBSCRIBE c*\r\n", b">3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:2\r\n"),
    (b"PUBLISH c m2\r\n", b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nm2\r\n"
                          b">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$1\r\nc\r\n$2\r\nm2\r\n:2\r\n"),
    (b"PUBSUB NUMSUB c d\r\n", b"*4\r\n$1\r\nc\r\n:1\r\n$1\r\nd\r\n:0\r\n"),
    (b"PUBSUB NUMPAT\r\n", b":1\r\n"),
    (b"PUBSUB CHANNELS\r\n", b"*1\r\n$1\r\nc\r\n"),
    (b"PING\r\n", b"+PONG\r\n"),
    (b"SSUBSCRIBE s\r\n", b">3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n"),
    (b"SPUBLISH s z\r\n", b">3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$1\r\nz\r\n:1\r\n"),
    (b"SUNSUBSCRIBE\r\n", b">3\r\n$12\r\nsunsubscribe\r\n$1\r\ns\r\n:0\r\n"),
    (b"RESET\r\n", b"+RESET\r\n"),
    (b"AUTH %s %s\r\n" % (ROOT_KEY_ID.encode(), ROOT_SECRET.encode()), b"+OK\r\n"),
    (b"PUBSUB CHANNELS\r\n", b"*0\r\n"),
    (b"UNSUBSCRIBE\r\n", b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"),
    (b"SUBSCRIBE\r\n", b"-ERR wrong number of arguments for 'subscribe' command\r\n"),
    (b"PUBSUB FOO\r\n", b"-ERR unknown subcommand 'FOO'. Try PUBSUB HELP.\r\n"),
    (b"PUBSUB CHANNELS a b\r\n", b"-ERR unknown subcommand or wrong number of arguments "
                                 b"for 'CHANNELS'. Try PUBSUB HELP.\r\n"),
    (b"PUBSUB NUMSUB\r\n", b"*0\r\n"),
]


def test_replies_are_redis_servers_byte_for_byte(node):
    with raw_socket(node) as s:
        for request, expected in REDIS_REPLIES:
            if request == b"HELLO 3\r\n":
                s.sendall(request)
                assert read_until(s, b"$7\r\nmodules\r\n*0\r\n").startswith(expected)
            else:
                assert exchange(s, request, expected) == expected, request


def test_redis_py_pubsub_channels_and_patterns_resp2(node, r):
    with connect(node, protocol=2) as sub_client:
        p = sub_client.pubsub()
        p.subscribe("news.tech")
        p.psubscribe("news.*")
        assert p.get_message(timeout=2) == {"type": "subscribe", "pattern": None,
                                            "channel": b"news.tech", "data": 1}
        assert p.get_message(timeout=2)["type"] == "psubscribe"
        assert r.publish("news.tech", "chips") == 2  # the channel and the pattern
        assert r.publish("news.art", "paint") == 1
        assert r.publish("weather", "rain") == 0
        got = [p.get_message(timeout=2) for _ in range(3)]
        assert got == [
            {"type": "message", "pattern": None, "channel": b"news.tech", "data": b"chips"},
            {"type": "pmessage", "pattern": b"news.*", "channel": b"news.tech",
             "data": b"chips"},
            {"type": "pmessage", "pattern": b"news.*", "channel": b"news.art",
             "data": b"paint"}]
        assert r.pubsub_channels() == [b"news.tech"]
        assert r.pubsub_channels("news.*") == [b"news.tech"]
        assert r.pubsub_numsub("news.tech", "weather") == [(b"news.tech", 1), (b"weather", 0)]
        assert r.pubsub_numpat() == 1
        mine = [c for c in r.client_list() if c["flags"] == "P"]
        assert [(c["sub"], c["psub"]) for c in mine] == [("1", "1")]
        assert r.info("clients")["pubsub_clients"] == 1
        assert r.info("stats")["pubsub_patterns"] == 1
        p.ping()
        assert p.get_message(timeout=2)["type"] == "pong"
        p.unsubscribe("news.tech")
        p.punsubscribe()
        assert p.get_message(timeout=2)["type"] == "unsubscribe"
        assert p.get_message(timeout=2)["data"] == 0
        p.close()
    assert r.pubsub_numpat() == 0 and r.publish("news.tech", "x") == 0


def test_redis_py_resp3_push_frames_and_a_handler(node, r):
    seen: list[dict] = []
    with connect(node, protocol=3) as sub_client:
        p = sub_client.pubsub()
        p.subscribe(**{"orders": seen.append})
        p.ssubscribe("carts")
        assert p.get_message(timeout=2)["type"] == "subscribe"
        assert p.get_message(timeout=2)["type"] == "ssubscribe"
        assert r.publish("orders", "o-1") == 1
        assert r.spublish("carts", "c-1") == 1
        deadline = time.monotonic() + 5
        smessage = None
        while (not seen or smessage is None) and time.monotonic() < deadline:
            m = p.get_message(timeout=0.5)
            if m is not None:
                smessage = m
        assert [m["data"] for m in seen] == [b"o-1"]
        assert smessage == {"type": "smessage", "pattern": None, "channel": b"carts",
                            "data": b"c-1"}
        assert r.pubsub_shardchannels() == [b"carts"]
        assert r.pubsub_shardnumsub("carts") == [(b"carts", 1)]
        p.close()


def test_resp3_runs_ordinary_commands_while_subscribed(node):
    with raw_socket(node) as s:
        s.sendall(b"HELLO 3\r\n")
        read_until(s, b"$7\r\nmodules\r\n*0\r\n")
        assert exchange(s, b"SUBSCRIBE q\r\n", b">3\r\n$9\r\nsubscribe\r\n$1\r\nq\r\n:1\r\n"
                        ) == b">3\r\n$9\r\nsubscribe\r\n$1\r\nq\r\n:1\r\n"
        assert exchange(s, b"SET k v\r\nGET k\r\n", b"+OK\r\n$1\r\nv\r\n") == (
            b"+OK\r\n$1\r\nv\r\n")


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-tools not installed")
def test_redis_cli_subscribe_prints_what_is_published(node, r):
    proc = subprocess.Popen(
        ["redis-cli", "-p", str(node.redis_port), "--user", ROOT_KEY_ID, "--pass",
         ROOT_SECRET, "--no-auth-warning", "subscribe", "alerts"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert [proc.stdout.readline() for _ in range(3)] == [b"subscribe\n", b"alerts\n",
                                                              b"1\n"]
        assert r.publish("alerts", "disk full") == 1
        assert [proc.stdout.readline() for _ in range(3)] == [b"message\n", b"alerts\n",
                                                              b"disk full\n"]
    finally:
        proc.kill()
        proc.wait(5)


def test_channel_permissions_come_from_the_users_access_string(node):
    ec = client("elasticache", endpoint=node.endpoint)
    ec.create_user(UserId="news-reader", UserName="news-reader", Engine="redis",
                   AccessString="on ~* &news.* +@all", Passwords=["news-reader-password-1"])
    with redis.Redis(port=node.redis_port, username="news-reader",
                     password="news-reader-password-1", protocol=2) as c:
        assert c.publish("news.a", "x") == 0
        with pytest.raises(redis.exceptions.NoPermissionError,
                           match="No permissions to access a channel"):
            c.publish("sports", "x")
        p = c.pubsub()
        p.subscribe("news.a")
        assert p.get_message(timeout=2)["type"] == "subscribe"
        p.close()
        p = c.pubsub()
        with pytest.raises(redis.exceptions.NoPermissionError):
            p.subscribe("sports")
            p.get_message(timeout=2)
        p.close()


def closed_by_peer(s: socket.socket) -> bool:
    """Whether the node has closed (or reset) the connection: read what is left."""
    s.settimeout(5)
    try:
        while s.recv(MIB):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


def rss(node) -> int:
    """The node's resident memory in bytes."""
    with open(f"/proc/{node.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_subscriber_that_never_reads_is_dropped_at_the_hard_limit(node, r):
    before = rss(node)
    with raw_socket(node, rcvbuf=4096) as s:
        confirm = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nslow\r\n:1\r\n"
        assert exchange(s, b"SUBSCRIBE slow\r\n", confirm) == confirm
        payload = b"x" * MIB
        sent = 0
        while r.pubsub_numsub("slow") == [(b"slow", 1)] and sent < 160:
            r.publish("slow", payload)
            sent += 1
        # Dropped past 32 MiB unread (plus what the kernel's socket buffers took).
        assert r.pubsub_numsub("slow") == [(b"slow", 0)]
        assert 32 <= sent <= 48
        assert rss(node) - before < 96 * MIB
        assert r.ping() is True  # the node is up
        assert closed_by_peer(s)
    assert r.info("stats")["client_output_buffer_limit_disconnections"] >= 1
    assert r.config_get("client-output-buffer-limit") == {  # Redis's default, as it says it
        "client-output-buffer-limit": "normal 0 0 0 slave 268435456 67108864 60 "
                                      "pubsub 33554432 8388608 60"}


def test_the_soft_limit_drops_a_subscriber_over_it_for_its_seconds(node, r):
    with raw_socket(node, rcvbuf=4096) as s:
        confirm = b"*3\r\n$9\r\nsubscribe\r\n$6\r\nlagger\r\n:1\r\n"
        assert exchange(s, b"SUBSCRIBE lagger\r\n", confirm) == confirm
        payload = b"y" * MIB
        for _ in range(20):  # over 8 MiB unread, under 32 MiB
            assert r.publish("lagger", payload) == 1
        advance_clock(node.endpoint, 30)
        assert r.publish("lagger", payload) == 1  # 30 s over the soft limit: kept
        advance_clock(node.endpoint, 31)
        assert r.publish("lagger", payload) == 1  # 61 s: this write closes it
        assert r.pubsub_numsub("lagger") == [(b"lagger", 0)]
        assert r.publish("lagger", payload) == 0
        assert closed_by_peer(s)
