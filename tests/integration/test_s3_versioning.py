"""Bucket versioning through the SDK against a real `engine serve`: S3's documented rules
for versions, delete markers, the null version and ListObjectVersions."""

from __future__ import annotations

import pytest
from helpers_s3 import error_code, md5_etag, unique_name

from engine.client import ClientError, ParamValidationError


@pytest.fixture
def versioned(s3, bucket) -> str:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def body(s3, bucket: str, key: str, version_id: str | None = None) -> bytes:
    extra = {"VersionId": version_id} if version_id else {}
    return s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()


# -- configuration -----------------------------------------------------------------------


def test_configuration_states(s3, bucket):
    resp = s3.get_bucket_versioning(Bucket=bucket)
    assert "Status" not in resp and "MFADelete" not in resp  # never configured
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled",
                                                                      "MFADelete": "Disabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    for bad in ("Disabled", "enabled", ""):  # there is no way back to unversioned
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": bad})
        assert error_code(exc) in ("MalformedXML", "IllegalVersioningConfigurationException")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    with pytest.raises(ClientError):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={
            "Status": "Enabled", "MFADelete": "Enabled"})
    with pytest.raises(ParamValidationError):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"State": "Enabled"})
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.get_bucket_versioning(Bucket=unique_name("missing"))


def test_unversioned_bucket_has_only_the_null_version(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    assert "VersionId" not in put
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    resp = s3.list_object_versions(Bucket=bucket)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in resp["Versions"]] == [
        ("k", "null", True)]
    assert resp["Versions"][0]["ETag"] == md5_etag(b"two")
    assert "DeleteMarkers" not in resp
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert "DeleteMarker" not in deleted and "VersionId" not in deleted
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)


# -- versions and delete markers ---------------------------------------------------------


def test_versions_delete_markers_and_version_reads(s3, versioned):
    b = versioned
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"first")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="k", Body=b"second")["VersionId"]
    assert v1 and v2 and v1 != v2 and "null" not in (v1, v2)
    assert body(s3, b, "k") == b"second"
    assert body(s3, b, "k", v1) == b"first"
    head = s3.head_object(Bucket=b, Key="k", VersionId=v1)
    assert head["VersionId"] == v1 and head["ETag"] == md5_etag(b"first")
    assert s3.get_object(Bucket=b, Key="k")["VersionId"] == v2

    marker = s3.delete_object(Bucket=b, Key="k")
    assert marker["DeleteMarker"] is True and marker["VersionId"] not in (v1, v2)
    m1 = marker["VersionId"]
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=b, Key="k")
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=b, Key="k")
    assert error_code(exc) == "404"
    assert "Contents" not in s3.list_objects_v2(Bucket=b)
    assert body(s3, b, "k", v1) == b"first"  # older versions stay readable

    with pytest.raises(ClientError) as exc:  # a delete marker has no body
        s3.get_object(Bucket=b, Key="k", VersionId=m1)
    assert error_code(exc) == "MethodNotAllowed"
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=b, Key="k", VersionId=m1)
    assert error_code(exc) == "405"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=b, Key="k", VersionId="0" * 32)
    assert error_code(exc) == "NoSuchVersion"

    resp = s3.list_object_versions(Bucket=b)
    assert [(v["VersionId"], v["IsLatest"]) for v in resp["Versions"]] == [(v2, False),
                                                                            (v1, False)]
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in resp["DeleteMarkers"]] == [
        ("k", m1, True)]
    assert set(resp["DeleteMarkers"][0]) >= {"Key", "VersionId", "IsLatest", "LastModified"}
    assert "ETag" not in resp["DeleteMarkers"][0]
    assert resp["Versions"][0]["Size"] == len(b"second")

    # Removing the marker brings the object back; removing a version is for good.
    gone = s3.delete_object(Bucket=b, Key="k", VersionId=m1)
    assert gone["DeleteMarker"] is True and gone["VersionId"] == m1
    assert body(s3, b, "k") == b"second"
    gone = s3.delete_object(Bucket=b, Key="k", VersionId=v2)
    assert gone["VersionId"] == v2 and "DeleteMarker" not in gone
    assert body(s3, b, "k") == b"first"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=b, Key="k", VersionId=v2)
    assert error_code(exc) == "NoSuchVersion"
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=b)["Versions"]] == [v1]


