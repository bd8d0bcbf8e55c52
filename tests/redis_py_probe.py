"""A user's redis-py program against the RESP endpoint, run by redis_py_versions.py
in a subprocess whose PYTHONPATH puts one redis-py version first: connect with auth (the
commands that version sends on connect), then SET/GET, a pipeline, a transaction and
pub/sub. Prints one JSON object of what it saw; imports nothing of the engine, so only
the redis-py under test talks to the node.

    python redis_py_probe.py [--host H] --port P --user U --password S [--protocol 3] [--cluster]
        [--python-parser]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

if "--python-parser" in sys.argv:  # as installed without hiredis: redis-py's own parser
    sys.modules["hiredis"] = None  # type: ignore[assignment]

import redis  # after the parser is chosen
from redis.cluster import RedisCluster
from redis.utils import HIREDIS_AVAILABLE

PUBSUB_WAIT_S = 5.0


def _message(pubsub: Any, kind: str) -> dict[str, Any] | None:
    """The next message of type `kind` (skipping others), or None after PUBSUB_WAIT_S."""
    deadline = time.monotonic() + PUBSUB_WAIT_S
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.5)
        if message is not None and message["type"] == kind:
            return message
    return None


def pubsub_round(client: Any, channel: str) -> dict[str, Any]:
    pubsub = client.pubsub()
    try:
        pubsub.subscribe(channel)
        subscribed = _message(pubsub, "subscribe")
        receivers = client.publish(channel, "hello")
        message = _message(pubsub, "message")
        return {"subscribed": subscribed is not None and subscribed["channel"] == channel,
                "receivers": receivers,
                "message": None if message is None else message["data"]}
    finally:
        pubsub.close()


def standalone(args: argparse.Namespace, tag: str) -> dict[str, Any]:
    with redis.Redis(host=args.host, port=args.port, username=args.user,
                     password=args.password, protocol=args.protocol,
                     client_name=f"probe-{tag}", decode_responses=True) as r:
        out: dict[str, Any] = {"ping": r.ping(), "name": r.client_getname(),
                               "set": r.set(f"{tag}:a", "1"), "get": r.get(f"{tag}:a")}
        with r.pipeline(transaction=False) as pipe:
            pipe.set(f"{tag}:p", "x").get(f"{tag}:p").incr(f"{tag}:n").get(f"{tag}:missing")
            out["pipeline"] = pipe.execute()
        with r.pipeline(transaction=True) as tx:
            tx.incr(f"{tag}:n").incr(f"{tag}:n").get(f"{tag}:n")
            out["transaction"] = tx.execute()
        info = r.client_info()
        out["client"] = {"lib-name": info.get("lib-name"), "lib-ver": info.get("lib-ver")}
        out["pubsub"] = pubsub_round(r, f"{tag}:chan")
        out["deleted"] = r.delete(f"{tag}:a", f"{tag}:p", f"{tag}:n")
    return out


def cluster(args: argparse.Namespace, tag: str) -> dict[str, Any]:
    rc = RedisCluster(host=args.host, port=args.port, username=args.user,
                      password=args.password, protocol=args.protocol,
                      decode_responses=True)
    try:
        keys = [f"{tag}:k{i}" for i in range(20)]  # spread over the nodes' slots
        out: dict[str, Any] = {"nodes": len(rc.get_nodes()), "ping": rc.ping()}
        out["set"] = all(rc.set(k, k) for k in keys)
        out["get"] = [rc.get(k) for k in keys] == keys
        pipe = rc.pipeline()  # per node, not atomic: RedisCluster's own pipeline
        for k in keys:
            pipe.get(k)
        out["pipeline"] = pipe.execute() == keys
        hashtag = f"{{{tag}}}"
        owner = rc.get_redis_connection(rc.get_node_from_key(hashtag))
        with owner.pipeline(transaction=True) as tx:  # one slot, on its owner
            tx.set(f"{hashtag}:n", "1").incr(f"{hashtag}:n").get(f"{hashtag}:n")
            out["transaction"] = tx.execute()
        out["pubsub"] = pubsub_round(rc, f"{tag}:chan")
        out["deleted"] = sum(rc.delete(k) for k in [*keys, f"{hashtag}:n"])
    finally:
        rc.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--protocol", type=int, choices=(2, 3), default=2)
    parser.add_argument("--cluster", action="store_true")
    parser.add_argument("--python-parser", action="store_true",
                        help="hide hiredis, so redis-py parses replies itself")
    args = parser.parse_args()
    tag = f"v{redis.__version__}-p{args.protocol}-{'hiredis' if HIREDIS_AVAILABLE else 'python'}"
    result = cluster(args, tag) if args.cluster else standalone(args, tag)
    result["version"] = redis.__version__
    result["module"] = redis.__file__
    result["hiredis"] = HIREDIS_AVAILABLE
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
