"""redis-py 5, 6, 7 and 8 against the RESP endpoint of a real node, RESP2 and RESP3, with
hiredis and with redis-py's own parser: what each version sends on connect (AUTH or
HELLO with AUTH, CLIENT SETNAME, CLIENT SETINFO, CLIENT MAINT_NOTIFICATIONS from 8 on
RESP3) lets it carry on, and SET/GET, a pipeline, a transaction and pub/sub give it what
redis-server gives it. How each version runs: tests/redis_py_versions.py; RedisCluster
against a cluster: tests/cluster/test_redis_py_versions_cluster.py."""

from __future__ import annotations

import pytest
from redis_py_versions import MAJORS, run_probe


@pytest.fixture(scope="module")
def node(module_server_factory):
    return module_server_factory()


@pytest.mark.parametrize("parser", ["hiredis", "python"])
@pytest.mark.parametrize("protocol", ["2", "3"])
@pytest.mark.parametrize("major", MAJORS)
def test_redis_py_version_standalone(node, major, protocol, parser):
    """With hiredis (as the venv has it) and without (redis-py's own RESP2/RESP3 parsers,
    what a plain `pip install redis` gets)."""
    seen = run_probe(major, "127.0.0.1", node.redis_port, "--protocol", protocol,
                     *(["--python-parser"] if parser == "python" else []))
    assert seen["hiredis"] is (parser == "hiredis")
    assert (seen["ping"], seen["set"], seen["get"]) == (True, True, "1")
    # CLIENT SETNAME on connect
    assert seen["name"] == f"probe-v{seen['version']}-p{protocol}-{parser}"
    assert seen["pipeline"] == [True, "x", 1, None]
    assert seen["transaction"] == [2, 3, "3"]
    # CLIENT SETINFO on connect: the node knows which library and version this is
    assert seen["client"] == {"lib-name": "redis-py", "lib-ver": seen["version"]}
    assert seen["pubsub"] == {"subscribed": True, "receivers": 1, "message": "hello"}
    assert seen["deleted"] == 3
