"""GetObjectAttributes: the ``x-amz-object-attributes`` header and the
``GetObjectAttributesOutput`` document.

There is no GetObjectAttributes RPC: the REST layer answers it from HeadObject's
``ObjectInfo`` (and, for ObjectParts, what it knows of the parts), so the answer is a
small dataclass built by :func:`object_attributes`. S3 sends this operation's ETag
unquoted, unlike every other.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.api.s3.xml.base import add, add_if, invalid_argument, render, root
from engine.v1 import objects_pb2 as pb

ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
HEADER = "x-amz-object-attributes"


@dataclass(frozen=True)
class Part:
    part_number: int
    size: int
    checksum_crc32c: str = ""  # the value in the object's algorithm (CRC32C by default)
    checksum_algorithm: str = "CRC32C"


@dataclass(frozen=True)
class ObjectParts:
    total_parts_count: int
    part_number_marker: int = 0
    next_part_number_marker: int = 0
    max_parts: int = 1000
    is_truncated: bool = False
    parts: tuple[Part, ...] = ()


@dataclass(frozen=True)
class ObjectAttributes:
    """What was asked for; None (or empty) is left out of the document."""

    etag: str | None = None
    checksum_crc32c: str = ""  # the value in checksum_algorithm, as Part's
    checksum_type: str = ""
    checksum_algorithm: str = "CRC32C"
    object_parts: ObjectParts | None = None
    storage_class: str | None = None
    object_size: int | None = None


def parse_attribute_names(header: str) -> frozenset[str]:
    """The comma-separated names in ``x-amz-object-attributes``; at least one, each known."""
    names = [name.strip() for name in header.split(",") if name.strip()]
    for name in names:
        if name not in ATTRIBUTES:
            raise invalid_argument("Invalid attribute name specified.", HEADER, name)
    if not names:
        raise invalid_argument("Invalid attribute name specified.", HEADER, header)
    return frozenset(names)


def _checksum_type(info: pb.ObjectInfo) -> str:
    """The engine combines part CRC32Cs into the whole object's, multipart or not."""
    return "FULL_OBJECT" if info.checksum_crc32c else ""


def object_attributes(info: pb.ObjectInfo, wanted: frozenset[str],
                      parts: ObjectParts | None = None) -> ObjectAttributes:
    """The attributes of one version that ``wanted`` names, from HeadObject's answer."""
    return ObjectAttributes(
        etag=info.etag.strip('"') if "ETag" in wanted else None,
        checksum_crc32c=info.checksum_crc32c if "Checksum" in wanted else "",
        checksum_type=_checksum_type(info) if "Checksum" in wanted else "",
        object_parts=parts if "ObjectParts" in wanted else None,
        storage_class=(info.storage_class or "STANDARD") if "StorageClass" in wanted else None,
        object_size=info.size if "ObjectSize" in wanted else None,
    )


def attributes_result(attrs: ObjectAttributes) -> bytes:
    doc = root("GetObjectAttributesOutput")
    add_if(doc, "ETag", attrs.etag)
    if attrs.checksum_crc32c:
        checksum = add(doc, "Checksum")
        add(checksum, f"Checksum{attrs.checksum_algorithm}", attrs.checksum_crc32c)
        add_if(checksum, "ChecksumType", attrs.checksum_type)
    if attrs.object_parts is not None:
        parts = attrs.object_parts
        node = add(doc, "ObjectParts")
        add(node, "PartsCount", parts.total_parts_count)
        add(node, "PartNumberMarker", parts.part_number_marker)
        add(node, "NextPartNumberMarker", parts.next_part_number_marker)
        add(node, "MaxParts", parts.max_parts)
        add(node, "IsTruncated", parts.is_truncated)
        for part in parts.parts:
            entry = add(node, "Part")
            add_if(entry, f"Checksum{part.checksum_algorithm}", part.checksum_crc32c)
            add(entry, "PartNumber", part.part_number)
            add(entry, "Size", part.size)
    add_if(doc, "StorageClass", attrs.storage_class)
    add_if(doc, "ObjectSize", attrs.object_size)
    return render(doc)
