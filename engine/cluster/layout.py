"""Erasure-set planning: which drives form each set, and each set's k+m code.

The property that matters: losing any ONE whole AZ loses no data AND leaves reads and
writes available. A set of width w with k data and m parity shards reads from any k
drives and acknowledges a write on k drives (k+1 when k == m, so two disjoint halves can
never both accept a write). Losing an AZ that holds z of a set's drives leaves w - z, so
the set survives it iff w - z >= write quorum, i.e. z <= m and k > m.

Rules, all deterministic from the topology (nodes sorted by id, zones by name, drives in
file order; the order nodes are listed in does not matter):

1. Every drive of the cluster is in exactly one set; all sets have the same width w, a
   divisor of the drive count with w <= max_set_size.
2. Drives are dealt to the S = drives / w sets like cards: zone by zone, and within a
   zone node by node, drive p of that sequence going to set p mod S. So every zone (and
   every node) puts floor or ceil of its drive count / S into each set - the most even
   split there is - and a node's drives land in different sets where possible.
3. m = the largest number of drives one zone has in one set (over all sets), k = w - m.
   The plan survives an AZ iff k > m. The largest w that does wins: it is the most
   efficient code (k / w grows with w when zones are balanced).
4. Within a set, drives are ordered round-robin over zones (and within a zone over
   nodes), so the data shards - the first k, which reads prefer - are spread over AZs
   and nodes too.

If no width survives an AZ (a single AZ, two AZs, or one AZ with half the drives) the
strict planner raises LayoutError. With require_az_tolerance=False it falls back to the
same rules with a smaller fault domain: a node (m = most drives one node has in a set),
then a single drive (m = 1), and for a one-drive cluster to k=1, m=0.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from engine.cluster.topology import Topology

FaultDomain = Literal["zone", "node", "drive", "none"]


class LayoutError(ValueError):
    """No erasure-set plan meets the required fault tolerance."""


@dataclass(frozen=True, order=True)
class DriveRef:
    node_id: str
    drive_index: int  # index into that node's NodeSpec.drives
    zone: str


@dataclass(frozen=True)
class SetLayout:
    index: int
    drives: tuple[DriveRef, ...]
    data_shards: int
    parity_shards: int

    @property
    def width(self) -> int:
        return len(self.drives)

    @property
    def write_quorum(self) -> int:
        k, m = self.data_shards, self.parity_shards
        return k + 1 if k == m else k

    @property
    def read_quorum(self) -> int:
        return self.data_shards


_DOMAIN_KEY: dict[FaultDomain, Callable[[DriveRef], object]] = {
    "zone": lambda d: d.zone,
    "node": lambda d: d.node_id,
    "drive": lambda d: d,
}


def plan_erasure_sets(topology: Topology, max_set_size: int = 16,
                      require_az_tolerance: bool = True) -> list[SetLayout]:
    """The erasure sets for a topology; LayoutError if none survives one AZ (when strict)."""
    if max_set_size < 1:
        raise ValueError("max_set_size must be >= 1")
    drives = _ordered_drives(topology)
    domains: tuple[FaultDomain, ...] = (
        ("zone",) if require_az_tolerance else ("zone", "node", "drive"))
    for domain in domains:
        plan = _best_plan(drives, max_set_size, _DOMAIN_KEY[domain])
        if plan is not None:
            return plan
    if not require_az_tolerance and len(drives) == 1:
        return [SetLayout(0, tuple(drives), 1, 0)]
    raise LayoutError(_why_not(drives, max_set_size, require_az_tolerance))


def fault_tolerance(sets: Sequence[SetLayout]) -> FaultDomain:
    """The largest fault domain (zone > node > drive) whose loss every set survives."""
    for domain in ("zone", "node", "drive"):
        key = _DOMAIN_KEY[domain]
        if all(s.width - _max_share(s.drives, key) >= s.write_quorum for s in sets):
            return domain
    return "none"


def describe(sets: Sequence[SetLayout]) -> str:
    """One line for people, e.g. '1 erasure set of 4+2 (6 drives); survives losing one zone'."""
    codes = sorted({(s.data_shards, s.parity_shards) for s in sets})
    code = ", ".join(f"{k}+{m}" for k, m in codes)
    n = len(sets)
    domain = fault_tolerance(sets)
    survives = ("nothing: no redundancy" if domain == "none"
                else f"losing one {domain if domain != 'zone' else 'AZ'}")
    width = sets[0].width
    return (f"{n} erasure set{'s' if n != 1 else ''} of {code} "
            f"({width} drive{'s' if width != 1 else ''} each); survives {survives}")


def _ordered_drives(topology: Topology) -> list[DriveRef]:
    """Zone by zone (sorted), node by node (sorted ids), drives in file order."""
    by_zone: dict[str, list[DriveRef]] = defaultdict(list)
    for node in sorted(topology.nodes, key=lambda n: n.id):
        by_zone[node.zone].extend(DriveRef(node.id, i, node.zone) for i in range(len(node.drives)))
    return [d for zone in sorted(by_zone) for d in by_zone[zone]]


def _deal(drives: list[DriveRef], set_count: int) -> list[list[DriveRef]]:
    """Drive p to set p mod S, then each set ordered round-robin over its zones."""
    sets: list[list[DriveRef]] = [[] for _ in range(set_count)]
    for p, drive in enumerate(drives):
        sets[p % set_count].append(drive)
    return [_interleave_zones(s) for s in sets]


def _interleave_zones(drives: list[DriveRef]) -> list[DriveRef]:
    """Round-robin over zones, and within a zone over nodes, keeping each group's order."""
    by_zone: dict[str, list[DriveRef]] = defaultdict(list)
    for d in drives:
        by_zone[d.zone].append(d)
    return _round_robin([_interleave_nodes(by_zone[z]) for z in sorted(by_zone)])


