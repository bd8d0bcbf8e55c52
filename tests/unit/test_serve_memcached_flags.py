"""Where `engine serve` puts its memcached endpoint: off by default, loopback freely,
another address only with --memcached-allow-remote; and the item size bounds."""

from __future__ import annotations

import pytest

from engine.cli import build_parser
from engine.cli.serve import _memcached_listen


def parse(*argv: str):
    return build_parser().parse_args(["serve", *argv])


def test_off_unless_asked_for():
    assert _memcached_listen(parse()) == (None, "")
    assert _memcached_listen(parse("--memcached-listen", "off")) == (None, "")


@pytest.mark.parametrize("address", ["127.0.0.1:11211", "localhost:0", "[::1]:11211"])
def test_loopback_is_served(address):
    assert _memcached_listen(parse("--memcached-listen", address)) == (address, "")


@pytest.mark.parametrize("address", ["0.0.0.0:11211", "10.0.0.5:11211", "[::]:11211",
                                     "cache.internal:11211"])
def test_another_address_needs_allow_remote(address):
    listen, problem = _memcached_listen(parse("--memcached-listen", address))
    assert listen is None and "--memcached-allow-remote" in problem
    allowed = parse("--memcached-listen", address, "--memcached-allow-remote")
    assert _memcached_listen(allowed) == (address, "")


def test_item_size_bounds(capsys):
    args = parse("--memcached-max-item", "2MiB", "--memcached-max-connections", "10")
    assert (args.memcached_max_item, args.memcached_max_connections) == (2 * 1024 * 1024, 10)
    assert parse().memcached_max_item == 1024 * 1024
    for bad in ("1000", "9MiB"):
        with pytest.raises(SystemExit):
            parse("--memcached-max-item", bad)
    assert "from 1KiB to 8MiB" in capsys.readouterr().err
