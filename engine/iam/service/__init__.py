"""The IAM API: operations by their AWS names, taking and returning the IAM API
Reference's members as dicts, whatever the protocol that carried them."""

from __future__ import annotations

from typing import Any

from engine.clock import Clock
from engine.errors import EngineError
from engine.iam.principal import Principal
from engine.iam.sealing import Sealer
from engine.iam.service import entities, keys, policies, simulate
from engine.iam.service.context import Call
from engine.iam.store.table import IdentityStore

OPERATIONS: dict[str, Any] = {**entities.OPERATIONS, **keys.OPERATIONS,
                              **policies.OPERATIONS, **simulate.OPERATIONS}


class IamService:
    def __init__(self, store: IdentityStore, sealer: Sealer, clock: Clock) -> None:
        self.store = store
        self.sealer = sealer
        self.clock = clock

    async def handle(self, action: str, params: dict[str, Any], caller: Principal
                     ) -> dict[str, Any]:
        """Run an IAM operation for an already-authorized caller."""
        handler = OPERATIONS.get(action)
        if handler is None:
            raise EngineError("InvalidAction", f"The action {action} is not valid for this "
                              "web service.")
        result: dict[str, Any] = await handler(Call(self.store, self.sealer, self.clock,
                                                    caller, params))
        return result
