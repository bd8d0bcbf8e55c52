"""The RESP side of the cache bench without a server: the codes failed commands are
counted under (from the exceptions redis-py's own parser makes of Redis's error replies),
addresses, --redis-url checks and the workload worker processes rebuild."""

from __future__ import annotations

import asyncio
import pickle
from dataclasses import fields

import pytest
from redis._parsers import _RESP2Parser
from redis.exceptions import ConnectionError as RedisConnectionError

from engine.bench import cache as bc
from engine.bench import cache_resp as cr
from engine.bench.workload import OpError


@pytest.mark.parametrize(("reply", "code"), [
    ("WRONGTYPE Operation against a key holding the wrong kind of value", "WRONGTYPE"),
    ("ERR internal error", "ERR"),
    ("ERR unknown command 'FOO', with args beginning with: ", "ERR"),
    ("OOM command not allowed when used memory > 'maxmemory'.", "OOM"),
    ("NOPERM User u has no permissions to run the 'set' command", "NOPERM"),
    ("MOVED 3999 127.0.0.1:6381", "MOVED"),
    ("ASK 3999 127.0.0.1:6381", "ASK"),
    ("CROSSSLOT Keys in request don't hash to the same slot", "CROSSSLOT"),
])
def test_error_replies_are_counted_under_redis_codes(reply, code):
    assert cr.resp_code(_RESP2Parser(65536).parse_error(reply)) == code


def test_client_side_failures_are_counted_under_their_exception():
    assert cr.resp_code(RedisConnectionError("refused")) == "ConnectionError"


def test_addresses_become_redis_urls():
    assert cr.redis_url("127.0.0.1:6379") == "redis://127.0.0.1:6379"
    assert cr.redis_url("rediss://u:p@h:6380") == "rediss://u:p@h:6380"


def test_redis_url_needs_one_url_per_endpoint():
    with pytest.raises(OpError, match=r"2 URL\(s\) for 3 --endpoint"):
        asyncio.run(cr.resp_endpoints(["a:1", "b:1", "c:1"], "redis://a:2,redis://b:2"))


def test_resp_workload_keeps_the_grpc_workloads_settings_and_pickles():
    base = bc.CacheWorkload(prefix="bench-x", bucket="b", keys=50, value_size=7,
                            read_ratio=0.5, phase_names=("get", "mget"), seed=3)
    resp = cr.RespCacheWorkload.of(base, {"127.0.0.1:1": "redis://127.0.0.1:2"}, True, 32)
    assert all(getattr(resp, f.name) == getattr(base, f.name)
               for f in fields(bc.CacheWorkload) if f.name != "name")
    assert (resp.cluster, resp.concurrency, resp.name) == (True, 32, "cache-resp")
    one = resp.only("get")
    assert isinstance(one, cr.RespCacheWorkload) and one.phases() == ("get",)
    assert pickle.loads(pickle.dumps(resp)) == resp  # worker processes are spawned


def test_passwords_are_redacted_from_urls():
    assert cr.redacted("redis://u:secret@h:6379") == "redis://u:***@h:6379"
    assert cr.redacted("rediss://:secret@h:6380/0?x=1") == "rediss://***@h:6380/0?x=1"
    assert cr.redacted("redis://u@h:1") == "redis://u@h:1"
    assert cr.redacted("redis://127.0.0.1:6379") == "redis://127.0.0.1:6379"
