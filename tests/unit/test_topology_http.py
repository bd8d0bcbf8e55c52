"""Each node's S3 REST endpoint in the topology file: optional (older files load as
before, their nodes serving no HTTP), validated like every address, written back, and
filled in by `engine cluster up` (gRPC port + 3000)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from engine.cluster.topology import Topology, TopologyError, generate_local, with_http

SECRET = "0123456789abcdef"


def write(tmp_path: Path, *nodes: dict[str, object]) -> Path:
    path = tmp_path / "cluster.toml"
    path.write_text(tomli_w.dumps({"name": "t", "secret": SECRET, "nodes": list(nodes)}))
    return path


def node(i: int, **over: object) -> dict[str, object]:
    return {"id": f"n{i}", "address": f"127.0.0.1:{7000 + i}", "zone": f"az-{i}",
            "drives": [f"d{i}"], **over}


def test_a_file_without_http_addresses_still_loads(tmp_path):
    t = Topology.load(write(tmp_path, node(1), node(2)))
    assert [n.http_address for n in t.nodes] == [None, None]
    assert "http_address" not in t.to_dict()["nodes"][0]


def test_http_addresses_round_trip(tmp_path):
    t = Topology.load(write(tmp_path, node(1, http_address="127.0.0.1:9001"), node(2)))
    assert t.node("n1").http_address == "127.0.0.1:9001"
    t.dump(tmp_path / "again.toml")
    assert Topology.load(tmp_path / "again.toml").nodes == t.nodes


@pytest.mark.parametrize(("over", "message"), [
    ({"http_address": "nope"}, "http_address: address 'nope' is not host:port"),
    ({"http_address": "127.0.0.1:7001"}, "must differ"),
    ({"http_address": 9001}, "http_address must be a string"),
])
def test_bad_http_addresses(tmp_path, over, message):
    with pytest.raises(TopologyError, match=message):
        Topology.load(write(tmp_path, node(1, **over)))


def test_two_nodes_cannot_share_an_http_address(tmp_path):
    with pytest.raises(TopologyError, match="duplicate address"):
        Topology.load(write(tmp_path, node(1, http_address="127.0.0.1:9000"),
                            node(2, http_address="127.0.0.1:9000")))


def test_cluster_up_gives_every_node_one(tmp_path):
    t = with_http(generate_local(3, 3, tmp_path, 7001))
    assert [n.http_address for n in t.nodes] == [f"127.0.0.1:{10001 + i}" for i in range(3)]
    kept = with_http(Topology.load(write(tmp_path, node(1, http_address="10.0.0.1:80"))))
    assert kept.node("n1").http_address == "10.0.0.1:80"