def test_delete_objects_in_a_versioned_bucket(s3, versioned):
    b = versioned
    v1 = s3.put_object(Bucket=b, Key="a", Body=b"a")["VersionId"]
    s3.put_object(Bucket=b, Key="b", Body=b"b")
    resp = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a", "VersionId": v1},
                                                           {"Key": "b"}]})
    by_key = {d["Key"]: d for d in resp["Deleted"]}
    assert by_key["a"] == {"Key": "a", "VersionId": v1}
    assert by_key["b"]["DeleteMarker"] is True and by_key["b"]["DeleteMarkerVersionId"]
    listed = s3.list_object_versions(Bucket=b)
    assert [v["Key"] for v in listed["Versions"]] == ["b"]
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == [
        by_key["b"]["DeleteMarkerVersionId"]]


def test_suspended_bucket_replaces_the_null_version_and_keeps_older_ones(s3, versioned):
    b = versioned
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"kept")["VersionId"]
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    assert "VersionId" not in s3.put_object(Bucket=b, Key="k", Body=b"null one")
    assert "VersionId" not in s3.put_object(Bucket=b, Key="k", Body=b"null two")
    resp = s3.list_object_versions(Bucket=b)
    assert [(v["VersionId"], v["IsLatest"]) for v in resp["Versions"]] == [
        ("null", True), (v1, False)]
    assert body(s3, b, "k") == b"null two"
    assert body(s3, b, "k", "null") == b"null two"
    assert body(s3, b, "k", v1) == b"kept"

    marker = s3.delete_object(Bucket=b, Key="k")  # the null version becomes a marker
    assert marker["DeleteMarker"] is True
    resp = s3.list_object_versions(Bucket=b)
    assert [v["VersionId"] for v in resp["Versions"]] == [v1]
    assert [(m["VersionId"], m["IsLatest"]) for m in resp["DeleteMarkers"]] == [("null", True)]
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=b, Key="k")

    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v3 = s3.put_object(Bucket=b, Key="k", Body=b"again")["VersionId"]
    resp = s3.list_object_versions(Bucket=b)
    assert [v["VersionId"] for v in resp["Versions"]] == [v3, v1]
    assert [m["VersionId"] for m in resp["DeleteMarkers"]] == ["null"]


# -- ListObjectVersions ------------------------------------------------------------------


