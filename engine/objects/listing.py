"""ListObjectsV2 over the erasure sets: merge, page and continue.

Each set's listing is already sorted and rolls keys under a common prefix into one
item, so a page merges at most ``max_keys + 1`` items per set and its cost does not grow
with the number of keys in the bucket. The continuation token is the last item the
page returned (a key or a common prefix), base64-encoded; listing resumes after it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import heapq
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from engine.cluster.placement import ErasureSet
from engine.errors import EngineError
from engine.objects.quorum import fan_out
from engine.storage.entries import Signature, latest, signature
from engine.v1.records_pb2 import ObjectEntry

MAX_KEYS = 1000


# What a listing keeps of a key's entry: its current version (ListObjectsV2), or the
# whole entry (ListObjectVersions). None leaves the key out.
Keep = Callable[[ObjectEntry], Any]


def whole_entry(entry: ObjectEntry) -> ObjectEntry | None:
    """Keep every version, delete markers included (ListObjectVersions, emptiness)."""
    return entry if entry.versions else None


def page_size(value: int | None, argument: str) -> int:
    """A listing's MaxKeys/MaxParts/MaxUploads: default and ceiling 1000, never negative."""
    if value is None:
        return MAX_KEYS
    if value < 0:
        raise EngineError("InvalidArgument", f"{argument} must not be negative",
                          ArgumentName=argument)
    return min(value, MAX_KEYS)


@dataclass
class ListPage:
    contents: list[tuple[str, Any]] = field(default_factory=list)  # (key, kept)
    common_prefixes: list[str] = field(default_factory=list)
    is_truncated: bool = False
    next_token: str = ""


def encode_token(after: str) -> str:
    return base64.urlsafe_b64encode(b"v1:" + after.encode()).decode()


def decode_token(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token.encode())
        if not raw.startswith(b"v1:"):
            raise ValueError
        return raw[3:].decode()
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise EngineError(
            "InvalidArgument", "The continuation token provided is incorrect",
            ArgumentName="continuation-token",
        ) from exc


async def list_page(
    sets: list[ErasureSet], bucket: str, prefix: str, delimiter: str, after: str, max_keys: int,
    keep: Keep = latest,
) -> ListPage:
    """One page of at most `max_keys` keys and common prefixes after `after`.

    Each round asks every set for one item more than the page still has room for. Items
    up to the smallest "last scanned" name of the sets that have more are in their true
    order; past it a set may still hold smaller unseen items, so the round stops there
    and the next one resumes from it.
    """
    page = ListPage()
    if max_keys == 0:
        return page
    while True:
        room = max_keys - len(page.contents) - len(page.common_prefixes)
        batches = await asyncio.gather(
            *(_set_listing(s, bucket, prefix, after, delimiter, room + 1, keep) for s in sets)
        )
        ends = [end for _, end in batches if end is not None]
        boundary = min(ends) if ends else None
        for name, version in heapq.merge(*(items for items, _ in batches), key=itemgetter(0)):
            if name <= after:
                continue  # the same common prefix from several sets
            if boundary is not None and name > boundary:
                break
            if room == 0:
                page.is_truncated = True
                page.next_token = encode_token(after)
                return page
            after = name
            room -= 1
            if version is None:
                page.common_prefixes.append(name)
            else:
                page.contents.append((name, version))
        if boundary is None:
            return page
        after = max(after, boundary)


async def _set_listing(
    eset: ErasureSet, bucket: str, prefix: str, after: str, delimiter: str, limit: int,
    keep: Keep,
) -> tuple[list[tuple[str, Any]], str | None]:
    """One set's sorted items, and the last name it vouches for if it may hold more
    (None when exhausted). Keys for which `keep` gives None are left out.

    Every drive of the set is asked; an item counts only if a read quorum of drives
    lists it (a key with the same newest version), so a drive that missed a delete
    cannot bring a key back. Past the smallest last name of a drive that returned a
    full page, other drives' items are not yet comparable and wait for the next round.
    """
    pages = await fan_out(
        eset.drives,
        lambda d: d.list_entries(bucket, prefix, after, delimiter, limit),
        eset.read_quorum,
    )
    live = [p for p in pages if p is not None]
    ends = [p[-1][0] for p in live if len(p) >= limit]
    boundary = min(ends) if ends else None
    votes: dict[str, Counter[Signature | None]] = {}
    entries: dict[tuple[str, Signature | None], ObjectEntry | None] = {}
    for page in live:
        for name, entry in page:
            if boundary is not None and name > boundary:
                break
            sig = signature(entry)
            votes.setdefault(name, Counter())[sig] += 1
            entries[(name, sig)] = entry
    out: list[tuple[str, Any]] = []
    for name in sorted(votes):
        sig, count = votes[name].most_common(1)[0]
        if count < eset.read_quorum:
            continue
        entry = entries[(name, sig)]
        if entry is None:
            out.append((name, None))  # a common prefix
        elif (kept := keep(entry)) is not None:
            out.append((name, kept))
    return out, boundary
