"""The core under :class:`engine.cache.store.CacheStore`: typed keys in a byte budget with a
maxmemory policy (eviction.py; exact LRU by default), with TTLs on the engine clock.

Every command module (strings, keys, hashes, lists, sets, sorted sets) builds on the
primitives here, so the budget, expiry and eviction rules are written once:

- ``_data`` maps key -> value (``bytes``/``bytearray`` for strings, a collection from
  ``engine/cache/types/values.py`` otherwise), least recently used first.
- A key's charge is ``len(key) + ENTRY_OVERHEAD`` plus its string's length or its
  collection's ``nbytes``; ``_used`` is the sum, kept exact on every change.
- ``_lookup`` finds a live key of one type (WRONGTYPE for another), ``_grow`` makes room
  for a collection write before it happens (OOM when the entry could never fit, or the
  policy cannot free enough, before anything changed), and ``_settle`` charges the
  write, deletes a collection left empty (as Redis does) and evicts to fit.
- Room is checked before a write, evictions happen after it: ``_check_fits(size, key)``
  refuses a write that grows memory past the budget when the policy could not free
  enough (noeviction; volatile-* without enough keys with a TTL) with Redis's OOM, and
  ``_evict`` then frees what the write took, asking the policy for victims. A write
  that does not grow memory is never refused (Redis refuses every deny-oom command
  once over maxmemory; here the budget is checked against what the write would take).
"""

from __future__ import annotations

import heapq
import random
from collections import OrderedDict
from collections.abc import Collection as Keys
from dataclasses import dataclass
from typing import TypeVar

from engine.cache.eviction import DEFAULT_POLICY, Policy, make_policy
from engine.cache.types.values import Collection, Value
from engine.cache.watches import KeyWatch, Watches
from engine.clock import Clock
from engine.errors import EngineError

# A unary gRPC message is capped at 16 MiB on every channel (engine/node.py, client
# transport), and a forwarded or replicated SET carries key + value + framing. 8 MiB per
# value keeps a single-key call far from that cap; larger blobs belong in the object store.
MAX_VALUE_BYTES = 8 * 1024 * 1024
# Redis allows 512 MB keys, but a key is hashed, compared and copied on every call; 64 KiB
# is generous for any real key and keeps MGET/MSET of many keys inside one message.
MAX_KEY_BYTES = 64 * 1024
DEFAULT_BUDGET = 256 * 1024 * 1024
# Bytes charged per entry on top of len(key) + len(value). Measured on CPython 3.11/x86-64:
# sys.getsizeof(b"") == 33 for each of the key and value bytes objects (66), plus the
# OrderedDict's per-entry share, sys.getsizeof(od) / len(od) == 88..105 bytes depending on
# how full the hash table is (dict slot + index + the ordered list node). 66 + ~94 = 160;
# tracemalloc over 10^4..10^6 inserts agrees (141..171 bytes/entry). Keys with a TTL cost
# about 150 bytes more (expiry dict slot, int, heap tuple) which is not charged, so the
# budget, like Redis's maxmemory, bounds the data and not every interpreter byte. The
# last-use second kept for OBJECT IDLETIME (a dict slot; the int is shared by every key
# used in the same second) is not charged either, as Redis keeps its LRU clock in the
# object header.
ENTRY_OVERHEAD = 160

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# The heap is rebuilt once stale entries outnumber live expiries by this factor (plus a
# floor so tiny stores do not rebuild all the time), keeping its memory O(live TTLs).
_HEAP_SLACK = 2
_HEAP_FLOOR = 64

_NS_PER_MS = 1_000_000
OOM = "OOM command not allowed when used memory > 'maxmemory'."
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"