def test_list_object_versions_pages_resume_inside_a_key(s3, versioned):
    b = versioned
    expected: list[tuple[str, str]] = []
    for key, count in (("a", 3), ("b", 2), ("c", 1)):
        ids = [s3.put_object(Bucket=b, Key=key, Body=f"{key}{i}".encode())["VersionId"]
               for i in range(count)]
        expected += [(key, vid) for vid in reversed(ids)]  # newest first within a key
    marker = s3.delete_object(Bucket=b, Key="c")["VersionId"]
    expected.insert(len(expected) - 1, ("c", marker))  # the marker is c's newest

    def walk(page_size: int) -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        kw: dict[str, str] = {}
        for _ in range(20):
            resp = s3.list_object_versions(Bucket=b, MaxKeys=page_size, **kw)
            page = [(v["Key"], v["VersionId"], v["LastModified"])
                    for v in resp.get("Versions", []) + resp.get("DeleteMarkers", [])]
            assert len(page) <= page_size and resp["MaxKeys"] == page_size
            seen += [(k, v) for k, v, _ in sorted(page, key=lambda e: expected.index(e[:2]))]
            if not resp["IsTruncated"]:
                assert "NextKeyMarker" not in resp
                return seen
            kw = {"KeyMarker": resp["NextKeyMarker"],
                  "VersionIdMarker": resp["NextVersionIdMarker"]}
            assert (kw["KeyMarker"], kw["VersionIdMarker"]) == seen[-1]
        raise AssertionError("listing does not end")

    assert walk(1000) == expected
    assert walk(2) == expected  # pages end inside a's and b's versions
    assert walk(1) == expected

    first = s3.list_object_versions(Bucket=b, MaxKeys=2)
    assert first["IsTruncated"] and first["KeyMarker"] == "" and first["VersionIdMarker"] == ""
    assert (first["NextKeyMarker"], first["NextVersionIdMarker"]) == expected[1]

    after_a = s3.list_object_versions(Bucket=b, KeyMarker="a")  # key marker alone: after a
    assert [v["Key"] for v in after_a["Versions"]] == ["b", "b", "c"]
    with pytest.raises(ClientError) as exc:
        s3.list_object_versions(Bucket=b, VersionIdMarker=expected[0][1])
    assert error_code(exc) == "InvalidArgument"

    paginator = s3.get_paginator("list_object_versions")
    pages = list(paginator.paginate(Bucket=b, PaginationConfig={"PageSize": 2}))
    assert len(pages) == 4
    got = sorted(((v["Key"], v["VersionId"]) for p in pages
                  for v in p.get("Versions", []) + p.get("DeleteMarkers", [])),
                 key=expected.index)
    assert got == expected
    it = paginator.paginate(Bucket=b, PaginationConfig={"PageSize": 2, "MaxItems": 3})
    head = [(v["Key"], v["VersionId"]) for p in it for v in p.get("Versions", [])]
    assert it.resume_token is not None
    rest = paginator.paginate(Bucket=b, PaginationConfig={"PageSize": 2,
                                                          "StartingToken": it.resume_token})
    tail = [(v["Key"], v["VersionId"]) for p in rest for v in p.get("Versions", [])]
    versions_only = [e for e in expected if e[1] != marker]
    assert head + tail == versions_only


def test_list_object_versions_prefix_and_delimiter(s3, versioned):
    b = versioned
    for key in ("docs/a", "docs/b", "img/c", "top"):
        s3.put_object(Bucket=b, Key=key, Body=b"x")
        s3.put_object(Bucket=b, Key=key, Body=b"y")
    resp = s3.list_object_versions(Bucket=b, Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["docs/", "img/"]
    assert [v["Key"] for v in resp["Versions"]] == ["top", "top"]
    assert resp["Delimiter"] == "/"
    resp = s3.list_object_versions(Bucket=b, Prefix="docs/")
    assert [v["Key"] for v in resp["Versions"]] == ["docs/a", "docs/a", "docs/b", "docs/b"]
    assert [v["IsLatest"] for v in resp["Versions"]] == [True, False, True, False]
    assert resp["Prefix"] == "docs/"


def test_copy_and_multipart_in_a_versioned_bucket(s3, versioned):
    b = versioned
    v1 = s3.put_object(Bucket=b, Key="src", Body=b"old")["VersionId"]
    s3.put_object(Bucket=b, Key="src", Body=b"new")
    copied = s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src",
                                                             "VersionId": v1})
    assert copied["CopySourceVersionId"] == v1 and copied["VersionId"]
    assert body(s3, b, "dst") == b"old"
    upload = s3.create_multipart_upload(Bucket=b, Key="dst")["UploadId"]
    etag = s3.upload_part(Bucket=b, Key="dst", UploadId=upload, PartNumber=1,
                          Body=b"parts")["ETag"]
    done = s3.complete_multipart_upload(Bucket=b, Key="dst", UploadId=upload,
                                        MultipartUpload={"Parts": [{"ETag": etag,
                                                                    "PartNumber": 1}]})
    assert done["VersionId"] not in ("", "null", copied["VersionId"])
    versions = s3.list_object_versions(Bucket=b, Prefix="dst")["Versions"]
    assert [v["VersionId"] for v in versions] == [done["VersionId"], copied["VersionId"]]
    assert body(s3, b, "dst", copied["VersionId"]) == b"old"
