"""engine/cache/commands/: argv parsed as Redis parses it, keys namespaced on the way in
and out, the store keys a write leaves for the replica, the reply as a CacheValue, and
the gRPC access rule that checks a command by its keys."""

from __future__ import annotations

import pytest

from engine.api.access_table import Access, Target, accesses
from engine.cache.commands import keys_of, run
from engine.cache.commands.reply import to_proto
from engine.cache.local import OBJECTS, USER, execute, key_states, load
from engine.cache.store import CacheStore
from engine.clock import ManualClock
from engine.errors import EngineError
from engine.v1 import cache_pb2 as pb
from engine.v1 import cache_records_pb2 as rec

TARGET = Target(account="123456789012", region="us-east-2")
ARN = "arn:aws:elasticache:us-east-2:123456789012:key/"


def argv(line: str) -> list[bytes]:
    return [w.encode() for w in line.split()]


@pytest.fixture
def store() -> CacheStore:
    return CacheStore(1 << 20, ManualClock())


def test_keys_are_namespaced_and_writes_name_their_store_keys(store):
    reply, written = run(store, argv("ZUNIONSTORE dst 2 a b WEIGHTS 1 2"), USER)
    assert reply == 0 and written == [USER + b"dst", USER + b"a", USER + b"b"]
    reply, written = run(store, argv("HSET h f v"), USER)
    assert reply == 1 and written == [USER + b"h"] and store.hget(USER + b"h", b"f") == b"v"
    assert run(store, argv("HGET h f"), USER) == (b"v", [])  # reads write nothing


def test_replies_that_name_keys_strip_the_namespace(store):
    run(store, argv("RPUSH l a b"), USER)
    run(store, argv("SET other x"), OBJECTS)  # the object cache's keys are never seen
    assert run(store, argv("KEYS *"), USER)[0] == [b"l"]
    assert run(store, argv("SCAN 0 COUNT 100"), USER)[0] == [b"0", [b"l"]]
    assert run(store, argv("RANDOMKEY"), USER)[0] == b"l"
    assert run(store, argv("DBSIZE"), USER)[0] == 1
    assert run(store, argv("LMPOP 1 l LEFT"), USER)[0] == [b"l", [b"a"]]


def test_keyless_reads_see_only_the_keys_this_node_serves(store):
    for key in ("a", "b", "c"):
        run(store, argv(f"SET {key} 1"), USER)
    owned = {b"a", b"c"}.__contains__
    assert sorted(run(store, argv("KEYS *"), USER, owned)[0]) == [b"a", b"c"]
    assert run(store, argv("DBSIZE"), USER, owned)[0] == 2


@pytest.mark.parametrize(("line", "text"), [
    ("HGET h", "wrong number of arguments for 'hget' command"),
    ("HMSET h a", "wrong number of arguments for 'hmset' command"),
    ("LRANGE l 0 x", "value is not an integer or out of range"),
    ("SPOP s -1", "value is out of range, must be positive"),
    ("SET k v EX 0", "invalid expire time in 'set' command"),
    ("SET k v NX XX", "syntax error"),
    ("GETEX k PERSIST EX 1", "syntax error"),
    ("EXPIRE k 10 FOO", "Unsupported option FOO"),
    ("ZRANGEBYLEX z - + WITHSCORES",
     "syntax error, WITHSCORES not supported in combination with BYLEX"),
    ("SINTERCARD 0 a", "numkeys should be greater than 0"),
    ("SINTERCARD 3 a", "Number of keys can't be greater than number of args"),
    ("NOSUCH a b", "unknown command 'NOSUCH', with args beginning with: 'a' 'b' "),
    ("MEMORY USAGE k SAMPLES", "syntax error"),
])
def test_errors_carry_redis_s_text(store, line, text):
    with pytest.raises(EngineError) as info:
        run(store, argv(line), USER)
    assert info.value.message == text


def test_key_positions_follow_redis_s_key_specs():
    assert keys_of(argv("ZINTERSTORE d 2 a b WEIGHTS 1 2")) == [b"d", b"a", b"b"]
    assert keys_of(argv("LMPOP 2 x y LEFT COUNT 3")) == [b"x", b"y"]
    assert keys_of(argv("OBJECT ENCODING k")) == [b"k"]
    assert keys_of(argv("SCAN 0 MATCH *")) == []


def test_replies_become_cache_values():
    value = to_proto([(b"m", 1.5), None, 3])
    assert value.array.items[0].pair.items[1].double == 1.5
    assert value.array.items[1].null and value.array.items[2].integer == 3
    assert to_proto({b"f": b"v"}).map.items[1].bulk == b"v"


def test_a_replica_loaded_from_the_written_states_answers_the_same(store):
    replica = CacheStore(1 << 20, ManualClock())
    for line in ("HSET h a 1 b 2", "RPUSH l x y", "SADD s m", "ZADD z 1.5 p 2 q",
                 "ZUNIONSTORE u 1 z", "RENAME s s2"):
        call = rec.CacheCall(command=pb.CacheCommand(argv=argv(line)))
        _, written = execute(store, call)
        load(replica, key_states(store, written))
    for line in ("HGETALL h", "LRANGE l 0 -1", "SMEMBERS s2", "ZRANGE u 0 -1 WITHSCORES",
                 "EXISTS s", "TYPE z"):
        assert run(replica, argv(line), USER) == run(store, argv(line), USER), line


def test_grpc_command_access_is_by_the_command_s_keys():
    def needs(line: str) -> list[Access]:
        request = pb.CacheCommand(argv=argv(line))
        return accesses("/engine.v1.Cache/Command", request, TARGET)

    assert needs("HGET h f") == [Access("elasticache:ReadKeys", ARN + "h")]
    assert needs("LMOVE a b LEFT RIGHT") == [
        Access("elasticache:ReadKeys", ARN + "a"), Access("elasticache:WriteKeys", ARN + "a"),
        Access("elasticache:WriteKeys", ARN + "b")]
    assert needs("KEYS *") == [Access("elasticache:ReadKeys", ARN + "*")]
    assert needs("BOGUS x") == [Access("elasticache:WriteKeys", ARN + "*")]


def test_a_tier_scan_walks_every_node_and_skips_one_that_does_not_answer():
    import asyncio

    from engine.cache.tier_keys import keyless

    stores = {n: CacheStore(1 << 20, ManualClock()) for n in ("n1", "n2", "n3")}
    for node, names in (("n1", "abc"), ("n2", ""), ("n3", "xy")):
        for name in names:
            run(stores[node], argv(f"SET {name} 1"), USER)

    async def ask(node: str, line: list[bytes]) -> pb.CacheValue | None:
        if node == "n2":
            return None  # down
        return to_proto(run(stores[node], line, USER)[0])

    async def walk() -> list[bytes]:
        found, cursor = [], b"0"
        while True:
            page = await keyless("scan", [b"SCAN", cursor, b"COUNT", b"2"],
                                 ["n3", "n2", "n1"], ask)
            cursor = page.array.items[0].bulk
            found += [k.bulk for k in page.array.items[1].array.items]
            if cursor == b"0":
                return found

    assert sorted(asyncio.run(walk())) == [b"a", b"b", b"c", b"x", b"y"]
    dbsize = asyncio.run(keyless("dbsize", [b"DBSIZE"], ["n1", "n2", "n3"], ask))
    assert dbsize.integer == 5
