"""LossyFS keeps exactly what was synced across a power cut, and nothing else.

Each test writes through a real FUSE mount, cuts its power (SIGUSR1 to the daemon),
mounts the same backing directory again and looks at what is left. The model under test
is in lossyfs.py's docstring: content is durable per inode on fsync/fdatasync, names per
directory on fsyncdir. The LMDB tests prove the filesystem is faithful to what LMDB relies
on: a writer process acknowledges each commit, is killed -9, the power is cut, and a
sync=True environment has every acknowledged commit while a sync=False one has lost the
commits after its last explicit sync.
"""

from __future__ import annotations

import mmap
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import lmdb
import pytest

from .mount import LossyMount, power_off_all

MountFactory = Callable[..., LossyMount]


def write(path: Path, data: bytes, *, sync: bool = False, flags: int = os.O_TRUNC) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o644)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_file(m: LossyMount, name: str, data: bytes) -> Path:
    """A file whose name and content are both durable."""
    path = m.mountpoint / name
    write(path, data, sync=True)
    fsync_dir(path.parent)
    return path


def reboot(m: LossyMount) -> None:
    m.power_off()
    m.start()


# -- content ------------------------------------------------------------------------------


def test_unsynced_write_is_lost_and_never_reaches_the_backing_dir(
        lossy_mount: MountFactory) -> None:
    m = lossy_mount()
    path = durable_file(m, "f", b"v1")
    write(path, b"version two, longer")
    assert path.read_bytes() == b"version two, longer"  # reads see the pending write
    assert (m.backing / "f").read_bytes() == b"v1"  # the "disk" does not
    reboot(m)
    assert path.read_bytes() == b"v1"


@pytest.mark.parametrize("sync", [os.fsync, os.fdatasync])
def test_synced_write_is_kept(lossy_mount: MountFactory, sync: Callable[[int], None]) -> None:
    m = lossy_mount()
    path = durable_file(m, "f", b"v1")
    fd = os.open(path, os.O_WRONLY)
    os.pwrite(fd, b"XY", 1)
    sync(fd)
    os.pwrite(fd, b"lost", 10)  # after the sync: lost
    os.close(fd)
    assert path.read_bytes() == b"vXY" + bytes(7) + b"lost"
    reboot(m)
    assert path.read_bytes() == b"vXY"


def test_o_sync_writes_are_durable(lossy_mount: MountFactory) -> None:
    """The kernel turns a write on an O_DSYNC descriptor into write + fsync (LMDB writes
    its meta pages that way)."""
    m = lossy_mount()
    path = durable_file(m, "f", b"")
    fd = os.open(path, os.O_WRONLY | os.O_DSYNC)
    os.write(fd, b"dsync")
    os.close(fd)
    reboot(m)
    assert path.read_bytes() == b"dsync"


def test_truncate_is_content(lossy_mount: MountFactory) -> None:
    """A shrink is lost like a write unless synced; shrink then growth reads zeros, also
    after the sync, never the old bytes; O_TRUNC is a truncate."""
    m = lossy_mount()
    old = bytes(range(256)) * 40  # 10 KiB
    path = durable_file(m, "f", old)

    os.truncate(path, 100)
    assert path.read_bytes() == old[:100]
    reboot(m)
    assert path.read_bytes() == old

    fd = os.open(path, os.O_RDWR)
    os.ftruncate(fd, 100)
    os.ftruncate(fd, 8192)
    os.pwrite(fd, b"end", 8000)
    expected = old[:100] + bytes(7900) + b"end" + bytes(189)
    assert os.pread(fd, 10000, 0) == expected
    os.fsync(fd)
    os.close(fd)
    assert (m.backing / "f").read_bytes() == expected
    reboot(m)
    assert path.read_bytes() == expected

    write(path, b"new")  # O_TRUNC, not synced
    assert path.read_bytes() == b"new"
    reboot(m)
    assert path.read_bytes() == expected


def test_mmap_writes_need_msync(lossy_mount: MountFactory) -> None:
    """Shared-mmap writes are durable after msync (pysyncobj's journal never calls it);
    a read-only shared map sees pwrite()s at once (how LMDB reads what it wrote)."""
    m = lossy_mount()
    path = durable_file(m, "f", bytes(2 * mmap.PAGESIZE))
    fd = os.open(path, os.O_RDWR)
    with mmap.mmap(fd, 0) as mm:
        mm[0:6] = b"synced"
        mm.flush()  # msync(MS_SYNC)
        mm[mmap.PAGESIZE:mmap.PAGESIZE + 4] = b"lost"
    with mmap.mmap(fd, 0, prot=mmap.PROT_READ) as ro:
        os.pwrite(fd, b"seen", 100)
        assert ro[100:104] == b"seen"
    os.close(fd)
    reboot(m)
    data = path.read_bytes()
    assert data[:6] == b"synced"
    assert data[mmap.PAGESIZE:mmap.PAGESIZE + 4] == bytes(4)
    assert data[100:104] == bytes(4)


# -- names ---------------------------------------------------------------------------------


