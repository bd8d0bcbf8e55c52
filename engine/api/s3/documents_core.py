"""The XML documents of the core S3 operations: Error, ListAllMyBucketsResult,
LocationConstraint (GetBucketLocation) and CreateBucketConfiguration.

Written with ElementTree (escaping is its job) and read with defusedxml, which refuses
DTDs and entity expansion, after a size bound: a request document is small, so a large
or malformed one is S3's MalformedXML and never reaches a parser's worst case. Element
names and order are those of the S3 API Reference.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from engine.errors import EngineError

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
MAX_CONFIGURATION_BYTES = 64 * 1024  # a CreateBucketConfiguration is a few hundred bytes


def _serialize(root: ET.Element) -> bytes:
    return DECLARATION + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def _child(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, name)
    if text is not None:
        element.text = text
    return element


def iso_time(ns: int) -> str:
    """S3's timestamps in XML: 2009-10-12T17:50:30.000Z (milliseconds, UTC)."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + \
        f".{rest // 1_000_000:03d}Z"


def error_document(code: str, message: str, details: Iterable[tuple[str, str]],
                   resource: str, request_id: str, host_id: str) -> bytes:
    """<Error><Code/><Message/>(details)<Resource/><RequestId/><HostId/></Error>"""
    root = ET.Element("Error")
    _child(root, "Code", code)
    _child(root, "Message", message)
    for name, value in details:
        _child(root, name, value)
    if resource:
        _child(root, "Resource", resource)
    _child(root, "RequestId", request_id)
    _child(root, "HostId", host_id)
    return _serialize(root)


@dataclass(frozen=True)
class BucketEntry:
    name: str
    created_ns: int
    region: str


def list_buckets_document(buckets: Iterable[BucketEntry], owner_id: str, *, prefix: str = "",
                          continuation_token: str = "") -> bytes:
    """ListAllMyBucketsResult: Owner, Buckets (Name, CreationDate, BucketRegion), and
    Prefix / ContinuationToken when the request asked for a page."""
    root = ET.Element("ListAllMyBucketsResult", xmlns=NAMESPACE)
    owner = _child(root, "Owner")
    _child(owner, "ID", owner_id)
    listed = _child(root, "Buckets")
    for bucket in buckets:
        entry = _child(listed, "Bucket")
        _child(entry, "Name", bucket.name)
        _child(entry, "CreationDate", iso_time(bucket.created_ns))
        _child(entry, "BucketRegion", bucket.region)
    if prefix:
        _child(root, "Prefix", prefix)
    if continuation_token:
        _child(root, "ContinuationToken", continuation_token)
    return _serialize(root)


def location_document(region: str) -> bytes:
    """GetBucketLocation: empty for us-east-1 (S3's historical "US Standard")."""
    root = ET.Element("LocationConstraint", xmlns=NAMESPACE)
    if region and region != "us-east-1":
        root.text = region
    return _serialize(root)


def malformed_xml(why: str = "") -> EngineError:
    message = ("The XML you provided was not well-formed or did not validate against our "
               "published schema")
    return EngineError("MalformedXML", message + (f": {why}" if why else ""))


def parse_document(body: bytes, root_name: str, max_bytes: int) -> ET.Element:
    """The root element of a request document, namespace or not; MalformedXML when it
    is too large, not XML, uses a DTD or entities, or has another root."""
    if len(body) > max_bytes:
        raise malformed_xml(f"the document is larger than {max_bytes} bytes")
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True,
                          forbid_external=True)
    except (ET.ParseError, DefusedXmlException, ValueError):
        raise malformed_xml() from None
    if local_name(root.tag) != root_name:
        raise malformed_xml(f"expected {root_name}")
    return root


def local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def child_text(parent: ET.Element, name: str) -> str | None:
    for element in parent:
        if local_name(element.tag) == name:
            return (element.text or "").strip()
    return None


def parse_create_bucket(body: bytes) -> str:
    """The LocationConstraint of a CreateBucketConfiguration ("" when the body is empty
    or names none)."""
    if not body.strip():
        return ""
    root = parse_document(body, "CreateBucketConfiguration", MAX_CONFIGURATION_BYTES)
    return child_text(root, "LocationConstraint") or ""
