"""engine/cache/local.py: commands on the local store, namespaces, and the key states a
primary copies to its replica (applied to a second store, as a replica would)."""

from __future__ import annotations

import pytest

from engine.cache.local import OBJECTS, USER, call_keys, execute, key_states, load
from engine.cache.store import ENTRY_OVERHEAD, CacheStore
from engine.clock import ManualClock
from engine.errors import EngineError
from engine.v1 import cache_pb2 as pb
from engine.v1 import cache_records_pb2 as rec


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def store(clock: ManualClock, budget: int = 1 << 20) -> CacheStore:
    return CacheStore(budget, clock)


def test_user_and_object_keys_never_meet(clock: ManualClock) -> None:
    s = store(clock)
    execute(s, rec.CacheCall(set=pb.CacheSetRequest(key=b"k", value=b"user")))
    execute(s, rec.CacheCall(set=pb.CacheSetRequest(key=b"k", value=b"body"), objects=True))
    user, _ = execute(s, rec.CacheCall(get=pb.CacheGetRequest(key=b"k")))
    obj, _ = execute(s, rec.CacheCall(get=pb.CacheGetRequest(key=b"k"), objects=True))
    assert (user.get.value, obj.get.value) == (b"user", b"body")
    count, written = execute(s, rec.CacheCall(delete=pb.CacheKeysRequest(keys=[b"k"])))
    assert count.count.count == 1 and written == [USER + b"k"]
    obj, _ = execute(s, rec.CacheCall(get=pb.CacheGetRequest(key=b"k"), objects=True))
    assert obj.get.found and obj.get.value == b"body"
    assert s.peek(OBJECTS + b"k") == (b"body", None)


def test_reads_write_nothing_and_refused_writes_report_no_keys(clock: ManualClock) -> None:
    s = store(clock)
    for call in (rec.CacheCall(get=pb.CacheGetRequest(key=b"a")),
                 rec.CacheCall(mget=pb.CacheKeysRequest(keys=[b"a", b"b"])),
                 rec.CacheCall(exists=pb.CacheKeysRequest(keys=[b"a"])),
                 rec.CacheCall(ttl=pb.CacheKeyRequest(key=b"a")),
                 rec.CacheCall(set=pb.CacheSetRequest(key=b"a", value=b"1", xx=True)),
                 rec.CacheCall(expire=pb.CacheExpireRequest(key=b"a", px=10))):
        assert execute(s, call)[1] == []
    reply, _ = execute(s, rec.CacheCall(ttl=pb.CacheKeyRequest(key=b"a")))
    assert reply.ttl.pttl == -2


def test_set_get_old_value(clock: ManualClock) -> None:
    s = store(clock)
    first, _ = execute(s, rec.CacheCall(set=pb.CacheSetRequest(key=b"a", value=b"1", get=True)))
    assert first.set.written and not first.set.had_old
    second, _ = execute(s, rec.CacheCall(set=pb.CacheSetRequest(key=b"a", value=b"2",
                                                                 get=True)))
    assert second.set.had_old and second.set.old_value == b"1"


def test_errors_propagate_with_their_code(clock: ManualClock) -> None:
    s = store(clock)
    execute(s, rec.CacheCall(set=pb.CacheSetRequest(key=b"a", value=b"x")))
    with pytest.raises(EngineError) as err:
        execute(s, rec.CacheCall(incr_by=pb.CacheIncrByRequest(key=b"a", amount=1)))
    assert err.value.code == "NotAnInteger"
    with pytest.raises(EngineError) as err:
        execute(s, rec.CacheCall(set=pb.CacheSetRequest(key=b"a", value=b"x", px=0)))
    assert err.value.code == "InvalidExpireTime"


def test_replica_ends_with_the_primarys_states(clock: ManualClock) -> None:
    primary, replica = store(clock), store(clock)
    calls = [
        rec.CacheCall(mset=pb.CacheMSetRequest(entries=[pb.CacheEntry(key=b"a", value=b"1"),
                                                        pb.CacheEntry(key=b"b", value=b"2")])),
        rec.CacheCall(incr_by=pb.CacheIncrByRequest(key=b"a", amount=41)),
        rec.CacheCall(set=pb.CacheSetRequest(key=b"t", value=b"v", px=5000)),
        rec.CacheCall(delete=pb.CacheKeysRequest(keys=[b"b", b"zz"])),
        rec.CacheCall(expire=pb.CacheExpireRequest(key=b"a", px=60_000)),
    ]
    for call in calls:
        _, written = execute(primary, call)
        load(replica, key_states(primary, written))
    for key in (b"a", b"b", b"t", b"zz"):
        assert replica.peek(USER + key) == primary.peek(USER + key)
    assert replica.peek(USER + b"a") is not None
    clock.advance(6)  # absolute expiry: both drop "t" at the same moment
    assert replica.get(USER + b"t") is None and primary.get(USER + b"t") is None
    assert replica.get(USER + b"a") == b"42"


def test_a_state_that_does_not_fit_leaves_no_older_value(clock: ManualClock) -> None:
    replica = CacheStore(ENTRY_OVERHEAD + 64, clock)
    replica.set(USER + b"k", b"old")
    big = rec.CacheKeyState(key=USER + b"k", present=True, value=b"x" * 200)
    load(replica, [big])  # OOM on the replica: dropped, never the stale value
    assert replica.get(USER + b"k") is None


def test_call_keys() -> None:
    assert call_keys(rec.CacheCall(get=pb.CacheGetRequest(key=b"a"))) == [b"a"]
    assert call_keys(rec.CacheCall(mget=pb.CacheKeysRequest(keys=[b"a", b"b"]))) == [b"a", b"b"]
    assert call_keys(rec.CacheCall(mset=pb.CacheMSetRequest(
        entries=[pb.CacheEntry(key=b"m", value=b"")]))) == [b"m"]
    assert call_keys(rec.CacheCall()) == []
