"""The node runs on uvloop's loop when uvloop is installed, unless told not to."""

from __future__ import annotations

import asyncio
import sys
import types

import pytest

from engine.node import event_loop_factory


def _fake_uvloop() -> types.ModuleType:
    module = types.ModuleType("uvloop")

    def new_event_loop() -> asyncio.AbstractEventLoop:
        return asyncio.new_event_loop()

    module.new_event_loop = new_event_loop  # type: ignore[attr-defined]
    return module


def test_uvloop_is_used_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_uvloop()
    monkeypatch.setitem(sys.modules, "uvloop", fake)
    monkeypatch.delenv("ENGINE_EVENT_LOOP", raising=False)
    assert event_loop_factory() is fake.new_event_loop  # type: ignore[attr-defined]


def test_asyncio_when_uvloop_is_missing_or_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", _fake_uvloop())
    monkeypatch.setenv("ENGINE_EVENT_LOOP", "asyncio")
    assert event_loop_factory() is None
    monkeypatch.delenv("ENGINE_EVENT_LOOP")
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop -> ImportError
    assert event_loop_factory() is None