def test_a_new_name_needs_its_directory_fsynced(lossy_mount: MountFactory) -> None:
    """Content fsynced but the creation not: the file vanishes. Name fsynced but content
    not: an empty file."""
    m = lossy_mount()
    write(m.mountpoint / "content-only", b"data", sync=True)
    write(m.mountpoint / "name-only", b"data")
    fsync_dir(m.mountpoint)
    write(m.mountpoint / "late", b"data", sync=True)  # created after the fsyncdir
    reboot(m)
    assert sorted(os.listdir(m.mountpoint)) == ["content-only", "name-only"]
    assert (m.mountpoint / "content-only").read_bytes() == b"data"
    assert (m.mountpoint / "name-only").read_bytes() == b""


def test_a_new_directory_needs_its_parent_fsynced(lossy_mount: MountFactory) -> None:
    """fsync of a/b/f and of a/b does not make a/b's own name durable: a's fsync does,
    in either order."""
    m = lossy_mount()
    sub = m.mountpoint / "a" / "b"
    sub.mkdir(parents=True)
    write(sub / "f", b"data", sync=True)
    fsync_dir(sub)
    reboot(m)
    assert os.listdir(m.mountpoint) == []

    sub.mkdir(parents=True)
    fsync_dir(m.mountpoint / "a")
    fsync_dir(m.mountpoint)  # a and a/b are durable, a/b/f is not yet
    write(sub / "f", b"data", sync=True)
    fsync_dir(sub)  # now it is
    os.symlink("f", sub / "link")  # not durable
    reboot(m)
    assert os.listdir(sub) == ["f"]
    assert (sub / "f").read_bytes() == b"data"


def test_rename_is_durable_with_its_directory(lossy_mount: MountFactory) -> None:
    m = lossy_mount()
    a = durable_file(m, "a", b"A")
    b = m.mountpoint / "b"
    a.rename(b)
    reboot(m)
    assert a.read_bytes() == b"A" and not b.exists()

    a.rename(b)
    fsync_dir(m.mountpoint)
    reboot(m)
    assert b.read_bytes() == b"A" and not a.exists()


def test_replace_by_rename(lossy_mount: MountFactory) -> None:
    """write tmp, fsync, rename over the target: durable only with the fsyncdir; the
    synced content of the renamed inode travels with it."""
    m = lossy_mount()
    current = durable_file(m, "current", b"v1")
    tmp = m.mountpoint / "current.tmp"
    write(tmp, b"v2", sync=True)
    tmp.replace(current)
    assert current.read_bytes() == b"v2"
    reboot(m)
    assert current.read_bytes() == b"v1"
    assert os.listdir(m.mountpoint) == ["current"]

    write(tmp, b"v2", sync=True)
    tmp.replace(current)
    fsync_dir(m.mountpoint)
    reboot(m)
    assert current.read_bytes() == b"v2"
    assert os.listdir(m.mountpoint) == ["current"]


def test_rename_between_directories_is_atomic(lossy_mount: MountFactory) -> None:
    """Fsyncing the destination commits the whole rename: the file is not left in both
    directories, nor in neither. Content synced after the rename stays with the inode."""
    m = lossy_mount()
    for d in ("d1", "d2"):
        (m.mountpoint / d).mkdir()
    fsync_dir(m.mountpoint)
    durable_file(m, "d1/f", b"one")
    (m.mountpoint / "d1/f").rename(m.mountpoint / "d2/f")
    write(m.mountpoint / "d2/f", b"two", sync=True)
    fsync_dir(m.mountpoint / "d2")
    reboot(m)
    assert os.listdir(m.mountpoint / "d1") == []
    assert (m.mountpoint / "d2/f").read_bytes() == b"two"

    # A directory moves whole, with its durable entries.
    (m.mountpoint / "d2").rename(m.mountpoint / "d1/d2")
    fsync_dir(m.mountpoint / "d1")
    reboot(m)
    assert sorted(os.listdir(m.mountpoint)) == ["d1"]
    assert (m.mountpoint / "d1/d2/f").read_bytes() == b"two"


def test_unlink_and_rmdir_need_fsyncdir(lossy_mount: MountFactory) -> None:
    m = lossy_mount()
    f = durable_file(m, "f", b"F")
    (m.mountpoint / "d").mkdir()
    fsync_dir(m.mountpoint)
    f.unlink()
    (m.mountpoint / "d").rmdir()
    reboot(m)
    assert sorted(os.listdir(m.mountpoint)) == ["d", "f"]
    assert f.read_bytes() == b"F"
    f.unlink()
    (m.mountpoint / "d").rmdir()
    fsync_dir(m.mountpoint)
    reboot(m)
    assert os.listdir(m.mountpoint) == []


def test_hard_links_share_content(lossy_mount: MountFactory) -> None:
    m = lossy_mount()
    a = durable_file(m, "a", b"A")
    b = m.mountpoint / "b"
    os.link(a, b)
    fsync_dir(m.mountpoint)
    write(b, b"B", sync=True)
    reboot(m)
    assert a.read_bytes() == b.read_bytes() == b"B"
    assert os.stat(a).st_ino == os.stat(b).st_ino


