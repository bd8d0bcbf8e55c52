"""The partition nemesis's pure parts, no root needed: which directed links a fault
blocks, and the nft script that installs them (pinned, since the root-only tests are the
only other check of its text)."""

from __future__ import annotations

import pytest

from engine.chaos import network
from engine.chaos.network import (
    NodeIdentity,
    loopback_identities,
    partition_links,
    render_links,
    render_table,
)

NODES = ["n1", "n2", "n3", "n4", "n5"]


def test_identities_give_each_node_its_own_address_and_uid() -> None:
    ids = loopback_identities(["n1", "n2", "n3"])
    assert [(n.host, n.uid) for n in ids] == [("127.0.0.2", 61700), ("127.0.0.3", 61701),
                                              ("127.0.0.4", 61702)]
    assert ids[0].command(["python", "-V"]) == [
        "setpriv", "--reuid=61700", "--regid=61700", "--clear-groups",
        "--inh-caps=+dac_override,+dac_read_search,+fowner",
        "--ambient-caps=+dac_override,+dac_read_search,+fowner", "--", "python", "-V"]


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.2", "::1", "localhost"])
def test_a_node_needs_a_loopback_address_of_its_own(host: str) -> None:
    with pytest.raises(ValueError):
        NodeIdentity("n1", host, 61700)


def test_partition_blocks_both_directions_between_groups_only() -> None:
    links = partition_links(NODES, [["n1", "n2"], ["n3", "n4", "n5"]])
    assert len(links) == 2 * 2 * 3
    assert ("n1", "n3") in links and ("n3", "n1") in links
    assert ("n1", "n2") not in links and ("n4", "n5") not in links


def test_a_node_in_no_group_keeps_its_links_so_two_groups_make_a_bridge() -> None:
    links = partition_links(NODES, [["n1", "n2"], ["n4", "n5"]])
    assert not any("n3" in link for link in links)
    assert ("n2", "n4") in links and ("n5", "n1") in links


@pytest.mark.parametrize("groups", [[["n1"], ["n1", "n2"]], [["n1"], ["n9"]]])
def test_overlapping_or_unknown_groups_are_refused(groups: list[list[str]]) -> None:
    with pytest.raises(ValueError):
        partition_links(NODES, groups)


def test_table_marks_connections_by_the_opener_uid() -> None:
    script = render_table(loopback_identities(["n1", "n2"]))
    assert script.startswith("table inet engine_chaos {}\ndelete table inet engine_chaos\n")
    assert ("ct direction original ct mark 0 ct mark set meta skuid map "
            "{ 61700 : 61700, 61701 : 61701 }") in script
    assert "ct direction original ct mark . ip daddr @sent counter drop" in script
    assert "ct direction reply ct mark . ip saddr @answered counter drop" in script
    assert 'oifname != "lo" accept' in script  # only loopback is ever touched


def test_a_cut_link_is_one_element_per_direction_of_its_connections() -> None:
    ids = loopback_identities(["n1", "n2", "n3"])
    script = render_links(ids, {("n1", "n3")})
    # n1's packets on connections n1 opened to n3, and n1's answers on those n3 opened
    assert script == ("flush set inet engine_chaos sent\n"
                      "flush set inet engine_chaos answered\n"
                      "add element inet engine_chaos sent { 61700 . 127.0.0.4 }\n"
                      "add element inet engine_chaos answered { 61702 . 127.0.0.2 }\n")
    assert render_links(ids, set()) == ("flush set inet engine_chaos sent\n"
                                        "flush set inet engine_chaos answered\n")


def test_without_root_the_reason_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(network.os, "geteuid", lambda: 1000)
    assert network.nft_available() == ("network partitions need root (nftables rules, "
                                       "node processes under own uids)")
    with pytest.raises(network.NetworkError, match="need root"):
        network.Network(loopback_identities(["n1", "n2"]))


def test_without_nft_the_reason_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(network.os, "geteuid", lambda: 0)
    monkeypatch.setattr(network.shutil, "which", lambda tool: None if tool == "nft" else tool)
    reason = network.nft_available()
    assert reason is not None and "apt-get install nftables" in reason
