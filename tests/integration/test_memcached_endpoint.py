"""The memcached endpoint of real `engine serve --manual-clock` processes against
pymemcache (base client, and HashClient over two nodes) and raw sockets: the text and
meta protocols, memcached 1.6's exact reply and error texts (taken from a memcached
1.6.18 server), expiry on the engine clock, and bounded input
(docs/cache.md, "Memcached endpoint")."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from credentials import ROOT_KEY_ID, ROOT_SECRET
from helpers_sqs import advance_clock
from ports import free_port
from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient
from pymemcache.exceptions import MemcacheServerError

MIB = 1024 * 1024


class Node:
    def __init__(self, server, port: int) -> None:
        self.server = server
        self.port = port

    def raw(self, data: bytes, timeout: float = 1.0, expect: int | None = None) -> bytes:
        return raw(self.port, data, timeout, expect)

    def advance(self, seconds: float) -> None:
        advance_clock(self.server.endpoint, seconds)


def raw(port: int, data: bytes, timeout: float = 1.0, expect: int | None = None) -> bytes:
    """What the node answers to ``data`` until it closes or goes quiet for ``timeout``;
    with ``expect`` (a length), until that much came and then briefly quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(data)
        except (ConnectionResetError, BrokenPipeError):  # closed before it all went out
            return b"<closed>"
        s.settimeout(timeout if expect is None else 10)
        chunks: list[bytes] = []
        got = 0
        try:
            while chunk := s.recv(1 << 20):
                chunks.append(chunk)
                got += len(chunk)
                if expect is not None and got >= expect:
                    s.settimeout(0.05)  # anything more is a wrong extra reply
        except TimeoutError:
            pass
        except ConnectionResetError:  # closed with our bytes unread
            chunks.append(b"<closed>")
        else:
            chunks.append(b"<closed>")
        return b"".join(chunks)


def start(module_server_factory, *extra: str) -> Node:
    port = free_port()
    server = module_server_factory("--manual-clock", "--memcached-listen",
                                   f"127.0.0.1:{port}", *extra)
    return Node(server, port)


@pytest.fixture(scope="module")
def node(module_server_factory) -> Node:
    return start(module_server_factory)


@pytest.fixture
def mc(node) -> Iterator[Client]:
    client = Client(("127.0.0.1", node.port), default_noreply=False, connect_timeout=5,
                    timeout=10)
    yield client
    client.close()


def test_pymemcache_storage_and_retrieval(mc):
    assert mc.version() == b"1.6.21"
    assert mc.set("s:a", b"1") is True and mc.get("s:a") == b"1"
    value, cas = mc.gets("s:a")
    assert value == b"1"
    assert mc.cas("s:a", b"2", cas) is True
    assert mc.cas("s:a", b"3", cas) is False  # EXISTS: changed since gets
    assert mc.cas("s:missing", b"3", cas) is None  # NOT_FOUND
    assert mc.add("s:a", b"x") is False and mc.add("s:b", b"x") is True
    assert mc.replace("s:missing", b"y") is False and mc.replace("s:b", b"y") is True
    assert mc.append("s:a", b"9") is True and mc.prepend("s:a", b"8") is True
    assert mc.append("s:missing", b"9") is False
    assert mc.get("s:a") == b"829"
    assert mc.set_many({"s:x": b"1", "s:y": b"2"}) == []
    assert mc.get_many(["s:x", "s:nope", "s:y"]) == {"s:x": b"1", "s:y": b"2"}
    assert mc.delete("s:x") is True and mc.delete("s:x") is False
    assert mc.delete_many(["s:y", "s:nope"]) is True and mc.get("s:y") is None


def test_pymemcache_flags_round_trip_through_serde(node):
    from pymemcache import serde

    client = Client(("127.0.0.1", node.port), serde=serde.pickle_serde)
    client.set("serde:obj", {"a": [1, 2]}, noreply=False)
    client.set("serde:int", 42, noreply=False)
    assert client.get("serde:obj") == {"a": [1, 2]}
    assert client.get("serde:int") == 42  # flags said "int"
    client.close()


def test_incr_and_decr_wrap_as_memcached(mc):
    mc.set("n:a", b"10")
    assert mc.incr("n:a", 5) == 15
    assert mc.decr("n:a", 100) == 0  # stops at 0
    assert mc.incr("n:a", 2**64 - 1) == 2**64 - 1
    assert mc.incr("n:a", 2) == 1  # wraps at 64 bits
    assert mc.incr("n:missing", 1) is None
    mc.set("n:text", b"ab")
    with pytest.raises(Exception, match="cannot increment or decrement non-numeric value"):
        mc.incr("n:text", 1)


