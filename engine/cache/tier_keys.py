"""KEYS, SCAN, RANDOMKEY and DBSIZE over the whole tier, for the gRPC ``Cache.Command``:
each node answers for the slots it is primary of (as a Redis Cluster node does) and
these merge the answers, so the SDK's ``scan_iter`` sees every key of a cluster.
(The RESP endpoint answers them per node, as Redis Cluster does; redis-py's
RedisCluster walks the nodes itself.)

SCAN's cursor carries the node: ``index << 33 | that node's cursor`` over the node ids in
sorted order (a node's own cursors are CRC-32 based, below 2**33). A page comes from one
node; 0 is returned after the last node's last page. A node that does not answer is
skipped: its keys are missing from the answer until it is back.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence

from engine.cache.types.scan import parse_cursor
from engine.v1 import cache_pb2 as pb

NODE_SHIFT = 33
# (node, argv) -> that node's own answer, or None when it did not answer
Ask = Callable[[str, list[bytes]], Awaitable[pb.CacheValue | None]]


async def keyless(name: str, argv: list[bytes], nodes: Sequence[str], ask: Ask
                  ) -> pb.CacheValue:
    """``argv`` (KEYS/SCAN/RANDOMKEY/DBSIZE, arity already checked) over ``nodes``."""
    nodes = sorted(nodes)
    if name == "scan":
        return await _scan(argv, nodes, ask)
    if name == "randomkey":
        for node in random.sample(nodes, len(nodes)):
            found = await ask(node, argv)
            if found is not None and found.WhichOneof("kind") == "bulk":
                return found
        return pb.CacheValue(null=True)
    answers = [a for a in [await ask(node, argv) for node in nodes] if a is not None]
    if name == "dbsize":
        return pb.CacheValue(integer=sum(a.integer for a in answers))
    items = [item for a in answers for item in a.array.items]
    return pb.CacheValue(array=pb.CacheValues(items=items))


async def _scan(argv: list[bytes], nodes: list[str], ask: Ask) -> pb.CacheValue:
    index, inner = divmod(parse_cursor(argv[1]), 1 << NODE_SHIFT)
    keys: list[pb.CacheValue] = []
    while index < len(nodes):
        found = await ask(nodes[index], [argv[0], b"%d" % inner, *argv[2:]])
        following = 0
        if found is not None:
            following = int(found.array.items[0].bulk)
            keys = list(found.array.items[1].array.items)
        if following:
            inner = following
            break
        index, inner = index + 1, 0
        if keys:
            break
    cursor = 0 if index >= len(nodes) else index << NODE_SHIFT | inner
    page = pb.CacheValues(items=keys)
    return pb.CacheValue(array=pb.CacheValues(items=[pb.CacheValue(bulk=b"%d" % cursor),
                                                     pb.CacheValue(array=page)]))
