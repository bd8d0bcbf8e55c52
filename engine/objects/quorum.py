"""Run one call on every drive of a set and decide by quorum.

A call succeeds when at least `quorum` drives succeed; the drives that failed or gave
another answer are left for healing. Below quorum, an answer that drives gave (a
precondition that did not hold, a missing volume) is raised if any drive gave one,
the most common first; otherwise the set is unavailable. Erasure sets are planned so
that k > m, which makes every quorum a strict majority: two quorums always overlap.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import TypeVar

from engine.errors import EngineError
from engine.storage.drive import Drive
from engine.storage.entries import PreconditionMismatch
from engine.storage.errors import UploadNotFound, VolumeExists, VolumeNotEmpty, VolumeNotFound

T = TypeVar("T")
log = logging.getLogger(__name__)

ANSWERS = (PreconditionMismatch, VolumeNotFound, VolumeExists, VolumeNotEmpty, UploadNotFound,
           EngineError)


async def fan_out(
    drives: Sequence[Drive], call: Callable[[Drive], Awaitable[T]], quorum: int
) -> list[T | None]:
    """Results in drive order (None where the drive failed), once `quorum` succeeded."""
    if len(drives) == 1:  # one local drive: no tasks to schedule, errors pass through
        try:
            return [await call(drives[0])]
        except ANSWERS:
            raise
        except Exception as exc:
            raise EngineError("ServiceUnavailable", f"drive {drives[0].name} failed") from exc
    results = await asyncio.gather(*(call(d) for d in drives), return_exceptions=True)
    ok = sum(not isinstance(r, BaseException) for r in results)
    if ok >= quorum:
        return [None if isinstance(r, BaseException) else r for r in results]
    answers = [r for r in results if isinstance(r, ANSWERS)]
    if answers:
        kinds = Counter(type(a) for a in answers)
        raise next(a for a in answers if type(a) is kinds.most_common(1)[0][0])
    for drive, r in zip(drives, results, strict=True):
        if isinstance(r, BaseException):
            log.warning("drive %s failed: %r", drive.name, r)
    failures = [r for r in results if isinstance(r, BaseException)]
    raise EngineError(
        "ServiceUnavailable",
        f"only {ok} of {len(drives)} drives answered; {quorum} are needed",
    ) from failures[0]


async def first_agreement(
    drives: Sequence[Drive], call: Callable[[Drive], Awaitable[T]], quorum: int,
    vote: Callable[[T], Hashable],
) -> T:
    """The first result that `quorum` drives agree on (by `vote`), without waiting for
    slower drives: a hung peer then costs nothing while the rest agree. Raises 503 when
    agreement became impossible."""
    tasks = [asyncio.ensure_future(call(d)) for d in drives]
    tally: Counter[Hashable] = Counter()
    failed = 0
    try:
        for next_done in asyncio.as_completed(tasks):
            try:
                result = await next_done
            except Exception as exc:
                failed += 1
                log.debug("drive failed during a quorum read: %r", exc)
            else:
                choice = vote(result)
                tally[choice] += 1
                if tally[choice] >= quorum:
                    return result
            leader = max(tally.values(), default=0)
            undecided = len(drives) - failed - sum(tally.values())
            if leader + undecided < quorum:
                break
    finally:
        for task in tasks:
            task.cancel()
    raise EngineError("ServiceUnavailable",
                      f"{quorum} of {len(drives)} drives do not agree (or did not answer)")