def test_expiry_touch_and_gat_on_the_engine_clock(node, mc):
    mc.set("t:a", b"v", expire=10)
    mc.set("t:b", b"v", expire=10)
    mc.set("t:forever", b"v")
    assert mc.touch("t:b", 100) is True and mc.touch("t:missing", 100) is False
    assert node.raw(b"gat 200 t:forever t:missing\r\n") == b"VALUE t:forever 0 1\r\nv\r\nEND\r\n"
    assert node.raw(b"mg t:forever t\r\n") == b"HD t200\r\n"
    node.advance(11)
    assert mc.get("t:a") is None and mc.get("t:b") == b"v"
    node.advance(100)
    assert mc.get("t:b") is None and mc.get("t:forever") == b"v"
    assert node.raw(b"set t:past 0 -1 1\r\nx\r\nget t:past\r\n") == b"STORED\r\nEND\r\n"
    assert node.raw(b"set t:abs 0 1000000000 1\r\nx\r\nget t:abs\r\n") == b"STORED\r\nEND\r\n"


def test_flush_all_leaves_redis_keys(node, mc):
    with redis.Redis(port=node.server.redis_port, username=ROOT_KEY_ID,
                     password=ROOT_SECRET) as r:
        r.set("shared-name", "redis")
        mc.set("shared-name", b"memcached")
        assert r.get("shared-name") == b"redis"  # separate namespaces
        assert mc.get("shared-name") == b"memcached"
        assert mc.flush_all() is True
        assert mc.get("shared-name") is None and r.get("shared-name") == b"redis"
        r.delete("shared-name")


def test_flush_all_with_a_delay(node, mc):
    mc.set("f:old", b"1")
    assert node.raw(b"flush_all 30\r\n") == b"OK\r\n"
    node.advance(10)
    mc.set("f:newer", b"2")
    assert mc.get("f:old") == b"1"
    node.advance(20)
    assert mc.get("f:old") is None and mc.get("f:newer") is None
    mc.set("f:after", b"3")
    assert mc.get("f:after") == b"3"


def test_stats_with_memcached_field_names(mc):
    mc.set("st:a", b"12345")
    mc.get("st:a")
    mc.get("st:missing")
    stats = mc.stats()
    for name in (b"pid", b"uptime", b"version", b"curr_connections", b"cmd_get", b"cmd_set",
                 b"get_hits", b"get_misses", b"curr_items", b"bytes", b"limit_maxbytes",
                 b"evictions", b"total_items"):
        assert name in stats
    assert stats[b"curr_items"] >= 1 and stats[b"get_hits"] >= 1
    assert mc.stats("settings")[b"item_size_max"] == MIB


def test_item_size_limit(mc, node):
    with pytest.raises(MemcacheServerError, match="object too large for cache"):
        mc.set("big", b"x" * MIB)
    assert mc.set("big", b"x" * (MIB - 100)) is True
    assert len(mc.get("big")) == MIB - 100
    # a failed set does not leave the older value readable (memcached unlinks it)
    assert node.raw(b"set big 0 0 2000000\r\n" + b"x" * 2_000_000 + b"\r\nget big\r\n",
                    timeout=2) == b"SERVER_ERROR object too large for cache\r\nEND\r\n"


def test_a_smaller_item_limit(module_server_factory):
    small = start(module_server_factory, "--memcached-max-item", "2KiB")
    assert small.raw(b"set k 0 0 2000\r\n" + b"x" * 2000 + b"\r\n") == (  # 1+2000+48
        b"SERVER_ERROR object too large for cache\r\n")
    assert small.raw(b"set k 0 0 1000\r\n" + b"x" * 1000 + b"\r\n") == b"STORED\r\n"