C = TypeVar("C", bound=Collection)


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters since start (FLUSHALL does not reset them, as Redis's INFO stats).

    ``hits``/``misses`` count GET and MGET lookups. ``keys`` and ``bytes_used`` include
    keys that have expired but were not yet removed by lazy expiry or :meth:`sweep`.
    """

    hits: int
    misses: int
    evictions: int
    expirations: int
    keys: int
    bytes_used: int
    budget: int


def fail(code: str, message: str | None = None) -> EngineError:
    return EngineError(code, message)


def syntax(message: str = "syntax error") -> EngineError:
    return EngineError("SyntaxError", message)


def wrong_type() -> EngineError:
    return EngineError("WrongType", WRONGTYPE)


def charge(key: bytes, value: Value) -> int:
    """What an entry costs the budget."""
    if isinstance(value, bytes | bytearray):
        return len(key) + len(value) + ENTRY_OVERHEAD
    return len(key) + value.nbytes + ENTRY_OVERHEAD


class Keyspace:
    """Typed entries in a byte budget under a maxmemory policy, TTLs; the commands live
    in subclasses. ``rng`` drives the random and LFU policies (tests seed it)."""

    def __init__(
        self,
        budget_bytes: int,
        clock: Clock,
        *,
        max_key_bytes: int = MAX_KEY_BYTES,
        max_value_bytes: int = MAX_VALUE_BYTES,
        policy: str = DEFAULT_POLICY,
        rng: random.Random | None = None,
    ) -> None:
        if budget_bytes <= 0:
            raise ValueError("the cache budget must be a positive number of bytes")
        self.budget = budget_bytes
        self._rng = rng if rng is not None else random.Random()
        self._policy: Policy = make_policy(policy, self._rng)
        self._tracker: Policy | None = self._policy if self._policy.tracks else None
        # Keys a collection command created or grew and has not settled yet (LMOVE's
        # destination while its source settles): never evicted from under the command.
        self._pending: set[bytes] = set()
        self.max_key_bytes = max_key_bytes
        self.max_value_bytes = max_value_bytes
        self._clock = clock
        self._data: OrderedDict[bytes, Value] = OrderedDict()  # LRU first, MRU last
        self._expires: dict[bytes, int] = {}  # key -> Unix ms, only keys with a TTL
        self._heap: list[tuple[int, bytes]] = []  # (expire_at, key); may hold stale pairs
        self._last_use: dict[bytes, int] = {}  # key -> Unix seconds (OBJECT IDLETIME)
        self._second = 0  # the int shared by every key used in the current second
        self._used = 0
        self._hits = 0
        self._misses = 0
        self._evictions = 0
        self._expirations = 0
        self.watches = Watches()  # WATCH: only watched keys are tracked (watches.py)

    # -- maxmemory and maxmemory-policy (CONFIG SET) -------------------------------------

    @property
    def policy(self) -> str:
        """The maxmemory policy's name, as Redis spells it."""
        return self._policy.name

    def set_policy(self, name: str) -> None:
        """Switch policy (ValueError for an unknown name). The new policy's index is built
        from the keys as they are, in LRU order (O(n) once); LFU counters start afresh at
        their initial value. Evicts at once if the store is over its budget."""
        policy = make_policy(name, self._rng)
        if policy.tracks:
            now = self._now_ms()
            for key in self._data:
                policy.used(key, now)
                if key in self._expires:
                    policy.ttl_set(key)
        self._policy = policy
        self._tracker = policy if policy.tracks else None
        self._evict_to_budget(())

    def set_budget(self, budget_bytes: int) -> None:
        """Change maxmemory. Lowering it evicts at once, as far as the policy allows
        (noeviction keeps every key and refuses growing writes until memory is freed)."""
        if budget_bytes <= 0:
            raise ValueError("the cache budget must be a positive number of bytes")
        self.budget = budget_bytes
        self._evict_to_budget(())

    # -- WATCH ---------------------------------------------------------------------------

    def watch(self, watch: KeyWatch, keys: list[bytes]) -> None:
        """Watch ``keys`` for any change from now on (a key already expired counts as
        missing, as in Redis, so its expiry does not dirty the watch)."""
        now = self._now_ms()
        for key in keys:
            self._live(key, now)
            self.watches.add(watch, key)

    def watch_intact(self, watch: KeyWatch) -> bool:
        """No watched key changed since WATCH; a key that expired since counts as
        changed (Redis 7 checks this at EXEC)."""
        now = self._now_ms()
        for key in watch.keys:
            self._live(key, now)
        return not watch.dirty

    def _modified(self, key: bytes) -> None:
        """The one hook every change of a key passes through (WATCH's signal)."""
        if self.watches.by_key:
            self.watches.touched(key)

    # -- typed access --------------------------------------------------------------------

    def _lookup(self, key: bytes, kind: type[C], *, touch: bool = True) -> C | None:
        """The live collection at ``key`` (None when missing); WRONGTYPE for another type.
        A found key becomes most recently used unless ``touch`` is False."""
        value = self._live(key, self._now_ms())
        if value is None:
            return None
        if type(value) is not kind:
            raise wrong_type()
        if touch:
            self._touch(key)
        return value  # type: ignore[return-value]

    def _grow(self, key: bytes, kind: type[C], extra: int, *, create: bool = True) -> C | None:
        """The collection at ``key`` ready for a write adding at most ``extra`` bytes,
        created empty when missing (if ``create``). OOM, with nothing changed, when the
        entry could never fit the budget."""
        self._check_key(key)
        value = self._lookup(key, kind)
        if value is None:
            if not create:
                return None
            fresh = kind()
            self._check_fits(charge(key, fresh) + extra, key)
            self._data[key] = fresh
            self._used += charge(key, fresh)
            self._touch(key)
            self._pending.add(key)
            return fresh
        self._check_fits(charge(key, value) + extra, key)
        self._pending.add(key)
        return value

    def _settle(self, key: bytes, value: Collection, before: int) -> None:
        """After a write changed ``value`` (whose ``nbytes`` was ``before``): charge the
        difference, delete it when empty, evict others to fit."""
        self._used += value.nbytes - before
        self._pending.discard(key)
        if not len(value):
            self._remove(key)
        else:
            self._evict(key)

    def _put(self, key: bytes, value: Value, expire_at: int | None) -> None:
        """Store a whole value (a *STORE result, a copy): OOM first if it cannot fit."""
        self._check_key(key)
        self._check_fits(charge(key, value), key)
        self._write(key, value, charge(key, value), expire_at)

    # -- internals -----------------------------------------------------------------------

    def _now_ms(self) -> int:
        return self._clock.now_ns() // _NS_PER_MS

    def _touch(self, key: bytes, now_ms: int | None = None) -> None:
        """A use, as Redis counts uses: most recently used, idle time 0."""
        self._data.move_to_end(key)
        now = self._now_ms() if now_ms is None else now_ms
        if now // 1000 != self._second:
            self._second = now // 1000  # one int object shared by this second's keys
        self._last_use[key] = self._second
        if self._tracker is not None:
            self._tracker.used(key, now)

    def _live(self, key: bytes, now: int) -> Value | None:
        """The value if present and not expired; an expired key is removed here (lazy
        expiry). Does not touch LRU order or hit/miss counters."""
        value = self._data.get(key)
        if value is None:
            return None
        at = self._expires.get(key)
        if at is not None and now > at:
            self._remove(key)
            self._expirations += 1
            return None
        return value

    def _check_key(self, key: bytes) -> None:
        if len(key) > self.max_key_bytes:
            raise fail(
                "KeyTooLarge",
                f"key of {len(key)} bytes exceeds the maximum of {self.max_key_bytes} bytes",
            )

    def _check_value(self, length: int) -> None:
        if length > self.max_value_bytes:
            raise fail(
                "ValueTooLarge",
                f"value of {length} bytes exceeds the maximum of "
                f"{self.max_value_bytes} bytes",
            )

    def _entry_size(self, key: bytes, value: bytes | bytearray) -> int:
        """What a string entry is charged; refuses keys and values over their limits."""
        self._check_key(key)
        self._check_value(len(value))
        return len(key) + len(value) + ENTRY_OVERHEAD

    def _check_fits(self, size: int, key: bytes | None = None) -> None:
        """OOM unless an entry of ``size`` bytes fits the budget on its own and, given the
        ``key`` it will be stored at, the policy can make room for it (``_check_room``)."""
        if size > self.budget:
            raise fail(
                "OOM",
                "OOM command not allowed when used memory > 'maxmemory' "
                f"({size} bytes needed, cache budget {self.budget} bytes)",
            )
        if key is not None and (self._policy.volatile or not self._policy.evicts):
            self._check_room({key: size})  # (allkeys-*: always can, skip the dict)

    def _check_room(self, sizes: dict[bytes, int]) -> None:
        """OOM, before anything visible changed, when leaving each key of ``sizes``
        charged as given would grow memory past the budget and the policy cannot free
        the difference from other keys. Callers have checked the entries fit on their
        own, so an allkeys-* policy always can. Already-expired keys are dropped first
        under every policy (that is expiry, not eviction). volatile-* sums keys with a
        TTL until it has enough: O(bytes needed / ENTRY_OVERHEAD) at worst, and O(1)
        when the first candidate makes room."""
        if self._policy.evicts and not self._policy.volatile:
            return
        need = self._room_needed(sizes)
        if need <= 0:
            return
        now = self._now_ms()
        while self._pop_expired(now):
            need = self._room_needed(sizes)
            if need <= 0:
                return
        if self._policy.evicts:  # volatile-*: keys with a TTL, other than these, may go
            for key in self._policy.candidates(self._expires, self._heap):
                if key not in sizes:
                    need -= charge(key, self._data[key])
                    if need <= 0:
                        return
        raise fail("OOM", OOM)

    def _room_needed(self, sizes: dict[bytes, int]) -> int:
        """Bytes to free for these writes; <= 0 when none (or they do not grow memory)."""
        growth = 0
        for key, size in sizes.items():
            old = self._data.get(key)
            growth += size - (0 if old is None else charge(key, old))
        if growth <= 0:
            return 0
        return self._used + growth - self.budget

    def _absolute(self, px: int | None, pxat: int | None, now: int, command: str) -> int:
        """The expiry as Unix ms; out of int64 (also after adding now) is refused."""
        raw = px if px is not None else pxat
        assert raw is not None
        if not INT64_MIN <= raw <= INT64_MAX:
            raise fail("InvalidExpireTime", f"invalid expire time in '{command}' command")
        when = raw + now if px is not None else raw
        if when > INT64_MAX:
            raise fail("InvalidExpireTime", f"invalid expire time in '{command}' command")
        return when

    def _set_expiry(self, px: int | None, pxat: int | None, now: int,
                    command: str = "set") -> int:
        raw = px if px is not None else pxat
        assert raw is not None
        if raw <= 0:
            raise fail("InvalidExpireTime", f"invalid expire time in '{command}' command")
        return self._absolute(px, pxat, now, command)

    def _write(self, key: bytes, value: Value, size: int, expire_at: int | None,
               now_ms: int | None = None) -> None:
        """Store the entry as most recently used with this expiry, then evict to fit.
        The caller has checked that ``size`` fits in the budget on its own."""
        self._install(key, value, size, expire_at, now_ms)
        self._evict(key)

    def _write_many(self, entries: list[tuple[bytes, Value, int]]) -> None:
        """MSET's writes (distinct keys; no TTL): all or nothing. OOM first when they do
        not fit together or the policy cannot make room; evictions come after every
        write, so none of these keys is evicted for another."""
        self._check_fits(sum(size for _, _, size in entries))
        self._check_room({key: size for key, _, size in entries})
        for key, value, size in entries:
            self._install(key, value, size, None)
            self._modified(key)
        self._evict_to_budget({key for key, _, _ in entries})

    def _install(self, key: bytes, value: Value, size: int, expire_at: int | None,
                 now_ms: int | None = None) -> None:
        """The entry as most recently used with this expiry, charged; no eviction yet."""
        old = self._data.get(key)
        if old is not None:
            self._used -= charge(key, old)
        self._data[key] = value
        self._touch(key, now_ms)
        self._used += size
        self._pending.discard(key)
        if expire_at is None:
            self._clear_ttl(key)
        elif self._expires.get(key) != expire_at:
            self._set_ttl(key, expire_at)

    def _evict(self, keep: bytes) -> None:
        """Free space until within budget (the policy allowing); ``keep``, just written,
        is never chosen. Every write ends here, so this is where it signals WATCH."""
        self._modified(keep)
        if self._used > self.budget:
            self._evict_to_budget((keep,))

    def _evict_to_budget(self, keep: Keys[bytes]) -> None:
        """Expired keys first, then the policy's victims, never one of ``keep`` or a
        pending key. Stops over budget when the policy has no candidate left, which a
        write reaches only if it did not grow memory or maxmemory was lowered."""
        if self._used <= self.budget:
            return
        if self._pending:
            keep = {*keep, *self._pending}
        now = self._now_ms()
        policy = self._policy
        while self._used > self.budget:
            if self._pop_expired(now):
                continue
            victim = policy.victim(keep, self._data, self._expires, self._heap)
            if victim is None:
                return
            self._remove(victim)
            self._evictions += 1

    def _pop_expired(self, now: int) -> bool:
        """Remove the expired key due soonest, if any; drops stale heap pairs on the way."""
        heap = self._heap
        while heap and heap[0][0] < now:
            at, key = heapq.heappop(heap)
            if self._expires.get(key) == at:
                self._remove(key)
                self._expirations += 1
                return True
            # stale: the key's TTL changed or the key is gone
        return False

    def _set_ttl(self, key: bytes, at: int) -> None:
        self._modified(key)
        self._expires[key] = at
        heapq.heappush(self._heap, (at, key))
        self._compact_heap()
        if self._tracker is not None:
            self._tracker.ttl_set(key)

    def _clear_ttl(self, key: bytes) -> None:
        if self._expires.pop(key, None) is not None:
            self._modified(key)
            self._compact_heap()
            if self._tracker is not None:
                self._tracker.ttl_cleared(key)

    def _remove(self, key: bytes) -> None:
        value = self._data.pop(key)
        self._modified(key)
        self._last_use.pop(key, None)
        self._used -= charge(key, value)
        self._clear_ttl(key)
        self._pending.discard(key)
        if self._tracker is not None:
            self._tracker.removed(key)

    def _forget_all(self) -> None:
        """FLUSHALL's part for the policy's index and the pending keys."""
        self._policy.clear()
        self._pending.clear()

    def _compact_heap(self) -> None:
        """Rebuild the heap from the live expiries when stale pairs dominate, so memory
        stays O(keys with a TTL); amortised O(1) per TTL change."""
        if len(self._heap) > _HEAP_SLACK * len(self._expires) + _HEAP_FLOOR:
            self._heap = [(at, key) for key, at in self._expires.items()]
            heapq.heapify(self._heap)
