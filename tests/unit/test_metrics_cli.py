"""The command-line side of metrics and logs: `cluster up --metrics-base-port` gives each
node its own port, and `serve` validates `--metrics-listen` before starting anything."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engine.cli import main
from engine.cli.cluster import serve_command
from engine.cluster.topology import generate_local
from engine.observability.metrics_server import parse_listen


def test_cluster_up_gives_each_node_a_metrics_port() -> None:
    t = generate_local(3, 3, Path("/tmp/c"), 7001)
    t = dataclasses.replace(t, path=Path("/tmp/c/cluster.toml"))
    command = serve_command(metrics_base_port=9100)
    assert [command(t, n)[-2:] for n in t.nodes] == [
        ["--metrics-listen", f"127.0.0.1:{9100 + i}"] for i in range(3)]
    assert "--metrics-listen" not in serve_command()(t, t.nodes[0])


def test_metrics_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:9101") == ("127.0.0.1", 9101)
    assert parse_listen("127.0.0.1:0") == ("127.0.0.1", 0)  # any free port, logged
    assert parse_listen("[::1]:9101") == ("::1", 9101)


def test_serve_refuses_a_bad_metrics_address(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--metrics-listen", "nowhere"])
    assert exited.value.code == 2
    assert "--metrics-listen" in capsys.readouterr().err
