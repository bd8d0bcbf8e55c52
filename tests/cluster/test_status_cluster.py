"""`engine status` against a real 3-node, 3-AZ cluster: what an operator sees.

One call to any node shows the whole cluster; the JSON is checked against what the
topology determines (erasure sets, queue groups, slot map) and what the nodes report
themselves (queue leaders). A paused node and a kill -9'd node must show as unreachable
within the peer deadline, with their drives offline and the erasure set degraded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from engine import __version__
from engine.api.cluster_status import PEER_SECONDS
from engine.cache.slots import SlotMap
from engine.cluster.layout import plan_erasure_sets
from engine.queues.groups import partition_group, plan_queue_groups

from .conftest import Cluster, wait_until

OBJECTS = {"small": b"x" * 10, "large": b"y" * 300_000, "other": b"z" * 5}
QUEUES = {"orders": 6, "jobs.fifo": 1}  # name -> partitions (FIFO queues have one)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("status"), nodes=3, azs=3,
                extra_args=["--scan-interval", "1", "--cache-replicas", "1"])
    try:
        c.start()
        c.wait_buckets_ready()
        s3 = c.client("n1")
        s3.create_bucket(Bucket="status-bucket")
        for key, body in OBJECTS.items():
            s3.put_object(Bucket="status-bucket", Key=key, Body=body)
        sqs = c.sqs("n2")
        sqs.create_queue(QueueName="orders")
        sqs.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true"})
        yield c
    finally:
        c.close()


def status(c: Cluster, node: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # no folding of cells in the checks below
    done = subprocess.run([sys.executable, "-m", "engine", "status", "--endpoint",
                           c.endpoint(node), *args], capture_output=True, text=True,
                          timeout=60, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


def status_json(c: Cluster, node: str) -> dict[str, Any]:
    return json.loads(status(c, node, "--json").stdout)


def agreed_leaders(c: Cluster, nodes: list[str]) -> dict[int, str] | None:
    """group -> leader when every given member names the same one (their own views)."""
    views: dict[int, set[str]] = {}
    for node in nodes:
        for g in c.queue_groups(node, timeout=5):
            views.setdefault(g.index, set()).add(g.leader)
    if any(len(v) != 1 or "" in v for v in views.values()):
        return None
    return {index: next(iter(v)) for index, v in views.items()}


def test_json_shows_the_whole_cluster_from_any_node(cluster: Cluster) -> None:
    c = cluster
    def scanned_all() -> bool:  # a pass that started after the fixture wrote the objects
        last = status_json(c, "n2")["erasure_sets"][0]["last_heal"]
        return bool(last) and last["report"]["objects_checked"] == len(OBJECTS)

    wait_until(scanned_all, 30, "a scanner pass over the erasure set and its objects")
    leaders = wait_until(lambda: agreed_leaders(c, c.node_ids), 30, "agreed queue leaders")
    s = status_json(c, "n2")

    assert s["answered_by"] == "n2" and s["nodes"][0]["node_id"] == "n2"
    assert s["cluster_name"] == c.topology.name
    nodes = {n["node_id"]: n for n in s["nodes"]}
    assert sorted(nodes) == sorted(c.node_ids)
    for spec in c.topology.nodes:
        n = nodes[spec.id]
        assert (n["reachable"], n["healthy"], n["error"]) == (True, True, "")
        assert (n["zone"], n["address"], n["version"]) == (spec.zone, spec.address,
                                                          __version__)
        assert n["uptime_seconds"] > 0 and n["buckets"] == 1
        assert [d["path"] for d in n["drives"]] == [str(p.resolve()) for p in spec.drives]
        for d in n["drives"]:
            assert d["online"] and d["objects"] == len(OBJECTS)
            assert 0 < d["free_bytes"] <= d["total_bytes"]

    [plan] = plan_erasure_sets(c.topology)
    [eset] = s["erasure_sets"]
    assert (eset["index"], eset["data_shards"], eset["parity_shards"]) == (
        plan.index, plan.data_shards, plan.parity_shards)
    assert [(d["node_id"], d["drive_index"], d["zone"]) for d in eset["drives"]] == [
        (r.node_id, r.drive_index, r.zone) for r in plan.drives]
    assert eset["state"] == "healthy"
    assert (eset["objects"], eset["shards_degraded"], eset["drives_offline"]) == (
        len(OBJECTS), 0, 0)
    heal = eset["last_heal"]
    assert heal["kind"] == "scanner" and heal["node_id"] == plan.drives[0].node_id
    assert heal["report"]["objects_checked"] == len(OBJECTS)
    assert time.time() - heal["finished_unix"] < 60

    groups = plan_queue_groups(c.topology)
    assert [(g["index"], g["members"]) for g in s["queue_groups"]] == [
        (g.index, [m.node_id for m in g.members]) for g in groups]
    for g in s["queue_groups"]:
        assert g["leader"] == leaders[g["index"]] and g["has_quorum"]
        assert g["members_reachable"] == 3

    assert s["queues_total"] == len(QUEUES) and s["queues_error"] == ""
    assert {q["name"]: len(q["partitions"]) for q in s["queues"]} == QUEUES
    for q in s["queues"]:
        for p in q["partitions"]:
            assert p["group"] == partition_group(q["name"], p["index"], len(groups))
            assert p["leader"] == leaders[p["group"]]

    slots = SlotMap.build([(n.id, n.zone) for n in c.topology.nodes], 1)
    assert s["cache"]["replicas"] == 1
    assert [(r["first"], r["last"], tuple(r["owners"])) for r in s["cache"]["ranges"]] == \
        slots.ranges()
    assert all(r["serving"] == r["owners"][0] for r in s["cache"]["ranges"])


def test_table_shows_every_section(cluster: Cluster) -> None:
    out = status(cluster, "n1").stdout
    for text in ("az-1", "az-2", "az-3", "n1", "n2", "n3", "healthy", "free of",
                 "Erasure sets", "2+1", "Queue groups", "orders", "jobs.fifo",
                 "Cache slots", "0-5461", "10923-16383"):
        assert text in out, text
    assert "unreachable" not in out and "degraded" not in out


def test_paused_node_is_unreachable_within_the_peer_deadline(cluster: Cluster) -> None:
    cluster.sigstop("n3")
    try:
        started = time.monotonic()
        s = status_json(cluster, "n1")
        elapsed = time.monotonic() - started
    finally:
        cluster.sigcont("n3")
    n3 = next(n for n in s["nodes"] if n["node_id"] == "n3")
    assert not n3["reachable"] and "no answer within" in n3["error"]
    assert elapsed < PEER_SECONDS + 3, elapsed


def test_killed_node_shows_unreachable_and_its_set_degraded(cluster: Cluster) -> None:
    c = cluster
    c.kill9(["n3"])
    started = time.monotonic()
    s = status_json(c, "n1")
    assert time.monotonic() - started < PEER_SECONDS + 3

    nodes = {n["node_id"]: n for n in s["nodes"]}
    n3 = nodes["n3"]
    assert (n3["reachable"], n3["healthy"]) == (False, False) and n3["error"]
    assert n3["zone"] == c.zone("n3") and n3["address"] == c.endpoint("n3")
    assert [d["online"] for d in n3["drives"]] == [False]
    assert all(nodes[n]["healthy"] for n in ("n1", "n2"))

    [eset] = s["erasure_sets"]
    assert eset["state"] == "degraded" and eset["drives_offline"] == 1
    assert eset["shards_degraded"] == len(OBJECTS)  # every object's copy on n3's drive
    assert {d["node_id"]: d["online"] for d in eset["drives"]} == {
        "n1": True, "n2": True, "n3": False}

    for r in s["cache"]["ranges"]:
        assert r["serving"] == (r["owners"][1] if r["owners"][0] == "n3" else r["owners"][0])
    for g in s["queue_groups"]:
        assert g["members_reachable"] == 2 and g["leader"] != "n3"
    # the two survivors elect leaders for the groups n3 led
    wait_until(lambda: all(g["has_quorum"] for g in status_json(c, "n2")["queue_groups"]),
               30, "a reachable leader in every queue group")

    out = status(c, "n1").stdout
    for text in ("unreachable", "degraded", "n3/d0 offline", "offline", "(replica)",
                 c.endpoint("n3")):
        assert text in out, text
