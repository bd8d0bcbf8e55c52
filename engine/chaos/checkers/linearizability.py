"""A bounded search for a linearization of one object's history (Wing & Gong's algorithm
with Lowe's just-in-time linearization and memoization, as in Knossos and Porcupine).

Invocations and completions are laid out on one time line. The search walks it from the
start, linearizing any invoked operation whose effect the model allows in the current
state; reaching the completion of an operation not yet linearized means an earlier choice
was wrong, so it backtracks. A (set of linearized operations, model state) pair already
explored is never explored again. ``ok`` operations must linearize between their
invocation and completion; ``info`` ones anywhere after their invocation, or never;
``fail`` ones never (callers leave them out).

Indeterminate operations with the same effect (``interchangeable`` gives them one key:
a register's timed-out deletes all leave the key absent) are tried in invocation order
only: once two are both invoked, either can take effect at any later point, so
linearizing the later one while the earlier is pending leads to the same states as the
other way round. Without this, k timed-out deletes of one key cost 2^k configurations.

The search is exponential in the worst case, so it is bounded: past
``max_configurations`` explored configurations the verdict is "unknown", never a false
"linearizable".
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar

from engine.chaos.history import Operation

S = TypeVar("S", bound=Hashable)
Verdict = Literal["linearizable", "nonlinearizable", "unknown"]
DEFAULT_MAX_CONFIGURATIONS = 200_000


class Model(Protocol[S]):
    """A sequential specification: ``step`` says whether ``op`` is legal in ``state``
    (given the result it recorded) and the state after it."""

    def init(self) -> S: ...

    def step(self, state: S, op: Operation) -> tuple[bool, S]: ...


@dataclass(frozen=True)
class SearchResult(Generic[S]):
    """The verdict; for "nonlinearizable", ``blocking`` is the operation that could not
    be linearized before its completion at the furthest point any branch reached."""

    verdict: Verdict
    explored: int
    blocking: Operation | None = None


def search(ops: Sequence[Operation], model: Model[S],
           max_configurations: int = DEFAULT_MAX_CONFIGURATIONS,
           interchangeable: Callable[[Operation], Hashable] | None = None
           ) -> SearchResult[S]:
    """Whether ``ops`` (``ok`` and ``info`` operations of one object) linearize.
    ``interchangeable``: a key shared by ``info`` operations with the same effect."""
    ops = [op for op in ops if op.type == "ok" or op.type == "info"]
    # Entries: (time, 0 = invocation / 1 = completion, op number). At equal times
    # invocations come first: operations we cannot order are taken as concurrent.
    timeline: list[tuple[int, int, int]] = []
    for n, op in enumerate(ops):
        timeline.append((op.invoke_ns, 0, n))
        if op.type == "ok":
            if op.complete_ns is None:
                raise ValueError(f"ok operation {op.index} has no completion time")
            timeline.append((op.complete_ns, 1, n))
    timeline.sort()
    size = len(timeline)
    head, tail = 0, size + 1  # sentinels around entries 1..size
    nxt = [*range(1, size + 2), tail]
    prv = [head, *range(0, size + 1)]
    op_of = [-1] * (size + 2)
    is_call = [False] * (size + 2)
    completion = [-1] * len(ops)  # entry of each op's completion
    call_entry = [-1] * len(ops)
    for e, (_, kind, n) in enumerate(timeline, 1):
        op_of[e] = n
        is_call[e] = kind == 0
        if kind == 0:
            call_entry[n] = e
        else:
            completion[n] = e
    match = [-1] * (size + 2)
    for n in range(len(ops)):
        match[call_entry[n]] = completion[n]
    # For an info operation, the info operation with the same key invoked just before it
    # (-1: none): it is linearized only once that one is.
    before_it = [-1] * len(ops)
    if interchangeable is not None:
        last: dict[Hashable, int] = {}
        for e in range(1, size + 1):
            n = op_of[e]
            if is_call[e] and ops[n].type == "info":
                key = interchangeable(ops[n])
                before_it[n] = last.get(key, -1)
                last[key] = n

    def lift(e: int) -> None:
        nxt[prv[e]], prv[nxt[e]] = nxt[e], prv[e]
        r = match[e]
        if r >= 0:
            nxt[prv[r]], prv[nxt[r]] = nxt[r], prv[r]

    def unlift(e: int) -> None:
        r = match[e]
        if r >= 0:
            nxt[prv[r]] = r
            prv[nxt[r]] = r
        nxt[prv[e]] = e
        prv[nxt[e]] = e

    state = model.init()
    linearized = 0
    remaining = sum(1 for op in ops if op.type == "ok")
    seen: set[tuple[int, Hashable]] = set()
    stack: list[tuple[int, S]] = []
    explored = 0
    furthest = -1
    entry = nxt[head]
    while remaining:
        n = op_of[entry]
        if is_call[entry]:
            earlier = before_it[n]
            if earlier >= 0 and not linearized >> earlier & 1:
                entry = nxt[entry]  # its twin invoked first goes first
                continue
            legal, after = model.step(state, ops[n])
            if legal:
                config = (linearized | (1 << n), after)
                if config not in seen:
                    explored += 1
                    if explored > max_configurations:
                        return SearchResult("unknown", explored - 1)
                    seen.add(config)
                    stack.append((entry, state))
                    state, linearized = after, config[0]
                    lift(entry)
                    if ops[n].type == "ok":
                        remaining -= 1
                    entry = nxt[head]
                    continue
            entry = nxt[entry]
            continue
        # The completion of an operation nobody linearized: backtrack.
        furthest = max(furthest, entry)
        if not stack:
            return SearchResult("nonlinearizable", explored, ops[op_of[furthest]])
        entry, state = stack.pop()
        n = op_of[entry]
        linearized &= ~(1 << n)
        unlift(entry)
        if ops[n].type == "ok":
            remaining += 1
        entry = nxt[entry]
    return SearchResult("linearizable", explored)


def excerpt_around(ops: Sequence[Operation], blocking: Operation,
                   related: Callable[[Operation], Sequence[Operation]] = lambda op: ()
                   ) -> list[Operation]:
    """The operations around the point where no linearization exists: ``blocking``, the
    operations concurrent with the last one that completed before it was invoked up to
    its completion, and whatever ``related`` adds (say, the write of the value a read
    returned)."""
    before = [op for op in ops if op.precedes(blocking) and op.type == "ok"]
    start = max(before, key=lambda op: op.end_ns).invoke_ns if before else blocking.invoke_ns
    end = blocking.end_ns
    window = [op for op in ops
              if op.type != "fail" and op.invoke_ns <= end and op.end_ns >= start]
    return [*window, *related(blocking)]
