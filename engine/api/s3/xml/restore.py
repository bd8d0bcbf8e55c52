"""RestoreObject's ``RestoreRequest`` document (archive restores of GLACIER objects).

S3 Select restores (``Type``, ``SelectParameters``, ``OutputLocation``) are not in the
gRPC contract and are refused with NotImplemented rather than taken for a plain restore.
"""

from __future__ import annotations

from engine.api.s3.xml.base import INT32_MAX, SMALL_BODY, parse
from engine.errors import EngineError
from engine.v1 import objects_pb2 as pb

_SELECT = ("Type", "SelectParameters", "OutputLocation")


def parse_restore(body: bytes, bucket: str, key: str, version_id: str = ""
                  ) -> pb.RestoreObjectRequest:
    """Days and GlacierJobParameters/Tier; a missing Days is left for the object service
    to refuse, as it refuses one over gRPC."""
    doc = parse(body, "RestoreRequest", SMALL_BODY)
    if any(doc.child(name) is not None for name in _SELECT):
        raise EngineError("NotImplemented", "S3 Select restores are not supported")
    request = pb.RestoreObjectRequest(bucket=bucket, key=key, version_id=version_id)
    days = doc.integer("Days")
    if days is not None:
        if not -INT32_MAX - 1 <= days <= INT32_MAX:
            raise doc.fail()
        request.days = days
    job = doc.child("GlacierJobParameters")
    if job is not None:
        request.tier = job.token("Tier") or ""
    return request
