"""Redis's maxmemory policies: which key the cache store gives up when a write needs room.

The keyspace (keyspace.py) owns the entries, the byte accounting and the order of
checks (expired keys always go first, under every policy); a policy only answers
"which key next?" and keeps whatever index it needs to answer that fast. The eight
policies are ElastiCache's (Redis 7's):

========================  ==========================================================
allkeys-lru (default)     the least recently used key: the front of the keyspace's
                          ``OrderedDict`` (exact LRU, no index of its own), O(1)
volatile-lru              the least recently used key with a TTL: an ``OrderedDict``
                          of those keys, moved to the end on each use, O(1)
allkeys-lfu, volatile-lfu the least frequently used key (below), O(1) amortised
volatile-ttl              the key with the nearest expiry: the keyspace's expiry heap,
                          O(log n)
allkeys-random,           a uniformly random key (with a TTL): an array of the
volatile-random           candidates with a position map, O(1)
noeviction                none: a write that needs room is refused with OOM
========================  ==========================================================

LFU is Redis's counter, kept exactly per key instead of in 8 bits of the object header
but with the same arithmetic: a new key starts at ``LFU_INIT_VAL`` (5); a use first
decays the counter by one per ``lfu-decay-time`` minute (1) since its last use, then
adds one with probability ``1 / ((counter - 5) * lfu-log-factor + 1)`` (factor 10, so
a million uses reach about 255, the cap). The decay is linear in whole minutes, so a
key's counter *now* is ``max(0, score - now_minute)`` with ``score = counter +
minute of last use``: ranking keys by ``score`` ranks them by their decayed counter
without touching them. Keys sit in buckets by score (each bucket in least recently
used order, Redis's tie-break), and a small heap holds the scores of the buckets, so a
use moves a key between two buckets in O(1) and eviction takes the front of the lowest
bucket; the number of buckets is bounded by the counter range plus the minutes the
keys span, not by the number of keys.

Memory: each index costs a dict slot or two per candidate key. Like the LRU's own last
use (``OBJECT IDLETIME``) and the TTL structures, it is not charged to the budget.
"""

from __future__ import annotations

import heapq
import random
from collections import OrderedDict
from collections.abc import Collection, Iterator

# The order Redis lists them in its CONFIG SET error text.
POLICIES = ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
            "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction")
DEFAULT_POLICY = "allkeys-lru"

LFU_INIT_VAL = 5  # Redis's starting counter, so a new key is not the first to go
LFU_LOG_FACTOR = 10  # Redis's lfu-log-factor default
LFU_DECAY_MINUTES = 1  # Redis's lfu-decay-time default
LFU_MAX = 255
_MS_PER_MINUTE = 60_000
# The bucket-score heap is rebuilt when stale scores outnumber live buckets by this much.
_HEAP_SLACK = 2
_HEAP_FLOOR = 64


class Policy:
    """A maxmemory policy. ``victim`` names the next key to evict (never one of
    ``keep``) or None when no key is a candidate. The hooks keep an index current;
    policies without one (``tracks`` False) are never called on the hot path."""

    name = ""
    volatile = False  # only keys with a TTL are candidates
    evicts = True  # False: noeviction
    tracks = False  # the keyspace calls the hooks below

    def victim(self, keep: Collection[bytes], data: OrderedDict[bytes, object],
               expires: dict[bytes, int], heap: list[tuple[int, bytes]]) -> bytes | None:
        return None

    def candidates(self, expires: dict[bytes, int],
                   heap: list[tuple[int, bytes]]) -> Iterator[bytes]:
        """Every key a volatile policy may evict, in any order, cheaply from the first:
        the keyspace sums them to see whether a write can be made room for. (Not by
        iterating ``expires``: a dict whose front keys were deleted iterates over their
        empty slots first.)"""
        return iter(())

    def used(self, key: bytes, now_ms: int) -> None:
        """``key`` was used (read or written), or has just been stored."""

    def ttl_set(self, key: bytes) -> None:
        """``key`` has a TTL now (it may have had one already)."""

    def ttl_cleared(self, key: bytes) -> None:
        """``key`` no longer has a TTL."""

    def removed(self, key: bytes) -> None:
        """``key`` left the keyspace (deleted, expired, evicted)."""

    def clear(self) -> None:
        """Every key left (FLUSHALL)."""


class NoEviction(Policy):
    name = "noeviction"
    evicts = False


