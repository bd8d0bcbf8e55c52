"""Hand-written histories for the chaos checkers' tests: each operation is given as its
invocation and completion times, in seconds (stored as nanoseconds)."""

from __future__ import annotations

from typing import Any

from engine.chaos.history import Operation

NS = 1_000_000_000


class History:
    def __init__(self) -> None:
        self.ops: list[Operation] = []

    def op(self, f: str, key: str | None, value: Any = None, *, at: tuple[float, float | None],
           type: str = "ok", result: Any = None, process: int | str | None = None,
           **extra: Any) -> Operation:
        start, end = at
        op = Operation(index=len(self.ops), process=len(self.ops) if process is None else process,
                       f=f, key=key, value=value, type=type,  # type: ignore[arg-type]
                       result=result, invoke_ns=int(start * NS),
                       complete_ns=None if end is None else int(end * NS), extra=extra)
        self.ops.append(op)
        return op

    def write(self, key: str, value: Any, at: tuple[float, float | None], type: str = "ok",
              **extra: Any) -> Operation:
        return self.op("write", key, value, at=at, type=type, **extra)

    def read(self, key: str, result: Any, at: tuple[float, float | None], type: str = "ok",
             **extra: Any) -> Operation:
        return self.op("read", key, at=at, type=type, result=result, **extra)
