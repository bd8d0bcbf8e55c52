"""A drive's event outbox: notifications waiting for their queue, in the drive's LMDB.

An event is put in the same transaction as the metadata change it reports (see
:class:`engine.storage.drive.LocalDrive`), so a committed change always has its event
on the same drive, and an aborted one never does. Keys are the due time (8 bytes, big
endian) then the event id, so the events due first are read first.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import lmdb

from engine.v1.records_pb2 import EventRecord

_DUE = struct.Struct(">Q")


def event_key(due_ns: int, event_id: str) -> bytes:
    return _DUE.pack(max(due_ns, 0)) + event_id.encode()


class Outbox:
    def __init__(self, env: lmdb.Environment, db: lmdb._Database) -> None:
        self._env = env
        self._db = db

    def put_in(self, txn: lmdb.Transaction, events: Iterable[EventRecord]) -> None:
        for event in events:
            txn.put(event_key(event.due_ns, event.id), event.SerializeToString(), db=self._db)

    def due(self, now_ns: int, limit: int) -> list[EventRecord]:
        """Up to ``limit`` events due at ``now_ns``, the earliest first."""
        out: list[EventRecord] = []
        with self._env.begin(db=self._db) as txn:
            for key, value in txn.cursor():
                if len(out) >= limit or _DUE.unpack_from(key)[0] > now_ns:
                    break
                out.append(EventRecord.FromString(value))
        return out

    def drop_in(self, txn: lmdb.Transaction, keys: Iterable[tuple[int, str]]) -> int:
        """Forget delivered events, by (due_ns, id); returns how many were here."""
        return sum(bool(txn.delete(event_key(due_ns, event_id), db=self._db))
                   for due_ns, event_id in keys)

    def count(self) -> int:
        with self._env.begin(db=self._db) as txn:
            return int(txn.stat(self._db)["entries"])
