"""What a copy reads: ``x-amz-copy-source`` and its ``x-amz-copy-source-if-*`` conditions.

S3 takes the source as ``[/]bucket/key[?versionId=id]`` with the bucket and key
URL-encoded (botocore encodes all but ``/`` and ``-._~``; the version id travels as is).
The key is percent-decoded once and kept exactly, as keys are everywhere else. The
conditions become the gRPC message's, so CopyObject and UploadPartCopy are authorized
and served from the same request as their gRPC twins.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from engine.api import convert
from engine.api.s3.headers import Headers, parse_http_date
from engine.errors import EngineError
from engine.v1 import objects_pb2 as pb

HEADER = "x-amz-copy-source"
_VERSION = "versionId="
_PREFIX = HEADER + "-"
# x-amz-copy-source-if-* as the service names a failed one (If-Match), and as S3 does.
_NAMES = {"If-Match": "x-amz-copy-source-If-Match",
          "If-None-Match": "x-amz-copy-source-If-None-Match",
          "If-Modified-Since": "x-amz-copy-source-If-Modified-Since",
          "If-Unmodified-Since": "x-amz-copy-source-If-Unmodified-Since"}


@dataclass(frozen=True)
class CopySource:
    bucket: str
    key: str
    version_id: str
    conditions: pb.Conditions


def _invalid(message: str, value: str) -> EngineError:
    return EngineError("InvalidArgument", message, ArgumentName=HEADER, ArgumentValue=value)


def _must_name_both(value: str) -> EngineError:
    return _invalid("Copy Source must mention the source bucket and key: "
                    "sourcebucket/sourcekey", value)


def parse_copy_source(headers: Headers) -> CopySource:
    """The source of a copy request; InvalidArgument when the header does not name a
    bucket and a key, is not percent-encoded UTF-8, or has an empty versionId."""
    value = headers.get(HEADER, "")
    path, mark, query = value.partition("?")
    version_id = ""
    if mark:
        if not query.startswith(_VERSION):
            raise _must_name_both(value)
        version_id = query[len(_VERSION):]
        if not version_id:
            raise _invalid("Version id cannot be the empty string", value)
    try:
        decoded = unquote_to_bytes(path.removeprefix("/")).decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("Copy Source is not valid URL-encoded UTF-8", value) from None
    if decoded.startswith("arn:"):
        raise EngineError("NotImplemented", "Access point ARNs as a copy source are not "
                          "supported by this server.", Header=HEADER)
    bucket, slash, key = decoded.partition("/")
    if not bucket or not slash or not key:
        raise _must_name_both(value)
    return CopySource(bucket, key, version_id, source_conditions(headers))


def source_conditions(headers: Headers) -> pb.Conditions:
    """The x-amz-copy-source-if-* headers; a date S3 cannot read is ignored, as for GET."""
    out = pb.Conditions()
    if (match := headers.get(_PREFIX + "if-match")) is not None:
        out.if_match = match
    if (none_match := headers.get(_PREFIX + "if-none-match")) is not None:
        out.if_none_match = none_match
    modified = parse_http_date(headers.get(_PREFIX + "if-modified-since"))
    if modified is not None:
        out.if_modified_since.CopyFrom(convert.timestamp(modified))
    unmodified = parse_http_date(headers.get(_PREFIX + "if-unmodified-since"))
    if unmodified is not None:
        out.if_unmodified_since.CopyFrom(convert.timestamp(unmodified))
    return out


def name_condition(err: EngineError) -> None:
    """Name a failed source condition by its header, as S3 names it
    (``x-amz-copy-source-If-Match``); any other error is left as it is."""
    if err.code == "PreconditionFailed" and err.details.get("Condition") in _NAMES:
        err.details["Condition"] = _NAMES[err.details["Condition"]]
