"""kill -9 of every node at once loses nothing acknowledged (a process crash, not a power cut).

A 3-node, 3-AZ cluster on ordinary disk: buckets, queues and messages are acknowledged
through the SDK, every node is SIGKILLed at the same moment, all restart on the same
drives, and every acknowledged bucket, queue and message (with its body) is there. The
kernel keeps what a killed process wrote, mmap'd Raft journal included, so this holds
even with a journal that is never fsynced; tests/cluster/test_power_loss.py is the same
check with the page cache lost too.
"""

from __future__ import annotations

from collections.abc import Callable

from .conftest import Cluster
from .durability import acknowledge, check, kill_all_at_once


def test_kill9_of_every_node_loses_nothing_acknowledged(
        cluster_factory: Callable[..., Cluster]) -> None:
    c = cluster_factory(nodes=3, azs=3).start()
    c.wait_buckets_ready()
    acked = acknowledge(c, "restart")
    kill_all_at_once(c, c.node_ids)
    c.start()
    lost = check(c, acked, via=c.node_ids)
    assert not lost, "after kill -9 of every node, acknowledged data is missing:\n" + "\n".join(
        lost)
