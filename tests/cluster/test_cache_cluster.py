"""The cache tier on a real 6-node, 3-AZ cluster with `--cache-replicas 1` (issue 6,
Distribution; engine/cache/service.py, slots.py, replicator.py).

What the design promises, checked with real processes:

* keys map to 16384 slots by CRC16 (honouring {hash tags}), the slots are spread over
  the six nodes and every slot has a replica in another AZ: the keys a node holds are
  exactly those whose slot it is primary or replica of, as `SlotMap.build` computes
  from the topology;
* any node accepts any key and forwards it to the owner; mset / mget / delete / exists
  spanning slots are split per owner and merged in the caller's order;
* with both nodes of one AZ killed (kill -9) every key written before stays readable
  with its value through every surviving node (failover to the replica), and writes
  and incr keep working; stats() shows the dead nodes unreachable;
* once the AZ is back the cluster serves again through every node;
* flushall empties every node.

Two tests at the end check the hand-over between a primary and its replica
(engine/cache/lease.py): a primary that comes back empty after kill -9 serves what its
replica kept, including writes taken during the outage; a primary resumed after SIGSTOP
does not serve the values the replica's writes replaced.

One cluster serves the module; the tests run in file order and each leaves every node
running (the AZ test restarts the zone it killed). Keys are prefixed per test, and
key-count checks compare stats() deltas, so the tests do not depend on each other's
leftovers.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from engine.cache.slots import SLOTS, SlotMap, key_slot
from engine.client.cache import STAT_FIELDS

from .conftest import Cluster, wait_until

DEFAULT_BUDGET = 256 * 1024 * 1024  # `engine serve` without --cache-bytes
SETTLE = 15.0  # seconds to wait for replica copies / a restarted node to be used again


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One running 6-node, 3-AZ cluster with a cache replica per slot, for the module."""
    c = Cluster(tmp_path_factory.mktemp("cache"), extra_args=("--cache-replicas", "1"))
    try:
        c.start()
        # Every node's cache answers (and has connected to every peer) before the tests.
        wait_until(lambda: all(s["reachable"] for s in c.cache("n1").stats()["nodes"].values()),
                   30, "every node in stats()")
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def slot_map(cluster: Cluster) -> SlotMap:
    """The map every node computes from the topology."""
    return SlotMap.build([(n.id, n.zone) for n in cluster.topology.nodes], 1)


# -- helpers ---------------------------------------------------------------------------


def owners(slot_map: SlotMap, key: str) -> tuple[str, ...]:
    return slot_map.owners(key_slot(key.encode()))


def expected_holders(slot_map: SlotMap, keys: Iterable[str]) -> Counter[str]:
    """node -> how many of ``keys`` it holds (as primary or as replica)."""
    return Counter(n for k in keys for n in owners(slot_map, k))


def key_counts(cluster: Cluster, via: str) -> dict[str, int]:
    """node -> keys in its store, from stats() through ``via``."""
    return {n: s["keys"] for n, s in cluster.cache(via).stats()["nodes"].items()}


def wait_key_deltas(cluster: Cluster, via: str, before: dict[str, int],
                    expected: Counter[str], what: str) -> None:
    """Until every node holds exactly ``expected[node]`` more keys than ``before``
    (replica copies are asynchronous, so they may land just after the write returns)."""
    want = {n: before[n] + expected.get(n, 0) for n in cluster.node_ids}
    last: dict[str, Any] = {}

    def check() -> bool:
        last["counts"] = key_counts(cluster, via)
        return last["counts"] == want

    try:
        wait_until(check, SETTLE, what)
    except AssertionError:
        raise AssertionError(f"{what}: keys per node {last.get('counts')}, expected {want} "
                             f"(before {before}, +{dict(expected)})") from None


def value_of(key: str) -> bytes:
    return f"value of {key}".encode()


# -- 1. any node, any key; slots spread over all nodes ----------------------------------


def test_slot_map_spreads_slots_with_replicas_in_other_azs(cluster: Cluster,
                                                          slot_map: SlotMap) -> None:
    """Every node is primary of a sixth of the slots (sizes within one) and every
    range's replica is another node in another AZ."""
    shares = {n: slot_map.slots_of(n) for n in cluster.node_ids}
    assert sum(shares.values()) == SLOTS
    assert max(shares.values()) - min(shares.values()) <= 1, shares
    replicas = Counter()
    for _, _, (primary, replica) in slot_map.ranges():
        assert cluster.zone(primary) != cluster.zone(replica), (primary, replica)
        replicas[replica] += 1
    assert set(replicas) == set(cluster.node_ids), replicas


