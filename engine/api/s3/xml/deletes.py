"""DeleteObjects: the ``Delete`` request document and the ``DeleteResult`` answer."""

from __future__ import annotations

from engine.api.s3.xml.base import DELETE_BODY, add, add_if, parse, render, root
from engine.errors import EngineError
from engine.v1 import objects_pb2 as pb

MAX_KEYS = 1000
# Conditional deletes (S3's 2024 additions to Object): not in the gRPC contract yet.
_CONDITIONS = ("ETag", "LastModifiedTime", "Size")


def parse_delete(body: bytes, bucket: str) -> pb.DeleteObjectsRequest:
    """One to 1000 Objects, each with a Key (MalformedXML otherwise, as S3 answers); Quiet
    defaults to false."""
    doc = parse(body, "Delete", DELETE_BODY)
    objects = doc.children("Object")
    if not objects or len(objects) > MAX_KEYS:
        raise doc.fail()
    request = pb.DeleteObjectsRequest(bucket=bucket, quiet=bool(doc.boolean("Quiet")))
    for item in objects:
        key = item.string("Key")
        if key is None:
            raise doc.fail()
        if any(item.child(name) is not None for name in _CONDITIONS):
            raise EngineError("NotImplemented", "Conditional deletes (ETag, LastModifiedTime, "
                              "Size) in DeleteObjects are not supported")
        request.objects.add(key=key, version_id=item.token("VersionId") or "")
    return request


def delete_result(resp: pb.DeleteObjectsResponse) -> bytes:
    """Deleted entries, then errors; in quiet mode the service sends no Deleted entries."""
    doc = root("DeleteResult")
    for deleted in resp.deleted:
        entry = add(doc, "Deleted")
        add(entry, "Key", deleted.key)
        add_if(entry, "VersionId", deleted.version_id)
        if deleted.delete_marker:
            add(entry, "DeleteMarker", True)
            add_if(entry, "DeleteMarkerVersionId", deleted.delete_marker_version_id)
    for error in resp.errors:
        entry = add(doc, "Error")
        add(entry, "Key", error.key)
        add_if(entry, "VersionId", error.version_id)
        add(entry, "Code", error.code)
        add(entry, "Message", error.message)
    return render(doc)
