"""Routing of S3 REST requests: the operation, bucket and key of pinned requests, as S3's
API Reference lays them out (method, path or Host, sub-resources)."""

from __future__ import annotations

import pytest

from engine.api.s3.routing import OPERATIONS, host_bucket, query_values, route
from engine.errors import EngineError

HOST = "127.0.0.1:9000"
DOMAINS = ("s3.localhost",)


@pytest.mark.parametrize(("method", "path", "query", "operation", "bucket", "key"), [
    ("GET", "/", "", "ListBuckets", "", ""),
    ("PUT", "/photos", "", "CreateBucket", "photos", ""),
    ("PUT", "/photos/", "", "CreateBucket", "photos", ""),
    ("HEAD", "/photos", "", "HeadBucket", "photos", ""),
    ("DELETE", "/photos", "", "DeleteBucket", "photos", ""),
    ("GET", "/photos", "location", "GetBucketLocation", "photos", ""),
    ("GET", "/photos", "list-type=2&prefix=a", "ListObjectsV2", "photos", ""),
    ("GET", "/photos", "prefix=a", "ListObjects", "photos", ""),
    ("GET", "/photos", "versions", "ListObjectVersions", "photos", ""),
    ("GET", "/photos", "uploads", "ListMultipartUploads", "photos", ""),
    ("POST", "/photos", "delete", "DeleteObjects", "photos", ""),
    ("PUT", "/photos", "versioning", "PutBucketVersioning", "photos", ""),
    ("DELETE", "/photos", "lifecycle", "DeleteBucketLifecycle", "photos", ""),
    ("GET", "/photos/cat.jpg", "", "GetObject", "photos", "cat.jpg"),
    ("GET", "/photos/cat.jpg", "x-id=GetObject&cache=1", "GetObject", "photos", "cat.jpg"),
    ("HEAD", "/photos/cat.jpg", "versionId=abc", "HeadObject", "photos", "cat.jpg"),
    ("PUT", "/photos/cat.jpg", "", "PutObject", "photos", "cat.jpg"),
    ("PUT", "/photos/cat.jpg", "tagging", "PutObjectTagging", "photos", "cat.jpg"),
    ("DELETE", "/photos/cat.jpg", "", "DeleteObject", "photos", "cat.jpg"),
    ("POST", "/photos/cat.jpg", "uploads", "CreateMultipartUpload", "photos", "cat.jpg"),
    ("PUT", "/photos/cat.jpg", "partNumber=1&uploadId=u", "UploadPart", "photos", "cat.jpg"),
    ("POST", "/photos/cat.jpg", "uploadId=u", "CompleteMultipartUpload", "photos", "cat.jpg"),
    ("DELETE", "/photos/cat.jpg", "uploadId=u", "AbortMultipartUpload", "photos", "cat.jpg"),
    ("GET", "/photos/cat.jpg", "uploadId=u", "ListParts", "photos", "cat.jpg"),
    ("POST", "/photos/cat.jpg", "restore", "RestoreObject", "photos", "cat.jpg"),
    ("OPTIONS", "/photos/cat.jpg", "", "PreflightRequest", "photos", "cat.jpg"),
])
def test_path_style(method, path, query, operation, bucket, key):
    placed = route(method, HOST, path, query)
    assert (placed.operation, placed.bucket, placed.key) == (operation, bucket, key)
    assert not placed.virtual_host


def test_copy_source_header_picks_the_copy_operations():
    assert route("PUT", HOST, "/b/k", "", copy_source=True).operation == "CopyObject"
    assert route("PUT", HOST, "/b/k", "partNumber=2&uploadId=u",
                 copy_source=True).operation == "UploadPartCopy"


@pytest.mark.parametrize(("raw", "key"), [
    ("/b/a/../c", "a/../c"),
    ("/b/a%2Fb", "a/b"),
    ("/b/plus+sign", "plus+sign"),
    ("/b/with%20space", "with space"),
    ("/b/%E2%82%AC/%E6%97%A5", "€/日"),
    ("/b/trailing/", "trailing/"),
    ("/b/..", ".."),
    ("/b/%09tab", "\ttab"),
    ("/b//double", "/double"),
])
def test_keys_are_the_path_only_percent_decoded(raw, key):
    assert route("GET", HOST, raw, "").key == key


def test_virtual_hosted_style():
    placed = route("GET", "photos.s3.localhost:9000", "/a/b.jpg", "", domains=DOMAINS)
    assert (placed.operation, placed.bucket, placed.key) == ("GetObject", "photos", "a/b.jpg")
    assert placed.virtual_host and placed.resource == "/photos/a/b.jpg"
    assert route("PUT", "photos.s3.localhost", "/", "", domains=DOMAINS).operation == \
        "CreateBucket"
    service = route("GET", "s3.localhost:9000", "/", "", domains=DOMAINS)
    assert (service.operation, service.virtual_host) == ("ListBuckets", False)
    assert host_bucket("[::1]:9000", DOMAINS) is None
    assert host_bucket("my.dotted.bucket.s3.localhost", DOMAINS) == "my.dotted.bucket"
    assert host_bucket("photos.example.com", DOMAINS) is None


def test_query_values_decode_plus_as_space_and_keep_the_first():
    assert query_values("prefix=a+b&x=%2B&prefix=second&flag") == {
        "prefix": "a b", "x": "+", "flag": ""}


@pytest.mark.parametrize(("method", "path", "code"), [
    ("DELETE", "/", "MethodNotAllowed"),
    ("POST", "/b/k", "MethodNotAllowed"),
    ("PATCH", "/b/k", "MethodNotAllowed"),
    ("GET", "/b/%FF", "InvalidURI"),
    ("GET", "nope", "InvalidURI"),
    ("GET", "//k", "InvalidBucketName"),
])
def test_bad_requests(method, path, code):
    with pytest.raises(EngineError) as exc:
        route(method, HOST, path, "")
    assert exc.value.code == code


def test_every_operation_is_named():
    assert {"ListBuckets", "GetObject", "PutObject", "UploadPartCopy", "PostObject",
            "SelectObjectContent", "GetObjectAttributes"} <= OPERATIONS
