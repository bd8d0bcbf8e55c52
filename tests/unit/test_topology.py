"""The topology file: round trip, relative drive paths, and every validation error."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import tomli_w

from engine.cluster.topology import (
    NodeSpec,
    Topology,
    TopologyError,
    UnknownNodeError,
    generate_local,
    split_host_port,
)

SECRET = "0123456789abcdef"


def node(i: int, **over: object) -> dict[str, object]:
    d: dict[str, object] = {"id": f"n{i}", "address": f"127.0.0.1:{7000 + i}",
                            "zone": f"az-{i}", "drives": [f"data/n{i}/d0"]}
    d.update(over)
    return d


def write(tmp_path: Path, doc: dict[str, object]) -> Path:
    path = tmp_path / "cluster.toml"
    path.write_text(tomli_w.dumps(doc))
    return path


def doc(*nodes: dict[str, object], **over: object) -> dict[str, object]:
    d: dict[str, object] = {"name": "test", "secret": SECRET,
                            "nodes": list(nodes) or [node(1), node(2), node(3)]}
    d.update(over)
    return d


def test_load_minimal_file(tmp_path: Path) -> None:
    path = tmp_path / "cluster.toml"
    path.write_text(f"""
name = "local"
secret = "{SECRET}"
az_latency_ms = 1.5
[[nodes]]
id = "n1"
address = "127.0.0.1:7001"
zone = "az-1"
drives = ["data/n1/d0", "/abs/n1/d1"]
[[nodes]]
id = "n2"
address = "127.0.0.1:7002"
raft_address = "127.0.0.1:9002"
zone = "az-2"
drives = ["../elsewhere/d0"]
""")
    t = Topology.load(path)
    assert t.name == "local" and t.secret == SECRET and t.az_latency_ms == 1.5
    assert t.path == path.resolve()
    n1, n2 = t.nodes
    assert n1.raft_address == "127.0.0.1:8001"  # default: gRPC port + 1000
    assert n2.raft_address == "127.0.0.1:9002"
    assert n1.drives == (tmp_path.resolve() / "data/n1/d0", Path("/abs/n1/d1"))
    assert n2.drives == ((tmp_path / "../elsewhere/d0").resolve(),)
    assert t.node("n2") is n2
    assert t.zones() == ["az-1", "az-2"]
    assert SECRET not in repr(t)


def test_round_trip_writes_relative_paths_under_the_file(tmp_path: Path) -> None:
    t = generate_local(6, 3, tmp_path / "data", 7001, drives_per_node=2)
    path = tmp_path / "cluster.toml"
    t.dump(path)
    text = path.read_text()
    assert '"data/n1/d0"' in text and str(tmp_path) not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Topology.load(path)
    assert loaded.nodes == t.nodes
    assert (loaded.name, loaded.secret, loaded.az_latency_ms) == (t.name, t.secret, 0.0)
    # Moved elsewhere with its data, the file still finds its drives.
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "cluster.toml").write_text(text)
    drive = Topology.load(moved / "cluster.toml").nodes[0].drives[0]
    assert drive == moved.resolve() / "data/n1/d0"


def test_dump_keeps_paths_outside_the_directory_absolute(tmp_path: Path) -> None:
    t = generate_local(3, 3, tmp_path / "data", 7001)
    t.dump(tmp_path / "sub" / "cluster.toml")
    assert str(tmp_path / "data" / "n1" / "d0") in (tmp_path / "sub" / "cluster.toml").read_text()
    assert Topology.load(tmp_path / "sub" / "cluster.toml").nodes == t.nodes


def test_generate_local_shape(tmp_path: Path) -> None:
    t = generate_local(7, 3, tmp_path, 20000, drives_per_node=2, name="demo")
    assert [n.id for n in t.nodes] == [f"n{i}" for i in range(1, 8)]
    assert [n.zone for n in t.nodes] == ["az-1", "az-2", "az-3"] * 2 + ["az-1"]
    assert [n.address for n in t.nodes] == [f"127.0.0.1:{20000 + i}" for i in range(7)]
    assert [n.raft_address for n in t.nodes] == [f"127.0.0.1:{21000 + i}" for i in range(7)]
    assert t.node("n3").drives == (tmp_path.resolve() / "n3/d0", tmp_path.resolve() / "n3/d1")
    assert t.name == "demo" and len(t.secret) == 32
    assert generate_local(3, 3, tmp_path, 20000).secret != t.secret


@pytest.mark.parametrize(("args", "message"), [
    ((0, 1, 7001), "nodes must be >= 1"),
    ((2, 3, 7001), "azs must be between 1 and the node count"),
    ((2, 0, 7001), "azs must be between 1"),
    ((3, 3, 65000), "must be in 1..65535"),
])
def test_generate_local_rejects_bad_shapes(tmp_path: Path, args: tuple[int, int, int],
                                           message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        generate_local(args[0], args[1], tmp_path, args[2])
    with pytest.raises(TopologyError, match="drives_per_node"):
        generate_local(3, 3, tmp_path, 7001, drives_per_node=0)


def test_unknown_node_is_a_clear_key_error(tmp_path: Path) -> None:
    t = Topology.load(write(tmp_path, doc()))
    with pytest.raises(KeyError) as info:
        t.node("n9")
    assert isinstance(info.value, UnknownNodeError) and isinstance(info.value, TopologyError)
    assert str(info.value) == "node 'n9' is not in topology 'test' (nodes: n1, n2, n3)"


@pytest.mark.parametrize(("document", "message"), [
    (doc(name=""), "name must be a non-empty string"),
    (doc(name=3), "name must be a non-empty string"),
    (doc(secret="short"), "secret must be a string of at least 16"),
    (doc(az_latency_ms=-1), "az_latency_ms must be a number >= 0"),
    (doc(az_latency_ms="1"), "az_latency_ms must be a number >= 0"),
    (doc(az_latency_ms=True), "az_latency_ms must be a number >= 0"),
    (doc(nodes=[]), "at least one node"),
    (doc(nodes=[1, 2]), r"nodes must be an array of tables"),
    ({"name": "x", "secret": SECRET}, "missing required key 'nodes'"),
    ({"name": "x", "nodes": [node(1)]}, "missing required key 'secret'"),
    (doc(nmae="typo"), r"top level: unknown key\(s\) 'nmae'"),
    (doc(node(1, zon="az-1")), r"nodes\[0\] \('n1'\): unknown key\(s\) 'zon'"),
    (doc({"id": "n1", "address": "127.0.0.1:1", "drives": ["d"]}), "missing required key 'zone'"),
    (doc(node(1), node(2, id="n1")), "duplicate node id 'n1'"),
    (doc(node(1), node(2, address="127.0.0.1:7001")), "duplicate address '127.0.0.1:7001'"),
    (doc(node(1, raft_address="127.0.0.1:9000"), node(2, raft_address="127.0.0.1:9000")),
     "duplicate address '127.0.0.1:9000'"),
    (doc(node(1), node(2, raft_address="127.0.0.1:7001")), "duplicate address"),
    (doc(node(1, raft_address="127.0.0.1:7001")), "address and raft_address must differ"),
    (doc(node(1, drives=[])), "needs at least one drive"),
    (doc(node(1, drives="d0")), "drives must be a list"),
    (doc(node(1, drives=[""])), "drives must be a list of non-empty path strings"),
    (doc(node(1, drives=["a", "a/"])), "duplicate drive path"),
    (doc(node(1), node(2, drives=["data/n1/d0"])), "duplicate drive path"),
    (doc(node(1, address="localhost")), "not host:port"),
    (doc(node(1, address=":7001")), "not host:port"),
    (doc(node(1, address="h:0")), "not host:port"),
    (doc(node(1, address="h:70000")), "not host:port"),
    (doc(node(1, address="h:x")), "not host:port"),
    (doc(node(1, address=7001)), "address must be a string"),
    (doc(node(1, address="127.0.0.1:65000")), r"port \+ 1000 is out of range"),
    (doc(node(1, raft_address="nope")), "raft_address: address 'nope' is not host:port"),
    (doc(node(1, id="n 1")), "node id 'n 1' must be"),
    (doc(node(1, id="../x")), "node id '../x' must be"),
    (doc(node(1, zone="")), "zone must be a non-empty string"),
])
def test_validation_errors(tmp_path: Path, document: dict[str, object], message: str) -> None:
    path = write(tmp_path, document)
    with pytest.raises(TopologyError, match=message) as info:
        Topology.load(path)
    assert str(path) in str(info.value)  # the file is named in every load error


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="cannot read topology"):
        Topology.load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = ")
    with pytest.raises(TopologyError, match="not valid TOML"):
        Topology.load(bad)


def test_validation_applies_to_topologies_built_in_code() -> None:
    spec = NodeSpec("n1", "127.0.0.1:1", "az-1", (Path("/d"),), "127.0.0.1:2")
    with pytest.raises(TopologyError, match="duplicate node id"):
        Topology("t", SECRET, (spec, spec))
    with pytest.raises(TopologyError, match="needs at least one drive"):
        NodeSpec("n1", "127.0.0.1:1", "az-1", (), "127.0.0.1:2")


def test_split_host_port() -> None:
    assert split_host_port("127.0.0.1:7001") == ("127.0.0.1", 7001)
    assert split_host_port("[::1]:7001") == ("::1", 7001)
    assert split_host_port("node-a.example:1") == ("node-a.example", 1)
