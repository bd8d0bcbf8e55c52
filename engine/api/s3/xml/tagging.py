"""``Tagging`` documents (Put/GetObjectTagging, Put/GetBucketTagging) with S3's limits.

Object tags are checked by the object service's own rules (engine.objects.tagging), so
both protocols refuse the same sets with the same messages. Bucket tags allow 50 and
are not in the gRPC contract yet: they travel as the same ``Tag`` messages.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.api.s3.xml.base import SMALL_BODY, add, parse, render, root
from engine.objects.tagging import MAX_BUCKET_TAGS, check_bucket_tags, check_tags
from engine.v1 import objects_pb2 as pb

__all__ = ["MAX_BUCKET_TAGS", "parse_tagging", "tagging_result"]


def parse_tagging(body: bytes, *, bucket: bool = False) -> list[pb.Tag]:
    """The TagSet, each Tag with a Key and a Value (MalformedXML otherwise); S3's limits:
    10 object tags (50 bucket tags), keys 128 and values 256 characters, no duplicate keys
    (InvalidTag), no ``aws:`` prefix."""
    doc = parse(body, "Tagging", SMALL_BODY)
    tag_set = doc.require("TagSet")
    pairs: list[tuple[str, str]] = []
    for tag in tag_set.children("Tag"):
        key, value = tag.string("Key"), tag.string("Value")
        if key is None or value is None:
            raise doc.fail()
        pairs.append((key, value))
    if bucket:
        check_bucket_tags(pairs)
    else:
        check_tags(pairs)
    return [pb.Tag(key=k, value=v) for k, v in pairs]


def tagging_result(tags: Iterable[pb.Tag]) -> bytes:
    doc = root("Tagging")
    tag_set = add(doc, "TagSet")
    for tag in tags:
        entry = add(tag_set, "Tag")
        add(entry, "Key", tag.key)
        add(entry, "Value", tag.value)
    return render(doc)