def test_any_node_accepts_any_key(cluster: Cluster, slot_map: SlotMap) -> None:
    """A key set through one node reads back through every node, for keys owned by
    every node (so each node both serves locally and forwards); a TTL set through one
    node is seen through another."""
    nodes = cluster.node_ids
    keys: dict[str, str] = {}  # key -> node it is written through
    i = 0
    while {owners(slot_map, k)[0] for k in keys} != set(nodes) or len(keys) < 2 * len(nodes):
        keys[f"any:{i}"] = nodes[i % len(nodes)]
        i += 1
    for key, writer in keys.items():
        assert cluster.cache(writer).set(key, value_of(key)) is True
    for key, writer in keys.items():
        for reader in nodes:
            assert cluster.cache(reader).get(key) == value_of(key), (
                f"{key} (owners {owners(slot_map, key)}) set through {writer}, "
                f"read through {reader}")
    assert cluster.cache("n1").set("any:ttl", b"x", ex=300) is True
    for reader in nodes:
        assert 295 <= cluster.cache(reader).ttl("any:ttl") <= 300, reader
    assert cluster.cache("n5").get("any:missing") is None


def test_keys_spread_over_all_nodes(cluster: Cluster, slot_map: SlotMap) -> None:
    """600 keys written round-robin through the nodes: each node's store gains exactly
    the keys of the slots it is primary or replica of, and every node is primary for a
    share of them."""
    keys = [f"spread:{i}" for i in range(600)]
    primaries = Counter(owners(slot_map, k)[0] for k in keys)
    assert set(primaries) == set(cluster.node_ids), primaries
    assert min(primaries.values()) >= 50, primaries  # about 100 each
    before = key_counts(cluster, "n2")
    nodes = cluster.node_ids
    for i, key in enumerate(keys):
        assert cluster.cache(nodes[i % len(nodes)]).set(key, value_of(key)) is True
    expected = expected_holders(slot_map, keys)
    assert sum(expected.values()) == 2 * len(keys)  # one primary + one replica copy each
    wait_key_deltas(cluster, "n2", before, expected, "600 keys on their primaries and replicas")
    stats = cluster.cache("n6").stats()
    assert all(s["keys"] > 0 for s in stats["nodes"].values()), stats


# -- 2. multi-key calls spanning slots ---------------------------------------------------


def test_multi_key_calls_span_slots(cluster: Cluster, slot_map: SlotMap) -> None:
    """mset of 50 keys through n1, mget through n4 in a mixed order with missing keys
    interleaved: the values come back in request order, None where a key is missing.
    exists / delete count across slots (a key named twice counts twice)."""
    keys = [f"multi:{i}" for i in range(50)]
    assert len({owners(slot_map, k)[0] for k in keys}) == 6  # spans every primary
    mapping = {k: value_of(k) for k in keys}
    assert cluster.cache("n1").mset(mapping) is True

    query: list[str] = []
    for i, key in enumerate(reversed(keys)):
        query.append(key)
        if i % 4 == 0:
            query.append(f"multi:missing:{i}")
    got = cluster.cache("n4").mget(query)
    assert got == [mapping.get(k) for k in query]
    assert cluster.cache("n3").mget(keys[7], keys[3], "multi:nope") == [
        mapping[keys[7]], mapping[keys[3]], None]

    assert cluster.cache("n2").exists(*keys, "multi:missing:x", keys[0]) == 51
    assert cluster.cache("n5").delete(*keys[:25], "multi:missing:y") == 25
    assert cluster.cache("n6").exists(*keys) == 25
    assert cluster.cache("n2").delete(*keys[:25]) == 0
    assert cluster.cache("n3").mget(keys) == [None] * 25 + [mapping[k] for k in keys[25:]]


def test_hash_tags_keep_keys_together(cluster: Cluster, slot_map: SlotMap) -> None:
    """{user1}.a, {user1}.b, {user1}.c share a slot, so one node (and its replica) holds
    all three: stats() shows +3 keys on exactly those two nodes. Untagged keys with the
    same suffixes land elsewhere."""
    tagged = ["{user1}.a", "{user1}.b", "{user1}.c"]
    slots = {key_slot(k.encode()) for k in tagged}
    assert slots == {key_slot(b"user1")}
    primary, replica = owners(slot_map, tagged[0])
    assert all(owners(slot_map, k) == (primary, replica) for k in tagged)
    entry = next(n for n in cluster.node_ids if n not in (primary, replica))

    before = key_counts(cluster, entry)
    assert cluster.cache(entry).mset({k: value_of(k) for k in tagged}) is True
    wait_key_deltas(cluster, entry, before, Counter({primary: 3, replica: 3}),
                    f"hash-tagged keys on {primary} (+ replica {replica}) only")
    for reader in cluster.node_ids:
        assert cluster.cache(reader).mget(tagged) == [value_of(k) for k in tagged], reader
    assert cluster.cache(entry).delete(*tagged) == 3
    wait_key_deltas(cluster, entry, before, Counter(), "hash-tagged keys deleted")


