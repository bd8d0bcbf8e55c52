"""What a checker reports: an anomaly of one kind, on one key or queue, with the history
excerpt that shows it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.chaos.history import Operation


@dataclass(frozen=True, eq=False)
class Anomaly:
    """A behaviour a model forbids. ``excerpt`` is the smallest set of operations the
    checker could find that shows it, in invocation order."""

    kind: str
    key: str
    message: str
    excerpt: tuple[Operation, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "message": self.message,
                "excerpt": [op.to_json() for op in self.excerpt]}


def excerpt_of(ops: Iterable[Operation]) -> tuple[Operation, ...]:
    """Distinct operations in invocation order (a history excerpt for a report)."""
    unique = {id(op): op for op in ops}
    return tuple(sorted(unique.values(), key=lambda op: (op.invoke_ns, op.index)))
