"""The messages of the queue partitions one Raft replica group holds, kept in LMDB.

``PartitionMachine`` (``machine.py``) is the replicated state machine; ``keys.py``
describes the keyspace. Modules: ``queues`` (directory and clock), ``messages`` (one
message's records and indexes), ``fifo`` (message groups), ``dedup``, ``send``,
``receive``, ``handles`` (delete and visibility), ``lifecycle`` (purge, drop, sweep),
``reads`` (queries), ``advance`` (the time-driven start of each command), ``limits``
(SQS's limits and the work bounds of one command).
"""

from engine.queues.partition.limits import (
    DEDUP_WINDOW_NS,
    FIRST_SEQUENCE,
    INVALID_HANDLE,
    INVALID_PARAMETER,
    MAX_DEAD_LETTERS,
    MAX_MESSAGES,
    MAX_VISIBILITY_NS,
    NOT_INFLIGHT,
    NS,
)
from engine.queues.partition.machine import PartitionMachine

__all__ = [
    "DEDUP_WINDOW_NS",
    "FIRST_SEQUENCE",
    "INVALID_HANDLE",
    "INVALID_PARAMETER",
    "MAX_DEAD_LETTERS",
    "MAX_MESSAGES",
    "MAX_VISIBILITY_NS",
    "NOT_INFLIGHT",
    "NS",
    "PartitionMachine",
]