class AllKeysLru(Policy):
    """The keyspace's ``OrderedDict`` already is the LRU order."""

    name = "allkeys-lru"

    def victim(self, keep: Collection[bytes], data: OrderedDict[bytes, object],
               expires: dict[bytes, int], heap: list[tuple[int, bytes]]) -> bytes | None:
        for key in data:
            if key not in keep:
                return key
        return None


class VolatileTtl(Policy):
    """The keyspace's expiry heap is ordered by expiry already; stale pairs (the TTL
    changed, the key left) are dropped on the way, as the active expiry does."""

    name = "volatile-ttl"
    volatile = True

    def victim(self, keep: Collection[bytes], data: OrderedDict[bytes, object],
               expires: dict[bytes, int], heap: list[tuple[int, bytes]]) -> bytes | None:
        held: list[tuple[int, bytes]] = []  # live pairs of kept keys, pushed back after
        found = None
        while heap:
            at, key = heap[0]
            if expires.get(key) != at:
                heapq.heappop(heap)
                continue
            if key in keep:
                held.append(heapq.heappop(heap))
                continue
            found = key
            break
        for pair in held:
            heapq.heappush(heap, pair)
        return found

    def candidates(self, expires: dict[bytes, int],
                   heap: list[tuple[int, bytes]]) -> Iterator[bytes]:
        return (key for at, key in heap if expires.get(key) == at)


class VolatileLru(Policy):
    name = "volatile-lru"
    volatile = True
    tracks = True

    def __init__(self) -> None:
        self._order: OrderedDict[bytes, None] = OrderedDict()  # keys with a TTL, LRU first

    def victim(self, keep: Collection[bytes], data: OrderedDict[bytes, object],
               expires: dict[bytes, int], heap: list[tuple[int, bytes]]) -> bytes | None:
        for key in self._order:
            if key not in keep:
                return key
        return None

    def candidates(self, expires: dict[bytes, int],
                   heap: list[tuple[int, bytes]]) -> Iterator[bytes]:
        return iter(self._order)

    def used(self, key: bytes, now_ms: int) -> None:
        if key in self._order:
            self._order.move_to_end(key)

    def ttl_set(self, key: bytes) -> None:
        if key not in self._order:
            self._order[key] = None  # TTLs are set by writes and EXPIRE: uses

    def ttl_cleared(self, key: bytes) -> None:
        self._order.pop(key, None)

    def removed(self, key: bytes) -> None:
        self._order.pop(key, None)

    def clear(self) -> None:
        self._order.clear()


class RandomKey(Policy):
    """allkeys-random and volatile-random: the candidates in an array (swap-remove)."""

    tracks = True

    def __init__(self, volatile: bool, rng: random.Random) -> None:
        self.volatile = volatile
        self.name = "volatile-random" if volatile else "allkeys-random"
        self._rng = rng
        self._keys: list[bytes] = []
        self._at: dict[bytes, int] = {}

    def victim(self, keep: Collection[bytes], data: OrderedDict[bytes, object],
               expires: dict[bytes, int], heap: list[tuple[int, bytes]]) -> bytes | None:
        keys = self._keys
        if len(keys) > 2 * len(keep):  # at least half are candidates: draw until one is
            while True:
                key = keys[self._rng.randrange(len(keys))]
                if key not in keep:
                    return key
        left = [key for key in keys if key not in keep]
        return self._rng.choice(left) if left else None

    def candidates(self, expires: dict[bytes, int],
                   heap: list[tuple[int, bytes]]) -> Iterator[bytes]:
        return iter(self._keys)

    def _add(self, key: bytes) -> None:
        if key not in self._at:
            self._at[key] = len(self._keys)
            self._keys.append(key)

    def _drop(self, key: bytes) -> None:
        at = self._at.pop(key, None)
        if at is None:
            return
        last = self._keys.pop()
        if last != key:
            self._keys[at] = last
            self._at[last] = at

    def used(self, key: bytes, now_ms: int) -> None:
        if not self.volatile:
            self._add(key)

    def ttl_set(self, key: bytes) -> None:
        if self.volatile:
            self._add(key)

    def ttl_cleared(self, key: bytes) -> None:
        if self.volatile:
            self._drop(key)

    def removed(self, key: bytes) -> None:
        self._drop(key)

    def clear(self) -> None:
        self._keys.clear()
        self._at.clear()


