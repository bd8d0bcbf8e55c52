"""Quorum decisions: majority answers, and reads that do not wait for a hung drive."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from engine.errors import EngineError
from engine.objects.quorum import fan_out, first_agreement
from engine.storage.errors import VolumeNotFound


@dataclass
class Stub:
    """Stands for a drive in these pure decision tests: what it answers, or hangs."""

    name: str
    answer: object = None
    hang: bool = False

    async def ask(self) -> object:
        if self.hang:
            await asyncio.Event().wait()
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def ask(d: Stub):
    return d.ask()


def test_agreement_does_not_wait_for_a_hung_drive() -> None:
    drives = [Stub(f"d{i}", "v1") for i in range(5)] + [Stub("hung", hang=True)]

    async def go() -> object:
        return await asyncio.wait_for(first_agreement(drives, ask, 4, lambda r: r), 2)

    assert asyncio.run(go()) == "v1"


def test_agreement_fails_fast_when_impossible() -> None:
    drives = [Stub("a", "v1"), Stub("b", "v1"), Stub("c", "v2"), Stub("d", "v2"),
              Stub("e", ConnectionError("down")), Stub("hung", hang=True)]

    async def go() -> object:
        return await asyncio.wait_for(first_agreement(drives, ask, 4, lambda r: r), 2)

    with pytest.raises(EngineError) as err:
        asyncio.run(go())
    assert err.value.code == "ServiceUnavailable"


def test_a_minority_answer_does_not_fail_a_quorum_write() -> None:
    drives = [Stub(f"d{i}", "ok") for i in range(4)] + \
        [Stub("stale1", VolumeNotFound("b")), Stub("stale2", ConnectionError("x"))]
    assert asyncio.run(fan_out(drives, ask, 4)) == ["ok"] * 4 + [None, None]


def test_below_quorum_the_most_common_answer_is_raised() -> None:
    drives = [Stub("a", "ok"), Stub("b", VolumeNotFound("b")), Stub("c", VolumeNotFound("b")),
              Stub("d", ConnectionError("x"))]
    with pytest.raises(VolumeNotFound):
        asyncio.run(fan_out(drives, ask, 3))
    with pytest.raises(EngineError) as err:
        asyncio.run(fan_out([Stub("a", "ok"), Stub("b", ConnectionError("x"))], ask, 2))
    assert err.value.code == "ServiceUnavailable"
