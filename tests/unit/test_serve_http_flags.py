"""Where `engine serve` puts its S3 REST endpoint: the default (skipped with a warning
when taken), an explicit address (must bind), `off`, a cluster node's http_address; and
the addresses --insecure-no-auth refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from engine.cli import build_parser, main
from engine.cli.serve import _auth_problem, _http_listen


def parse(*argv: str):
    return build_parser().parse_args(["serve", *argv])


def test_where_the_endpoint_listens(tmp_path: Path):
    assert _http_listen(parse()) == ("127.0.0.1:9000", False)
    assert _http_listen(parse("--http-listen", "off")) == (None, False)
    assert _http_listen(parse("--http-listen", "127.0.0.1:0")) == ("127.0.0.1:0", True)
    topology = tmp_path / "c.toml"
    topology.write_text(tomli_w.dumps({"name": "c", "secret": "0123456789abcdef", "nodes": [
        {"id": "n1", "address": "127.0.0.1:7001", "zone": "a", "drives": ["d1"],
         "http_address": "127.0.0.1:10001"},
        {"id": "n2", "address": "127.0.0.1:7002", "zone": "b", "drives": ["d2"]}]}))
    assert _http_listen(parse("--cluster", str(topology), "--node", "n1")) == (
        "127.0.0.1:10001", True)
    assert _http_listen(parse("--cluster", str(topology), "--node", "n2")) == (None, False)


def test_a_bad_address_is_refused_before_anything_starts(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--http-listen", "nowhere"])
    assert exited.value.code == 2 and "--http-listen" in capsys.readouterr().err


def test_insecure_no_auth_keeps_http_on_loopback():
    assert _auth_problem(parse("--insecure-no-auth")) == ""
    assert "loopback" in _auth_problem(parse("--insecure-no-auth", "--http-listen",
                                             "0.0.0.0:9000"))
    assert _auth_problem(parse("--insecure-no-auth", "--http-listen", "off")) == ""
