"""The contract every replicated state machine keeps, and the keyspace it keeps state in.

A state machine is a deterministic function from (its keys, a command) to (new keys, a
result). The consensus kit calls :meth:`ReplicatedStateMachine.apply` for every committed
entry of its group, in log order, on every member, inside the kit's LMDB write
transaction: the entry's effect, the group's applied index and the op-id memo become
durable in one fsynced commit, so a restart neither re-applies nor skips an entry.

Rules for ``apply``:

* **Deterministic.** Depend only on the keyspace and the command: no clock, no random
  numbers, no iteration over sets or dicts filled in a different order. Time is a field
  of the command, stamped by the node that proposed it. LMDB iterates keys in sorted
  order, which is deterministic.
* **Bounded.** One command touches a bounded number of keys (a few thousand at most):
  an LMDB write transaction holds at most 512 MiB of dirty pages, and a long apply delays
  every group of the node. Work proportional to stored data (dropping a queue of
  millions of messages) is split over several commands.
* **Rejections are results.** A deterministic refusal (``NoSuchQueue``,
  ``BucketAlreadyExists``) raises :class:`Rejected`: every replica reaches the same
  refusal, nothing the command wrote is kept, and the caller gets an ``EngineError``
  with that code. Any other exception is a bug or a broken replica: the kit logs it
  with the group, entry index and command, and this replica stops serving the group.

Queries run on the event loop against a read transaction (``ReadKeyspace``), which sees
the state as of one committed batch, never a half-applied one.

Snapshots: a machine's state is exactly its keyspace, so the kit streams a snapshot by
iterating the keyspace inside one read transaction (LMDB's MVCC gives a consistent view
without pausing the log) and restores it by writing the pairs into a fresh keyspace.
``snapshot``/``restore`` are overridable for machines whose snapshot should differ, but
the default is what every machine in the engine uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import ClassVar

import lmdb

_NO_STOP = None


class Rejected(Exception):
    """A deterministic refusal of a command: the same on every replica, sent to the caller."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


class ReadKeyspace:
    """A state machine's keys as of one committed transaction (read-only)."""

    __slots__ = ("db", "txn")

    def __init__(self, txn: lmdb.Transaction, db: lmdb._Database) -> None:
        self.txn = txn
        self.db = db

    def get(self, key: bytes) -> bytes | None:
        value = self.txn.get(key, db=self.db)
        return None if value is None else bytes(value)

    def cursor(self) -> lmdb.Cursor:
        return self.txn.cursor(db=self.db)

    def range(self, start: bytes, stop: bytes | None = _NO_STOP, *,
              reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Pairs with start <= key < stop in key order (descending with ``reverse``)."""
        cursor = self.txn.cursor(db=self.db)
        if not reverse:
            if not cursor.set_range(start):
                return
            for key, value in cursor:
                if stop is not None and key >= stop:
                    return
                yield bytes(key), bytes(value)
            return
        positioned = cursor.set_range(stop) if stop is not None else cursor.last()
        if not positioned:
            positioned = cursor.last()
        while positioned:
            key = cursor.key()
            if key < start:
                return
            if stop is None or key < stop:
                yield bytes(key), bytes(cursor.value())
            positioned = cursor.prev()

    def prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Pairs whose key starts with ``prefix``, in key order."""
        return self.range(prefix, prefix_end(prefix))

    def first(self, start: bytes, stop: bytes | None = _NO_STOP) -> tuple[bytes, bytes] | None:
        """The smallest pair with start <= key < stop, or None."""
        return next(self.range(start, stop), None)

    def last(self, start: bytes, stop: bytes | None = _NO_STOP) -> tuple[bytes, bytes] | None:
        """The largest pair with start <= key < stop, or None."""
        return next(self.range(start, stop, reverse=True), None)


class Keyspace(ReadKeyspace):
    """A state machine's keys inside the kit's write transaction (during ``apply``)."""

    __slots__ = ()

    def put(self, key: bytes, value: bytes) -> None:
        self.txn.put(key, value, db=self.db)

    def delete(self, key: bytes) -> bool:
        return bool(self.txn.delete(key, db=self.db))

    def delete_range(self, start: bytes, stop: bytes | None, limit: int) -> int:
        """Delete up to ``limit`` keys with start <= key < stop, in key order; the count."""
        cursor = self.txn.cursor(db=self.db)
        done = 0
        if not cursor.set_range(start):
            return 0
        while done < limit:
            key = cursor.key()
            if stop is not None and key >= stop:
                break
            if not cursor.delete():  # moves to the next key
                break
            done += 1
            if not cursor.key():
                break
        return done


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (None: no bound)."""
    head = prefix.rstrip(b"\xff")
    if not head:
        return None
    return head[:-1] + bytes([head[-1] + 1])


class ReplicatedStateMachine:
    """Base of every state machine a consensus group hosts.

    ``name`` identifies the machine inside its group: it names its LMDB database and
    routes commands, so it is part of the on-disk and wire format and never changes.
    """

    name: ClassVar[str] = ""

    def apply(self, keys: Keyspace, command: bytes, index: int) -> bytes:
        """Apply one committed command; return the result the proposer receives."""
        raise NotImplementedError

    def snapshot(self, keys: ReadKeyspace) -> Iterator[tuple[bytes, bytes]]:
        """The whole state as key/value pairs (default: the keyspace as it is)."""
        return keys.range(b"")

    def restore(self, keys: Keyspace, pairs: Iterable[tuple[bytes, bytes]]) -> None:
        """Write pairs of a snapshot into an empty keyspace (called once per chunk)."""
        for key, value in pairs:
            keys.put(key, value)

    def restored(self) -> None:
        """Called on the event loop after a snapshot replaced the state (drop caches)."""
