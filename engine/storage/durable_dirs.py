"""Directories whose names survive a power loss.

Creating a directory or a file puts a name in its parent directory, and that name is
durable only once the parent is fsynced: without it a power loss can leave a data
directory that never existed, whatever was fsynced inside it. LMDB creates its
``data.mdb`` and ``lock.mdb`` and never fsyncs the directory, so every store opens
through :func:`durable_store_dir`.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_durable_dirs(path: Path) -> None:
    """``mkdir -p path``, fsyncing the parent of every directory it creates."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        fsync_dir(directory.parent)


def durable_store_dir(path: Path) -> None:
    """After a store created its files in ``path``: make their names durable."""
    fsync_dir(path)
