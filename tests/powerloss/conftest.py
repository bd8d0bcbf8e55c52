"""Fixtures for LossyFS tests: mounts under tmp_path that are always unmounted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .mount import LossyMount, fuse_unavailable


@pytest.fixture
def lossy_mount(tmp_path: Path) -> Iterator[Callable[..., LossyMount]]:
    """Start LossyFS mounts (skips when this machine cannot mount FUSE); every daemon is
    stopped by its pid and every mount removed afterwards."""
    reason = fuse_unavailable()
    if reason is not None:
        pytest.skip(reason)
    made: list[LossyMount] = []

    def make(name: str = "disk", namespace: str = "strict") -> LossyMount:
        m = LossyMount(tmp_path / f"{name}-backing", tmp_path / f"{name}-mnt",
                       namespace=namespace)
        made.append(m)
        return m.start()

    try:
        yield make
    finally:
        for m in made:
            m.close()