# -- 4. stats ----------------------------------------------------------------------------


def check_totals(stats: dict[str, Any]) -> None:
    for field in STAT_FIELDS:
        assert stats["total"][field] == sum(s[field] for s in stats["nodes"].values()), field


def test_stats_lists_every_node(cluster: Cluster) -> None:
    """stats() through any node lists all six nodes, reachable, with the default budget;
    total = the sums; every entry node sees the same key counts."""
    views = {n: cluster.cache(n).stats() for n in cluster.node_ids}
    for via, stats in views.items():
        assert set(stats["nodes"]) == set(cluster.node_ids), via
        assert all(s["reachable"] for s in stats["nodes"].values()), (via, stats)
        assert stats["total"]["reachable"] is True
        assert all(s["budget"] == DEFAULT_BUDGET for s in stats["nodes"].values())
        check_totals(stats)
        assert {n: s["keys"] for n, s in stats["nodes"].items()} == {
            n: s["keys"] for n, s in views["n1"]["nodes"].items()}, via


# -- 3. one AZ down ----------------------------------------------------------------------


def test_az_down_reads_fail_over_and_writes_continue(cluster: Cluster,
                                                     slot_map: SlotMap) -> None:
    """200 keys, then kill -9 both nodes of az-1: through every surviving node every key
    reads back with its value (keys whose primary died come from the replica), stats()
    shows the two dead nodes unreachable, new keys can be written and read back, incr
    works on keys whose primary died (from the replicated value), delete works. After
    the AZ restarts the cluster serves through every node again: keys whose primary
    stayed up (whichever AZ their replica is in) read back through the restarted nodes,
    and new writes through the restarted nodes are read back everywhere."""
    doomed = cluster.nodes_in(cluster.zone("n1"))
    survivors = [n for n in cluster.node_ids if n not in doomed]
    keys = [f"az:{i}" for i in range(200)]
    counters = [k for k in (f"az:ctr:{i}" for i in range(200))
                if owners(slot_map, k)[0] in doomed][:6]
    assert {owners(slot_map, k)[0] for k in counters} == set(doomed)
    before = key_counts(cluster, "n2")
    for i, key in enumerate(keys):
        assert cluster.cache(cluster.node_ids[i % 6]).set(key, value_of(key)) is True
    for i, key in enumerate(counters):
        assert cluster.cache(cluster.node_ids[i % 6]).set(key, 100 + i) is True
    # The copies have reached the replicas before the AZ goes (replication is async).
    wait_key_deltas(cluster, "n2", before, expected_holders(slot_map, keys + counters),
                    "200 keys + counters on their primaries and replicas")
    lost_primary = [k for k in keys if owners(slot_map, k)[0] in doomed]
    assert len(lost_primary) > 30  # about a third

    cluster.kill9(doomed)
    t0 = time.monotonic()

    # Reads: every key, through every survivor, one by one and in one mget.
    for reader in survivors:
        c = cluster.cache(reader)
        assert c.mget(keys) == [value_of(k) for k in keys], f"mget through {reader}"
    c = cluster.cache(survivors[0])
    for key in keys:
        assert c.get(key) == value_of(key), f"{key} owners {owners(slot_map, key)}"
    assert cluster.cache(survivors[1]).exists(*keys) == len(keys)

    # stats: the two dead nodes are unreachable, totals sum the reachable ones.
    for via in survivors:
        stats = cluster.cache(via).stats()
        assert {n for n, s in stats["nodes"].items() if not s["reachable"]} == set(doomed), (
            via, stats)
        assert all(stats["nodes"][n]["keys"] == 0 for n in doomed)
        assert stats["total"]["reachable"] is False
        check_totals(stats)

    # Writes during the outage, in every slot range, read back through another survivor.
    new = [f"az:new:{i}" for i in range(60)]
    for i, key in enumerate(new):
        assert cluster.cache(survivors[i % 4]).set(key, value_of(key)) is True
    for i, key in enumerate(new):
        assert cluster.cache(survivors[(i + 1) % 4]).get(key) == value_of(key), (
            f"{key} owners {owners(slot_map, key)}")
    assert cluster.cache(survivors[2]).mget(new) == [value_of(k) for k in new]
    assert cluster.cache(survivors[0]).mset({f"az:newm:{i}": b"m" for i in range(30)})
    assert cluster.cache(survivors[3]).mget([f"az:newm:{i}" for i in range(30)]) == [b"m"] * 30

    # incr on keys whose primary is dead continues from the value the replica holds.
    for i, key in enumerate(counters):
        assert cluster.cache(survivors[i % 4]).incr(key) == 101 + i, key
        assert cluster.cache(survivors[(i + 2) % 4]).incr(key, 10) == 111 + i, key
    # delete of keys whose primary is dead, seen through another survivor.
    gone = lost_primary[:5]
    assert cluster.cache(survivors[1]).delete(*gone) == 5
    assert cluster.cache(survivors[3]).mget(gone) == [None] * 5
    outage = time.monotonic() - t0
    assert outage < 30, f"the outage checks took {outage:.1f}s: failover is too slow"

    # The AZ comes back (empty: a cache). The cluster serves through every node again.
    cluster.start(doomed)
    probes = {n: [k for k in (f"az:probe:{n}:{i}" for i in range(300))
                  if owners(slot_map, k)[0] in doomed][:4] for n in cluster.node_ids}

    def serving() -> bool:
        # A write through any node of keys owned by a restarted primary reads back
        # through every node: the restarted primaries are used again by everyone.
        for writer, probe in probes.items():
            for key in probe:
                cluster.cache(writer).set(key, b"p:" + writer.encode())
        return all(cluster.cache(r).mget(p) == [b"p:" + w.encode()] * len(p)
                   for w, p in probes.items() for r in cluster.node_ids)

    wait_until(serving, SETTLE, "every node using the restarted primaries again",
               interval=0.3)

    stats = cluster.cache(doomed[0]).stats()
    assert all(s["reachable"] for s in stats["nodes"].values()), stats
    check_totals(stats)

    # Keys whose primary never went down read back through every node, restarted ones
    # included, whether written before or during the outage.
    kept = [k for k in keys if owners(slot_map, k)[0] not in doomed]
    kept_new = [k for k in new if owners(slot_map, k)[0] not in doomed]
    for reader in cluster.node_ids:
        assert cluster.cache(reader).mget(kept) == [value_of(k) for k in kept], reader
        assert cluster.cache(reader).mget(kept_new) == [value_of(k) for k in kept_new], reader

    # New writes through the restarted nodes, in every slot range, read back everywhere.
    after = [f"az:after:{i}" for i in range(60)]
    for i, key in enumerate(after):
        assert cluster.cache(doomed[i % 2]).set(key, value_of(key)) is True
    for reader in cluster.node_ids:
        assert cluster.cache(reader).mget(after) == [value_of(k) for k in after], reader
    assert cluster.cache(doomed[1]).incr("az:after:ctr") == 1
    assert cluster.cache(survivors[0]).incr("az:after:ctr") == 2


