"""Per-queue message counts (CloudWatch's ApproximateNumberOfMessages* for SQS).

Each node reports the partitions of the queue groups it leads, from the replicated state
it already holds in memory, so ``sum by (queue, state)`` over the nodes is the queue's
total, without double counting the followers' copies. Computed at scrape time: the
catalog's records (a copy under its lock) and, per queue and led group, the counts the
GetQueueAttributes path computes (engine/queues/partition.py ``stats``), under the
group's state lock; nothing is added to the request path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from engine.queues.service import QueueService
from engine.v1.queue_records_pb2 import QueueRef


class QueueStats(Collector):
    def __init__(self, queues: QueueService) -> None:
        self.queues = queues

    def collect(self) -> Iterator[GaugeMetricFamily]:
        messages = GaugeMetricFamily(
            "engine_queue_messages", "Messages in the partitions this node leads, by state: "
            "visible (ApproximateNumberOfMessages), in_flight (...NotVisible), delayed "
            "(...Delayed)", labels=("queue", "state"))
        leader = GaugeMetricFamily(
            "engine_queue_group_leader", "1 for each queue replica group this node leads, "
            "0 for the ones it follows", labels=("group",))
        with contextlib.suppress(Exception):
            hosts = sorted(self.queues.router.hosts.items())
            led = []
            for index, host in hosts:
                is_leader = host.group.is_leader
                leader.add_metric((str(index),), 1.0 if is_leader else 0.0)
                if is_leader:
                    led.append(host)
            records = self.queues.catalog.known() if led else []
            for record in records:
                ref = QueueRef(name=record.name, incarnation=record.incarnation)
                visible = in_flight = delayed = 0
                for host in led:
                    for part in host.stats(ref):
                        visible += part.visible
                        in_flight += part.in_flight
                        delayed += part.delayed
                messages.add_metric((record.name, "visible"), visible)
                messages.add_metric((record.name, "in_flight"), in_flight)
                messages.add_metric((record.name, "delayed"), delayed)
        yield messages
        yield leader