class Lfu(Policy):
    """allkeys-lfu and volatile-lfu: Redis's decaying logarithmic counter (module doc)."""

    tracks = True

    def __init__(self, volatile: bool, rng: random.Random) -> None:
        self.volatile = volatile
        self.name = "volatile-lfu" if volatile else "allkeys-lfu"
        self._rng = rng
        self._score: dict[bytes, int] = {}  # every key: counter + minute of last use
        self._bucket_of: dict[bytes, int] = {}  # candidates: the bucket they sit in
        # score -> keys, LRU first (ordered dicts: their front stays O(1) to reach as
        # keys leave it, where a dict's iteration would walk the deleted slots)
        self._buckets: dict[int, OrderedDict[bytes, None]] = {}
        self._scores: list[int] = []  # heap of bucket scores; may hold stale ones
        self._minute = 0  # the minute of the latest use

    def counter(self, key: bytes, now_ms: int) -> int | None:
        """The key's decayed counter now (Redis's OBJECT FREQ), None if untracked."""
        score = self._score.get(key)
        if score is None:
            return None
        return max(0, score - _minutes(now_ms))

    def victim(self, keep: Collection[bytes], data: OrderedDict[bytes, object],
               expires: dict[bytes, int], heap: list[tuple[int, bytes]]) -> bytes | None:
        scores = self._scores
        while scores and not self._buckets.get(scores[0]):
            heapq.heappop(scores)  # a bucket emptied since its score was pushed
        if not scores:
            return None
        for key in self._buckets[scores[0]]:
            if key not in keep:
                return key
        for score in sorted(self._buckets):  # rare: the lowest bucket is all kept keys
            for key in self._buckets[score]:
                if key not in keep:
                    return key
        return None

    def candidates(self, expires: dict[bytes, int],
                   heap: list[tuple[int, bytes]]) -> Iterator[bytes]:
        for bucket in self._buckets.values():
            yield from bucket

    def used(self, key: bytes, now_ms: int) -> None:
        minute = self._minute = _minutes(now_ms)
        score = self._score.get(key)
        counter = LFU_INIT_VAL if score is None else self._increment(max(0, score - minute))
        self._score[key] = counter + minute
        if key in self._bucket_of or (score is None and not self.volatile):
            self._place(key, counter + minute)

    def _increment(self, counter: int) -> int:
        if counter >= LFU_MAX:
            return LFU_MAX
        base = max(0, counter - LFU_INIT_VAL)
        if self._rng.random() < 1.0 / (base * LFU_LOG_FACTOR + 1):
            return counter + 1
        return counter

    def _place(self, key: bytes, score: int) -> None:
        self._unplace(key)
        bucket = self._buckets.get(score)
        if bucket is None:
            bucket = self._buckets[score] = OrderedDict()
            heapq.heappush(self._scores, score)
            if len(self._scores) > _HEAP_SLACK * len(self._buckets) + _HEAP_FLOOR:
                self._scores = list(self._buckets)
                heapq.heapify(self._scores)
        bucket[key] = None
        self._bucket_of[key] = score

    def _unplace(self, key: bytes) -> None:
        score = self._bucket_of.pop(key, None)
        if score is None:
            return
        bucket = self._buckets[score]
        del bucket[key]
        if not bucket:
            del self._buckets[score]

    def ttl_set(self, key: bytes) -> None:
        if self.volatile and key not in self._bucket_of:
            self._place(key, self._score.setdefault(key, LFU_INIT_VAL + self._minute))

    def ttl_cleared(self, key: bytes) -> None:
        if self.volatile:
            self._unplace(key)

    def removed(self, key: bytes) -> None:
        self._unplace(key)
        self._score.pop(key, None)

    def clear(self) -> None:
        self._score.clear()
        self._bucket_of.clear()
        self._buckets.clear()
        self._scores.clear()


def _minutes(now_ms: int) -> int:
    return now_ms // (_MS_PER_MINUTE * LFU_DECAY_MINUTES)


def make_policy(name: str, rng: random.Random | None = None) -> Policy:
    """A fresh policy named as Redis names it (ValueError for another name)."""
    rng = rng if rng is not None else random.Random()
    if name == "allkeys-lru":
        return AllKeysLru()
    if name == "volatile-lru":
        return VolatileLru()
    if name in ("allkeys-lfu", "volatile-lfu"):
        return Lfu(name.startswith("volatile"), rng)
    if name in ("allkeys-random", "volatile-random"):
        return RandomKey(name.startswith("volatile"), rng)
    if name == "volatile-ttl":
        return VolatileTtl()
    if name == "noeviction":
        return NoEviction()
    raise ValueError(f"unknown maxmemory policy {name!r}")