# Request -> reply, byte for byte what memcached 1.6.18 answers (except where noted).
TEXT_VECTORS = [
    (b"bogus\r\n", b"ERROR\r\n"),
    (b"GET a\r\n", b"ERROR\r\n"),  # commands are case-sensitive
    (b"\r\n", b"ERROR\r\n"),
    (b"get\r\n", b"ERROR\r\n"),
    (b"get " + b"k" * 251 + b"\r\n", b"CLIENT_ERROR bad command line format\r\n"),
    (b"set " + b"k" * 251 + b" 0 0 1\r\nx\r\n",
     b"CLIENT_ERROR bad command line format\r\nERROR\r\n"),  # the data line is a command
    (b"set v:a 0 0 -1\r\n", b"CLIENT_ERROR bad command line format\r\n"),
    (b"set v:a 0 0 abc\r\n", b"CLIENT_ERROR bad command line format\r\n"),
    (b"set v:a 0 0\r\n", b"ERROR\r\n"),
    (b"set v:a -1 0 1\r\nx\r\n", b"CLIENT_ERROR bad command line format\r\nERROR\r\n"),
    (b"set v:a 0 0 3\r\nabcd\r\n", b"CLIENT_ERROR bad data chunk\r\nERROR\r\n"),
    (b"set v:a 0 0 1 junk\r\nx\r\n", b"STORED\r\n"),
    (b"set v:a 0 0 1 noreply\r\nx\r\nmn\r\n", b"MN\r\n"),
    (b"set v:n 0 0 2\r\n10\r\nincr v:n abc\r\nincr v:n -1\r\n",
     b"STORED\r\nCLIENT_ERROR invalid numeric delta argument\r\n"
     b"CLIENT_ERROR invalid numeric delta argument\r\n"),
    (b"set v:t 0 0 2\r\nab\r\nincr v:t 1\r\n",
     b"STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"),
    (b"set v:s 0 0 3\r\n12 \r\nincr v:s 1\r\n", b"STORED\r\n13\r\n"),
    (b"incr\r\nincr v:a\r\nincr v:a 1 2 3\r\n", b"ERROR\r\n" * 3),
    (b"set v:d 0 0 1\r\nx\r\ndelete v:d 0\r\ndelete v:d 5\r\ndelete v:d\r\n",
     b"STORED\r\nDELETED\r\n"
     b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
     b"NOT_FOUND\r\n"),
    (b"touch v:nokey 10\r\ntouch v:a abc\r\ntouch v:a\r\n",
     b"NOT_FOUND\r\nCLIENT_ERROR invalid exptime argument\r\nERROR\r\n"),
    (b"gat\r\ngat abc v:a\r\ngat 10\r\n",
     b"ERROR\r\nCLIENT_ERROR invalid exptime argument\r\nEND\r\n"),
    (b"cas v:a 0 0 1 999\r\nx\r\ncas v:nokey 0 0 1 1\r\nx\r\ncas v:a 0 0 1 abc\r\nx\r\n",
     b"EXISTS\r\nNOT_FOUND\r\nCLIENT_ERROR bad command line format\r\nERROR\r\n"),
    (b"flush_all abc\r\nflush_all noreply\r\nmn\r\n",
     b"CLIENT_ERROR invalid exptime argument\r\nMN\r\n"),
    (b"verbosity 1\r\nverbosity\r\nverbosity x\r\nverbosity 1 2 3\r\n",
     b"OK\r\nERROR\r\nCLIENT_ERROR bad command line format\r\nERROR\r\n"),
    (b"incr v:nokey abc noreply\r\nmn\r\n", b"MN\r\n"),  # noreply silences errors too
    (b"stats nothing\r\nstats items\r\n", b"ERROR\r\nEND\r\n"),
    (b"quit\r\nmn\r\n", b"<closed>"),
    # Not memcached 1.6.18's answers, on purpose: it cuts flags over 32 bits and takes
    # control characters in keys; protocol.txt forbids both.
    (b"set v:f 4294967296 0 1\r\nx\r\n", b"CLIENT_ERROR bad command line format\r\nERROR\r\n"),
    (b"set v:\x01 0 0 1\r\nx\r\n", b"CLIENT_ERROR bad command line format\r\nERROR\r\n"),
]


@pytest.mark.parametrize(("request_bytes", "reply"), TEXT_VECTORS)
def test_text_protocol_replies(node, request_bytes, reply):
    assert node.raw(request_bytes, expect=len(reply)) == reply


