"""What every IAM operation handler gets: the store, the sealer, the clock, the caller,
and the request's parameters with IAM's required-parameter check."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from engine.clock import Clock
from engine.errors import EngineError
from engine.iam.principal import Principal
from engine.iam.sealing import Sealer
from engine.iam.store.state import Record
from engine.iam.store.table import IdentityStore


def iso(seconds: float) -> str:
    """IAM's date format (second precision, UTC)."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Call:
    store: IdentityStore
    sealer: Sealer
    clock: Clock
    caller: Principal
    params: dict[str, Any]

    @property
    def now(self) -> str:
        return iso(self.clock.now_ns() / 1e9)

    @property
    def account(self) -> str:
        return self.caller.account

    def need(self, name: str) -> Any:
        value = self.params.get(name)
        if value is None or value == "":
            field = name[0].lower() + name[1:]
            raise EngineError("ValidationError", f"1 validation error detected: Value null at "
                              f"'{field}' failed to satisfy constraint: Member must not be null")
        return value

    def get(self, name: str, default: Any = None) -> Any:
        value = self.params.get(name)
        return default if value is None else value

    async def change(self, op: str, **fields: Any) -> Record:
        return await self.store.change({"op": op, "now": self.now, **fields})

    async def existing(self, kind: str, name: str) -> Record:
        record = await self.store.fetch(kind, name)
        if record is None:
            raise EngineError("NoSuchEntity", f"The {kind} with name {name} cannot be found.")
        return record

    def self_user(self) -> str:
        """The user an operation without UserName acts on: the caller (root: "")."""
        if self.caller.kind == "user":
            return self.caller.name
        if self.caller.is_root:
            return ""
        raise EngineError("ValidationError", "Must specify userName when calling with "
                          "non-User credentials")
