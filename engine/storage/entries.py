"""Pure operations on an ObjectEntry (all versions of one key, newest first).

They run inside the drive's metadata transaction, so checks and changes are atomic per
drive. Kept free of I/O so the same rules apply wherever a drive lives.
"""

from __future__ import annotations

import hashlib

from engine.storage.errors import StorageError
from engine.v1.records_pb2 import DataLayout, ObjectEntry, ObjectVersion, PartBody, VersionPatch

NULL_VERSION = "null"


class PreconditionMismatch(StorageError):
    """A conditional write's expectation about the current object did not hold;
    `missing` when If-Match found no object at all (S3 answers that with 404)."""

    def __init__(self, header: str, missing: bool = False) -> None:
        super().__init__(header)
        self.header = header
        self.missing = missing


def latest(entry: ObjectEntry | None) -> ObjectVersion | None:
    """The current version, or None when absent or the newest is a delete marker."""
    if entry is None or not entry.versions or entry.versions[0].delete_marker:
        return None
    return entry.versions[0]


def check_expectation(
    entry: ObjectEntry | None, if_match: str | None, if_none_match: str | None
) -> None:
    """Conditional-write rules: If-Match needs the current ETag, If-None-Match "*" needs
    no current object. ETags are compared unquoted."""
    current = latest(entry)
    if if_match is not None and current is None:
        raise PreconditionMismatch("If-Match", missing=True)
    if if_match is not None and current is not None and current.etag != if_match.strip('"'):
        raise PreconditionMismatch("If-Match")
    if if_none_match is not None and current is not None:
        raise PreconditionMismatch("If-None-Match")


def add_version(entry: ObjectEntry | None, version: ObjectVersion, versioning: str) -> ObjectEntry:
    """Entry after writing `version` under the bucket's versioning state.

    Unversioned: the version replaces everything. Enabled: it is prepended. Suspended:
    it replaces the ``null`` version and keeps the others (S3 semantics).
    """
    out = ObjectEntry()
    if versioning == "Enabled":
        kept = list(entry.versions) if entry else []
    elif versioning == "Suspended":
        kept = [v for v in entry.versions if v.version_id != NULL_VERSION] if entry else []
    else:
        kept = []
    out.versions.append(version)
    out.versions.extend(kept)
    return out


Signature = bytes


def signature(entry: ObjectEntry | None) -> Signature | None:
    """What drives must agree on for an entry to be believed: all of it (every version,
    its tags and restore state), so a drive that missed any change is outvoted."""
    if entry is None or not entry.versions:
        return None
    return hashlib.blake2b(entry.SerializeToString(deterministic=True), digest_size=16).digest()


def layouts(version: ObjectVersion | PartBody) -> list[DataLayout]:
    """The shard layouts a version's body occupies: none (inline), one, or one per
    stored part of a multipart object."""
    kind = version.WhichOneof("body")
    if kind == "layout":
        return [version.layout]
    if kind == "parts":
        assert isinstance(version, ObjectVersion)
        return [p.layout for p in version.parts.parts if p.WhichOneof("body") == "layout"]
    return []


def fingerprint(version: ObjectVersion) -> str:
    """Identifies one write of a version: a patch that expects it fails once the version
    was overwritten (a new PUT of the null version) or re-encoded (a transition)."""
    ids = ",".join(layout.data_id for layout in layouts(version))
    return f"{version.version_id}:{version.mtime_ns}:{version.etag}:{ids}"


APPLIED, MISSING, CHANGED = "applied", "missing", "changed"


def apply_patch(entry: ObjectEntry | None, patch: VersionPatch) -> tuple[ObjectEntry | None, str]:
    """The entry after an in-place change to one version, and the outcome: "applied",
    "missing" (no such version) or "changed" (`expect` no longer matches, a racing
    writer won). Unless applied, the entry comes back unchanged; `entry` is never
    modified, since the caller computes garbage from it.
    """
    versions = entry.versions if entry is not None else []
    index = next((i for i, v in enumerate(versions) if v.version_id == patch.version_id), -1)
    if index < 0:
        return entry, MISSING
    if patch.expect and patch.expect != fingerprint(versions[index]):
        return entry, CHANGED
    assert entry is not None
    out = ObjectEntry()
    out.CopyFrom(entry)
    if patch.remove:
        del out.versions[index]
        return (out if out.versions else None), APPLIED
    target = out.versions[index]
    if patch.set_tags:
        target.tags.clear()
        target.tags.update(patch.tags)
    if patch.HasField("restore"):
        target.restore.CopyFrom(patch.restore)
    if patch.set_acl:
        target.acl = patch.acl
    if patch.HasField("body"):
        _replace_body(target, patch.body)
    return out, APPLIED


def _replace_body(target: ObjectVersion, source: ObjectVersion) -> None:
    """A transition re-encodes data: the body and its storage class change, nothing else
    (version id, ETag, mtime, tags, metadata and part sizes stay)."""
    target.ClearField("body")
    kind = source.WhichOneof("body")
    if kind == "inline_data":
        target.inline_data = source.inline_data
    elif kind == "layout":
        target.layout.CopyFrom(source.layout)
    elif kind == "parts":
        target.parts.CopyFrom(source.parts)
    target.storage_class = source.storage_class
