"""What every queue operation shares: finding the queue, stamping commands, and
knowing which group holds which partition."""

from __future__ import annotations

from collections import defaultdict

from engine.clock import Clock
from engine.cluster.consensus.ids import new_op_id
from engine.errors import EngineError
from engine.queues.catalog import QueueCatalog
from engine.queues.groups import partition_group
from engine.queues.names import name_from_url, queue_url
from engine.queues.receive_slots import ReceiveSlots
from engine.queues.router import GroupRouter
from engine.v1.queue_records_pb2 import PartitionCommand, QueueRecord, QueueRef

DEFAULT_PARTITIONS = 6  # per standard queue; FIFO queues have one (order and dedup scope)


class QueueCore:
    def __init__(self, catalog: QueueCatalog, router: GroupRouter, clock: Clock, *,
                 host: str, partitions: int = DEFAULT_PARTITIONS) -> None:
        self.catalog = catalog
        self.router = router
        self.clock = clock
        self.host = host  # what queue URLs name (this node's gRPC address)
        self.partitions = partitions
        # (queue, partition) -> messages its last receive returned: short-poll weights
        self.hits: dict[tuple[str, int], int] = {}
        self.receive_slots = ReceiveSlots()

    def url(self, name: str) -> str:
        return queue_url(self.host, name)

    async def queue(self, url: str, *, stale_ok: bool = False) -> QueueRecord:
        """The queue a QueueUrl names, or NonExistentQueue. Message operations pass
        ``stale_ok``: a hit may lag attribute changes by the replication delay (SQS
        documents up to 60 s), a miss is always read again linearizably."""
        return await self.queue_named(name_from_url(url), stale_ok=stale_ok)

    async def queue_named(self, name: str, *, stale_ok: bool = False) -> QueueRecord:
        record = await self.catalog.get(name, stale_ok=stale_ok)
        if record is None:
            raise no_such_queue(name)
        return record

    def command(self) -> PartitionCommand:
        """A fresh command stamped with the engine clock and an operation id."""
        return PartitionCommand(now_ns=self.clock.now_ns(), op_id=new_op_id())

    def group_of(self, record: QueueRecord, partition: int) -> int:
        return partition_group(record.name, partition, self.router.count)

    def groups_of(self, record: QueueRecord) -> dict[int, list[int]]:
        """group -> the queue's partitions it holds."""
        out: dict[int, list[int]] = defaultdict(list)
        for p in range(max(1, record.partitions)):
            out[self.group_of(record, p)].append(p)
        return dict(out)


def no_such_queue(name: str) -> EngineError:
    return EngineError("AWS.SimpleQueueService.NonExistentQueue",
                       "The specified queue does not exist.", queue=name)


def ref(record: QueueRecord) -> QueueRef:
    return QueueRef(name=record.name, incarnation=record.incarnation)
