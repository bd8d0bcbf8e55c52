"""ListObjectVersions: every version and delete marker, in key order, newest first.

Built on the same merged, quorum-checked listing as ListObjectsV2, keeping whole
entries instead of current versions. MaxKeys counts versions, delete markers and
common prefixes, so a page may end inside a key; it then continues from
(NextKeyMarker, NextVersionIdMarker), reading that key's remaining versions first.
"""

from __future__ import annotations

import heapq
from operator import itemgetter
from typing import Any

from engine.objects.core import ObjectCore, check_version_id
from engine.objects.listing import MAX_KEYS, list_page, whole_entry
from engine.objects.pages import VersionPage
from engine.v1.records_pb2 import ObjectEntry


async def list_versions(
    core: ObjectCore, bucket: str, prefix: str, delimiter: str, key_marker: str,
    version_id_marker: str, max_keys: int,
) -> VersionPage:
    page = VersionPage(max_keys=max_keys)
    room = max_keys
    if version_id_marker:
        check_version_id(version_id_marker)
    if room == 0:
        return page

    def emit(key: str, entry: ObjectEntry, start: int) -> bool:
        """Add entry.versions[start:]; False when the page filled up inside them."""
        nonlocal room
        for i in range(start, len(entry.versions)):
            if room == 0:
                return False
            v = entry.versions[i]
            page.versions.append((key, v, i == 0))
            page.next_key_marker, page.next_version_id_marker = key, v.version_id
            room -= 1
        return True

    if key_marker and version_id_marker:
        entry = await core._entry(core.placement.set_for(bucket, key_marker), bucket, key_marker)
        ids = [v.version_id for v in entry.versions] if entry else []
        resumable = entry is not None and version_id_marker in ids \
            and key_marker.startswith(prefix)
        if resumable and not emit(key_marker, entry, ids.index(version_id_marker) + 1):
            page.is_truncated = True
            return page
    listed = await list_page(core.placement.sets(), bucket, prefix, delimiter, key_marker,
                             max(1, min(room, MAX_KEYS)), keep=whole_entry)
    items: list[tuple[str, Any]] = list(heapq.merge(
        listed.contents, ((p, None) for p in listed.common_prefixes), key=itemgetter(0)))
    for n, (name, entry) in enumerate(items):
        if room == 0:
            page.is_truncated = True
            break
        if entry is None:
            page.common_prefixes.append(name)
            page.next_key_marker, page.next_version_id_marker = name, ""
            room -= 1
        elif not emit(name, entry, 0):
            page.is_truncated = True
            break
        if n == len(items) - 1 and listed.is_truncated:
            page.is_truncated = True
    if not page.is_truncated:
        page.next_key_marker = page.next_version_id_marker = ""
    return page
