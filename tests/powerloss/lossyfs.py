"""LossyFS: a FUSE passthrough filesystem that loses what was never synced when its power is cut.

Run as its own process, one per mount: ``python lossyfs.py BACKING MOUNTPOINT``. The mount
mirrors the directory BACKING, which holds exactly the *durable* state at every moment:
what a disk would still have after a power cut. SIGUSR1 (or SIGTERM, SIGINT, SIGHUP) cuts
the power: everything unsynced is discarded, the FUSE connection is aborted, the mount is
removed and the process exits 0. Mounting BACKING again shows exactly the synced state.
Tests use it to prove that "acknowledged" means "fsynced", which a mocked journal cannot.

What it guarantees (the model, stricter than ext4 or XFS, as POSIX allows):

* **File content** (write, truncate, O_TRUNC, writes through a shared mmap once the kernel
  writes the pages back) is kept in memory per inode until that inode is fsynced or
  fdatasynced (also msync(MS_SYNC) and writes through an O_SYNC/O_DSYNC descriptor, which
  the kernel turns into fsync). Then the pending pages are written to the backing inode
  and it is fsynced. Reads see pending pages merged over the backing file; a shrink
  followed by growth reads zeros, never the old bytes. Unsynced pages the kernel has not
  written back yet (dirty mmap pages) die with the mount, as a page cache does.
* **Namespace changes** (create, mknod, symlink, link, mkdir, rmdir, unlink, rename, and a
  directory's mode/owner/times) become durable only when *their* directory is fsynced
  (fsyncdir): creating ``a/b/f`` and fsyncing ``f`` and ``a/b`` is not enough while the
  creation of ``b`` in ``a`` was not fsynced. Each directory's changes become durable in
  the order they were made. A rename between two directories is one change to both, so
  fsyncing either commits it whole (with the earlier changes of the other directory that
  it depends on); a directory never ends up in two places. A rename that moves a
  directory commits every earlier pending change as well, so the durable tree never has
  a loop. fsync of a file does not make its name durable (ext4 and XFS happen to do that;
  LMDB, for one, counts on it: it never fsyncs the directory of its files).
* Content durability belongs to the inode, names to directories: a file whose content was
  fsynced but whose creation was not vanishes; a durable file renamed without fsyncdir
  keeps its old name and its synced content.

What it does not model: torn or reordered sector writes within one fsync (an fsync is
atomic here, a real disk may persist part of it); sync(2)/syncfs(2) (the kernel does not
forward them to FUSE, so they make nothing durable); file mode, owner and times (applied
to the inode at once; only directories' attributes wait for fsyncdir); extended
attributes (refused); st_nlink of files (counts bookkeeping links too). One lock
serialises every operation: it is a test instrument, not a fast filesystem. Do not mount
with direct_io: LMDB and pysyncobj mmap their files, which needs the page cache.

How: the live namespace is a real tree (``STATE/live``) whose files are hard links to the
same inodes as BACKING's, so a synced write lands in both. Namespace operations run on the
live tree and are logged with directory ids; fsyncdir replays the chosen log entries on
BACKING. Files created since the mount are also linked under ``STATE/inodes`` until their
creation is replayed, and a directory whose entries became durable before its own name did
waits under ``STATE/orphans``. STATE (a sibling of BACKING by default, on the same
filesystem) is wiped at every mount: orphans are lost, as fsck would lose them.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import shutil
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import mfusepy

if __package__:
    from . import mountinfo
else:  # run as a script: python tests/powerloss/lossyfs.py
    import mountinfo

log = logging.getLogger("lossyfs")

PAGE = 4096
ROOT = 0  # the directory id of the mount's root
POWER_SIGNALS = (signal.SIGUSR1, signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
RENAME_NOREPLACE = 1
UTIME_NOW = (1 << 30) - 1  # as mfusepy hands them over: tv_sec 0, tv_nsec special
UTIME_OMIT = (1 << 30) - 2
F = TypeVar("F", bound=Callable[..., Any])


# -- file content --------------------------------------------------------------------------


class Contents:
    """The unsynced content of one inode: a page cache that is never written back on its own.

    Pages are full PAGE-sized images (backing bytes merged with the writes). Backing bytes
    at or past ``floor`` (the smallest size the file was truncated to since its last sync)
    no longer count, so a shrink followed by growth reads zeros. Page bytes past ``size``
    are always zero.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.base_size = os.fstat(fd).st_size
        self.size = self.base_size
        self.floor = self.base_size
        self.pages: dict[int, bytearray] = {}
        self.mtime_ns = time.time_ns()

    def _base(self, start: int, end: int) -> bytes:
        end = min(end, self.floor, self.base_size)
        return os.pread(self.fd, end - start, start) if start < end else b""

    def _page(self, index: int, whole: bool) -> bytearray:
        page = self.pages.get(index)
        if page is None:
            page = bytearray(PAGE)
            if not whole:  # a partial write keeps the rest of the page
                base = self._base(index * PAGE, (index + 1) * PAGE)
                page[: len(base)] = base
            self.pages[index] = page
        return page

    def read(self, offset: int, size: int) -> bytes:
        end = min(offset + size, self.size)
        if offset >= end:
            return b""
        out = bytearray(end - offset)
        base = self._base(offset, end)
        out[: len(base)] = base
        for index in range(offset // PAGE, (end - 1) // PAGE + 1):
            page = self.pages.get(index)
            if page is not None:
                start = index * PAGE
                lo, hi = max(start, offset), min(start + PAGE, end)
                out[lo - offset : hi - offset] = page[lo - start : hi - start]
        return bytes(out)

    def write(self, offset: int, data: bytes) -> None:
        done = 0
        while done < len(data):
            index, within = divmod(offset + done, PAGE)
            n = min(PAGE - within, len(data) - done)
            self._page(index, whole=n == PAGE)[within : within + n] = data[done : done + n]
            done += n
        self.size = max(self.size, offset + len(data))
        self.mtime_ns = time.time_ns()

    def truncate(self, length: int) -> None:
        if length < self.size:
            for index in [i for i in self.pages if i * PAGE >= length]:
                del self.pages[index]
            index, within = divmod(length, PAGE)
            if within and index in self.pages:
                self.pages[index][within:] = bytes(PAGE - within)
            self.floor = min(self.floor, length)
        self.size = length
        self.mtime_ns = time.time_ns()

    def commit(self, datasync: bool) -> None:
        """Write the pending state to the backing inode and fsync it."""
        if self.floor < self.base_size:
            os.ftruncate(self.fd, self.floor)
        for index in sorted(self.pages):
            start = index * PAGE
            chunk = memoryview(self.pages[index])[: max(0, min(PAGE, self.size - start))]
            while chunk:
                written = os.pwrite(self.fd, chunk, start)
                chunk, start = chunk[written:], start + written
        if os.fstat(self.fd).st_size != self.size:
            os.ftruncate(self.fd, self.size)
        (os.fdatasync if datasync else os.fsync)(self.fd)


@dataclass
class Inode:
    """A file inode in use: a descriptor on it, the FUSE handles open on it, its unsynced
    content. Kept while handles are open or content is pending (the descriptor also keeps
    the inode number from being reused meanwhile)."""

    fd: int
    handles: int = 0
    pending: Contents | None = None


# -- namespace log -------------------------------------------------------------------------


@dataclass(frozen=True)
class AddEntry:
    """A new name for a file inode (create, mknod, symlink, link)."""

    dir: int
    name: str
    ino: int

    @property
    def dirs(self) -> frozenset[int]:
        return frozenset((self.dir,))


@dataclass(frozen=True)
class RemoveEntry:
    """unlink (removed_dir None) or rmdir."""

    dir: int
    name: str
    removed_dir: int | None

    @property
    def dirs(self) -> frozenset[int]:
        return frozenset((self.dir,))


@dataclass(frozen=True)
class MakeDir:
    dir: int
    name: str
    new_dir: int
    mode: int

    @property
    def dirs(self) -> frozenset[int]:
        return frozenset((self.dir,))


@dataclass(frozen=True)
class Rename:
    src_dir: int
    src_name: str
    dst_dir: int
    dst_name: str
    moved_dir: int | None  # the id when a directory moves
    replaced_dir: int | None  # the id when it replaces an (empty) directory

    @property
    def dirs(self) -> frozenset[int]:
        return frozenset((self.src_dir, self.dst_dir))


@dataclass(frozen=True)
class SetDirAttrs:
    dir: int
    mode: int | None = None
    owner: tuple[int, int] | None = None
    times_ns: tuple[int, int] | None = None

    @property
    def dirs(self) -> frozenset[int]:
        return frozenset((self.dir,))


Op = AddEntry | RemoveEntry | MakeDir | Rename | SetDirAttrs


def _locked(method: F) -> F:
    """Run a FUSE operation under the filesystem lock; EIO once the power is off."""

    @wraps(method)
    def run(self: LossyFS, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            if self._dead:
                raise mfusepy.FuseOSError(errno.EIO)
            return method(self, *args, **kwargs)

    return run  # type: ignore[return-value]


class LossyFS(mfusepy.Operations):
    """The FUSE operations (see the module docstring for the model)."""

    use_ns = True  # times as integer nanoseconds
    flag_nullpath_ok = True  # with hard_remove, an unlinked open file has no path
    flag_nopath = True

    def __init__(self, backing: Path, state: Path, *, namespace: str = "strict") -> None:
        if namespace not in ("strict", "immediate"):
            raise ValueError(f"namespace must be strict or immediate, not {namespace!r}")
        self.backing = backing.resolve()
        self.state = state.resolve()
        self.live = self.state / "live"
        self.table = self.state / "inodes"
        self.orphans = self.state / "orphans"
        self.immediate = namespace == "immediate"
        self._lock = threading.RLock()
        self._dead = False
        self._inodes: dict[int, Inode] = {}
        self._ops: list[Op] = []
        self._live_ids: dict[int, int] = {}  # st_ino of a live directory -> directory id
        # directory id -> (parent id, name) in BACKING, or None: waiting under orphans/.
        # Absent: nothing of it is durable yet.
        self._durable: dict[int, tuple[int, str] | None] = {}
        self._pins: dict[int, int] = {}  # ino -> pending AddEntry ops that need STATE/inodes/ino
        self._dir_handles: dict[int, tuple[int, int]] = {}  # opendir handle -> (dir id, fd)
        self._next_id = ROOT + 1
        self._next_handle = 1
        self._prepare()

    # -- mount and power ---------------------------------------------------------------

    def _prepare(self) -> None:
        """Wipe STATE (what a power cut left there is gone) and mirror BACKING into it."""
        if not self.backing.is_dir():
            raise FileNotFoundError(f"backing directory {self.backing} does not exist")
        shutil.rmtree(self.state, ignore_errors=True)
        for d in (self.live, self.table, self.orphans):
            d.mkdir(parents=True)
        if os.stat(self.state).st_dev != os.stat(self.backing).st_dev:
            raise OSError(errno.EXDEV, f"{self.state} must be on the filesystem of {self.backing}")
        os.chmod(self.live, stat.S_IMODE(os.stat(self.backing).st_mode))
        self._live_ids[os.lstat(self.live).st_ino] = ROOT
        stack = [(ROOT, self.backing, self.live)]
        while stack:
            dir_id, src, dst = stack.pop()
            with os.scandir(src) as entries:
                for entry in entries:
                    target = dst / entry.name
                    if entry.is_dir(follow_symlinks=False):
                        os.mkdir(target, stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode))
                        child = self._new_dir(target)
                        self._durable[child] = (dir_id, entry.name)
                        stack.append((child, Path(entry.path), target))
                    else:
                        os.link(entry.path, target, follow_symlinks=False)

    def power_off(self) -> None:
        """Forget everything unsynced. Nothing reaches BACKING after this returns."""
        with self._lock:
            self._dead = True
            self._ops.clear()
            for inode in self._inodes.values():
                os.close(inode.fd)
            self._inodes.clear()
            for _, fd in self._dir_handles.values():
                os.close(fd)
            self._dir_handles.clear()

    @property
    def powered_off(self) -> bool:
        return self._dead

    def discard_state(self) -> None:
        shutil.rmtree(self.state, ignore_errors=True)

    # -- helpers -----------------------------------------------------------------------

    def _live_path(self, path: str | None) -> Path:
        if path is None:  # an unlinked file or directory (hard_remove)
            raise mfusepy.FuseOSError(errno.ENOENT)
        return self.live / path.lstrip("/")

    def _split(self, path: str) -> tuple[Path, int, str]:
        """(live path, id of its directory, name)."""
        live = self._live_path(path)
        return live, self._dir_id(live.parent), live.name

    def _dir_id(self, live_dir: Path) -> int:
        try:
            return self._live_ids[os.lstat(live_dir).st_ino]
        except KeyError:
            log.error("no directory id for %s", live_dir)
            raise mfusepy.FuseOSError(errno.EIO) from None

    def _new_dir(self, live_dir: Path) -> int:
        dir_id = self._next_id
        self._next_id += 1
        self._live_ids[os.lstat(live_dir).st_ino] = dir_id  # replaces a reused st_ino
        return dir_id

    def _inode(self, ino: int, live: Path | None = None) -> Inode:
        inode = self._inodes.get(ino)
        if inode is None:
            if live is None:
                raise mfusepy.FuseOSError(errno.EBADF)
            fd = os.open(live, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
            if os.fstat(fd).st_ino != ino:  # cannot happen: we are the tree's only writer
                os.close(fd)
                raise mfusepy.FuseOSError(errno.ESTALE)
            inode = self._inodes[ino] = Inode(fd)
        return inode

    def _contents(self, inode: Inode) -> Contents:
        if inode.pending is None:
            inode.pending = Contents(inode.fd)
        return inode.pending

    def _forget(self, ino: int) -> None:
        """Drop an inode nobody has open whose pending content nobody can ever see."""
        inode = self._inodes.get(ino)
        if inode is None or inode.handles > 0:
            return
        if inode.pending is None or os.fstat(inode.fd).st_nlink == 0:
            os.close(inode.fd)
            del self._inodes[ino]

    def _pin(self, live: Path, ino: int) -> int:
        """Keep the inode reachable under STATE/inodes until its new name is durable."""
        if ino not in self._pins:
            os.link(live, self.table / str(ino), follow_symlinks=False)
            self._pins[ino] = 0
        self._pins[ino] += 1
        return ino

    def _unpin(self, ino: int) -> None:
        self._pins[ino] -= 1
        if not self._pins[ino]:
            del self._pins[ino]
            os.unlink(self.table / str(ino))
            self._forget(ino)

    def _log(self, op: Op) -> None:
        self._ops.append(op)
        if self.immediate:
            self._commit(None)

    # -- durability --------------------------------------------------------------------

    def _phys(self, dir_id: int) -> Path:
        """The directory in BACKING (or STATE/orphans) that holds `dir_id`'s durable entries."""
        if dir_id == ROOT:
            return self.backing
        if dir_id not in self._durable:
            os.mkdir(self.orphans / str(dir_id), 0o700)
            self._durable[dir_id] = None
        where = self._durable[dir_id]
        if where is None:
            return self.orphans / str(dir_id)
        parent, name = where
        return self._phys(parent) / name

    def _commit(self, dir_id: int | None) -> None:
        """Make the pending changes to `dir_id` durable (every pending change when None).

        Changes are replayed in their original order. Scanning backwards, a change is taken
        when it touches a directory that a later taken change touches, so each directory's
        changes stay in order and replaying a rename finds its source where it was. A
        taken rename of a directory takes every earlier change: committed alone it could
        put a directory inside its own subtree (where an uncommitted rename had moved
        its new parent out of)."""
        if dir_id is None:
            chosen, self._ops = self._ops, []
        else:
            hot, chosen, kept = {dir_id}, [], []
            everything = False
            for op in reversed(self._ops):
                if everything or op.dirs & hot:
                    chosen.append(op)
                    hot |= op.dirs
                    everything |= isinstance(op, Rename) and op.moved_dir is not None
                else:
                    kept.append(op)
            chosen.reverse()
            kept.reverse()
            self._ops = kept
        touched: set[int] = set()
        for op in chosen:
            try:
                self._replay(op)
            except OSError:
                log.exception("replaying %s on %s failed", op, self.backing)
                raise mfusepy.FuseOSError(errno.EIO) from None
            touched |= op.dirs
        for d in touched:
            fd = os.open(self._phys(d), os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _replay(self, op: Op) -> None:
        if isinstance(op, AddEntry):
            os.link(self.table / str(op.ino), self._phys(op.dir) / op.name,
                    follow_symlinks=False)
            self._unpin(op.ino)
        elif isinstance(op, RemoveEntry):
            target = self._phys(op.dir) / op.name
            if op.removed_dir is None:
                ino = os.lstat(target).st_ino
                os.unlink(target)
                self._forget(ino)
            else:  # its durable entries may not be gone yet: park it
                os.rename(target, self.orphans / str(op.removed_dir))
                self._durable[op.removed_dir] = None
        elif isinstance(op, MakeDir):
            target = self._phys(op.dir) / op.name
            if op.new_dir in self._durable:  # its entries became durable first
                os.rename(self.orphans / str(op.new_dir), target)
                os.chmod(target, op.mode)
            else:
                os.mkdir(target, op.mode)
            self._durable[op.new_dir] = (op.dir, op.name)
        elif isinstance(op, Rename):
            src, dst = self._phys(op.src_dir) / op.src_name, self._phys(op.dst_dir) / op.dst_name
            replaced = None
            if op.replaced_dir is not None:
                os.rename(dst, self.orphans / str(op.replaced_dir))
                self._durable[op.replaced_dir] = None
            elif os.path.lexists(dst):
                replaced = os.lstat(dst).st_ino
            os.rename(src, dst)
            if op.moved_dir is not None:
                self._durable[op.moved_dir] = (op.dst_dir, op.dst_name)
            if replaced is not None:
                self._forget(replaced)
        else:
            target = self._phys(op.dir)
            if op.mode is not None:
                os.chmod(target, op.mode)
            if op.owner is not None:
                os.chown(target, *op.owner)
            if op.times_ns is not None:
                os.utime(target, ns=op.times_ns)

    # -- attributes and directories ----------------------------------------------------

    @_locked
    def getattr(self, path: str | None, fh: int | None = None) -> dict[str, Any]:
        if fh is not None and fh in self._inodes:
            inode: Inode | None = self._inodes[fh]
            assert inode is not None
            st = os.fstat(inode.fd)
        else:
            st = os.lstat(self._live_path(path))
            inode = self._inodes.get(st.st_ino) if stat.S_ISREG(st.st_mode) else None
        attrs = {key: getattr(st, key) for key in (
            "st_mode", "st_ino", "st_nlink", "st_uid", "st_gid", "st_size", "st_blocks",
            "st_atime_ns", "st_mtime_ns", "st_ctime_ns")}
        for key in ("st_atime", "st_mtime", "st_ctime"):
            attrs[key] = attrs.pop(key + "_ns")
        if inode is not None and inode.pending is not None:
            attrs["st_size"] = inode.pending.size
            attrs["st_blocks"] = -(-inode.pending.size // 512)
            attrs["st_mtime"] = attrs["st_ctime"] = inode.pending.mtime_ns
        return attrs

    @_locked
    def readlink(self, path: str) -> str:
        return os.readlink(self._live_path(path))

    @_locked
    def statfs(self, path: str) -> dict[str, int]:
        sv = os.statvfs(self.backing)
        return {key: getattr(sv, key) for key in (
            "f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree",
            "f_favail", "f_flag", "f_namemax")}

    @_locked
    def opendir(self, path: str) -> int:
        """A handle on the live directory itself: with nullpath_ok, readdir and fsyncdir
        get no path, and the directory may be renamed while open."""
        live = self._live_path(path)
        fd = os.open(live, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        handle = self._next_handle
        self._next_handle += 1
        self._dir_handles[handle] = (self._dir_id(live), fd)
        return handle

    @_locked
    def readdir(self, path: str | None, fh: int) -> list[tuple[str, dict[str, int], int]]:
        """Names with their inode numbers: with use_ino, an entry of inode 0 would be
        skipped by readdir(3)."""
        fd = self._dir_handles[fh][1]
        here, up = os.fstat(fd), os.stat("..", dir_fd=fd)
        out = [(".", {"st_ino": here.st_ino, "st_mode": here.st_mode}, 0),
               ("..", {"st_ino": up.st_ino, "st_mode": up.st_mode}, 0)]
        with os.scandir(fd) as entries:
            for entry in entries:
                out.append((entry.name, {"st_ino": entry.inode(),
                                         "st_mode": entry.stat(follow_symlinks=False).st_mode}, 0))
        return out

    @_locked
    def releasedir(self, path: str | None, fh: int) -> int:
        handle = self._dir_handles.pop(fh, None)
        if handle is not None:
            os.close(handle[1])
        return 0

    @_locked
    def fsyncdir(self, path: str | None, datasync: int, fh: int) -> int:
        self._commit(self._dir_handles[fh][0])
        return 0

    @_locked
    def chmod(self, path: str | None, mode: int) -> int:
        live = self._live_path(path)
        os.chmod(live, mode)  # never a symlink: the kernel resolves them before chmod
        if stat.S_ISDIR(os.lstat(live).st_mode):
            self._log(SetDirAttrs(self._dir_id(live), mode=stat.S_IMODE(mode)))
        return 0

    @_locked
    def chown(self, path: str | None, uid: int, gid: int) -> int:
        live = self._live_path(path)
        os.chown(live, uid, gid, follow_symlinks=False)
        st = os.lstat(live)
        if stat.S_ISDIR(st.st_mode):
            self._log(SetDirAttrs(self._dir_id(live), owner=(st.st_uid, st.st_gid)))
        return 0

    @_locked
    def utimens(self, path: str | None, times: tuple[int, int] | None = None) -> int:
        live = self._live_path(path)
        st = os.lstat(live)
        now = time.time_ns()
        if times is None:
            ns = (now, now)
        else:
            old = (st.st_atime_ns, st.st_mtime_ns)
            ns = tuple(now if t == UTIME_NOW else old[i] if t == UTIME_OMIT else t
                       for i, t in enumerate(times))  # type: ignore[assignment]
        os.utime(live, ns=ns, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            self._log(SetDirAttrs(self._dir_id(live), times_ns=ns))
        elif (inode := self._inodes.get(st.st_ino)) is not None and inode.pending is not None:
            inode.pending.mtime_ns = ns[1]
        return 0

    # -- namespace ---------------------------------------------------------------------

    @_locked
    def mkdir(self, path: str, mode: int) -> int:
        live, parent, name = self._split(path)
        os.mkdir(live, mode)
        self._log(MakeDir(parent, name, self._new_dir(live), stat.S_IMODE(mode)))
        return 0

    @_locked
    def rmdir(self, path: str) -> int:
        live, parent, name = self._split(path)
        dir_id = self._dir_id(live)
        os.rmdir(live)
        self._log(RemoveEntry(parent, name, dir_id))
        return 0

    @_locked
    def unlink(self, path: str) -> int:
        live, parent, name = self._split(path)
        ino = os.lstat(live).st_ino
        os.unlink(live)
        self._log(RemoveEntry(parent, name, None))
        self._forget(ino)
        return 0

    @_locked
    def mknod(self, path: str, mode: int, dev: int) -> int:
        live, parent, name = self._split(path)
        os.mknod(live, mode, dev)
        self._log(AddEntry(parent, name, self._pin(live, os.lstat(live).st_ino)))
        return 0

    @_locked
    def symlink(self, target: str, source: str) -> int:
        """Create the symlink `target` whose content is `source` (mfusepy's names)."""
        live, parent, name = self._split(target)
        os.symlink(source, live)
        self._log(AddEntry(parent, name, self._pin(live, os.lstat(live).st_ino)))
        return 0

    @_locked
    def link(self, target: str, source: str) -> int:
        """Create the hard link `target` to the existing `source` (mfusepy's names)."""
        live, parent, name = self._split(target)
        os.link(self._live_path(source), live, follow_symlinks=False)
        self._log(AddEntry(parent, name, self._pin(live, os.lstat(live).st_ino)))
        return 0

    @_locked
    def rename2(self, old: str, new: str, flags: int) -> int:
        if flags & ~RENAME_NOREPLACE:  # RENAME_EXCHANGE, RENAME_WHITEOUT
            raise mfusepy.FuseOSError(errno.EINVAL)
        src, src_dir, src_name = self._split(old)
        dst, dst_dir, dst_name = self._split(new)
        moved = os.lstat(src)
        try:
            replaced: os.stat_result | None = os.lstat(dst)
        except FileNotFoundError:
            replaced = None
        if replaced is not None and flags & RENAME_NOREPLACE:
            raise mfusepy.FuseOSError(errno.EEXIST)
        moved_dir = self._dir_id(src) if stat.S_ISDIR(moved.st_mode) else None
        replaced_dir = None
        if replaced is not None and stat.S_ISDIR(replaced.st_mode):
            replaced_dir = self._dir_id(dst)
        os.rename(src, dst)
        if replaced is not None and replaced.st_ino == moved.st_ino:
            return 0  # two names of one inode: POSIX says do nothing, and so did rename(2)
        self._log(Rename(src_dir, src_name, dst_dir, dst_name, moved_dir, replaced_dir))
        if replaced is not None and replaced_dir is None:
            self._forget(replaced.st_ino)
        return 0

    def rename(self, old: str, new: str) -> int:
        return self.rename2(old, new, 0)

    # -- files -------------------------------------------------------------------------

    @_locked
    def create(self, path: str, mode: int, flags: int = 0) -> int:
        live, parent, name = self._split(path)
        fd = os.open(live, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        ino = os.fstat(fd).st_ino
        self._inodes[ino] = Inode(fd, handles=1)
        self._log(AddEntry(parent, name, self._pin(live, ino)))
        return ino  # the FUSE file handle is the inode number

    @_locked
    def open(self, path: str, flags: int) -> int:
        live = self._live_path(path)
        ino = os.lstat(live).st_ino
        inode = self._inode(ino, live)
        inode.handles += 1
        if flags & os.O_TRUNC:
            self._contents(inode).truncate(0)
        return ino

    @_locked
    def release(self, path: str | None, fh: int) -> int:
        inode = self._inodes.get(fh)
        if inode is not None:
            inode.handles -= 1
            self._forget(fh)
        return 0

    @_locked
    def read(self, path: str | None, size: int, offset: int, fh: int) -> bytes:
        inode = self._inode(fh)
        if inode.pending is not None:
            return inode.pending.read(offset, size)
        return os.pread(inode.fd, size, offset)

    @_locked
    def write(self, path: str | None, data: bytes, offset: int, fh: int) -> int:
        self._contents(self._inode(fh)).write(offset, data)
        return len(data)

    @_locked
    def truncate(self, path: str | None, length: int, fh: int | None = None) -> int:
        if fh is not None and fh in self._inodes:
            ino = fh
            inode = self._inodes[fh]
        else:
            live = self._live_path(path)
            ino = os.lstat(live).st_ino
            inode = self._inode(ino, live)
        self._contents(inode).truncate(length)
        self._forget(ino)
        return 0

    @_locked
    def fsync(self, path: str | None, datasync: int, fh: int) -> int:
        inode = self._inode(fh)
        if inode.pending is not None:
            inode.pending.commit(bool(datasync))
            inode.pending = None
        return 0


class _FUSE(mfusepy.FUSE):
    """mfusepy drops what two libfuse 3 calls carry: rename's flags (RENAME_NOREPLACE would
    silently replace) and ftruncate's file handle (with nullpath_ok there is no path)."""

    def _decode(self, path: bytes | None) -> str | None:
        return None if path is None else path.decode(self.encoding, self.errors)

    def rename_fuse_3(self, old: bytes, new: bytes, flags: int) -> int:
        return int(self.operations.rename2(self._decode(old), self._decode(new), flags))

    def truncate_fuse_3(self, path: bytes | None, length: int, fip: Any) -> int:
        fh = fip.contents.fh if fip else None
        return int(self.operations.truncate(self._decode(path), length, fh))


# -- power -------------------------------------------------------------------------------


def cut_power(ops: LossyFS, mountpoint: Path) -> None:
    """Discard the unsynced state, then abort the FUSE connection (MNT_FORCE: requests in
    flight fail, dirty pages are dropped) and remove the mount even if files are open."""
    ops.power_off()
    for flags in (mountinfo.MNT_FORCE, mountinfo.MNT_DETACH):
        if not mountinfo.mounted(mountpoint):
            break
        err = mountinfo.umount(mountpoint, flags)
        if err and err not in (errno.EBUSY, errno.EINVAL):
            log.warning("umount2(%s, %d): %s", mountpoint, flags, os.strerror(err))


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backing", type=Path, help="directory holding the durable state")
    parser.add_argument("mountpoint", type=Path)
    parser.add_argument("--state", type=Path, default=None,
                        help="bookkeeping directory on BACKING's filesystem "
                             "(default: .NAME.lossyfs beside BACKING; wiped at mount)")
    parser.add_argument("--namespace", choices=("strict", "immediate"), default="strict",
                        help="strict: names durable on fsyncdir of their directory; "
                             "immediate: at once")
    parser.add_argument("--debug", action="store_true", help="log every FUSE request")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s lossyfs[%(process)d] %(levelname)s %(message)s")
    backing = args.backing.resolve()
    mountpoint = args.mountpoint.resolve()
    os.umask(0)  # the kernel has applied the caller's umask to modes already

    # The power signals are blocked in every thread (libfuse's threads inherit the mask)
    # and taken by one thread with sigwait: a Python handler would never run while the
    # main thread sits in fuse_main.
    signal.pthread_sigmask(signal.SIG_BLOCK, POWER_SIGNALS)
    # A test runner that dies without its finalizers must not leave mounts behind.
    parent = os.getppid()
    mountinfo.signal_on_parent_death(signal.SIGTERM)
    if os.getppid() != parent:  # it died before the prctl took effect
        return 0
    state = args.state or mountinfo.default_state_dir(backing)
    ops = LossyFS(backing, state, namespace=args.namespace)

    def wait_for_power_cut() -> None:
        signum = signal.sigwait(POWER_SIGNALS)
        log.info("%s: power off", signal.Signals(signum).name)
        cut_power(ops, mountpoint)

    threading.Thread(target=wait_for_power_cut, name="power", daemon=True).start()
    log.info("mounting %s at %s (namespace %s)", backing, mountpoint, args.namespace)
    try:
        # attr_timeout=0: libfuse's high-level API gives each name of a hard-linked file
        # its own kernel inode, so a cached size could hide a write made through another
        # name; with fresh attributes the kernel also drops stale pages (auto_inval_data).
        _FUSE(ops, str(mountpoint), foreground=True, hard_remove=True, use_ino=True,
              attr_timeout=0, fsname=f"lossyfs:{backing}", subtype="lossyfs")
    except RuntimeError as exc:  # fuse_main's status: an aborted connection is not an error
        if not ops.powered_off:
            log.error("fuse_main failed: %s", exc)
            return 1
    finally:
        ops.power_off()  # the process is going: so is whatever was not synced
        ops.discard_state()
    log.info("unmounted %s", mountpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
