"""S3's ``generate_presigned_url``: a link that lets anyone holding it do one object
operation, without credentials, until it expires.

The link is for the HTTP S3 endpoint, not gRPC: path style,
``<s3_endpoint_url>/<bucket>/<key>?<operation parameters>&X-Amz-...`` with the key
percent-encoded except for "/". As botocore does, parameters that S3 takes in the query
string (VersionId, response-content-type, ...) are part of the link, and parameters S3
takes as headers (Range, ContentType, Metadata, ...) are signed: whoever uses the link
must send those headers with exactly those values. Mixed into
:class:`engine.client.s3.S3Client`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any

from engine.client import convert
from engine.client.base import ClientMeta
from engine.client.credentials import NoCredentialsError
from engine.client.errors import ParamValidationError
from engine.client.shapes import Anything, Shape, Struct, Timestamp, validate
from engine.client.signing import Clock
from engine.sigv4 import MAX_EXPIRES, Credentials, presign_url, uri_encode

S3_HTTP_PORT = 9000  # where `engine serve` listens for HTTP unless told otherwise


class UnknownClientMethodError(ValueError):
    """generate_presigned_url for a method it cannot presign (botocore's error)."""

    def __init__(self, method_name: str) -> None:
        super().__init__(f"Client does not have method: {method_name}")
        self.method_name = method_name


@dataclass(frozen=True)
class _Operation:
    http_method: str
    query: Mapping[str, str] = field(default_factory=dict)  # member -> query parameter
    headers: Mapping[str, str] = field(default_factory=dict)  # member -> header name


_READ_QUERY = {
    "VersionId": "versionId",
    "PartNumber": "partNumber",
    "ResponseCacheControl": "response-cache-control",
    "ResponseContentDisposition": "response-content-disposition",
    "ResponseContentEncoding": "response-content-encoding",
    "ResponseContentLanguage": "response-content-language",
    "ResponseContentType": "response-content-type",
    "ResponseExpires": "response-expires",
}
_OWNER = {"ExpectedBucketOwner": "x-amz-expected-bucket-owner"}
_READ_HEADERS = {
    "Range": "range",
    "IfMatch": "if-match",
    "IfNoneMatch": "if-none-match",
    "IfModifiedSince": "if-modified-since",
    "IfUnmodifiedSince": "if-unmodified-since",
    "ChecksumMode": "x-amz-checksum-mode",
    **_OWNER,
}
_WRITE_HEADERS = {
    "ACL": "x-amz-acl",
    "CacheControl": "cache-control",
    "ContentDisposition": "content-disposition",
    "ContentEncoding": "content-encoding",
    "ContentLanguage": "content-language",
    "ContentMD5": "content-md5",
    "ContentType": "content-type",
    "Expires": "expires",
    "IfMatch": "if-match",
    "IfNoneMatch": "if-none-match",
    "StorageClass": "x-amz-storage-class",
    "Tagging": "x-amz-tagging",
    **_OWNER,
}
OPERATIONS: Mapping[str, _Operation] = {
    "get_object": _Operation("GET", _READ_QUERY, _READ_HEADERS),
    "head_object": _Operation("HEAD", _READ_QUERY, _READ_HEADERS),
    "put_object": _Operation("PUT", {}, _WRITE_HEADERS),
    "delete_object": _Operation("DELETE", {"VersionId": "versionId"}, {
        "MFA": "x-amz-mfa",
        "BypassGovernanceRetention": "x-amz-bypass-governance-retention",
        "IfMatch": "if-match",
        **_OWNER,
    }),
}
_TIMESTAMPS = frozenset({"IfModifiedSince", "IfUnmodifiedSince", "Expires", "ResponseExpires"})
_TYPES: Mapping[str, Shape] = {"PartNumber": int, "BypassGovernanceRetention": bool,
                               "Metadata": Anything}


def default_s3_endpoint(grpc_authority: str) -> str:
    """The HTTP endpoint beside a gRPC one: same host, port 9000."""
    host = grpc_authority.rpartition(":")[0] or grpc_authority
    return f"http://{host}:{S3_HTTP_PORT}"


def _shape(op: _Operation, with_metadata: bool) -> Struct:
    members: dict[str, Shape] = {"Bucket": str, "Key": str}
    for name in (*op.query, *op.headers, *(("Metadata",) if with_metadata else ())):
        members[name] = Timestamp if name in _TIMESTAMPS else _TYPES.get(name, str)
    return Struct(members, required=("Bucket", "Key"))


def _text(name: str, value: Any) -> str:
    if name in _TIMESTAMPS:
        return format_datetime(convert.to_datetime(value), usegmt=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class PresignMethods:
    """generate_presigned_url for get_object, put_object, head_object, delete_object."""

    meta: ClientMeta
    _credentials: Credentials | None
    _clock: Clock
    _s3_endpoint_url: str

    def generate_presigned_url(
        self,
        ClientMethod: str,
        Params: Mapping[str, Any] | None = None,
        ExpiresIn: int = 3600,
        HttpMethod: str | None = None,
    ) -> str:
        """A SigV4 presigned URL valid ``ExpiresIn`` seconds (at most 604800, a week)."""
        op = OPERATIONS.get(ClientMethod)
        if op is None:
            raise UnknownClientMethodError(ClientMethod)
        params = dict(Params or {})
        validate(params, _shape(op, ClientMethod == "put_object"), "input")
        for name in ("Bucket", "Key"):
            if not params[name]:
                raise ParamValidationError(
                    f"Parameter validation failed:\nInvalid length for parameter {name}, "
                    "value: 0, valid min length: 1")
        if isinstance(ExpiresIn, bool) or not isinstance(ExpiresIn, int):
            raise TypeError("ExpiresIn must be an int number of seconds")
        if not 1 <= ExpiresIn <= MAX_EXPIRES:
            raise ValueError(f"ExpiresIn must be between 1 and {MAX_EXPIRES} seconds (one "
                             f"week), got {ExpiresIn}")
        if self._credentials is None:
            raise NoCredentialsError()
        query = "&".join(f"{uri_encode(wire)}={uri_encode(_text(member, params[member]))}"
                         for member, wire in op.query.items() if params.get(member) is not None)
        headers = [(wire, _text(member, params[member]))
                   for member, wire in op.headers.items() if params.get(member) is not None]
        headers += [(f"x-amz-meta-{key}", str(value))
                    for key, value in (params.get("Metadata") or {}).items()]
        url = (f"{self._s3_endpoint_url}/{uri_encode(params['Bucket'])}/"
               f"{uri_encode(params['Key'], safe='/')}" + (f"?{query}" if query else ""))
        return presign_url((HttpMethod or op.http_method).upper(), url, self._credentials,
                           self.meta.region_name, "s3", ExpiresIn, self._clock(),
                           headers=headers)
