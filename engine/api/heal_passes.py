"""The last healing pass over each erasure set, remembered for `engine status`.

Counting damaged shards exactly takes a scan of every object, which a status call must
never do; the scanner and `engine admin heal` do that scan anyway. This Healer keeps
what each of their passes found, per set and when, so status can report it.
"""

from __future__ import annotations

import time

from engine.clock import Clock
from engine.cluster.placement import ErasureSet, Placement
from engine.objects.heal import DEFAULT_GRACE_SECONDS, Healer, HealReport
from engine.v1 import admin_pb2 as pb

MAX_ERRORS = 100  # per report on the wire: enough to see the pattern


def heal_response(report: HealReport, seconds: float) -> pb.HealResponse:
    return pb.HealResponse(
        objects_checked=report.objects_checked, entries_fixed=report.entries_fixed,
        entries_removed=report.entries_removed, shards_checked=report.shards_checked,
        shards_rebuilt=report.shards_rebuilt, pending_discarded=report.pending_discarded,
        unresolved=report.unresolved, partial=report.partial,
        errors=report.errors[:MAX_ERRORS], seconds=seconds,
    )


class RecordingHealer(Healer):
    """A Healer that heals set by set and remembers each set's last pass.

    A pass over given sets is the background scanner's; a pass over every set (no
    ``sets``) is `engine admin heal`'s.
    """

    def __init__(self, placement: Placement, clock: Clock, node_id: str) -> None:
        super().__init__(placement, clock)
        self.node_id = node_id
        self.passes: dict[int, pb.HealPass] = {}

    async def heal_all(self, buckets: list[str], *,
                       grace_seconds: float = DEFAULT_GRACE_SECONDS,
                       rate: float | None = None,
                       sets: list[ErasureSet] | None = None) -> HealReport:
        kind = "admin heal" if sets is None else "scanner"
        total = HealReport()
        for eset in sets if sets is not None else self.placement.sets():
            started = time.monotonic()
            report = await super().heal_all(buckets, grace_seconds=grace_seconds, rate=rate,
                                            sets=[eset])
            seconds = time.monotonic() - started
            self.passes[eset.index] = pb.HealPass(
                set=eset.index, kind=kind, node_id=self.node_id, finished_unix=time.time(),
                seconds=seconds, report=heal_response(report, seconds))
            _add(total, report)
        return total


def _add(total: HealReport, report: HealReport) -> None:
    for name, value in vars(report).items():
        setattr(total, name, getattr(total, name) + value)