META_VECTORS = [
    (b"mg m:missing v\r\nmg m:missing v q\r\nmn\r\n", b"EN\r\nMN\r\n"),
    (b"ms m:a 2 T90 F5\r\nhi\r\nmg m:a s v f t k\r\nmg m:a\r\nmg m:a k O123 q\r\n",
     b"HD\r\nVA 2 s2 f5 t90 km:a\r\nhi\r\nHD\r\nHD km:a O123\r\n"),
    (b"ms m:a 2 Z\r\nhi\r\n", b"CLIENT_ERROR invalid flag\r\n"),  # the data is skipped
    (b"ms m:a 2 T\r\nhi\r\nms m:a 2 Tabc\r\nhi\r\n",
     b"CLIENT_ERROR bad token in command line format\r\n" * 2),
    (b"ms m:a 2 MX\r\nhi\r\n", b"CLIENT_ERROR invalid mode for ms M token\r\n"),
    (b"ms m:a abc\r\nhi\r\n", b"CLIENT_ERROR bad command line format\r\nERROR\r\n"),
    (b"ms m:a\r\n", b"CLIENT_ERROR bad command line format\r\n"),
    (b"ms m:a 2\r\nhiX\r\n", b"CLIENT_ERROR bad data chunk\r\nERROR\r\n"),
    (b"ms m:e 2\r\nhi\r\nms m:e 2 ME\r\nhi\r\nms m:e2 2 ME\r\nhi\r\nms m:nokey 2 MR\r\nhi\r\n"
     b"ms m:e 2 MA\r\nxx\r\nms m:e 2 MP\r\nyy\r\nmg m:e v\r\n",
     b"HD\r\nNS\r\nHD\r\nNS\r\nHD\r\nHD\r\nVA 6\r\nyyhixx\r\n"),
    (b"ms m:c 2 C1\r\nhi\r\nms m:nokey 2 C1\r\nhi\r\n", b"NF\r\nNF\r\n"),
    (b"ms m:q 2 q\r\nhi\r\nms m:q 2 q ME\r\nhi\r\nmn\r\n", b"NS\r\nMN\r\n"),
    (b"ms m:d 1\r\nx\r\nmd m:d q\r\nmd m:d q\r\nmd m:d\r\nmd m:d O5\r\nmn\r\n",
     b"HD\r\nNF\r\nNF\r\nNF O5\r\nMN\r\n"),
    (b"ma m:cnt\r\nma m:cnt q\r\nma m:cnt N0 J10 v\r\nma m:cnt v\r\nma m:cnt MD D20 v\r\n"
     b"ma m:cnt MI D5 v t\r\nma m:cnt Mx\r\nma m:cnt Dabc\r\nmn\r\n",
     b"NF\r\nNF\r\nVA 2\r\n10\r\nVA 2\r\n11\r\nVA 1\r\n0\r\nVA 1 t-1\r\n5\r\n"
     b"CLIENT_ERROR invalid mode for ma M token\r\nCLIENT_ERROR invalid or duplicate flag\r\n"
     b"MN\r\n"),
    (b"ma m:n N60 J5 t\r\nma m:n MI D18446744073709551615 v\r\nma m:n M+ v\r\n",
     b"HD t60\r\nVA 1\r\n4\r\nVA 1\r\n5\r\n"),
    (b"set m:str 0 0 1\r\na\r\nma m:str\r\n",
     b"STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"),
    (b"mg m:viv N30 v t\r\nmg m:viv v t\r\nmg m:viv v\r\n",
     b"VA 0 t30 W\r\n\r\nVA 0 t30 Z\r\n\r\nVA 0 Z\r\n\r\n"),
    (b"ms m:rc 1 T10\r\nx\r\nmg m:rc R30 v t\r\nmg m:rc R30 v t\r\n",
     b"HD\r\nVA 1 t10 W\r\nx\r\nVA 1 t10 Z\r\nx\r\n"),
    (b"ms m:st 2 T100\r\nhi\r\nmd m:st I T30\r\nmg m:st v t\r\nmg m:st v t\r\n",
     b"HD\r\nHD\r\nVA 2 t30 X W\r\nhi\r\nVA 2 t30 Z X\r\nhi\r\n"),
    (b"ms m:st2 2\r\nhi\r\nmd m:st2 I\r\nmg m:st2 v\r\nms m:st2 2\r\nok\r\nmg m:st2 v\r\n",
     b"HD\r\nHD\r\nVA 2 X W\r\nhi\r\nHD\r\nVA 2\r\nok\r\n"),
    (b"ms bb 2 b\r\nhi\r\nms Zm9v 2 b\r\nhi\r\nmg Zm9v b v k\r\nget foo\r\n",
     b"CLIENT_ERROR error decoding key\r\nHD\r\nVA 2 kZm9v b\r\nhi\r\n"
     b"VALUE foo 0 2\r\nhi\r\nEND\r\n"),
    (b"set m:h 0 0 1\r\nx\r\nmg m:h h l\r\nmg m:h h l\r\n", b"STORED\r\nHD h0 l0\r\nHD h1 l0\r\n"),
    (b"mg m:h v v\r\nmg m:h j\r\n",
     b"CLIENT_ERROR duplicate flag\r\nCLIENT_ERROR invalid flag\r\n"),
    (b"mg m:h O" + b"9" * 40 + b"\r\n", b"CLIENT_ERROR opaque token too long\r\n"),
    (b"mg " + b"k" * 251 + b" v\r\n", b"CLIENT_ERROR bad command line format\r\n"),
    (b"mg\r\nma\r\nmd\r\nms\r\nme\r\nmn extra\r\n",
     b"ERROR\r\n" * 4 + b"CLIENT_ERROR bad command line format\r\nMN\r\n"),
    (b"ms m:big 2000000 q\r\n" + b"x" * 2_000_000 + b"\r\nmn\r\n",
     b"SERVER_ERROR object too large for cache\r\nMN\r\n"),
]


