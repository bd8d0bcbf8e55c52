"""Hash slots and who owns them: the cache tier's placement, as Redis Cluster's.

A key maps to one of 16384 slots by CRC16 (XMODEM) of the key, or of its ``{hash tag}``
so related keys can be forced into one slot (and onto one node). The :class:`SlotMap` is a
pure function of the topology (node ids, AZs, replica count): every node computes the same
map without talking to the others, and an outage never moves a slot.
"""

from __future__ import annotations

import binascii
import bisect
from collections.abc import Sequence
from dataclasses import dataclass

SLOTS = 16384


def hash_tag(key: bytes) -> bytes:
    """The part of ``key`` that is hashed, as Redis Cluster's keyHashSlot.

    If the key has a '{' and a '}' after it with at least one byte between, only the bytes
    between the first '{' and the first '}' after it count; otherwise the whole key.
    """
    start = key.find(b"{")
    if start != -1:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key


def key_slot(key: bytes) -> int:
    """The key's hash slot: CRC16-XMODEM of its hash tag, mod 16384.

    ``binascii.crc_hqx(data, 0)`` is exactly the CRC16-CCITT/XMODEM Redis uses
    (polynomial 0x1021, initial value 0), implemented in C in the standard library.
    """
    return binascii.crc_hqx(hash_tag(key), 0) % SLOTS


@dataclass(frozen=True, slots=True)
class _Range:
    start: int
    end: int  # inclusive
    owners: tuple[str, ...]  # primary first, then the replica (if any)


class SlotMap:
    """Slot -> owning nodes, built deterministically from the topology."""

    def __init__(self, ranges: Sequence[tuple[int, int, tuple[str, ...]]], replicas: int) -> None:
        """Prefer :meth:`build`; this takes ready ranges that must cover every slot once."""
        expected = 0
        built: list[_Range] = []
        for start, end, owners in ranges:
            if start != expected or end < start or not owners:
                raise ValueError("slot ranges must cover 0..16383 contiguously, with owners")
            built.append(_Range(start, end, tuple(owners)))
            expected = end + 1
        if expected != SLOTS:
            raise ValueError("slot ranges must cover 0..16383 contiguously, with owners")
        self.replicas = replicas
        self._ranges = built
        self._starts = [r.start for r in built]

    @classmethod
    def build(cls, nodes: Sequence[tuple[str, str]], replicas: int) -> SlotMap:
        """Split the slots into one contiguous range per node (sorted by node id, sizes
        differing by at most one); with ``replicas=1`` give each range a replica in another
        AZ, spread so no node is replica of more ranges than it must be.

        ``nodes`` are (node_id, az). Raises ValueError for a map that cannot be built.
        """
        if replicas not in (0, 1):
            raise ValueError(f"--cache-replicas must be 0 or 1, not {replicas}")
        if not nodes:
            raise ValueError("a slot map needs at least one node")
        ids = [node_id for node_id, _ in nodes]
        if len(set(ids)) != len(ids):
            raise ValueError("node ids must be unique")
        ordered = sorted(nodes)
        azs = {node_id: az for node_id, az in ordered}
        if replicas and len(set(azs.values())) < 2:
            raise ValueError(
                "--cache-replicas 1 needs nodes in at least two AZs "
                "(a replica lives in a different AZ from its primary)"
            )
        replica_of = _replica_assignment(ordered) if replicas else {}
        count = len(ordered)
        base, extra = divmod(SLOTS, count)
        ranges: list[tuple[int, int, tuple[str, ...]]] = []
        start = 0
        for index, (node_id, _) in enumerate(ordered):
            size = base + (1 if index < extra else 0)
            owners = (node_id, replica_of[node_id]) if replicas else (node_id,)
            ranges.append((start, start + size - 1, owners))
            start += size
        return cls(ranges, replicas)

    def _range(self, slot: int) -> _Range:
        if not 0 <= slot < SLOTS:
            raise ValueError(f"slot {slot} is outside 0..{SLOTS - 1}")
        return self._ranges[bisect.bisect_right(self._starts, slot) - 1]

    def owners(self, slot: int) -> tuple[str, ...]:
        """The slot's nodes: primary first, then its replica (if any)."""
        return self._range(slot).owners

    def primary(self, slot: int) -> str:
        return self._range(slot).owners[0]

    def ranges(self) -> list[tuple[int, int, tuple[str, ...]]]:
        """(start, end inclusive, owners) per range, in slot order, for status display."""
        return [(r.start, r.end, r.owners) for r in self._ranges]

    def slots_of(self, node_id: str) -> int:
        """How many slots ``node_id`` is primary for."""
        return sum(r.end - r.start + 1 for r in self._ranges if r.owners[0] == node_id)

    def group_keys(self, keys: Sequence[bytes]) -> dict[tuple[str, ...], list[int]]:
        """Indexes of ``keys`` grouped by their owners, so a multi-key call can be sent
        once per owner and the answers put back in request order."""
        groups: dict[tuple[str, ...], list[int]] = {}
        for index, key in enumerate(keys):
            groups.setdefault(self.owners(key_slot(key)), []).append(index)
        return groups


def _replica_assignment(ordered: Sequence[tuple[str, str]]) -> dict[str, str]:
    """primary node id -> replica node id in another AZ, as balanced as possible.

    With the largest AZ holding ``m`` of ``n`` nodes: if ``m <= n/2`` every node is replica
    of exactly one range (list the nodes grouped by AZ, largest AZ first, and give each
    node's range to the node ``m`` places further round the list: a shift of at least a
    group's size leaves the group, and wrapping back cannot reach it again when
    ``m <= n - m``). Otherwise the ``m`` ranges of the big AZ must share the ``n - m``
    other nodes, so those take ``ceil(m / (n - m))`` or one fewer each, round robin,
    and the big AZ's nodes each take at most one of the others' ranges.
    """
    by_az: dict[str, list[str]] = {}
    for node_id, az in ordered:
        by_az.setdefault(az, []).append(node_id)
    groups = sorted(by_az.items(), key=lambda item: (-len(item[1]), item[0]))
    n = len(ordered)
    m = len(groups[0][1])
    if 2 * m <= n:
        ring = [node_id for _, members in groups for node_id in members]
        return {node_id: ring[(index + m) % n] for index, node_id in enumerate(ring)}
    big = groups[0][1]
    others = [node_id for _, members in groups[1:] for node_id in members]
    assignment = {node_id: others[index % len(others)] for index, node_id in enumerate(big)}
    assignment.update({node_id: big[index] for index, node_id in enumerate(others)})
    return assignment
