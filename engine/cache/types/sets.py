"""Redis's set commands: SADD, SREM, SPOP, SMOVE, the algebra (SINTER/SUNION/SDIFF, their
STORE forms, SINTERCARD) and SSCAN.

Members come back as lists in no particular order (Redis's order is its hash table's).
A missing key is an empty set; a set left empty is deleted, and a *STORE whose result
is empty deletes its destination, as Redis does.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from engine.cache.glob import glob_match
from engine.cache.keyspace import fail
from engine.cache.types.scan import check_count, page
from engine.cache.types.settle import SettleIfChanged
from engine.cache.types.values import SET_MEMBER_COST, SetValue


def _need_keys(keys: Sequence[bytes]) -> None:
    if not keys:
        raise fail("InvalidArgument", "numkeys should be greater than 0")


class SetCommands(SettleIfChanged):
    """SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP, SRANDMEMBER, SMOVE,
    SINTER, SUNION, SDIFF, SINTERSTORE, SUNIONSTORE, SDIFFSTORE, SINTERCARD, SSCAN."""

    def sadd(self, key: bytes, members: Sequence[bytes]) -> int:
        """SADD: how many members were new."""
        if not members:
            raise fail("SyntaxError", "wrong number of arguments for 'sadd' command")
        for member in members:
            self._check_value(len(member))
        found = self._grow(key, SetValue, sum(SET_MEMBER_COST + len(m) for m in members))
        assert found is not None
        before = found.nbytes
        added = sum(found.add(member) for member in members)
        self._settle_if(key, found, before, added > 0)
        return added

    def srem(self, key: bytes, members: Sequence[bytes]) -> int:
        found = self._lookup(key, SetValue)
        if found is None:
            return 0
        before = found.nbytes
        removed = sum(found.drop(member) for member in members)
        self._settle_if(key, found, before, removed > 0)
        return removed

    def smembers(self, key: bytes) -> list[bytes]:
        found = self._lookup(key, SetValue)
        return [] if found is None else list(found.members)

    def sismember(self, key: bytes, member: bytes) -> bool:
        found = self._lookup(key, SetValue)
        return found is not None and member in found.members

    def smismember(self, key: bytes, members: Sequence[bytes]) -> list[bool]:
        found = self._lookup(key, SetValue)
        return [found is not None and member in found.members for member in members]

    def scard(self, key: bytes) -> int:
        found = self._lookup(key, SetValue)
        return 0 if found is None else len(found)

    def spop(self, key: bytes, count: int | None = None) -> bytes | list[bytes] | None:
        """SPOP: a random member removed (None when missing); with ``count`` a list of up
        to that many distinct members."""
        if count is not None and count < 0:
            raise fail("InvalidArgument", "value is out of range, must be positive")
        found = self._lookup(key, SetValue)
        if found is None:
            return None if count is None else []
        picked = random.sample(list(found.members), min(1 if count is None else count,
                                                        len(found)))
        before = found.nbytes
        for member in picked:
            found.drop(member)
        self._settle_if(key, found, before, bool(picked))
        return (picked[0] if picked else None) if count is None else picked

    def srandmember(self, key: bytes, count: int | None = None
                    ) -> bytes | list[bytes] | None:
        """SRANDMEMBER: a random member; with ``count`` distinct members (count >= 0) or
        ``-count`` members drawn with repetition."""
        found = self._lookup(key, SetValue)
        if count is None:
            return None if found is None else random.choice(list(found.members))
        if found is None or count == 0:
            return []
        members = list(found.members)
        if count < 0:
            return [random.choice(members) for _ in range(-count)]
        return random.sample(members, min(count, len(members)))

    def smove(self, source: bytes, dest: bytes, member: bytes) -> bool:
        """SMOVE: move ``member`` from ``source`` to ``dest``; whether it was in source."""
        found = self._lookup(source, SetValue)
        if found is None:
            return False  # before the destination's type, as Redis checks
        target = self._lookup(dest, SetValue, touch=False)
        if member not in found.members:
            return False
        if source == dest:
            return True
        self._check_key(dest)
        if target is None or member not in target.members:
            self._pending.add(source)  # not evicted while the destination settles
            target = self._grow(dest, SetValue, SET_MEMBER_COST + len(member))
            assert target is not None
            was = target.nbytes
            target.add(member)
            self._settle(dest, target, was)
        before = found.nbytes
        found.drop(member)
        self._settle(source, found, before)
        return True

    def _sets(self, keys: Sequence[bytes]) -> list[set[bytes] | None]:
        """Each key's members (None when missing), WRONGTYPE checked for all first."""
        _need_keys(keys)
        found = [self._lookup(key, SetValue) for key in keys]
        return [None if f is None else f.members for f in found]

    def sinter(self, keys: Sequence[bytes]) -> list[bytes]:
        return list(self._inter(self._sets(keys)))

    def sunion(self, keys: Sequence[bytes]) -> list[bytes]:
        return list(self._union(self._sets(keys)))

    def sdiff(self, keys: Sequence[bytes]) -> list[bytes]:
        return list(self._diff(self._sets(keys)))

    def sinterstore(self, dest: bytes, keys: Sequence[bytes]) -> int:
        """SINTERSTORE: store the intersection at ``dest`` (replacing it); its size."""
        return self._store(dest, self._inter(self._sets(keys)))

    def sunionstore(self, dest: bytes, keys: Sequence[bytes]) -> int:
        return self._store(dest, self._union(self._sets(keys)))

    def sdiffstore(self, dest: bytes, keys: Sequence[bytes]) -> int:
        return self._store(dest, self._diff(self._sets(keys)))

    def sintercard(self, keys: Sequence[bytes], limit: int = 0) -> int:
        """SINTERCARD: the intersection's size, counting stops at ``limit`` (0: none)."""
        if limit < 0:
            raise fail("InvalidArgument", "LIMIT can't be negative")
        size = len(self._inter(self._sets(keys)))
        return min(size, limit) if limit else size

    def sscan(self, key: bytes, cursor: int, *, match: bytes | None = None, count: int = 10
              ) -> tuple[int, list[bytes]]:
        """SSCAN: (next cursor, members); a small (intset) set comes whole, as in Redis."""
        check_count(count)
        found = self._lookup(key, SetValue)
        if found is None:
            return 0, []
        if found.big:
            cursor, pairs = page([(m, None) for m in found.members], cursor, count)
            members = [m for m, _ in pairs]
        else:
            cursor, members = 0, list(found.members)
        if match is not None:
            members = [m for m in members if glob_match(match, m)]
        return cursor, members

    # -- algebra -------------------------------------------------------------------------

    @staticmethod
    def _inter(sets: list[set[bytes] | None]) -> set[bytes]:
        if any(s is None for s in sets):
            return set()
        ordered = sorted(sets, key=len)  # type: ignore[arg-type]
        return set(ordered[0]).intersection(*ordered[1:])  # type: ignore[arg-type]

    @staticmethod
    def _union(sets: list[set[bytes] | None]) -> set[bytes]:
        return set().union(*(s for s in sets if s is not None))

    @staticmethod
    def _diff(sets: list[set[bytes] | None]) -> set[bytes]:
        if sets[0] is None:
            return set()
        return set(sets[0]).difference(*(s for s in sets[1:] if s is not None))

    def _store(self, dest: bytes, members: set[bytes]) -> int:
        self._check_key(dest)
        if not members:
            if self._data.get(dest) is not None:
                self._remove(dest)
            return 0
        result = SetValue()
        for member in members:
            result.add(member)
        self._put(dest, result, None)
        return len(result)
