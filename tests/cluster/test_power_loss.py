"""Acknowledged means fsynced on a quorum: power cuts on a real 3-node cluster.

Each node's drive (which holds `raft/` and `queues/`) is a LossyFS mount
(tests/powerloss/lossyfs.py), its own process: cutting its power loses every write and
every new name that was not fsynced, as a machine losing power loses its page cache.
Through the public SDK the tests create buckets, queues and messages and record what was
acknowledged; then they kill -9 nodes and cut the power of their drives at the same
moment, remount, restart, and look for every acknowledged bucket, queue and message.

* A majority (2 of 3) loses power. The third node is paused (SIGSTOP) until the check is
  done: Raft promises that any majority holds every committed entry, so the two nodes
  that lost power must have everything by themselves. Without the pause the survivor
  hands its log back to them and hides the loss (today's pysyncobj passed that way 3
  times out of 3), or not, depending on who wins the next election.
* All three lose power.

Both pass since the consensus kit (fsync before acknowledge, durable directories). Before
it, pysyncobj's journal (an mmap never synced) and directories nobody fsynced made both
lose every bucket, queue and message. The third test turns the store's fsyncs off
(``--unsafe-no-fsync``) and asserts that the same cut does lose data, so a pass of the
first two means the writes were durable, not that the test cannot see a loss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from powerloss.mount import LossyMount, fuse_unavailable

from .conftest import Cluster, wait_until
from .durability import CALL_TIMEOUT, acknowledge, check, kill_all_at_once

FUSE_UNAVAILABLE = fuse_unavailable()

pytestmark = [
    pytest.mark.skipif(FUSE_UNAVAILABLE is not None, reason=str(FUSE_UNAVAILABLE)),
]


@pytest.fixture(params=["fsync"])
def fuse_cluster(request: pytest.FixtureRequest, cluster_factory: Callable[..., Cluster],
                 tmp_path: Path) -> Iterator[tuple[Cluster, dict[str, LossyMount]]]:
    """A running 3-node, 3-AZ cluster whose drives are LossyFS mounts; afterwards the
    nodes are killed, then the mount daemons stopped (by pid) and unmounted. With the
    param "no-fsync" the nodes skip fsync (``--unsafe-no-fsync``)."""
    extra = ["--unsafe-no-fsync"] if request.param == "no-fsync" else []
    c = cluster_factory(nodes=3, azs=3, extra_args=extra)
    disks = {n: LossyMount(tmp_path / "disks" / n, c.drive(n), log=c.logs / f"{n}.lossyfs.log")
             for n in c.node_ids}
    try:
        for d in disks.values():
            d.start()
        c.start()
        c.wait_buckets_ready()
        yield c, disks
    finally:
        c.close()
        for d in disks.values():
            d.close()


def power_cut(c: Cluster, disks: dict[str, LossyMount], nodes: list[str]) -> None:
    """kill -9 the nodes and cut their drives' power at the same moment."""
    for n in nodes:
        c.procs[n].kill()
        disks[n].signal_power_off()
    kill_all_at_once(c, nodes)  # reaps them
    for n in nodes:
        disks[n].wait_down()


def power_on(c: Cluster, disks: dict[str, LossyMount], nodes: list[str]) -> None:
    for n in nodes:
        disks[n].start()
    c.start(nodes)


def test_power_cut_of_a_majority_loses_nothing_acknowledged(
        fuse_cluster: tuple[Cluster, dict[str, LossyMount]]) -> None:
    c, disks = fuse_cluster
    acked = acknowledge(c, "majority")
    victims, survivor = ["n1", "n2"], "n3"
    c.sigstop(survivor)
    power_cut(c, disks, victims)
    power_on(c, disks, victims)
    lost = check(c, acked, via=victims)
    c.sigcont(survivor)
    assert not lost, ("after a power cut of n1 and n2 (n3 paused), acknowledged data is "
                      "missing:\n" + "\n".join(lost))
    # The survivor rejoins and follows: it lists every bucket too.
    s3 = c.client(survivor, timeout=CALL_TIMEOUT)
    wait_until(lambda: {b["Name"] for b in s3.list_buckets()["Buckets"]} >= set(acked.buckets),
               30, "every bucket listed by the survivor")


def test_power_cut_of_every_node_loses_nothing_acknowledged(
        fuse_cluster: tuple[Cluster, dict[str, LossyMount]]) -> None:
    c, disks = fuse_cluster
    acked = acknowledge(c, "all")
    power_cut(c, disks, c.node_ids)
    power_on(c, disks, c.node_ids)
    lost = check(c, acked, via=c.node_ids)
    assert not lost, ("after a power cut of every node, acknowledged data is missing:\n"
                      + "\n".join(lost))


@pytest.mark.parametrize("fuse_cluster", ["no-fsync"], indirect=True)
def test_the_power_cut_test_notices_unsynced_writes(
        fuse_cluster: tuple[Cluster, dict[str, LossyMount]]) -> None:
    """The same cut with the consensus store's fsyncs turned off must lose data: this is
    what makes the two tests above evidence rather than luck."""
    c, disks = fuse_cluster
    acked = acknowledge(c, "unsynced")
    power_cut(c, disks, c.node_ids)
    power_on(c, disks, c.node_ids)
    lost = check(c, acked, via=c.node_ids)
    assert lost, "nothing was lost although no write was fsynced: the test cannot see loss"
