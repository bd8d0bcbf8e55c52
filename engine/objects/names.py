"""S3's naming rules for buckets, keys, user metadata and storage classes."""

from __future__ import annotations

import re

from engine.errors import EngineError

MAX_KEY_BYTES = 1024
MAX_USER_METADATA_BYTES = 2048  # S3: user-defined metadata is limited to 2 KB
STORAGE_CLASSES = frozenset(
    {"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "GLACIER"}
)

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def check_bucket_name(name: str) -> None:
    """General-purpose bucket naming rules (AWS "Bucket naming rules")."""
    ok = (
        _BUCKET.match(name) is not None
        and ".." not in name
        and ".-" not in name
        and "-." not in name
        and _IPV4.match(name) is None
        and not name.startswith(_RESERVED_PREFIXES)
        and not name.endswith(_RESERVED_SUFFIXES)
    )
    if not ok:
        raise EngineError("InvalidBucketName", BucketName=name)


def check_key(key: str) -> None:
    """A key is 1 to 1024 bytes of UTF-8; any characters, including ``../`` and
    control characters, are data and stored faithfully."""
    if not key:
        raise EngineError("InvalidArgument", "The object key must not be empty.")
    size = len(key.encode())
    if size > MAX_KEY_BYTES:
        raise EngineError("KeyTooLongError", Size=str(size), MaxSizeAllowed=str(MAX_KEY_BYTES))


def normalize_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """User metadata keys are case-insensitive in S3 and come back lower-cased."""
    out = {k.lower(): v for k, v in metadata.items()}
    size = sum(len(k.encode()) + len(v.encode()) for k, v in out.items())
    if size > MAX_USER_METADATA_BYTES:
        raise EngineError(
            "MetadataTooLarge", Size=str(size), MaxSizeAllowed=str(MAX_USER_METADATA_BYTES)
        )
    for k in out:
        if not k or any(ord(c) < 33 or ord(c) > 126 or c in '()<>@,;:\\"/[]?={}' for c in k):
            raise EngineError("InvalidArgument", f"Invalid metadata name: {k!r}")
    return out


def check_storage_class(storage_class: str) -> str:
    """The class to store; empty means STANDARD."""
    if not storage_class:
        return "STANDARD"
    if storage_class not in STORAGE_CLASSES:
        raise EngineError("InvalidStorageClass", StorageClassRequested=storage_class)
    return storage_class