# -- 5. flushall -------------------------------------------------------------------------


def test_flushall_clears_every_node(cluster: Cluster, slot_map: SlotMap) -> None:
    """Keys on every node (primaries and replicas), flushall through one node: every
    node's store is empty and nothing reads back through any node."""
    keys = [f"flush:{i}" for i in range(120)]
    before = key_counts(cluster, "n1")
    assert cluster.cache("n2").mset({k: value_of(k) for k in keys}) is True
    wait_key_deltas(cluster, "n1", before, expected_holders(slot_map, keys),
                    "flush keys on their primaries and replicas")
    assert all(v > 0 for v in key_counts(cluster, "n1").values())

    assert cluster.cache("n3").flushall() is True
    for via in cluster.node_ids:
        stats = cluster.cache(via).stats()
        assert {n: s["keys"] for n, s in stats["nodes"].items()} == dict.fromkeys(
            cluster.node_ids, 0), via
        assert stats["total"]["keys"] == 0
        assert stats["total"]["bytes_used"] == 0, stats["total"]
    for reader in cluster.node_ids:
        assert cluster.cache(reader).mget(keys) == [None] * len(keys), reader
        assert cluster.cache(reader).exists(*keys) == 0


# -- a restarted primary and the replica that kept its keys ------------------------------


