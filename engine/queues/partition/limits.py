"""SQS's limits and error codes for partition commands, and the work bounds of one command.

The work bounds exist because a command runs inside the node-wide LMDB write transaction
(``engine/cluster/consensus/machine.py``): time-driven work (retention, visibility expiry,
FIFO group timers, deduplication windows) is done at most ``WORK_BUDGET`` items per
command, and what is left is treated as already done by every read until a later command
(or a sweep) catches up. Modules read these through the module so tests can lower them.
"""

from __future__ import annotations

NS = 1_000_000_000
DEDUP_WINDOW_NS = 300 * NS
MAX_VISIBILITY_NS = 12 * 3600 * NS
MAX_MESSAGES = 10
MAX_DEAD_LETTERS = 10  # per receive: bounds the work one command can do
FIRST_SEQUENCE = 10**16

INVALID_HANDLE = "ReceiptHandleIsInvalid"
NOT_INFLIGHT = "AWS.SimpleQueueService.MessageNotInflight"
INVALID_PARAMETER = "InvalidParameterValue"

WORK_BUDGET = 2000  # time-driven items (expired messages, revealed, groups woken) per command
SWEEP_BUDGET = 4000  # items per sweep, shared by garbage collection and partition visits
GARBAGE_BUDGET = 4000  # keys of purged or dropped data deleted per sweep
PURGE_KEEP = 2000  # messages sent after the purge time that a purge carries over
READ_SCAN = 2000  # keys a read-only query walks to discount work not yet done

MAX_ID_BYTES = 256  # message, group and deduplication ids (SQS allows 128 characters)
MAX_NAME_BYTES = 400  # queue name plus incarnation

I64 = (1 << 63) - 1
U32 = (1 << 32) - 1


def clamp_i64(value: int) -> int:
    """Clamp a computed time so it always fits an int64 field and a time key."""
    return min(max(value, -I64 - 1), I64)
