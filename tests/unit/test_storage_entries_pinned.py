"""An entry's signature pinned to a literal, and the pure entry rules a drive applies.

Quorum reads and healing believe the entry that a quorum of drives agrees on, compared by
signature: if the signature stopped covering some field (or hashed nothing), a drive that
missed a change would look current and could outvote the others. The literal catches a
change of encoding or hash between versions, which would make mixed-version drives
disagree on every key.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.storage.entries import (
    APPLIED,
    NULL_VERSION,
    PreconditionMismatch,
    add_version,
    apply_patch,
    check_expectation,
    fingerprint,
    latest,
    layouts,
    signature,
)
from engine.v1.records_pb2 import ObjectEntry, ObjectVersion, PartBody, VersionPatch


def pinned_version() -> ObjectVersion:
    v = ObjectVersion(
        version_id="3HL4kqtJlcpXroDTDmJ", size=11, etag="5eb63bbbe01eeed093cb22bb8f5acdc3",
        crc32c=0xC99465AA, mtime_ns=1_700_000_000_123_456_789, storage_class="STANDARD",
        metadata={"color": "blue", "shape": "round"}, tags={"team": "a", "env": "prod"},
        acl=b"\x01acl", checksum_algorithm="SHA256",
        checksum="uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=", checksum_type="FULL_OBJECT",
    )
    v.content.content_type = "text/plain"
    v.inline_data = b"hello world"
    return v


def pinned_entry() -> ObjectEntry:
    older = ObjectVersion(version_id=NULL_VERSION, size=0,
                          etag="d41d8cd98f00b204e9800998ecf8427e",
                          mtime_ns=1_600_000_000_000_000_000, storage_class="STANDARD")
    older.layout.data_id = "d-1"
    older.layout.data_shards = 4
    older.layout.parity_shards = 2
    return ObjectEntry(versions=[pinned_version(), older])


def test_signature_of_a_known_entry_is_pinned() -> None:
    sig = signature(pinned_entry())
    assert sig is not None and len(sig) == 16
    # BLAKE2b-128 of the deterministic protobuf encoding; computed once, pinned since.
    assert sig.hex() == "a735ac93b39f141ea5860a290d6eedf7"


def test_no_entry_and_an_empty_entry_have_no_signature() -> None:
    assert signature(None) is None
    assert signature(ObjectEntry()) is None


def test_signature_ignores_map_insertion_order() -> None:
    """Drives build the same maps in different orders (a tag set replayed, a heal)."""
    names = [f"tag-{i}" for i in range(8)]
    a, b = pinned_entry(), pinned_entry()
    for entry, order in ((a, names), (b, names[::-1])):
        entry.versions[0].tags.clear()
        entry.versions[0].metadata.clear()
        for name in order:
            entry.versions[0].tags[name] = "v"
            entry.versions[0].metadata[name] = "m"
    assert signature(a) == signature(b)


def _set(field: str, value: object) -> Callable[[ObjectVersion], None]:
    return lambda v: setattr(v, field, value)


EDITS: dict[str, Callable[[ObjectVersion], None]] = {
    "version_id": _set("version_id", "other"),
    "delete_marker": _set("delete_marker", True),
    "size": _set("size", 12),
    "etag": _set("etag", "5eb63bbbe01eeed093cb22bb8f5acdc4"),
    "crc32c": _set("crc32c", 1),
    "mtime_ns": _set("mtime_ns", 1_700_000_000_123_456_790),
    "content": lambda v: setattr(v.content, "cache_control", "no-cache"),
    "metadata": lambda v: v.metadata.update({"color": "red"}),
    "storage_class": _set("storage_class", "GLACIER"),
    "inline_data": _set("inline_data", b"hello World"),
    "layout": lambda v: setattr(v.layout, "data_id", "d-2"),
    "part_sizes": lambda v: v.part_sizes.append(5),
    "tags": lambda v: v.tags.update({"env": "dev"}),
    "restore": lambda v: setattr(v.restore, "expiry_ns", 1),
    "acl": _set("acl", b"\x02other"),
    "checksum_algorithm": _set("checksum_algorithm", "CRC32"),
    "checksum": _set("checksum", "AAAAAA=="),
    "checksum_type": _set("checksum_type", "COMPOSITE"),
}


@pytest.mark.parametrize("field", sorted(EDITS))
def test_every_field_of_the_current_version_changes_the_signature(field: str) -> None:
    changed = pinned_entry()
    EDITS[field](changed.versions[0])
    assert signature(changed) != signature(pinned_entry())


@pytest.mark.parametrize("field", sorted(EDITS))
def test_every_field_of_an_older_version_changes_the_signature(field: str) -> None:
    changed = pinned_entry()
    EDITS[field](changed.versions[1])
    assert signature(changed) != signature(pinned_entry())


def test_a_missing_or_reordered_version_changes_the_signature() -> None:
    full = signature(pinned_entry())
    dropped = pinned_entry()
    del dropped.versions[1]
    swapped = ObjectEntry(versions=list(reversed(pinned_entry().versions)))
    assert len({full, signature(dropped), signature(swapped)}) == 3


# -- the rules drives apply inside their transaction ----------------------------------------


def test_latest_skips_nothing_but_reports_a_delete_marker_as_absent() -> None:
    entry = pinned_entry()
    assert latest(entry) is entry.versions[0]
    assert latest(None) is None and latest(ObjectEntry()) is None
    marker = ObjectEntry(versions=[ObjectVersion(version_id="m", delete_marker=True),
                                   pinned_version()])
    assert latest(marker) is None


def mismatch(entry: ObjectEntry | None, if_match: str | None,
             if_none_match: str | None) -> PreconditionMismatch:
    with pytest.raises(PreconditionMismatch) as info:
        check_expectation(entry, if_match, if_none_match)
    return info.value


def test_conditional_writes() -> None:
    entry = pinned_entry()
    etag = entry.versions[0].etag
    check_expectation(entry, None, None)
    check_expectation(entry, etag, None)
    check_expectation(entry, f'"{etag}"', None)  # quoted as sent on the wire
    check_expectation(None, None, "*")
    err = mismatch(entry, "0" * 32, None)
    assert (err.header, err.missing) == ("If-Match", False)
    err = mismatch(None, etag, None)
    assert (err.header, err.missing) == ("If-Match", True)
    err = mismatch(entry, None, "*")
    assert (err.header, err.missing) == ("If-None-Match", False)
    assert str(err) == "If-None-Match"


def test_conditional_writes_see_a_delete_marker_as_no_object() -> None:
    marker = ObjectEntry(versions=[ObjectVersion(version_id="m", delete_marker=True),
                                   pinned_version()])
    check_expectation(marker, None, "*")
    assert mismatch(marker, pinned_version().etag, None).missing


def ids(entry: ObjectEntry) -> list[str]:
    return [v.version_id for v in entry.versions]


def test_add_version_follows_the_bucket_versioning_state() -> None:
    entry = ObjectEntry(versions=[ObjectVersion(version_id="v2"),
                                  ObjectVersion(version_id=NULL_VERSION),
                                  ObjectVersion(version_id="v1")])
    new = ObjectVersion(version_id="v3")
    null = ObjectVersion(version_id=NULL_VERSION, etag="new")
    assert ids(add_version(entry, new, "Enabled")) == ["v3", "v2", "null", "v1"]
    suspended = add_version(entry, null, "Suspended")
    assert ids(suspended) == ["null", "v2", "v1"] and suspended.versions[0].etag == "new"
    assert ids(add_version(entry, null, "")) == ["null"]
    for state in ("Enabled", "Suspended", ""):
        assert ids(add_version(None, new, state)) == ["v3"]
    assert ids(entry) == ["v2", "null", "v1"]  # the input is left alone


def test_layouts_and_fingerprint_of_each_body_kind() -> None:
    inline = pinned_version()
    assert layouts(inline) == []
    assert fingerprint(inline) == \
        "3HL4kqtJlcpXroDTDmJ:1700000000123456789:5eb63bbbe01eeed093cb22bb8f5acdc3:"
    single = ObjectVersion(version_id="v", mtime_ns=5, etag="e")
    single.layout.data_id = "d-9"
    assert [x.data_id for x in layouts(single)] == ["d-9"]
    assert fingerprint(single) == "v:5:e:d-9"
    parts = ObjectVersion(version_id="v", mtime_ns=5, etag="e-3")
    stored = [PartBody(number=1), PartBody(number=2, inline_data=b"x"), PartBody(number=3)]
    stored[0].layout.data_id = "p1"
    stored[2].layout.data_id = "p3"
    parts.parts.parts.extend(stored)
    assert [x.data_id for x in layouts(parts)] == ["p1", "p3"]
    assert fingerprint(parts) == "v:5:e-3:p1,p3"
    part = PartBody(number=1)
    part.layout.data_id = "p"
    assert [x.data_id for x in layouts(part)] == ["p"]


def test_set_acl_replaces_the_acl_of_that_version_only() -> None:
    entry = pinned_entry()
    out, outcome = apply_patch(entry, VersionPatch(version_id=NULL_VERSION, set_acl=True,
                                                   acl=b"\x03public-read"))
    assert outcome == APPLIED and out is not None
    assert out.versions[1].acl == b"\x03public-read"
    assert out.versions[0].acl == b"\x01acl" and entry.versions[1].acl == b""
    out, _ = apply_patch(out, VersionPatch(version_id=NULL_VERSION, set_acl=True))
    assert out is not None and out.versions[1].acl == b""  # back to the default
