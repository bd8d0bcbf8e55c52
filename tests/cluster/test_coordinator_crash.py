"""kill -9 of the coordinator in the middle of a large PUT: never a torn object, no orphans.

A 40 MiB PUT streams through n1 over a key that already holds an older 6 MiB object. The
body is a file-like object that stops handing out bytes at a chosen point (half way, or
after the last byte but before the end of the stream) until n1 has been killed with
SIGKILL; the kill happens only once the peers' temporary shard files show the write
really in progress on their disks. Afterwards, through other nodes, the key must hold
the old object or the complete new one (by MD5), the new one if the PUT was acknowledged,
and keep that answer after n1 restarts and heals. After `engine admin heal` with a zero
grace period no temporary file and no shard file that no live object refers to remains.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import pytest

from .conftest import KIB, MIB, Cluster, body_for, list_keys, md5_hex, read_md5, wait_until

BUCKET = "crash"
KEY = "videos/big.bin"
NEW_SIZE = 40 * MIB
OLD_SIZE = 6 * MIB + 321


class TrappedBody:
    """A non-seekable body that blocks in read() once `stop_at` bytes were handed out,
    until released."""

    def __init__(self, data: bytes, stop_at: int) -> None:
        self._data = memoryview(data)
        self._stop_at = stop_at
        self._pos = 0
        self.reached = threading.Event()
        self.release = threading.Event()

    def read(self, n: int = -1) -> bytes:
        if self._pos >= self._stop_at and not self.release.is_set():
            self.reached.set()
            self.release.wait(120)
        end = len(self._data) if n < 0 else min(len(self._data), self._pos + n)
        if self._pos < self._stop_at:
            end = min(end, self._stop_at)
        chunk = bytes(self._data[self._pos:end])
        self._pos = end
        return chunk


def new_bytes_on(cluster: Cluster, node: str, before: set[Path]) -> int:
    """Largest file of a write in progress on `node`: in tmp/, or a new shard file."""
    files = cluster.tmp_files(node)[node] + [
        f for f in cluster.shard_files(node)[node] if f not in before]
    sizes = []
    for f in files:
        with contextlib.suppress(FileNotFoundError):  # renamed or removed meanwhile
            sizes.append(f.stat().st_size)
    return max(sizes, default=0)


@pytest.mark.parametrize("fraction", [0.5, 1.0], ids=["half-sent", "all-sent-stream-open"])
def test_kill9_of_coordinator_mid_put_leaves_old_or_new_never_torn(
        cluster: Cluster, fraction: float) -> None:
    old = body_for("crash#old", OLD_SIZE)
    new = body_for("crash#new", NEW_SIZE)
    cluster.client("n3").create_bucket(Bucket=BUCKET)
    cluster.client("n3").put_object(Bucket=BUCKET, Key=KEY, Body=old)
    others = {"other/2m": body_for("o1", 2 * MIB), "other/small": body_for("o2", 3 * KIB)}
    for k, v in others.items():
        cluster.client("n4").put_object(Bucket=BUCKET, Key=k, Body=v)
    before = {f for fs in cluster.shard_files().values() for f in fs}

    body = TrappedBody(new, int(NEW_SIZE * fraction))
    outcome: dict[str, object] = {}

    def upload() -> None:
        s3 = cluster.client("n1", timeout=120)
        try:
            outcome["ok"] = s3.put_object(Bucket=BUCKET, Key=KEY, Body=body,
                                          ContentLength=NEW_SIZE)
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=upload, daemon=True)
    thread.start()
    try:
        assert body.reached.wait(60), "the upload never got to the trap"
        # The write is really under way on the peers' disks: a shard (1/4 of the bytes
        # sent, plus block headers) is growing there.
        want = int(NEW_SIZE * fraction / 4 * 0.8)
        wait_until(lambda: new_bytes_on(cluster, "n3", before) >= want, 60,
                   f"{want} bytes of the new shard on n3")
        cluster.kill9(["n1"])
    finally:
        body.release.set()
        thread.join(60)
    assert not thread.is_alive(), "the PUT did not return after its coordinator died"
    acknowledged = "ok" in outcome

    candidates = {md5_hex(old): "old", md5_hex(new): "new"}
    seen = set()
    for node in ("n2", "n4", "n6"):
        digest, size = read_md5(cluster.client(node), BUCKET, KEY)
        assert digest in candidates, f"torn object through {node}: {size} bytes, md5 {digest}"
        seen.add(candidates[digest])
        head = cluster.client(node).head_object(Bucket=BUCKET, Key=KEY)
        assert head["ContentLength"] == (OLD_SIZE if digest == md5_hex(old) else NEW_SIZE)
    assert len(seen) == 1, f"nodes disagree on the key after the crash: {seen}"
    visible = seen.pop()
    if acknowledged:
        assert visible == "new", "an acknowledged PUT was lost"

    # n1 comes back, healing runs with no grace: the answer stays, nothing is orphaned.
    cluster.restart(["n1"])
    report = cluster.heal("n1", grace=0)
    assert report["exit_code"] == 0 and report["errors"] == [], report
    for node in ("n1", "n5"):
        digest, _ = read_md5(cluster.client(node), BUCKET, KEY)
        assert candidates.get(digest) == visible, (
            f"{node} after restart and heal: {candidates.get(digest, 'torn')}, "
            f"before: {visible}")
    for k, v in others.items():
        assert cluster.client("n2").get_object(Bucket=BUCKET, Key=k)["Body"].read() == v
    assert sorted(list_keys(cluster.client("n1"), BUCKET)) == sorted([KEY, *others])

    # The key's object and other/2m, nothing else, and exactly what metadata refers to.
    cluster.assert_shards_at_home(2, buckets=[BUCKET])
    again = cluster.heal("n2", grace=0)
    assert (again["shards_rebuilt"], again["entries_fixed"], again["entries_removed"],
            again["pending_discarded"], again["unresolved"]) == (0, 0, 0, 0, 0), again
    # Nor half-written shard files: the peers dropped the dead coordinator's streams.
    leftovers = {n: [f.name for f in fs] for n, fs in cluster.tmp_files().items() if fs}
    assert not leftovers, (
        f"files left in tmp/ after the coordinator died, it restarted and heal ran: "
        f"{leftovers}; first heal: {report}")
