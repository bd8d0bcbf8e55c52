"""QueueService: Amazon SQS's operations over the catalog and the partition groups.

The same code runs on a single node (one group of one member holding every partition)
and in a cluster (one group per node, three members in three AZs); only the router
differs. Requests and responses are the protos of queues.proto.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from engine.errors import EngineError
from engine.queues.management import QueueManagement
from engine.queues.messaging import Messaging

log = logging.getLogger("engine.queues")
SWEEP_SECONDS = 10.0


class QueueService(QueueManagement, Messaging):
    async def sweep_forever(self, interval: float = SWEEP_SECONDS) -> None:
        """Drop expired messages and deduplication entries in the groups this node
        leads, so idle queues give their memory back (receives expire lazily too)."""
        while True:
            await asyncio.sleep(interval)
            for host in self.router.hosts.values():
                if not host.group.is_leader:
                    continue
                command = self.command()
                command.sweep = True
                with contextlib.suppress(EngineError):
                    await host.apply(command)
