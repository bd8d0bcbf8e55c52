"""The partition nemesis on real processes: stand-in nodes (agent.py) run under their own
uids on their own 127.0.0.x, and the test watches which connections and bytes get
through a partition, a one-way cut and a heal. The test process itself is a client
outside the harness: it must reach every node throughout.

Root only (nft rules, processes under other uids); skipped with the reason elsewhere.
"""

from __future__ import annotations

import json
import socket
import subprocess

from engine.chaos.network import TABLE, Network, NodeIdentity, render_links, render_table

from .conftest import Agent, skip_without_network

ABSENT = 0.5  # seconds to wait for bytes that must not arrive
ARRIVES = 10.0  # upper bound for bytes that must arrive (returns as soon as they do);
# after a heal TCP resends on its backoff timer, which can reach a few seconds


def table_exists() -> bool:
    listing = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True,
                             check=True).stdout
    return f"inet {TABLE}" in listing


def blocked_elements() -> int:
    """How many blocked links the machine's sets hold (the drop rules' lookups)."""
    listing = json.loads(subprocess.run(["nft", "-j", "list", "table", "inet", TABLE],
                                        capture_output=True, text=True, check=True).stdout)
    return sum(len(item["set"].get("elem", [])) for item in listing["nftables"]
               if "set" in item)


def outsider_reaches(agent: Agent) -> bool:
    """A connection from the test process (no node's uid) to the agent's address."""
    try:
        with socket.create_connection((agent.identity.host, agent.port), timeout=2):
            return True
    except OSError:
        return False


def delivered(sender: Agent, conn: str, receiver: Agent, token: str, wait: float) -> bool:
    """``token`` sent on the sender's connection ``conn`` reached ``receiver``."""
    assert sender.ask("send", conn, token) == "ok"
    return receiver.ask("inbox", token, wait) == "yes"


def answered(server: Agent, client: Agent, conn: str, token: str, wait: float) -> bool:
    """``token`` sent back by ``server`` on its accepted connections reached the client's
    connection ``conn``."""
    assert server.ask("reply", token) == "ok"
    return client.ask("got", conn, token, wait) == "yes"


def test_partition_stops_new_and_established_connections_both_ways(
        net: Network, agents: dict[str, Agent]) -> None:
    a, b, c = agents["a"], agents["b"], agents["c"]
    assert a.connect("ab", b) and b.connect("ba", a)
    assert delivered(a, "ab", b, "before-ab", ARRIVES)
    assert delivered(b, "ba", a, "before-ba", ARRIVES)

    net.partition([["a"], ["b", "c"]])
    assert net.blocked == {("a", "b"), ("b", "a"), ("a", "c"), ("c", "a")}
    # new connections, either way, across the cut; within a side they still work
    assert not a.connect("ab2", b) and not b.connect("ba2", a)
    assert not c.connect("ca", a) and not a.connect("ac", c)
    assert b.connect("bc", c) and c.connect("cb", b)
    # established connections deliver nothing, in either direction, whoever opened them
    assert not delivered(a, "ab", b, "during-ab", ABSENT)
    assert not answered(b, a, "ab", "reply-ab", ABSENT)
    assert not delivered(b, "ba", a, "during-ba", ABSENT)
    assert not answered(a, b, "ba", "reply-ba", ABSENT)
    assert delivered(b, "bc", c, "inside", ARRIVES)
    # the test process is no node: it reaches every side
    assert all(outsider_reaches(x) for x in (a, b, c))


def test_cut_drops_one_direction_only(net: Network, agents: dict[str, Agent]) -> None:
    a, b = agents["a"], agents["b"]
    assert a.connect("ab", b) and b.connect("ba", a)

    net.cut("a", "b")
    assert net.blocked == {("a", "b")}
    # a -> b is dropped on both connections, whoever opened them ...
    assert not delivered(a, "ab", b, "a-on-ab", ABSENT)
    assert not answered(a, b, "ba", "a-on-ba", ABSENT)
    # ... while b -> a still arrives on both
    assert delivered(b, "ba", a, "b-on-ba", ARRIVES)
    assert answered(b, a, "ab", "b-on-ab", ARRIVES)
    # a cannot open a connection to b (its SYN is dropped), nor b one to a (a's SYN-ACK is)
    assert not a.connect("ab2", b) and not b.connect("ba2", a)
    assert all(outsider_reaches(x) for x in agents.values())


def test_heal_restores_every_link(net: Network, agents: dict[str, Agent]) -> None:
    a, b = agents["a"], agents["b"]
    assert a.connect("ab", b)
    net.isolate("a")
    assert not delivered(a, "ab", b, "held", ABSENT)
    assert blocked_elements() == 2 * 4  # a<->b, a<->c: one element per set and link

    net.heal()
    assert net.blocked == frozenset()
    assert blocked_elements() == 0
    assert a.connect("ab2", b) and b.connect("ba", a)
    # what TCP held back during the partition arrives once it resends
    assert b.ask("inbox", "held", ARRIVES) == "yes"
    assert delivered(a, "ab", b, "after", ARRIVES)
    assert delivered(b, "ba", a, "after-ba", ARRIVES)


def test_faults_add_up_and_repeat_idempotently(net: Network, agents: dict[str, Agent]) -> None:
    a, b, c = agents["a"], agents["b"], agents["c"]
    net.cut("a", "b")
    net.cut("a", "b")
    net.cut("c", "b")
    assert net.blocked == {("a", "b"), ("c", "b")}
    assert not a.connect("ab", b) and not c.connect("cb", b)
    assert a.connect("ac", c)
    net.heal()
    net.heal()
    assert a.connect("ab2", b) and c.connect("cb2", b)


def test_a_dead_owners_table_is_replaced_and_close_removes_it(
        identities: list[NodeIdentity]) -> None:
    skip_without_network()
    # what a SIGKILLed harness leaves behind: its table with a link blocked, no owner
    leftover = (render_table(identities) + render_links(identities, {("a", "b")})
                + f"add chain inet {TABLE} leftover\n")
    subprocess.run(["nft", "-f", "-"], input=leftover, text=True, check=True)
    with Network(identities, lock_timeout=0) as network:
        assert blocked_elements() == 0
        assert "leftover" not in subprocess.run(["nft", "list", "table", "inet", TABLE],
                                                capture_output=True, text=True).stdout
        network.cut("a", "b")
        assert blocked_elements() == 2
    assert not table_exists()


def test_bridge_halves_both_reach_the_bridge(net: Network, agents: dict[str, Agent]) -> None:
    a, b, c = agents["a"], agents["b"], agents["c"]
    net.bridge(["a"], ["c"], "b")
    assert net.blocked == {("a", "c"), ("c", "a")}
    assert not a.connect("ac", c) and not c.connect("ca", a)
    assert a.connect("ab", b) and c.connect("cb", b) and b.connect("ba", a)
    assert b.connect("bc", c)
