"""The collection values a cache key can hold, and the bytes each charges to the budget.

A key holds a string (``bytes``, or ``bytearray`` once APPEND/SETRANGE grew it in place)
or one of the collections here. Each collection keeps ``nbytes``, what it charges to the
store's byte budget on top of the key's own ``ENTRY_OVERHEAD``, up to date as it changes,
so a write costs O(elements written), never O(collection).

Per-element charges, measured on CPython 3.11/x86-64 with tracemalloc over 10^3..3*10^5
inserts of fresh 8-byte elements (``sys.getsizeof(b"") == 33`` per bytes object). A hash
table's share per entry swings with how full it is, so those charges are the middle of
the measured range:

- hash field: 2 bytes objects (66) + the dict's share (30..52): 95..118, charged 108
- list element: 1 bytes object (33) + the deque's pointer and block share (8..9): 42
- set member: 1 bytes object (33) + the set table's share (28..105): 61..138, charged 92
- sorted-set member: 1 bytes object (33) + score float (24) + dict entry (~50) + the
  sorted list's ``(score, member)`` tuple (56) and pointer (~10): 176

Each type's ``BASE`` is its empty collection, measured the same way over 2*10^4 values
holding one cached one-byte element: the wrapper plus a small dict or set (about 300
bytes), or a deque (a 64-slot block allocated up front) or a sorted list with its index
lists and member dict (about 800 bytes).

``big`` records that Redis would have converted the value to its large encoding (it
never converts back), so OBJECT ENCODING answers as Redis 7.0 does.
"""

from __future__ import annotations

from collections import deque

from sortedcontainers import SortedList

HASH_FIELD_COST = 108
LIST_ITEM_COST = 42
SET_MEMBER_COST = 92
ZSET_MEMBER_COST = 176

# Redis 7.0's defaults for the compact encodings (redis.conf).
LISTPACK_ENTRIES = 128  # hash-max-listpack-entries, zset-max-listpack-entries
LISTPACK_VALUE = 64  # hash-max-listpack-value, zset-max-listpack-value
INTSET_ENTRIES = 512  # set-max-intset-entries


def is_int64_text(raw: bytes) -> bool:
    """Whether Redis's string2ll reads ``raw`` as a 64-bit integer (intset members)."""
    if not raw or len(raw) > 20:
        return False
    head = raw[1:] if raw[:1] == b"-" else raw
    if not head.isdigit() or (head[:1] == b"0" and (len(head) > 1 or raw[:1] == b"-")):
        return False
    return -(2**63) <= int(raw) <= 2**63 - 1


class HashValue:
    """HSET and friends: field -> value, in insertion order."""

    __slots__ = ("big", "fields", "nbytes")
    kind = "hash"
    BASE = 304

    def __init__(self) -> None:
        self.fields: dict[bytes, bytes] = {}
        self.nbytes = self.BASE
        self.big = False

    def __len__(self) -> int:
        return len(self.fields)

    def put(self, field: bytes, value: bytes) -> bool:
        """Set one field; True when it is new."""
        old = self.fields.get(field)
        self.fields[field] = value
        if old is None:
            self.nbytes += HASH_FIELD_COST + len(field) + len(value)
        else:
            self.nbytes += len(value) - len(old)
        if len(field) > LISTPACK_VALUE or len(value) > LISTPACK_VALUE or (
                len(self.fields) > LISTPACK_ENTRIES):
            self.big = True
        return old is None

    def drop(self, field: bytes) -> bool:
        value = self.fields.pop(field, None)
        if value is None:
            return False
        self.nbytes -= HASH_FIELD_COST + len(field) + len(value)
        return True

    def encoding(self) -> str:
        return "hashtable" if self.big else "listpack"

    def copy(self) -> HashValue:
        out = HashValue()
        out.fields = dict(self.fields)
        out.nbytes, out.big = self.nbytes, self.big
        return out


