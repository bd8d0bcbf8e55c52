"""Mount-table helpers shared by the LossyFS daemon and the tests (no libfuse needed)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

MNT_FORCE = 1  # on a FUSE mount, umount_begin aborts the connection
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)


def default_state_dir(backing: Path) -> Path:
    """Where a LossyFS daemon keeps its bookkeeping: beside BACKING, so hard links work."""
    return backing.parent / f".{backing.name}.lossyfs"


def mounted(path: Path) -> bool:
    """Whether `path` is a mount point now, from /proc/self/mountinfo (a stat of a dead
    FUSE mount would fail with ENOTCONN)."""
    target = str(path)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            point = line.split()[4]
            if "\\" in point:  # spaces and the like are octal escapes
                point = point.encode("latin-1").decode("unicode_escape")
            if point == target:
                return True
    return False


def umount(path: Path, flags: int) -> int:
    """umount2(2): 0, or the errno."""
    if _libc.umount2(os.fsencode(str(path)), flags) == 0:
        return 0
    return ctypes.get_errno()


def signal_on_parent_death(signum: int) -> None:
    """Have the kernel send `signum` to this process when its parent dies (prctl)."""
    if _libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
