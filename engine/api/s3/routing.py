"""Which S3 operation an HTTP request is, and on which bucket and key.

S3 chooses the operation from the method, whether the request names a bucket and a key,
and the query's sub-resources (``?acl``, ``?uploads``, ``?uploadId=...``); the bucket
comes from the Host (virtual-hosted style, ``photos.s3.localhost``) or from the first
path segment (path style). The key is the rest of the path exactly as received, only
percent-decoded: ``..``, ``%2F``, ``+`` and spaces are data, never normalised, so what a
client PUTs is what it GETs back.

Every operation S3 has is named here, implemented or not, so a later operation plugs
in by name; a known sub-resource this node does not serve yet is NotImplemented, and a
query parameter S3 does not know is ignored, as S3 ignores it (cache busters, botocore's
``x-id``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from engine.errors import EngineError

SERVICE, BUCKET, OBJECT = "service", "bucket", "object"

# (scope, method) -> (sub-resource, operation), the first present sub-resource wins; ""
# is the operation without one. "@copy" stands for an x-amz-copy-source header.
_TABLE: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    (SERVICE, "GET"): (("", "ListBuckets"),),
    (BUCKET, "GET"): (
        ("acl", "GetBucketAcl"), ("policy", "GetBucketPolicy"),
        ("policyStatus", "GetBucketPolicyStatus"),
        ("publicAccessBlock", "GetPublicAccessBlock"),
        ("ownershipControls", "GetBucketOwnershipControls"),
        ("versioning", "GetBucketVersioning"), ("lifecycle", "GetBucketLifecycleConfiguration"),
        ("tagging", "GetBucketTagging"), ("cors", "GetBucketCors"),
        ("website", "GetBucketWebsite"), ("location", "GetBucketLocation"),
        ("uploads", "ListMultipartUploads"), ("versions", "ListObjectVersions"),
        ("logging", "GetBucketLogging"), ("notification", "GetBucketNotificationConfiguration"),
        ("replication", "GetBucketReplication"), ("encryption", "GetBucketEncryption"),
        ("object-lock", "GetObjectLockConfiguration"),
        ("accelerate", "GetBucketAccelerateConfiguration"),
        ("requestPayment", "GetBucketRequestPayment"),
        ("analytics", "GetBucketAnalyticsConfiguration"),
        ("inventory", "GetBucketInventoryConfiguration"),
        ("metrics", "GetBucketMetricsConfiguration"),
        ("intelligent-tiering", "GetBucketIntelligentTieringConfiguration"),
        ("list-type", "ListObjectsV2"), ("", "ListObjects")),
    (BUCKET, "HEAD"): (("", "HeadBucket"),),
    (BUCKET, "PUT"): (
        ("acl", "PutBucketAcl"), ("policy", "PutBucketPolicy"),
        ("publicAccessBlock", "PutPublicAccessBlock"),
        ("ownershipControls", "PutBucketOwnershipControls"),
        ("versioning", "PutBucketVersioning"),
        ("lifecycle", "PutBucketLifecycleConfiguration"), ("tagging", "PutBucketTagging"),
        ("cors", "PutBucketCors"), ("website", "PutBucketWebsite"),
        ("logging", "PutBucketLogging"),
        ("notification", "PutBucketNotificationConfiguration"),
        ("replication", "PutBucketReplication"), ("encryption", "PutBucketEncryption"),
        ("object-lock", "PutObjectLockConfiguration"),
        ("accelerate", "PutBucketAccelerateConfiguration"),
        ("requestPayment", "PutBucketRequestPayment"),
        ("analytics", "PutBucketAnalyticsConfiguration"),
        ("inventory", "PutBucketInventoryConfiguration"),
        ("metrics", "PutBucketMetricsConfiguration"),
        ("intelligent-tiering", "PutBucketIntelligentTieringConfiguration"),
        ("", "CreateBucket")),
    (BUCKET, "DELETE"): (
        ("policy", "DeleteBucketPolicy"), ("publicAccessBlock", "DeletePublicAccessBlock"),
        ("ownershipControls", "DeleteBucketOwnershipControls"),
        ("lifecycle", "DeleteBucketLifecycle"), ("tagging", "DeleteBucketTagging"),
        ("cors", "DeleteBucketCors"), ("website", "DeleteBucketWebsite"),
        ("replication", "DeleteBucketReplication"), ("encryption", "DeleteBucketEncryption"),
        ("analytics", "DeleteBucketAnalyticsConfiguration"),
        ("inventory", "DeleteBucketInventoryConfiguration"),
        ("metrics", "DeleteBucketMetricsConfiguration"),
        ("intelligent-tiering", "DeleteBucketIntelligentTieringConfiguration"),
        ("", "DeleteBucket")),
    (BUCKET, "POST"): (("delete", "DeleteObjects"), ("", "PostObject")),
    (BUCKET, "OPTIONS"): (("", "PreflightRequest"),),
    (OBJECT, "GET"): (
        ("acl", "GetObjectAcl"), ("tagging", "GetObjectTagging"), ("uploadId", "ListParts"),
        ("attributes", "GetObjectAttributes"), ("retention", "GetObjectRetention"),
        ("legal-hold", "GetObjectLegalHold"), ("torrent", "GetObjectTorrent"),
        ("", "GetObject")),
    (OBJECT, "HEAD"): (("", "HeadObject"),),
    (OBJECT, "PUT"): (
        ("acl", "PutObjectAcl"), ("tagging", "PutObjectTagging"),
        ("retention", "PutObjectRetention"), ("legal-hold", "PutObjectLegalHold"),
        ("uploadId", "@copy:UploadPartCopy"), ("uploadId", "UploadPart"),
        ("@copy", "CopyObject"), ("", "PutObject")),
    (OBJECT, "DELETE"): (
        ("tagging", "DeleteObjectTagging"), ("uploadId", "AbortMultipartUpload"),
        ("", "DeleteObject")),
    (OBJECT, "POST"): (
        ("uploads", "CreateMultipartUpload"), ("uploadId", "CompleteMultipartUpload"),
        ("restore", "RestoreObject"), ("select", "SelectObjectContent")),
    (OBJECT, "OPTIONS"): (("", "PreflightRequest"),),
}

OPERATIONS: frozenset[str] = frozenset(
    op.rpartition(":")[2] for entries in _TABLE.values() for _, op in entries)
"""Every operation name routing can produce."""

SUBRESOURCES: frozenset[str] = frozenset(
    name for entries in _TABLE.values() for name, _ in entries if name and name[0] != "@")


@dataclass(frozen=True)
class Route:
    """A request placed: its operation, bucket ("" for the service) and key ("" for a
    bucket), the decoded query parameters (first value of each name), and the path S3
    names the resource by in errors and SigV2 signatures."""

    operation: str
    bucket: str
    key: str
    query: Mapping[str, str] = field(default_factory=dict)
    virtual_host: bool = False

    @property
    def resource(self) -> str:
        """``/bucket/key`` as S3's errors name it (decoded)."""
        if not self.bucket:
            return "/"
        return f"/{self.bucket}/{self.key}" if self.key else f"/{self.bucket}"


