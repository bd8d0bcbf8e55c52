"""What the crash tests acknowledge through the SDK, and how they check it afterwards.

`acknowledge` creates buckets, standard and FIFO queues and sends messages, spread over
the nodes as coordinators, and records exactly what the cluster acknowledged (a call that
returned). `check` then looks through chosen nodes and returns every acknowledged thing it
cannot find, so a failing test says what was lost rather than stopping at the first miss.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .conftest import Cluster, error_code, wait_until

CALL_TIMEOUT = 10.0  # above Raft's 5 s deadline: a call answers rather than times out
READY_TIMEOUT = 60.0  # for a restarted node to answer at all (its Raft groups elect)
RECEIVE_VISIBILITY = 300  # a received message stays hidden for the rest of the test


@dataclass
class Acknowledged:
    buckets: list[str] = field(default_factory=list)
    # queue name -> message id -> body, in send order
    queues: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return sum(len(m) for m in self.queues.values())


def acknowledge(c: Cluster, tag: str, buckets: int = 6, queues: int = 3,
                messages: int = 20) -> Acknowledged:
    """Buckets, queues (the last one FIFO) and messages, each call through the next node."""
    acked = Acknowledged()
    nodes = c.node_ids
    for i in range(buckets):
        name = f"{tag}-bucket-{i}"
        c.client(nodes[i % len(nodes)], timeout=CALL_TIMEOUT).create_bucket(Bucket=name)
        acked.buckets.append(name)
    for q in range(queues):
        fifo = q == queues - 1
        name = f"{tag}-queue-{q}" + (".fifo" if fifo else "")
        attrs = {"FifoQueue": "true"} if fifo else {}
        c.sqs(nodes[q % len(nodes)], timeout=CALL_TIMEOUT).create_queue(
            QueueName=name, Attributes=attrs)
        acked.queues[name] = {}
        for i in range(messages):
            sqs = c.sqs(nodes[(q + i) % len(nodes)], timeout=CALL_TIMEOUT)
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            body = f"{name}/{i}/{os.urandom(8).hex()}"
            extra = ({"MessageGroupId": f"g{i % 2}", "MessageDeduplicationId": body}
                     if fifo else {})
            sent = sqs.send_message(QueueUrl=url, MessageBody=body, **extra)
            acked.queues[name][sent["MessageId"]] = body
    return acked


def _answer(what: str, call: Any) -> Any:
    """The first answer of a restarted node (it may refuse calls while its groups elect);
    an error that is an answer, such as NonExistentQueue, is returned, not retried."""
    box: dict[str, Any] = {}

    def attempt() -> bool:
        try:
            box["value"] = call()
        except Exception as exc:
            if error_code(exc) in ("AWS.SimpleQueueService.NonExistentQueue",
                                   "QueueDoesNotExist"):
                box["value"] = exc
            else:
                raise
        return True

    wait_until(attempt, READY_TIMEOUT, what, interval=0.2)
    return box["value"]


def _receive_all(sqs: Any, url: str, expected: int) -> dict[str, str]:
    """message id -> body of every message the queue delivers: long polls until all
    `expected` came or two polls in a row found nothing visible in any partition."""
    got: dict[str, str] = {}
    empty = 0
    while len(got) < expected and empty < 2:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                    VisibilityTimeout=RECEIVE_VISIBILITY).get("Messages", [])
        empty = 0 if batch else empty + 1
        for m in batch:
            got[m["MessageId"]] = m["Body"]
    return got


def check(c: Cluster, acked: Acknowledged, via: Iterable[str]) -> list[str]:
    """Everything acknowledged that is missing or wrong: buckets as each node in `via` lists
    them, queues and messages through the first of them (receiving hides the messages)."""
    via = list(via)
    lost: list[str] = []
    for node in via:
        s3 = c.client(node, timeout=CALL_TIMEOUT)
        listed = {b["Name"] for b in _answer(f"ListBuckets on {node}",
                                             s3.list_buckets)["Buckets"]}
        missing = [b for b in acked.buckets if b not in listed]
        if missing:
            lost.append(f"{node} lists {len(acked.buckets) - len(missing)} of "
                        f"{len(acked.buckets)} buckets; lost: {missing}")
    sqs = c.sqs(via[0], timeout=CALL_TIMEOUT)
    for name, sent in acked.queues.items():
        found = _answer(f"GetQueueUrl {name} on {via[0]}",
                        lambda name=name: sqs.get_queue_url(QueueName=name))
        if isinstance(found, Exception):
            lost.append(f"queue {name} is gone ({error_code(found)}) with its "
                        f"{len(sent)} messages")
            continue
        got = _receive_all(sqs, found["QueueUrl"], len(sent))
        missing = [mid for mid in sent if mid not in got]
        wrong = [mid for mid in sent if mid in got and got[mid] != sent[mid]]
        if missing:
            lost.append(f"queue {name}: {len(missing)} of {len(sent)} messages lost")
        if wrong:
            lost.append(f"queue {name}: {len(wrong)} messages with another body")
    return lost


def kill_all_at_once(c: Cluster, nodes: Iterable[str]) -> None:
    """SIGKILL every node first, then reap them (Cluster.kill9 waits for each in turn)."""
    nodes = list(nodes)
    for n in nodes:
        c.procs[n].kill()
    c.kill9(nodes)