def _interleave_nodes(drives: list[DriveRef]) -> list[DriveRef]:
    by_node: dict[str, list[DriveRef]] = defaultdict(list)
    for d in drives:
        by_node[d.node_id].append(d)
    return _round_robin(list(by_node.values()))


def _round_robin(groups: list[list[DriveRef]]) -> list[DriveRef]:
    out: list[DriveRef] = []
    for rank in range(max(len(g) for g in groups)):
        out.extend(g[rank] for g in groups if rank < len(g))
    return out


def _max_share(drives: Sequence[DriveRef], key: Callable[[DriveRef], object]) -> int:
    return max(Counter(key(d) for d in drives).values())


def _widths(drive_count: int, max_set_size: int) -> list[int]:
    """Divisors of the drive count up to max_set_size, largest first."""
    return [w for w in range(min(drive_count, max_set_size), 0, -1) if drive_count % w == 0]


def _best_plan(drives: list[DriveRef], max_set_size: int,
               key: Callable[[DriveRef], object]) -> list[SetLayout] | None:
    """Largest width whose sets survive losing any one domain (as grouped by key)."""
    for w in _widths(len(drives), max_set_size):
        sets = _deal(drives, len(drives) // w)
        m = max(_max_share(s, key) for s in sets)
        k = w - m
        if k > m:
            return [SetLayout(i, tuple(s), k, m) for i, s in enumerate(sets)]
    return None


def _why_not(drives: list[DriveRef], max_set_size: int,
             strict: bool) -> str:
    zone_counts = Counter(d.zone for d in drives)
    shape = ", ".join(f"{z}: {zone_counts[z]}" for z in sorted(zone_counts))
    head = (f"no erasure-set plan for {len(drives)} drive(s) in {len(zone_counts)} AZ(s) "
            f"({shape})")
    if not strict:
        return (f"{head} survives even the loss of one drive: a redundant set needs at "
                "least 3 drives (k > m >= 1); use 1 drive or at least 3")
    if len(zone_counts) == 1:
        return f"{head} survives losing an AZ: with a single AZ, losing it loses everything"
    tries = []
    for w in _widths(len(drives), max_set_size):
        sets = _deal(drives, len(drives) // w)
        worst = max(sets, key=lambda s: _max_share(s, lambda d: d.zone))
        zone, z = Counter(d.zone for d in worst).most_common(1)[0]
        tries.append(f"w={w}: {z} of {w} in {zone}")
    cap = (f" (a set has at most {max_set_size} drives, so its width must divide "
           f"{len(drives)})" if len(drives) > max_set_size else "")
    return (f"{head} survives losing an AZ: that needs every AZ to hold fewer than half of "
            f"each set's drives, but the most even split of every possible set width "
            f"leaves an AZ with half or more ({'; '.join(tries)}){cap}. Spread the drives over at "
            "least 3 AZs so that no AZ holds half of them, or accept a weaker plan "
            "(require_az_tolerance=False)")
