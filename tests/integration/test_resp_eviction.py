"""maxmemory and maxmemory-policy on real `engine serve` nodes: CONFIG SET/GET and INFO
through redis-py, OOM under noeviction on the RESP, gRPC (SDK) and memcached endpoints,
`--cache-eviction-policy`, and CONFIG SET's error texts next to a real redis-server's
(docs/cache.md, "Eviction policies")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from credentials import ROOT_KEY_ID, ROOT_SECRET
from helpers_cache import assert_cache_error
from ports import free_port
from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheServerError
from reference_redis import reference_redis

from engine.client import client
from engine.client.errors import ResponseError

OOM = "command not allowed when used memory > 'maxmemory'."


@pytest.fixture(scope="module")
def node(module_server_factory):
    """A node whose memcached endpoint shares the cache share RESP uses."""
    node = module_server_factory("--memcached-listen", f"127.0.0.1:{free_port()}")
    node.memcached_port = int(node.extra_args[-1].rsplit(":", 1)[1])
    return node


@pytest.fixture
def r(node) -> Iterator[redis.Redis]:
    with redis.Redis(port=node.redis_port, username=ROOT_KEY_ID, password=ROOT_SECRET,
                     decode_responses=True) as c:
        c.flushall()
        yield c
        c.config_set("maxmemory", str(256 * 1024 * 1024))
        c.config_set("maxmemory-policy", "allkeys-lru")


def fill(r: redis.Redis, prefix: str, value: str, limit: int = 10_000) -> int:
    """SET keys until the node answers OOM; how many it took."""
    for i in range(limit):
        try:
            r.set(f"{prefix}{i}", value)
        except redis.exceptions.OutOfMemoryError as err:
            assert str(err) == OOM
            return i
    raise AssertionError("never refused")


def test_config_set_and_get_change_the_budget_and_policy(r):
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    assert r.config_set("maxmemory", "100kb") is True
    assert r.config_get("maxmemory") == {"maxmemory": "102400"}
    assert r.config_set("maxmemory-policy", "VOLATILE-LFU") is True
    assert r.config_get("maxmemory*") == {"maxmemory": "102400",
                                          "maxmemory-policy": "volatile-lfu"}
    assert r.execute_command("CONFIG", "SET", "maxmemory", "1mb",
                             "maxmemory-policy", "allkeys-random") == "OK"
    info = r.info("memory")
    assert info["maxmemory"] == 1024 * 1024 and info["maxmemory_policy"] == "allkeys-random"
    assert r.config_set("maxmemory", "2m") is True  # Redis's k/m/g are powers of 1000
    assert r.config_get("maxmemory") == {"maxmemory": "2000000"}


def test_noeviction_refuses_writes_with_oom_but_serves_reads_and_deletes(node, r):
    r.config_set("maxmemory", "64kb")
    r.config_set("maxmemory-policy", "noeviction")
    written = fill(r, "k", "x" * 500)
    assert written > 50 and r.dbsize() == written
    with pytest.raises(redis.exceptions.OutOfMemoryError, match="maxmemory"):
        r.rpush("list", "a")
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        r.mset({"k0": "y" * 1200, "new": "z"})  # grows more than one more SET could
    assert r.get("k0") == "x" * 500 and r.exists("new", "list") == 0  # nothing changed
    assert r.info("stats")["evicted_keys"] == 0
    assert r.delete("k0", "k1") == 2
    assert r.set("new", "z") is True  # room again
    # the SDK over gRPC: the same refusal, with the OOM code and a client status
    with client("cache", endpoint=node.endpoint) as cache:
        with pytest.raises(ResponseError) as info:
            cache.set("sdk-key", b"x" * 2000)
        assert_cache_error(info, "OOM")
        assert cache.get("k2") == b"x" * 500
    # memcached shares the share and says it its way
    mc = Client(("127.0.0.1", node.memcached_port), connect_timeout=5, timeout=10)
    try:
        with pytest.raises(MemcacheServerError, match="out of memory storing object"):
            mc.set("m", b"x" * 2000, noreply=False)
        assert mc.stats("settings")[b"evictions"] == b"off"  # memcached -M's word for it
    finally:
        mc.close()


def test_lowering_maxmemory_evicts_at_once_by_the_policy(r):
    r.config_set("maxmemory-policy", "volatile-ttl")
    for i in range(50):
        r.set(f"p{i}", "x" * 500)
        r.set(f"t{i}", "x" * 500, ex=1000 + i)
    before = r.info("stats")["evicted_keys"]
    r.config_set("maxmemory", "40kb")
    assert r.info("memory")["used_memory"] <= 40 * 1024
    evicted = r.info("stats")["evicted_keys"] - before
    assert evicted > 0 and r.dbsize() == 100 - evicted
    assert all(r.exists(f"p{i}") for i in range(50))  # no TTL: never a candidate
    assert r.exists("t49") and not r.exists("t0")  # the nearest expiries went first
    r.config_set("maxmemory-policy", "noeviction")
    r.config_set("maxmemory", "10kb")  # noeviction keeps the data
    assert r.dbsize() == 100 - evicted
    assert r.info("memory")["used_memory"] > 10 * 1024


def test_allkeys_lfu_keeps_the_hot_keys(r):
    r.config_set("maxmemory", "64kb")
    r.config_set("maxmemory-policy", "allkeys-lfu")
    r.set("hot", "x" * 500)
    with r.pipeline(transaction=False) as pipe:
        for _ in range(200):  # a counter well above a new key's 5, even after a minute
            pipe.get("hot")
        pipe.execute()
    assert r.object("freq", "hot") > 7
    for i in range(300):
        r.set(f"cold{i}", "x" * 500)
    assert r.get("hot") == "x" * 500 and r.info("stats")["evicted_keys"] > 100


def test_the_policy_flag_of_engine_serve(module_server_factory):
    node = module_server_factory("--cache-eviction-policy", "volatile-ttl",
                                 "--cache-bytes", "1MiB")
    with redis.Redis(port=node.redis_port, username=ROOT_KEY_ID, password=ROOT_SECRET,
                     decode_responses=True) as c:
        assert c.config_get("maxmemory*") == {"maxmemory": str(1024 * 1024),
                                              "maxmemory-policy": "volatile-ttl"}


BAD_CONFIG_SETS = [
    ("CONFIG", "SET", "maxmemory-policy", "allkeys-fifo"),
    ("CONFIG", "SET", "maxmemory", "abc"),
    ("CONFIG", "SET", "maxmemory", "1.5mb"),
    ("CONFIG", "SET", "maxmemory", "-1"),
    ("CONFIG", "SET", "maxmemory", "1tb"),
    ("CONFIG", "SET", "maxmemory", "+5"),
    ("CONFIG", "SET", "maxmemory", "1mb", "maxmemory", "2mb"),
    ("CONFIG", "SET", "maxmemory", "1mb", "nosuch", "1"),
    ("CONFIG", "SET", "maxmemory-policy", "noeviction", "maxmemory"),
    ("CONFIG", "SET", "maxmemory"),
    ("CONFIG", "SET", "maxmemory-policy", "bogus", "maxmemory", "abc"),
]


def reply(conn: redis.Redis, argv: tuple[str, ...]) -> str:
    try:
        return str(conn.execute_command(*argv))
    except redis.exceptions.ResponseError as err:
        return str(err)


@pytest.fixture(scope="module")
def reference() -> Iterator[redis.Redis]:
    """A real redis-server (no persistence) on a free loopback port."""
    with reference_redis() as port, redis.Redis(port=port, decode_responses=True) as conn:
        yield conn


@pytest.mark.parametrize("argv", BAD_CONFIG_SETS, ids=" ".join)
def test_config_set_errors_are_redis_texts(r, reference, argv):
    ours, theirs = reply(r, argv), reply(reference, argv)
    assert ours == theirs
    assert r.config_get("maxmemory") == {"maxmemory": str(256 * 1024 * 1024)}  # unchanged


def test_object_freq_needs_an_lfu_policy_as_in_redis(r, reference):
    for conn in (r, reference):
        conn.set("fk", "1")
    for argv in [("OBJECT", "FREQ", "fk"), ("OBJECT", "FREQ", "nosuch")]:
        assert reply(r, argv) == reply(reference, argv)
    assert "An LFU maxmemory policy is not selected" in reply(r, ("OBJECT", "FREQ", "fk"))


def test_maxmemory_zero_is_refused_here(r):
    """Redis reads 0 as "no limit"; a cache share here always has a budget."""
    with pytest.raises(redis.exceptions.ResponseError, match=r"'maxmemory'.*not supported"):
        r.config_set("maxmemory", "0")
