"""Child processes that die with their parent, even when the parent is `kill -9`'d.

A supervisor that is SIGKILLed runs no cleanup, so its nodes would live on and keep their
ports. On Linux the child asks the kernel for SIGKILL when its parent dies
(`prctl(PR_SET_PDEATHSIG, SIGKILL)`) between fork and exec; the setting survives exec.
The kernel sends it when the *thread* that forked the child ends, so only the main thread
ties its children (a worker thread's exit would otherwise kill them); anywhere else, and on
other systems, children are spawned as plain subprocesses.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

Prctl = Callable[[int, int, int, int, int], int]


def _load_prctl() -> Prctl | None:
    """libc's prctl, looked up once at import: no dlopen may run between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl  # type: ignore[no-any-return]


_PRCTL = _load_prctl()


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that ties the child to this process, or None where that cannot work."""
    if _PRCTL is None or threading.current_thread() is not threading.main_thread():
        return None
    prctl, parent = _PRCTL, os.getpid()

    def preexec() -> None:  # runs in the child, after fork, before exec
        if prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
        if os.getppid() != parent:  # the parent died before prctl: no signal will come
            os.kill(os.getpid(), signal.SIGKILL)
    return preexec


def popen_tied(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(args, **kwargs)` whose child gets SIGKILL if this process dies."""
    return subprocess.Popen(args, preexec_fn=die_with_parent(), **kwargs)
