"""Run LossyFS mounts from tests: start one daemon per mount, cut their power, clean up.

Each `LossyMount` is one `lossyfs.py` process (so a node and its disk can be killed apart),
logging to its own file. `power_off` sends SIGUSR1 and waits for the daemon to exit and the
mount to be gone; `start` again mounts the same backing directory, showing exactly what
was synced. `close` (for finalizers) stops the daemon by its pid and always unmounts.
Whether this machine can mount FUSE at all is `fuse_unavailable()`.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from .mountinfo import MNT_DETACH, default_state_dir, mounted, umount

DAEMON = Path(__file__).with_name("lossyfs.py")


@cache
def fuse_unavailable() -> str | None:
    """Why FUSE cannot be mounted here (a skip reason), or None when it can."""
    if os.geteuid() != 0:
        return "LossyFS mounts FUSE filesystems: needs root"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse on this machine"
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR))
    except OSError as exc:
        return f"cannot open /dev/fuse: {exc}"
    if not (ctypes.util.find_library("fuse3") or ctypes.util.find_library("fuse")):
        return "libfuse is not installed (run deploy/ci/system-packages.sh)"
    if importlib.util.find_spec("mfusepy") is None:
        return "mfusepy is not installed (pip install -e '.[dev]')"
    return None


class LossyMount:
    """A LossyFS mount of `backing` at `mountpoint`, run as its own process."""

    def __init__(self, backing: Path, mountpoint: Path, log: Path | None = None,
                 namespace: str | None = None) -> None:
        """`namespace` defaults to $LOSSYFS_NAMESPACE, else "strict". Running a failing
        test with LOSSYFS_NAMESPACE=immediate tells a missing fsyncdir from a missing fsync."""
        self.backing = backing
        self.mountpoint = mountpoint
        self.log = log or backing.parent / f"{backing.name}.lossyfs.log"
        self.namespace = namespace or os.environ.get("LOSSYFS_NAMESPACE", "strict")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(FileNotFoundError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def start(self, timeout: float = 15.0) -> LossyMount:
        """Mount and return once the mount is there (the daemon mirrors BACKING first)."""
        assert not self.running, f"{self.mountpoint} is already mounted"
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, str(DAEMON), str(self.backing), str(self.mountpoint),
               "--namespace", self.namespace]
        with open(self.log, "ab") as log:
            log.write(f"--- start {time.strftime('%H:%M:%S')}: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not mounted(self.mountpoint):
            if self.proc.poll() is not None:
                raise RuntimeError(f"lossyfs exited with {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            if time.monotonic() > deadline:
                self.close()
                raise TimeoutError(f"{self.mountpoint} not mounted after {timeout}s:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.02)
        return self

    def signal_power_off(self) -> None:
        """Cut the power without waiting (see `wait_down`), so several disks go at once."""
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGUSR1)

    def wait_down(self, timeout: float = 15.0) -> None:
        """Wait for the daemon to exit after a power cut; it must have unmounted."""
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise AssertionError(f"lossyfs for {self.mountpoint} did not stop:\n"
                                 f"{self.log_tail()}") from None
        assert code == 0, f"lossyfs exited with {code}:\n{self.log_tail()}"
        assert not mounted(self.mountpoint), f"{self.mountpoint} is still mounted"

    def power_off(self, timeout: float = 15.0) -> None:
        """Lose everything unsynced and unmount."""
        self.signal_power_off()
        self.wait_down(timeout)

    def close(self) -> None:
        """Finalizer: stop the daemon (power off, SIGKILL if it hangs) and unmount."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if mounted(self.mountpoint):  # a daemon killed hard leaves a dead mount behind
            umount(self.mountpoint, MNT_DETACH)

    @property
    def state_dir(self) -> Path:
        return default_state_dir(self.backing)


def power_off_all(mounts: Iterable[LossyMount], timeout: float = 15.0) -> None:
    """Cut the power of several mounts at the same moment, then wait for all."""
    mounts = list(mounts)
    for m in mounts:
        m.signal_power_off()
    for m in mounts:
        m.wait_down(timeout)