def test_attributes(lossy_mount: MountFactory) -> None:
    """A directory's mode waits for its fsyncdir; a file's mode is not modeled (at once)."""
    m = lossy_mount()
    f = durable_file(m, "f", b"")
    d = m.mountpoint / "d"
    d.mkdir(0o755)
    fsync_dir(m.mountpoint)
    fsync_dir(d)
    f.chmod(0o600)
    d.chmod(0o700)
    assert (f.stat().st_mode & 0o777, d.stat().st_mode & 0o777) == (0o600, 0o700)
    reboot(m)
    assert (f.stat().st_mode & 0o777, d.stat().st_mode & 0o777) == (0o600, 0o755)
    d.chmod(0o700)
    fsync_dir(d)
    reboot(m)
    assert d.stat().st_mode & 0o777 == 0o700


def test_immediate_namespace_mode(lossy_mount: MountFactory) -> None:
    """--namespace immediate: names are durable at once, content still needs fsync."""
    m = lossy_mount(namespace="immediate")
    (m.mountpoint / "d").mkdir()
    write(m.mountpoint / "d" / "f", b"data")
    reboot(m)
    assert os.listdir(m.mountpoint / "d") == ["f"]
    assert (m.mountpoint / "d" / "f").read_bytes() == b""


def test_power_off_with_open_files(lossy_mount: MountFactory) -> None:
    """Files held open (and a mapping) do not keep the power on: the connection is
    aborted, the mount removed; the holder gets errors, not the data."""
    m = lossy_mount()
    path = durable_file(m, "f", b"v1")
    fd = os.open(path, os.O_RDWR)
    os.pwrite(fd, b"v2", 0)
    m.power_off()
    with pytest.raises(OSError):
        os.pwrite(fd, b"v3", 0)
    os.close(fd)
    m.start()
    assert path.read_bytes() == b"v1"


def test_several_mounts_go_down_at_once(lossy_mount: MountFactory) -> None:
    disks = [lossy_mount(f"disk{i}") for i in range(3)]
    for d in disks:
        durable_file(d, "f", b"kept")
        write(d.mountpoint / "f", b"lost")
    power_off_all(disks)
    for d in disks:
        d.start()
        assert (d.mountpoint / "f").read_bytes() == b"kept"


# -- LMDB ------------------------------------------------------------------------------------

LMDB_WRITER = textwrap.dedent("""
    import os, sys, lmdb
    path, sync, commits, sync_after, fsync_dirs = (
        sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1")
    env = lmdb.open(path, sync=sync, map_size=64 << 20)
    if fsync_dirs:  # LMDB never fsyncs the directory that holds its files
        for d in (path, os.path.dirname(path)):
            fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
            os.fsync(fd)
            os.close(fd)
    for i in range(commits):
        with env.begin(write=True) as txn:
            txn.put(b"key-%04d" % i, os.urandom(3000))  # spans pages
        if i == sync_after:
            env.sync(True)
        print(i, flush=True)  # acknowledged
    sys.stdin.read()  # hold the environment open until killed
""")


def lmdb_writer(path: Path, *, sync: bool, commits: int, sync_after: int = -1,
                fsync_dirs: bool = True) -> list[int]:
    """Commit `commits` transactions in another process, then kill -9 it; the indexes it
    acknowledged (printed after each commit returned)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LMDB_WRITER, str(path), "1" if sync else "0", str(commits),
         str(sync_after), "1" if fsync_dirs else "0"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        acked = [int(proc.stdout.readline()) for _ in range(commits)]
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    assert acked == list(range(commits)), err.decode()
    return acked


def lmdb_keys(path: Path) -> list[int]:
    with lmdb.open(str(path), readonly=True, lock=False) as env, env.begin() as txn:
        return [int(k.split(b"-")[1]) for k, _ in txn.cursor()]


def test_lmdb_sync_keeps_every_commit(lossy_mount: MountFactory) -> None:
    m = lossy_mount()
    env = m.mountpoint / "env"
    acked = lmdb_writer(env, sync=True, commits=30)
    reboot(m)
    assert lmdb_keys(env) == acked


def test_lmdb_nosync_loses_its_last_commits(lossy_mount: MountFactory) -> None:
    m = lossy_mount()
    env = m.mountpoint / "env"
    lmdb_writer(env, sync=False, commits=30, sync_after=9)
    reboot(m)
    assert lmdb_keys(env) == list(range(10))  # what env.sync() made durable, no more


def test_lmdb_env_without_directory_fsync_vanishes(lossy_mount: MountFactory) -> None:
    """Every commit fsynced, but nobody fsynced the directories: the environment is gone
    (ext4 would keep it; POSIX does not promise to)."""
    m = lossy_mount()
    lmdb_writer(m.mountpoint / "env", sync=True, commits=5, fsync_dirs=False)
    reboot(m)
    assert os.listdir(m.mountpoint) == []
