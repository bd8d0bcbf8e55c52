"""Raft snapshots (pysyncobj "full dumps") that do not stop the log while they are written.

pysyncobj's own dump pickles every consumer and gzips it at level 9 in its tick thread,
the thread that applies commands and answers heartbeats: with 100,000 queued messages
that held a group for 7 s, longer than a call's deadline. Its ``serializer`` hooks let
us do better:

* In the tick thread only a *capture* is taken: a copy of each consumer's state that later
  commands cannot change. A consumer with ``_capture()``/``_restore()`` (the queue
  partitions) copies itself in C-speed bulk; any other consumer is pickled there, which
  is cheap for the small ones (bucket table, queue catalog).
* A writer thread pickles the capture, compresses it with zstd (level 1: about 30 times
  faster than gzip 9 at a similar size for this data), writes ``raft.dump.part``, fsyncs
  and renames it over ``raft.dump``. Until then pysyncobj sees "serializing" through
  ``serializeChecker`` and keeps its journal, so a crash mid-write loses nothing: the
  previous dump plus the journal still describe the state.

Invariants: the file named ``raft.dump`` is always a complete dump (written whole, then
renamed); a dump describes exactly the state after its last entry; dumps written by
pysyncobj itself (gzip, from before this module) still load.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import zstandard
from pysyncobj import SyncObjConsumer
from pysyncobj.config import SERIALIZER_STATE

log = logging.getLogger("engine.cluster.raft")

MAGIC = b"engine-raft-dump/1\n"
GZIP_MAGIC = b"\x1f\x8b"  # pysyncobj's own format: gzip(pickle((data, e1, e0, cluster)))
ZSTD_LEVEL = 1
YIELD_BYTES = 256 * 1024  # the writer offers the GIL this often while pickling


class SnapshotWriter:
    """pysyncobj's serializer, deserializer and serializeChecker for one group."""

    def __init__(self, dump_file: Path, consumers: Sequence[SyncObjConsumer]) -> None:
        self._path = dump_file
        self._consumers = list(consumers)
        self._state = SERIALIZER_STATE.NOT_SERIALIZING
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- pysyncobj hooks ---------------------------------------------------------------------

    def serialize(self, tmp_file: str, raft_data: tuple[Any, ...]) -> None:
        """Tick thread: capture now, write later.

        pysyncobj renames ``tmp_file`` over the dump when this returns; we never create it
        (and remove a stale one), so that rename fails harmlessly and our checker reports
        the outcome instead."""
        Path(tmp_file).unlink(missing_ok=True)
        with self._lock:
            if self._state == SERIALIZER_STATE.SERIALIZING:
                return
            self._state = SERIALIZER_STATE.SERIALIZING
        captures = [_capture(consumer) for consumer in self._consumers]
        self._thread = threading.Thread(
            target=self._write, args=(captures, raft_data), name="raft-dump", daemon=True
        )
        self._thread.start()

    def check(self) -> int:
        """SUCCESS or FAILED once per finished dump, then NOT_SERIALIZING."""
        with self._lock:
            state = self._state
            if state in (SERIALIZER_STATE.SUCCESS, SERIALIZER_STATE.FAILED):
                self._state = SERIALIZER_STATE.NOT_SERIALIZING
            return state

    def deserialize(self, file_name: str) -> tuple[Any, ...]:
        """Load a dump into the consumers; returns pysyncobj's (last, previous, cluster)."""
        data = Path(file_name).read_bytes()
        if data.startswith(GZIP_MAGIC):
            return self._load_pysyncobj(data)
        if not data.startswith(MAGIC):
            raise ValueError(f"{file_name} is not a Raft dump")
        raw = zstandard.ZstdDecompressor().decompress(data[len(MAGIC):])
        raft_data, captures = pickle.loads(raw)
        if len(captures) != len(self._consumers):
            raise ValueError("the dump was written for other consumers")
        for consumer, captured in zip(self._consumers, captures, strict=True):
            _restore(consumer, captured)
        return tuple(raft_data)

    # -- lifecycle -----------------------------------------------------------------------------

    def join(self, timeout: float | None = None) -> None:
        """Wait for a dump being written (so a closing group leaves no thread behind)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # -- internals -----------------------------------------------------------------------------

    def _write(self, captures: list[Any], raft_data: tuple[Any, ...]) -> None:
        part = self._path.with_name(self._path.name + ".part")
        try:
            raw = _pickle((raft_data, captures))
            del captures
            packed = _compress(raw)
            del raw
            with open(part, "wb") as f:
                f.write(MAGIC)
                f.write(packed)
                f.flush()
                os.fsync(f.fileno())
            os.replace(part, self._path)
            outcome = SERIALIZER_STATE.SUCCESS
        except Exception:
            log.exception("writing the Raft dump %s failed", self._path)
            part.unlink(missing_ok=True)
            outcome = SERIALIZER_STATE.FAILED
        with self._lock:
            self._state = outcome

    def _load_pysyncobj(self, data: bytes) -> tuple[Any, ...]:
        import gzip

        from pysyncobj import pickle as syncobj_pickle

        full = syncobj_pickle.loads(gzip.decompress(data))
        consumers_data = full[0][1:] if full[0] is not None else []
        for consumer, state in zip(self._consumers, consumers_data, strict=False):
            consumer._deserialize(state)
        return tuple(full[1:])


class _YieldingBuffer:
    """A pickle target that lets other threads run every YIELD_BYTES.

    Pickling lists of plain values stays in C and keeps the GIL for its whole run (a
    second per million messages): the tick thread and the event loop would stop with
    it. The pickler writes in 64 KiB frames through this Python method, where a zero
    sleep hands the GIL over."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._since = 0

    def write(self, data: bytes) -> int:
        written = self._buffer.write(data)
        self._since += written
        if self._since >= YIELD_BYTES:
            self._since = 0
            time.sleep(0)
        return written

    def getvalue(self) -> bytes:
        return self._buffer.getvalue()


def _pickle(value: Any) -> bytes:
    target = _YieldingBuffer()
    pickle.Pickler(target, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return target.getvalue()


def _compress(raw: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw)


def _capture(consumer: SyncObjConsumer) -> Any:
    capture = getattr(consumer, "_capture", None)
    if capture is not None:
        return ("capture", capture())
    return ("pickle", pickle.dumps(consumer._serialize(), protocol=pickle.HIGHEST_PROTOCOL))


def _restore(consumer: SyncObjConsumer, captured: tuple[str, Any]) -> None:
    kind, value = captured
    if kind == "capture":
        consumer._restore(value)  # type: ignore[attr-defined]
    else:
        consumer._deserialize(pickle.loads(value))
