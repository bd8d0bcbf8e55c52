"""redis-py 5, 6, 7 and 8's RedisCluster against a real 3-node cluster, RESP2 and RESP3,
with hiredis and with redis-py's own parser: each version discovers the slot map from
any node (CLUSTER SLOTS/SHARDS, COMMAND for key positions), spreads keys over the nodes,
pipelines per node, runs a one-slot transaction on the slot's owner and gets back what
it PUBLISHes. The cluster is the one the RESP cluster modules share (resp_cluster); the
keys are this module's own. How each version runs: tests/redis_py_versions.py."""

from __future__ import annotations

import pytest
from redis_py_versions import MAJORS, run_probe

from .resp_nodes import resp_address


@pytest.mark.parametrize("parser", ["hiredis", "python"])
@pytest.mark.parametrize("protocol", ["2", "3"])
@pytest.mark.parametrize("major", MAJORS)
def test_redis_py_version_cluster(resp_cluster, major, protocol, parser):
    host, port = resp_address(resp_cluster, "n2")
    seen = run_probe(major, host, port, "--cluster", "--protocol", protocol,
                     *(["--python-parser"] if parser == "python" else []))
    assert seen["hiredis"] is (parser == "hiredis")
    assert seen["nodes"] == 3 and seen["ping"] is True
    assert seen["set"] is seen["get"] is seen["pipeline"] is True
    assert seen["transaction"] == [True, 2, "2"]
    assert seen["pubsub"] == {"subscribed": True, "receivers": 1, "message": "hello"}
    assert seen["deleted"] == 21
