"""S3's error responses and the ids every response carries.

An error is S3's XML document (Code, Message, the details S3 adds such as BucketName or
StringToSign, Resource, RequestId, HostId) with the HTTP status engine.errors keeps for
the code, the one table gRPC's statuses come from too. A HEAD answer has no body (the
client sees only the status), and a 304 none either. Anything unexpected is logged with
its traceback and answered InternalError: a bug is never a dropped connection and never
shows internals.

``x-amz-request-id`` is the id the node's logs carry for the request
(engine/observability/request_id.py); ``x-amz-id-2`` says which node answered.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re

from aiohttp import web

from engine.api.convert import quoted
from engine.api.s3.documents_core import error_document
from engine.api.s3.headers import http_date
from engine.errors import MAX_VALUE_BYTES, EngineError, clip

log = logging.getLogger("engine.s3")

REQUEST_ID = "x-amz-request-id"
HOST_ID = "x-amz-id-2"
XML = "application/xml"
_ELEMENT = re.compile(r"[A-Z][A-Za-z0-9-]*\Z")  # S3's detail elements: BucketName, X-Amz-Date
_NO_BODY = frozenset({204, 304})


def host_id(node_id: str, request_id: str) -> str:
    """x-amz-id-2: opaque like S3's, but stable per node so support can tell nodes apart."""
    digest = hashlib.sha256(f"{node_id}/{request_id}".encode()).digest()
    return base64.b64encode(node_id.encode()[:16] + digest[:24]).decode()


def as_engine_error(exc: BaseException, operation: str) -> EngineError:
    if isinstance(exc, EngineError):
        return exc
    log.error("unexpected failure in %s", operation, exc_info=exc)
    return EngineError("InternalError")


def details(err: EngineError) -> list[tuple[str, str]]:
    """The details S3 names as elements of its error document, clipped as gRPC clips
    them (an echoed key or signature can be long); lower-case ones are the engine's own
    (the policy action of an AccessDenied) and stay out."""
    return [(name, clip(value, MAX_VALUE_BYTES)) for name, value in err.details.items()
            if _ELEMENT.match(name) and name not in ("Resource", "RequestId", "HostId")]


def error_response(err: EngineError, *, head: bool, resource: str, request_id: str,
                   host: str) -> web.Response:
    """The response for ``err``; its status is the code's, its body S3's document unless
    the request was a HEAD or the status has none."""
    headers = {REQUEST_ID: request_id, HOST_ID: host}
    if err.code == "InvalidRange" and "ActualObjectSize" in err.details:
        headers["Content-Range"] = f"bytes */{err.details['ActualObjectSize']}"
    if err.code == "MethodNotAllowed" and "Allow" in err.details:
        headers["Allow"] = err.details["Allow"]
    if err.details.get("delete_marker") == "true":
        headers["x-amz-delete-marker"] = "true"
        headers["x-amz-version-id"] = err.details["version_id"]
        if err.code == "MethodNotAllowed":
            headers["Last-Modified"] = http_date(int(err.details["mtime_ns"]))
    if err.code == "NotModified" and "etag" in err.details:
        headers["ETag"] = quoted(err.details["etag"])
        headers["Last-Modified"] = http_date(int(err.details["mtime_ns"]))
    status = err.http_status
    if head or status in _NO_BODY:
        return web.Response(status=status, headers=headers)
    body = error_document(err.code, err.message, details(err), resource, request_id, host)
    return web.Response(status=status, body=body, headers=headers, content_type=XML)