def split_target(raw_target: str) -> tuple[str, str]:
    """(raw path, raw query) of a request target as received."""
    path, _, query = raw_target.partition("?")
    return path, query


def query_values(raw_query: str) -> dict[str, str]:
    """Decoded query parameters, the first value of each name. '+' is a space here, as
    in any HTML form or Go's ParseQuery (botocore sends %20 and %2B, so either reading
    agrees for it); the signature is checked on the raw query, never on this."""
    out: dict[str, str] = {}
    for item in raw_query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        out.setdefault(_decode(name.replace("+", " ")), _decode(value.replace("+", " ")))
    return out


def _decode(text: str) -> str:
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_uri() from None


def invalid_uri() -> EngineError:
    return EngineError("InvalidURI", "Couldn't parse the specified URI.")


def host_bucket(host: str, domains: Iterable[str]) -> str | None:
    """The bucket a virtual-hosted Host names (``photos.s3.localhost:9000`` with domain
    ``s3.localhost``), None when the Host is not under one of ``domains``."""
    name = host.strip().lower()
    if name.startswith("["):  # an IPv6 literal never names a bucket
        return None
    name = name.rpartition(":")[0] if ":" in name else name
    for domain in domains:
        if name.endswith("." + domain) and len(name) > len(domain) + 1:
            return name[: -len(domain) - 1]
    return None


def route(method: str, host: str, raw_path: str, raw_query: str, *,
          domains: Iterable[str] = (), copy_source: bool = False) -> Route:
    """Place a request. Raises InvalidURI for a path that is not percent-encoded UTF-8,
    MethodNotAllowed for a method the resource has no operation for."""
    if not raw_path.startswith("/"):
        raise invalid_uri()
    query = query_values(raw_query)
    bucket = host_bucket(host, domains)
    virtual = bucket is not None
    if bucket is None:
        first, slash, rest = raw_path[1:].partition("/")
        bucket = _decode(first)
        key = _decode(rest) if slash else ""
    else:
        key = _decode(raw_path[1:])
    if key and not bucket:  # "//key": a key outside any bucket
        raise EngineError("InvalidBucketName", BucketName="")
    scope = OBJECT if key else BUCKET if bucket else SERVICE
    entries = _TABLE.get((scope, method.upper()))
    if entries is None:
        raise EngineError("MethodNotAllowed", Method=method.upper(),
                          ResourceType=scope.upper())
    for name, operation in entries:
        needs_copy = operation.startswith("@copy:")
        if needs_copy and not copy_source:
            continue
        present = copy_source if name == "@copy" else (not name or name in query)
        if present:
            return Route(operation.removeprefix("@copy:"), bucket, key, query, virtual)
    raise EngineError("MethodNotAllowed", Method=method.upper(), ResourceType=scope.upper())
