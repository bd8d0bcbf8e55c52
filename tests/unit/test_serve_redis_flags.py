"""Where `engine serve` puts its RESP endpoint (the default, an explicit address, `off`,
a cluster node's redis_address) and how the topology carries each node's RESP address
(`generate_local` assigns one, files written before it get one from `with_redis`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from engine.cli import build_parser
from engine.cli.serve import _auth_problem, _redis_listen
from engine.cluster.topology import (
    REDIS_PORT_OFFSET,
    Topology,
    TopologyError,
    generate_local,
    with_redis,
)


def parse(*argv: str):
    return build_parser().parse_args(["serve", *argv])


def test_where_the_endpoint_listens(tmp_path: Path):
    assert _redis_listen(parse()) == ("127.0.0.1:6379", False)
    assert _redis_listen(parse("--redis-listen", "off")) == (None, False)
    assert _redis_listen(parse("--redis-listen", "127.0.0.1:0")) == ("127.0.0.1:0", True)
    topology = tmp_path / "c.toml"
    topology.write_text(tomli_w.dumps({"name": "c", "secret": "0123456789abcdef", "nodes": [
        {"id": "n1", "address": "127.0.0.1:7001", "zone": "a", "drives": ["d1"],
         "redis_address": "127.0.0.1:11001"},
        {"id": "n2", "address": "127.0.0.1:7002", "zone": "b", "drives": ["d2"]}]}))
    assert _redis_listen(parse("--cluster", str(topology), "--node", "n1")) == (
        "127.0.0.1:11001", True)
    assert _redis_listen(parse("--cluster", str(topology), "--node", "n2")) == (None, False)
    args = parse("--redis-maxclients", "5", "--redis-proto-max-bulk-len", "1MiB")
    assert (args.redis_maxclients, args.redis_proto_max_bulk_len) == (5, 1024 * 1024)


def test_insecure_no_auth_keeps_resp_on_loopback():
    assert "loopback" in _auth_problem(parse("--insecure-no-auth", "--redis-listen",
                                             "0.0.0.0:6379"))
    assert _auth_problem(parse("--insecure-no-auth", "--redis-listen", "127.0.0.1:0")) == ""


def test_generated_clusters_give_every_node_a_resp_address(tmp_path: Path):
    t = generate_local(3, 3, tmp_path, 20000)
    assert [n.redis_address for n in t.nodes] == [
        f"127.0.0.1:{20000 + REDIS_PORT_OFFSET + i}" for i in range(3)]
    t.dump(tmp_path / "c.toml")
    assert Topology.load(tmp_path / "c.toml").nodes == t.nodes
    with pytest.raises(TopologyError, match=r"must be in 1\.\.65535"):
        generate_local(3, 3, tmp_path, 65535 - REDIS_PORT_OFFSET - 1)


def test_older_files_get_resp_addresses_and_clashes_are_refused(tmp_path: Path):
    raw = {"name": "c", "secret": "0123456789abcdef", "nodes": [
        {"id": "n1", "address": "127.0.0.1:7001", "zone": "a", "drives": ["d1"]}]}
    old = Topology.from_dict(raw, tmp_path)
    assert old.nodes[0].redis_address is None
    assert with_redis(old).nodes[0].redis_address == "127.0.0.1:11001"
    raw["nodes"][0]["redis_address"] = "127.0.0.1:7001"
    with pytest.raises(TopologyError, match="must differ"):
        Topology.from_dict(raw, tmp_path)
