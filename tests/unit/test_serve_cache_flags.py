"""`engine serve --cache-eviction-policy`: Redis's eight names, allkeys-lru by default, and
the policy the node's cache store is built with."""

from __future__ import annotations

import pytest

from engine.assembly import cache_store
from engine.cache.eviction import POLICIES
from engine.cli import build_parser
from engine.clock import ManualClock
from engine.config import NodeConfig


def parse(*argv: str):
    return build_parser().parse_args(["serve", *argv])


def test_the_policy_flag_takes_redis_names_and_defaults_to_allkeys_lru(capsys) -> None:
    assert parse().cache_eviction_policy == "allkeys-lru"
    for name in POLICIES:
        assert parse("--cache-eviction-policy", name).cache_eviction_policy == name
    with pytest.raises(SystemExit):
        parse("--cache-eviction-policy", "allkeys-fifo")
    assert "invalid choice: 'allkeys-fifo'" in capsys.readouterr().err


def test_the_node_builds_its_store_with_the_policy() -> None:
    assert cache_store(NodeConfig(), ManualClock()).policy == "allkeys-lru"
    store = cache_store(NodeConfig(cache_eviction_policy="volatile-ttl", cache_bytes=4096),
                        ManualClock())
    assert (store.policy, store.budget) == ("volatile-ttl", 4096)
