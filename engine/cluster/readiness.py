"""Is this node able to serve? Health says SERVING only while it can serve a quorum
operation, so load balancers and `tests/health.py` never send work to a node that would
answer 503.

Ready means both:

* **Consensus**: every group this node hosts answers a linearizable read round (a
  majority confirms the leader, and this node has applied up to the commit index), so
  metadata calls and queue commands can be served.
* **Storage**: every erasure set has at least its write quorum of drives on this node or
  on peers that answer a Ping, so object writes can be served.

A restarted node therefore turns SERVING only once it can reach its peers and has caught
up, and a node cut off from the majority turns NOT_SERVING within a check interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from engine.cluster.consensus.group import ConsensusGroup
from engine.cluster.node_view import NodeView
from engine.errors import EngineError

log = logging.getLogger("engine.node")
CHECK_SECONDS = 1.0  # between checks once ready
EARLY_SECONDS = 0.1  # between checks until first ready
PROBE_SECONDS = 1.0  # deadline of each round and ping


class Readiness:
    def __init__(self, groups: list[ConsensusGroup], view: NodeView,
                 once: list[Callable[[], Awaitable[object]]] | None = None) -> None:
        self.groups = groups
        self.view = view
        self.ready = False
        self.reason = "starting"
        # Steps that must succeed once before the first SERVING (the identity store's
        # bootstrap needs a quorum too); retried at every check until they do.
        self._once = list(once or [])

    async def check(self) -> bool:
        while self._once:
            try:
                await self._once[0]()
            except EngineError as exc:
                self.reason = f"starting: {exc.message}"
                return False
            self._once.pop(0)
        try:
            await asyncio.gather(*(g.barrier(PROBE_SECONDS) for g in self.groups))
        except EngineError as exc:
            self.reason = f"consensus: {exc.message}"
            return False
        answered = await self.view.liveness.probe_all()
        for s in self.view.placement.sets():
            up = sum(1 for p in range(len(s.drives))
                     if answered.get(s.node_of(p), True))  # our own drives: True
            if up < s.write_quorum:
                self.reason = (f"erasure set {s.index}: {up} drives reachable, "
                               f"{s.write_quorum} needed")
                return False
        self.reason = ""
        return True

    async def run(self, announce: Callable[[bool], Awaitable[None]]) -> None:
        """Check forever; call ``announce`` whenever readiness changes."""
        while True:
            try:
                ok = await self.check()
            except Exception as exc:  # a bug here must not leave the node unready forever
                log.exception("readiness check failed")
                self.reason = f"readiness check failed: {exc}"
                ok = False
            if ok != self.ready:
                self.ready = ok
                if ok:
                    log.info("ready to serve")
                else:
                    log.warning("not ready to serve: %s", self.reason)
                await announce(ok)
            await asyncio.sleep(CHECK_SECONDS if self.ready else EARLY_SECONDS)
