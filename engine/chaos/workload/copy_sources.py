"""What the workload knows of each key's stored bodies, so a CopyObject copies a value
it can name in the history.

A copy must be recorded as a write of the value it copies, which the response does not
say. So the workload copies only what it can pin: in a versioned bucket a version it saw
acknowledged (``CopySource`` with ``VersionId``: versions are never removed here), in an
unversioned one the body it last saw under the source key, guarded by
``CopySourceIfMatch`` with that body's ETag (another body there: 412, no effect).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

_VERSIONS_KEPT = 64


@dataclass(frozen=True)
class Seen:
    """A body the service acknowledged or returned: its value, ETag and version id."""

    value: str
    etag: str
    version_id: str | None


class CopySources:
    """Thread-safe; keyed by (bucket, key)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[tuple[str, str], Seen] = {}
        self._versions: dict[tuple[str, str], list[Seen]] = {}

    def saw(self, bucket: str, key: str, seen: Seen) -> None:
        with self._lock:
            self._latest[(bucket, key)] = seen
            if seen.version_id and seen.version_id != "null":
                versions = self._versions.setdefault((bucket, key), [])
                if all(v.version_id != seen.version_id for v in versions):
                    versions.append(seen)
                    del versions[:-_VERSIONS_KEPT]

    def latest(self, bucket: str, key: str) -> Seen | None:
        with self._lock:
            return self._latest.get((bucket, key))

    def version(self, bucket: str, key: str, pick: float) -> Seen | None:
        """One of the key's known versions, chosen by ``pick`` in [0, 1)."""
        with self._lock:
            versions = self._versions.get((bucket, key))
            return versions[int(pick * len(versions))] if versions else None