class ListValue:
    """LPUSH and friends: a deque, head on the left."""

    __slots__ = ("items", "nbytes")
    kind = "list"
    BASE = 800

    def __init__(self) -> None:
        self.items: deque[bytes] = deque()
        self.nbytes = self.BASE

    def __len__(self) -> int:
        return len(self.items)

    def charge(self, items: list[bytes] | tuple[bytes, ...] | deque[bytes], sign: int) -> None:
        """Account for ``items`` added (sign 1) or removed (sign -1)."""
        self.nbytes += sign * sum(LIST_ITEM_COST + len(item) for item in items)

    def encoding(self) -> str:
        return "quicklist"  # Redis 7.0 encodes every list as a quicklist

    def copy(self) -> ListValue:
        out = ListValue()
        out.items = deque(self.items)
        out.nbytes = self.nbytes
        return out


class SetValue:
    """SADD and friends: an unordered set of members."""

    __slots__ = ("big", "members", "nbytes")
    kind = "set"
    BASE = 304

    def __init__(self) -> None:
        self.members: set[bytes] = set()
        self.nbytes = self.BASE
        self.big = False

    def __len__(self) -> int:
        return len(self.members)

    def add(self, member: bytes) -> bool:
        if member in self.members:
            return False
        self.members.add(member)
        self.nbytes += SET_MEMBER_COST + len(member)
        if not self.big and (len(self.members) > INTSET_ENTRIES or not is_int64_text(member)):
            self.big = True
        return True

    def drop(self, member: bytes) -> bool:
        if member not in self.members:
            return False
        self.members.discard(member)
        self.nbytes -= SET_MEMBER_COST + len(member)
        return True

    def encoding(self) -> str:
        return "hashtable" if self.big else "intset"

    def copy(self) -> SetValue:
        out = SetValue()
        out.members = set(self.members)
        out.nbytes, out.big = self.nbytes, self.big
        return out


class ZSetValue:
    """ZADD and friends: member -> score, ordered by (score, member) as Redis orders it."""

    __slots__ = ("big", "nbytes", "order", "scores")
    kind = "zset"
    BASE = 800

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self.order: SortedList = SortedList()  # of (score, member)
        self.nbytes = self.BASE
        self.big = False

    def __len__(self) -> int:
        return len(self.scores)

    def put(self, member: bytes, score: float) -> None:
        if score == 0 and not self.big:
            score = 0.0  # Redis's listpack stores the text "-0" as the integer 0
        old = self.scores.get(member)
        if old is not None:
            if old == score:
                return
            self.order.remove((old, member))
        else:
            self.nbytes += ZSET_MEMBER_COST + len(member)
        self.scores[member] = score
        self.order.add((score, member))
        if len(member) > LISTPACK_VALUE or len(self.scores) > LISTPACK_ENTRIES:
            self.big = True

    def drop(self, member: bytes) -> bool:
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self.order.remove((score, member))
        self.nbytes -= ZSET_MEMBER_COST + len(member)
        return True

    def rank(self, member: bytes) -> int | None:
        score = self.scores.get(member)
        return None if score is None else self.order.index((score, member))

    def encoding(self) -> str:
        return "skiplist" if self.big else "listpack"

    def copy(self) -> ZSetValue:
        out = ZSetValue()
        out.scores = dict(self.scores)
        out.order = SortedList(self.order)
        out.nbytes, out.big = self.nbytes, self.big
        return out


Collection = HashValue | ListValue | SetValue | ZSetValue
Value = bytes | bytearray | Collection

# Redis 7.0's tryObjectEncoding: strings of at most 20 bytes that string2l reads are
# stored as integers, others of at most 44 bytes inline with the header (embstr).
EMBSTR_MAX = 44


class FloatText(bytes):
    """A string INCRBYFLOAT wrote: Redis stores it as an embstr even when it reads as an
    integer ("3"), so OBJECT ENCODING says "embstr" where a SET of "3" says "int"."""

    __slots__ = ()


def type_name(value: Value) -> str:
    """What TYPE answers for a stored value."""
    return "string" if isinstance(value, bytes | bytearray) else value.kind


def encoding_name(value: Value) -> str:
    """What OBJECT ENCODING answers (Redis 7.0's names and thresholds)."""
    if isinstance(value, bytearray):
        return "raw"  # APPEND and SETRANGE leave a raw string, whatever its size
    if isinstance(value, bytes):
        if is_int64_text(value) and not isinstance(value, FloatText):
            return "int"
        return "embstr" if len(value) <= EMBSTR_MAX else "raw"
    return value.encoding()
