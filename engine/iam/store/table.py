"""IdentityStore: this node's replica of the identity machine, with an asyncio API.

Changes go through the meta group (committed by a majority, applied here before the call
returns). Authentication reads this node's copy without a round trip (``read_local``):
a request must not wait for a quorum to be checked, and a change reaches every node as
fast as the group replicates (commit notices: milliseconds; docs/iam.md states the
bound). API reads (GetUser, ListUsers) are linearizable, as IAM's are eventually
consistent at worst. ``generation`` moves whenever an identity command applies here or
a snapshot replaces the state: caches of derived data (compiled policies, secrets,
signing keys) compare it and start over.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from engine.cluster.consensus.group import ConsensusGroup
from engine.cluster.consensus.machine import ReadKeyspace
from engine.iam.store import state
from engine.iam.store.machine import IdentityMachine
from engine.iam.store.state import Record

R = TypeVar("R")


class IdentityStore:
    def __init__(self, group: ConsensusGroup) -> None:
        self.group = group
        self.generation = 0
        group.on_applied(self._applied)
        group.on_restored(self._changed)

    def _applied(self, machine: str, payload: bytes) -> None:
        if machine == IdentityMachine.name:
            self._changed()

    def _changed(self) -> None:
        self.generation += 1

    async def change(self, command: Record, *, timeout: float | None = None) -> Record:
        """Apply a command; the machine's refusal arrives as EngineError."""
        result = await self.group.call(IdentityMachine.name, state.dumps(command),
                                       timeout=timeout)
        record: Record = json.loads(result)
        self._changed()  # applied here already; the listener may run a moment later
        return record

    async def read(self, query: Callable[[ReadKeyspace], R], *,
                   timeout: float | None = None) -> R:
        return await self.group.read(IdentityMachine.name, query, timeout=timeout)

    def local(self, query: Callable[[ReadKeyspace], R]) -> R:
        return self.group.read_local(IdentityMachine.name, query)

    # -- reads every caller needs ----------------------------------------------------------

    def account(self) -> Record | None:
        return self.local(state.account)

    def get(self, kind: str, name: str) -> Record | None:
        return self.local(lambda k: state.read(k, kind, name))

    async def fetch(self, kind: str, name: str) -> Record | None:
        return await self.read(lambda k: state.read(k, kind, name))

    async def all(self, kind: str) -> list[Any]:
        return await self.read(lambda k: state.read_all(k, kind))
