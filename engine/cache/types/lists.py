"""Redis's list commands: pushes and pops at both ends, ranges, LPOS, LMOVE, LMPOP.

A list is a deque (O(1) at both ends; index access O(n) as in Redis's quicklist). Ends
are named as Redis names them: "LEFT" is the head. A list whose last element is popped
or removed is deleted. The blocking forms (BLPOP...) are the endpoint's: it waits and
calls the non-blocking command here.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice

from engine.cache.keyspace import Keyspace, charge, fail
from engine.cache.types.values import LIST_ITEM_COST, ListValue


def _side(where: str) -> bool:
    """True for the head ("LEFT"), False for the tail ("RIGHT")."""
    side = where.upper()
    if side not in ("LEFT", "RIGHT"):
        raise fail("SyntaxError", "syntax error")
    return side == "LEFT"


def _positive(count: int) -> None:
    if count < 0:
        raise fail("InvalidArgument", "value is out of range, must be positive")


class ListCommands(Keyspace):
    """LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LLEN, LRANGE, LINDEX, LSET, LINSERT, LREM,
    LTRIM, LPOS, LMOVE, LMPOP."""

    def _push(self, key: bytes, values: Sequence[bytes], head: bool, *, create: bool,
              command: str) -> int:
        if not values:
            raise fail("SyntaxError", f"wrong number of arguments for '{command}' command")
        for value in values:
            self._check_value(len(value))
        extra = sum(LIST_ITEM_COST + len(v) for v in values)
        found = self._grow(key, ListValue, extra, create=create)
        if found is None:
            return 0
        before = found.nbytes
        if head:
            found.items.extendleft(values)
        else:
            found.items.extend(values)
        found.charge(list(values), 1)
        self._settle(key, found, before)
        return len(found)

    def lpush(self, key: bytes, values: Sequence[bytes]) -> int:
        """LPUSH: push each value onto the head in turn; the new length."""
        return self._push(key, values, True, create=True, command="lpush")

    def rpush(self, key: bytes, values: Sequence[bytes]) -> int:
        return self._push(key, values, False, create=True, command="rpush")

    def lpushx(self, key: bytes, values: Sequence[bytes]) -> int:
        """LPUSHX: LPUSH only onto an existing list; 0 when there is none."""
        return self._push(key, values, True, create=False, command="lpushx")

    def rpushx(self, key: bytes, values: Sequence[bytes]) -> int:
        return self._push(key, values, False, create=False, command="rpushx")

    def _pop(self, key: bytes, count: int | None, head: bool
             ) -> bytes | list[bytes] | None:
        if count is not None:
            _positive(count)
        found = self._lookup(key, ListValue)
        if found is None:
            return None
        if count == 0:
            return []
        before = found.nbytes
        take = found.items.popleft if head else found.items.pop
        popped = [take() for _ in range(min(1 if count is None else count, len(found)))]
        found.charge(popped, -1)
        self._settle(key, found, before)
        return popped[0] if count is None else popped

    def lpop(self, key: bytes, count: int | None = None) -> bytes | list[bytes] | None:
        """LPOP: the head (None when missing); with ``count`` a list of up to that many
        (None when the key is missing, [] for a count of 0)."""
        return self._pop(key, count, True)

    def rpop(self, key: bytes, count: int | None = None) -> bytes | list[bytes] | None:
        return self._pop(key, count, False)

    def llen(self, key: bytes) -> int:
        found = self._lookup(key, ListValue)
        return 0 if found is None else len(found)

    def lrange(self, key: bytes, start: int, stop: int) -> list[bytes]:
        """LRANGE: elements ``start..stop`` inclusive, negative counting from the tail."""
        found = self._lookup(key, ListValue)
        if found is None:
            return []
        size = len(found)
        start = max(size + start if start < 0 else start, 0)
        stop = size + stop if stop < 0 else stop
        if start > stop or start >= size:
            return []
        return list(islice(found.items, start, min(stop, size - 1) + 1))

    def lindex(self, key: bytes, index: int) -> bytes | None:
        found = self._lookup(key, ListValue)
        if found is None:
            return None
        if index < 0:
            index += len(found)
        return found.items[index] if 0 <= index < len(found) else None

    def lset(self, key: bytes, index: int, value: bytes) -> None:
        """LSET: replace the element at ``index``; errors as Redis's."""
        self._check_value(len(value))
        found = self._lookup(key, ListValue)
        if found is None:
            raise fail("NoSuchKey", "no such key")
        at = index + len(found) if index < 0 else index
        if not 0 <= at < len(found):
            raise fail("InvalidArgument", "index out of range")
        self._check_fits(charge(key, found) + len(value), key)
        before = found.nbytes
        found.charge([found.items[at]], -1)
        found.items[at] = value
        found.charge([value], 1)
        self._settle(key, found, before)

    def linsert(self, key: bytes, before: bool, pivot: bytes, value: bytes) -> int:
        """LINSERT BEFORE|AFTER: the new length, -1 when the pivot is absent, 0 when the
        key is."""
        self._check_value(len(value))
        found = self._lookup(key, ListValue)
        if found is None:
            return 0
        try:
            at = found.items.index(pivot)
        except ValueError:
            return -1
        self._check_fits(charge(key, found) + LIST_ITEM_COST + len(value), key)
        was = found.nbytes
        found.items.insert(at if before else at + 1, value)
        found.charge([value], 1)
        self._settle(key, found, was)
        return len(found)

    def lrem(self, key: bytes, count: int, value: bytes) -> int:
        """LREM: remove up to ``count`` occurrences from the head (negative: from the
        tail, 0: all); how many."""
        found = self._lookup(key, ListValue)
        if found is None:
            return 0
        items = list(found.items)
        order = range(len(items)) if count >= 0 else range(len(items) - 1, -1, -1)
        limit = abs(count) or len(items)
        doomed: set[int] = set()
        for i in order:
            if items[i] == value:
                doomed.add(i)
                if len(doomed) == limit:
                    break
        if doomed:
            before = found.nbytes
            found.items.clear()
            found.items.extend(item for i, item in enumerate(items) if i not in doomed)
            found.nbytes -= len(doomed) * (LIST_ITEM_COST + len(value))
            self._settle(key, found, before)
        return len(doomed)

    def ltrim(self, key: bytes, start: int, stop: int) -> None:
        """LTRIM: keep only ``start..stop``; an empty result deletes the key."""
        found = self._lookup(key, ListValue)
        if found is None:
            return
        size = len(found)
        start = max(size + start if start < 0 else start, 0)
        stop = size + stop if stop < 0 else stop
        if start > stop or start >= size:
            left, right = size, 0
        else:
            left, right = start, size - min(stop, size - 1) - 1
        before = found.nbytes
        for _ in range(left):
            found.charge([found.items.popleft()], -1)
        for _ in range(right):
            found.charge([found.items.pop()], -1)
        self._settle(key, found, before)

    def lpos(self, key: bytes, element: bytes, *, rank: int | None = None,
             count: int | None = None, maxlen: int | None = None) -> int | list[int] | None:
        """LPOS: the index of the ``rank``-th match (negative: from the tail); with
        ``count`` a list of up to that many indexes (0: all); ``maxlen`` caps the scan."""
        if rank == 0:
            raise fail("InvalidArgument",
                       "RANK can't be zero: use 1 to start from the first match, 2 from "
                       "the second ... or use negative to start from the end of the list")
        if count is not None and count < 0:
            raise fail("InvalidArgument", "COUNT can't be negative")
        if maxlen is not None and maxlen < 0:
            raise fail("InvalidArgument", "MAXLEN can't be negative")
        found = self._lookup(key, ListValue)
        if found is None:
            return None if count is None else []
        rank = rank or 1
        size = len(found)
        indexes = range(size) if rank > 0 else range(size - 1, -1, -1)
        if maxlen:
            indexes = indexes[:maxlen]
        skip = abs(rank) - 1
        wanted = 1 if count is None else count
        matches: list[int] = []
        items = found.items if rank > 0 else reversed(found.items)
        for i, item in zip(indexes, items, strict=False):
            if item == element:
                if skip:
                    skip -= 1
                    continue
                matches.append(i)
                if wanted and len(matches) == wanted:
                    break
        if count is None:
            return matches[0] if matches else None
        return matches

    def lmove(self, source: bytes, dest: bytes, wherefrom: str, whereto: str) -> bytes | None:
        """LMOVE: pop from one end of ``source``, push onto an end of ``dest``; the
        element, or None when ``source`` is missing."""
        from_head, to_head = _side(wherefrom), _side(whereto)
        found = self._lookup(source, ListValue)
        if found is None:
            return None
        self._lookup(dest, ListValue, touch=False)  # WRONGTYPE before anything moves
        element = found.items[0] if from_head else found.items[-1]
        self._check_key(dest)
        target = self._grow(dest, ListValue, LIST_ITEM_COST + len(element))
        assert target is not None
        before = found.nbytes
        (found.items.popleft if from_head else found.items.pop)()
        if target is found:  # a rotation of one list: never empty between, its TTL kept
            (found.items.appendleft if to_head else found.items.append)(element)
            self._settle(source, found, before)
            return element
        found.charge([element], -1)
        self._settle(source, found, before)
        was = target.nbytes
        (target.items.appendleft if to_head else target.items.append)(element)
        target.charge([element], 1)
        self._settle(dest, target, was)
        return element

    def lmpop(self, keys: Sequence[bytes], where: str, count: int = 1
              ) -> tuple[bytes, list[bytes]] | None:
        """LMPOP: up to ``count`` elements from the first non-empty list of ``keys``."""
        if not keys:
            raise fail("InvalidArgument", "numkeys should be greater than 0")
        if count <= 0:
            raise fail("InvalidArgument", "count should be greater than 0")
        head = _side(where)
        for key in keys:
            popped = self._pop(key, count, head)
            if popped is not None:
                assert isinstance(popped, list)
                return key, popped
        return None
