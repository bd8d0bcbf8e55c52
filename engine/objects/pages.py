"""What the listing operations beyond ListObjectsV2 return (before the API encodes it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.v1.records_pb2 import ObjectVersion, PartBody, UploadRecord


@dataclass
class VersionPage:
    """ListObjectVersions: versions and delete markers in key order, newest first per key."""

    versions: list[tuple[str, ObjectVersion, bool]] = field(default_factory=list)  # is_latest
    common_prefixes: list[str] = field(default_factory=list)
    is_truncated: bool = False
    next_key_marker: str = ""
    next_version_id_marker: str = ""
    max_keys: int = 1000


@dataclass
class PartsPage:
    upload: UploadRecord
    parts: list[PartBody] = field(default_factory=list)
    is_truncated: bool = False
    next_part_number_marker: int = 0
    max_parts: int = 1000


@dataclass
class UploadsPage:
    uploads: list[UploadRecord] = field(default_factory=list)  # without their parts
    common_prefixes: list[str] = field(default_factory=list)
    is_truncated: bool = False
    next_key_marker: str = ""
    next_upload_id_marker: str = ""
    max_uploads: int = 1000
