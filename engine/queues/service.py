"""QueueService: Amazon SQS's operations over the catalog and the partition groups.

The same code runs on a single node (one group of one member holding every partition)
and in a cluster (one group per node, three members in three AZs); only the router
differs. Requests and responses are the protos of queues.proto.
"""

from __future__ import annotations

import asyncio
import logging

from engine.errors import EngineError
from engine.queues.redrive import Redrive

log = logging.getLogger("engine.queues")
SWEEP_SECONDS = 10.0
SWEEPS_PER_ROUND = 1000  # bounded commands in a row per group before the others' turn


class QueueService(Redrive):
    async def sweep_forever(self, interval: float = SWEEP_SECONDS) -> None:
        """Drop expired messages, deduplication entries and the messages of purged or
        deleted queues in the groups this node leads, a bounded amount per command:
        sweep again at once while a group reports more left. Cancelled at shutdown, it
        stops the node's message move tasks too (they live no longer than the node)."""
        try:
            await self._sweep_rounds(interval)
        finally:
            self.stop_move_tasks()

    async def _sweep_rounds(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            for host in self.router.hosts.values():
                for _ in range(SWEEPS_PER_ROUND):
                    if not host.group.is_leader:
                        break
                    command = self.command()
                    command.sweep = True
                    try:
                        result = await host.apply(command)
                    except EngineError:
                        break
                    if not result.more:
                        break