def test_restarted_primary_serves_what_its_replica_kept(cluster: Cluster,
                                                       slot_map: SlotMap) -> None:
    """Kill -9 n1 (its replica n2 stays up): keys written before the outage are on n2,
    writes during the outage go to n2 only (failover). When n1 comes back empty, the
    keys are still held by n2, a live replica, and should stay readable."""
    primary = "n1"
    replica = slot_map.owners(0)[1]
    assert slot_map.owners(0)[0] == primary
    mine = [k for k in (f"rp:{i}" for i in range(400)) if owners(slot_map, k)[0] == primary]
    pre, during = mine[:20], mine[20:40]
    before = key_counts(cluster, "n3")
    assert cluster.cache("n3").mset({k: value_of(k) for k in pre}) is True
    wait_key_deltas(cluster, "n3", before, Counter({primary: 20, replica: 20}),
                    "pre-outage keys on n1 and its replica")

    cluster.kill9([primary])
    assert cluster.cache("n3").mset({k: value_of(k) for k in during}) is True
    assert cluster.cache("n3").set(pre[0], b"overwritten during the outage") is True
    assert cluster.cache("n5").mget(pre + during) == (
        [b"overwritten during the outage"] + [value_of(k) for k in pre[1:] + during])

    cluster.start([primary])
    wait_until(lambda: all(s["reachable"] for s in cluster.cache("n3").stats()["nodes"].values()),
               SETTLE, "n1 back in stats()")
    time.sleep(2)  # past every node's DOWN_SECONDS and peer reconnect backoff
    want = [b"overwritten during the outage"] + [value_of(k) for k in pre[1:] + during]
    for reader in cluster.node_ids:
        got = cluster.cache(reader).mget(pre + during)
        assert got == want, (
            f"through {reader}: {sum(v is None for v in got)} of {len(want)} keys read as "
            f"None after {primary} restarted although {replica} still holds them "
            f"(stats: {key_counts(cluster, reader)})")
    # n1 serves them from its own store: it was handed every key of its slots.
    assert key_counts(cluster, "n3")[primary] >= len(pre + during)


def test_paused_primary_does_not_serve_values_overwritten_meanwhile(
        cluster: Cluster, slot_map: SlotMap) -> None:
    """SIGSTOP n1 (a hung primary: calls to it time out): writes and a delete of its
    keys go to the replica meanwhile. After SIGCONT, reads must not return the values
    those writes replaced, nor the deleted key."""
    primary = "n1"
    mine = [k for k in (f"hung:{i}" for i in range(400)) if owners(slot_map, k)[0] == primary]
    keys = mine[:10]
    before = key_counts(cluster, "n3")
    assert cluster.cache("n3").mset({k: b"old" for k in keys}) is True
    wait_key_deltas(cluster, "n3", before, expected_holders(slot_map, keys),
                    "keys on n1 and its replica")
    cluster.sigstop(primary)
    try:
        assert cluster.cache("n3").mset({k: b"new" for k in keys[1:]}) is True
        assert cluster.cache("n4").delete(keys[0]) == 1
        assert cluster.cache("n5").mget(keys) == [None] + [b"new"] * (len(keys) - 1)
    finally:
        cluster.sigcont(primary)
    time.sleep(2)  # past every node's DOWN_SECONDS
    want = [None] + [b"new"] * (len(keys) - 1)
    got = {reader: cluster.cache(reader).mget(keys) for reader in cluster.node_ids}
    stale = {reader: sum(v != w for v, w in zip(values, want, strict=True))
             for reader, values in got.items()}
    assert not any(stale.values()), (
        f"values overwritten while {primary} was paused read back after SIGCONT "
        f"(stale keys of {len(keys)} per entry node: {stale})")


def test_restarted_replica_copies_its_primarys_keys(cluster: Cluster,
                                                    slot_map: SlotMap) -> None:
    """Kill -9 the replica of n1's slots, write through n1 meanwhile (the copies are
    lost), start the replica again: it copies n1's keys, old and new. Then losing n1
    loses none of them: every node reads them all from the replica."""
    primary = "n1"
    replica = slot_map.owners(0)[1]
    mine = [k for k in (f"rr:{i}" for i in range(400)) if owners(slot_map, k)[0] == primary]
    before, during = mine[:15], mine[15:30]
    assert cluster.cache("n3").mset({k: value_of(k) for k in before}) is True

    cluster.kill9([replica])
    assert cluster.cache("n3").mset({k: value_of(k) for k in during}) is True
    assert cluster.cache(primary).delete(before[0]) == 1
    cluster.start([replica])

    want = [None] + [value_of(k) for k in before[1:] + during]

    def copied() -> bool:
        return key_counts(cluster, "n3")[replica] >= len(want) - 1

    wait_until(copied, SETTLE, f"{replica} copied {primary}'s keys")
    cluster.kill9([primary])
    try:
        for reader in cluster.node_ids:
            if reader != primary:
                assert cluster.cache(reader).mget(before + during) == want, reader
    finally:
        cluster.start([primary])
    for reader in cluster.node_ids:
        assert cluster.cache(reader).mget(before + during) == want, reader