@pytest.mark.parametrize(("request_bytes", "reply"), META_VECTORS)
def test_meta_protocol_replies(node, request_bytes, reply):
    assert node.raw(request_bytes, expect=len(reply)) == reply


def test_meta_cas_tokens(node):
    reply = node.raw(b"ms m:cas 1 c\r\nx\r\n")
    assert reply.startswith(b"HD c")
    cas = int(reply[4:-2])
    assert node.raw(b"ms m:cas 1 C%d c\r\ny\r\n" % (cas + 1)) == b"EX\r\n"
    second = node.raw(b"ms m:cas 1 C%d c\r\ny\r\n" % cas)
    assert second.startswith(b"HD c") and int(second[4:-2]) != cas
    assert node.raw(b"ms m:cas 1 E777\r\nz\r\nmg m:cas c v\r\n") == (
        b"HD\r\nVA 1 c777\r\nz\r\n")  # E: the client's own CAS value
    assert node.raw(b"gets m:cas\r\n") == b"VALUE m:cas 0 1 777\r\nz\r\nEND\r\n"


def test_hash_client_over_two_nodes(module_server_factory):
    nodes = [start(module_server_factory), start(module_server_factory)]
    client = HashClient([("127.0.0.1", n.port) for n in nodes], default_noreply=False,
                        connect_timeout=5, timeout=10)
    keys = [f"h:{i}" for i in range(200)]
    for key in keys:
        assert client.set(key, key.encode()) is True
    assert client.get_many(keys) == {key: key.encode() for key in keys}
    assert client.incr("h:counter", 1) is None
    client.set("h:counter", b"1")
    assert client.incr("h:counter", 41) == 42
    # no server-side clustering: each node holds only the keys the client sent it
    counts = [int(n.raw(b"stats\r\n").split(b"STAT curr_items ")[1].split(b"\r\n")[0])
              for n in nodes]
    assert sum(counts) == len(keys) + 1 and all(c > 20 for c in counts)
    assert client.delete_many(keys) is True
    assert client.get_many(keys) == {}
    client.close()


def test_garbage_never_takes_the_node_down(node):
    huge = node.raw(b"set g:huge 0 0 2000000000\r\n" + b"x" * 100_000)
    assert huge == b"SERVER_ERROR object too large for cache\r\n"
    assert node.raw(b"x" * 100_000) == b"<closed>"  # a line without end: closed at 2 KiB
    assert node.raw(b"get " + b"k " * 2_000_000) == b"<closed>"  # a multiget over 2 MiB
    assert node.raw(b"\x00\xff\r\n" * 1000).count(b"ERROR\r\n") == 1000
    assert node.raw(b"mn\r\n") == b"MN\r\n"


def test_a_client_that_does_not_read_is_not_buffered_for(node, mc):
    mc.set("slow:big", b"x" * 900_000)
    rss = _rss_kib(node.server.pid)
    with socket.create_connection(("127.0.0.1", node.port)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.settimeout(3)
        sent = 0
        try:
            for _ in range(500):  # 450 MB of replies asked for, none read
                sent += s.send(b"get slow:big\r\n")
        except TimeoutError:
            pass
        assert node.raw(b"mn\r\n") == b"MN\r\n"  # the node serves others meanwhile
        assert _rss_kib(node.server.pid) - rss < 100_000
    assert mc.get("slow:big") is not None


def _rss_kib(pid: int) -> int:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1])
    raise AssertionError("no VmRSS")


def test_a_non_loopback_address_needs_allow_remote(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "engine", "serve", "--data", str(tmp_path / "d"),
         "--listen", f"127.0.0.1:{free_port()}", "--memcached-listen", "0.0.0.0:11211"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "memcached has no authentication" in done.stderr
    assert "--memcached-allow-remote" in done.stderr
