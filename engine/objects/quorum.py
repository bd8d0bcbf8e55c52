"""Run one call on every drive of a set and decide by quorum.

Errors that are answers (a precondition that did not hold, a missing volume) are the
same on every healthy drive and are raised as they are; anything else counts as that
drive being unavailable. Fewer successes than the quorum is a failed request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from engine.errors import EngineError
from engine.storage.drive import Drive
from engine.storage.entries import PreconditionMismatch
from engine.storage.errors import VolumeExists, VolumeNotEmpty, VolumeNotFound

T = TypeVar("T")
log = logging.getLogger(__name__)

ANSWERS = (PreconditionMismatch, VolumeNotFound, VolumeExists, VolumeNotEmpty, EngineError)


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
    ok = [r for r in results if not isinstance(r, BaseException)]
    for r in results:
        if isinstance(r, ANSWERS):
            raise r
    if len(ok) < quorum:
        failures = [r for r in results if isinstance(r, BaseException)]
        for drive, r in zip(drives, results, strict=True):
            if isinstance(r, BaseException):
                log.warning("drive %s failed: %r", drive.name, r)
        raise EngineError(
            "ServiceUnavailable",
            f"only {len(ok)} of {len(drives)} drives answered; {quorum} are needed",
        ) from failures[0]
    return [None if isinstance(r, BaseException) else r for r in results]
