"""S3 conformance, versioning and delete markers: Get/PutBucketVersioning, versioned
PutObject/GetObject/HeadObject/DeleteObject, the null version, delete markers (404 with
x-amz-delete-marker, 405 when named), ListObjectVersions and DeleteObjects on versions,
as AWS's API reference and its versioning guide document them."""

from __future__ import annotations

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError
from helpers_s3_conformance import Node, error_of, failure, find, text, xml_of
from helpers_s3_http import bucket_name, s3_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture(scope="module")
def node(shared_server) -> Node:
    return Node(shared_server.http_url)


@pytest.fixture
def plain(s3) -> str:
    name = bucket_name("plain")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def versioned(s3, plain) -> str:
    s3.put_bucket_versioning(Bucket=plain, VersioningConfiguration={"Status": "Enabled"})
    return plain


def versioning_body(status: str) -> bytes:
    return (f'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Status>{status}</Status></VersioningConfiguration>").encode()


def versions_of(s3, bucket: str, **params: object) -> list[tuple[str, str, bool, bool]]:
    """(key, version id, is latest, is a delete marker) in the listing's order."""
    page = s3.list_object_versions(Bucket=bucket, **params)
    merged = [(v["Key"], v["VersionId"], v["IsLatest"], False, v["LastModified"])
              for v in page.get("Versions", [])]
    merged += [(m["Key"], m["VersionId"], m["IsLatest"], True, m["LastModified"])
               for m in page.get("DeleteMarkers", [])]
    # boto3 splits the two lists; S3 interleaves them by key, newest first.
    merged.sort(key=lambda e: (e[0], -e[4].timestamp(), not e[2]))
    return [e[:4] for e in merged]


# -- the configuration ----------------------------------------------------------------------


def test_a_new_bucket_has_an_empty_versioning_document(s3, node, plain):
    answer = node.request("GET", f"/{plain}?versioning")
    assert answer.status == 200
    doc = xml_of(answer.body)
    assert doc.tag.endswith("VersioningConfiguration") and list(doc) == []
    assert "Status" not in s3.get_bucket_versioning(Bucket=plain)


def test_versioning_is_enabled_then_suspended(s3, node, plain):
    for status in ("Enabled", "Suspended", "Enabled"):
        answer = node.request("PUT", f"/{plain}?versioning", body=versioning_body(status))
        assert answer.status == 200 and answer.body == b""
        assert s3.get_bucket_versioning(Bucket=plain)["Status"] == status


@pytest.mark.parametrize("body", [versioning_body("enabled"), versioning_body("On"),
                                  b"<VersioningConfiguration><Status>"])
def test_an_unknown_status_is_malformed_xml(node, plain, body):
    answer = node.request("PUT", f"/{plain}?versioning", body=body)
    assert answer.status == 400 and error_of(answer)[0] == "MalformedXML"


def test_versioning_of_a_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_versioning(Bucket=bucket_name("gone"))
    assert failure(exc).code == "NoSuchBucket"


# -- versions -------------------------------------------------------------------------------


def test_every_put_is_a_new_version_answered_in_headers(s3, node, versioned):
    first = node.request("PUT", f"/{versioned}/k", body=b"one")
    second = node.request("PUT", f"/{versioned}/k", body=b"two")
    v1, v2 = first.headers["x-amz-version-id"], second.headers["x-amz-version-id"]
    assert v1 and v2 and v1 != v2 and "null" not in (v1, v2)
    latest = node.request("GET", f"/{versioned}/k")
    assert latest.body == b"two" and latest.headers["x-amz-version-id"] == v2
    old = node.request("GET", f"/{versioned}/k?versionId={v1}")
    assert old.body == b"one" and old.headers["x-amz-version-id"] == v1
    head = node.request("HEAD", f"/{versioned}/k?versionId={v1}")
    assert head.headers["etag"] == f'"{hashlib.md5(b"one").hexdigest()}"'
    assert versions_of(s3, versioned) == [("k", v2, True, False), ("k", v1, False, False)]


def test_an_unversioned_bucket_answers_no_version_id(node, plain):
    put = node.request("PUT", f"/{plain}/k", body=b"x")
    assert "x-amz-version-id" not in put.headers
    assert "x-amz-version-id" not in node.request("GET", f"/{plain}/k").headers


def test_an_unversioned_object_is_the_null_version(s3, node, plain):
    s3.put_object(Bucket=plain, Key="k", Body=b"x")
    assert node.request("GET", f"/{plain}/k?versionId=null").body == b"x"
    assert versions_of(s3, plain) == [("k", "null", True, False)]


def test_the_null_version_survives_enabling_versioning(s3, plain):
    s3.put_object(Bucket=plain, Key="k", Body=b"before")
    s3.put_bucket_versioning(Bucket=plain, VersioningConfiguration={"Status": "Enabled"})
    new = s3.put_object(Bucket=plain, Key="k", Body=b"after")["VersionId"]
    assert versions_of(s3, plain) == [("k", new, True, False), ("k", "null", False, False)]
    assert s3.get_object(Bucket=plain, Key="k", VersionId="null")["Body"].read() == b"before"


def test_a_suspended_bucket_overwrites_the_null_version_only(s3, versioned):
    kept = s3.put_object(Bucket=versioned, Key="k", Body=b"enabled")["VersionId"]
    s3.put_bucket_versioning(Bucket=versioned,
                             VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=versioned, Key="k", Body=b"null one")
    s3.put_object(Bucket=versioned, Key="k", Body=b"null two")
    assert versions_of(s3, versioned) == [("k", "null", True, False),
                                          ("k", kept, False, False)]
    assert s3.get_object(Bucket=versioned, Key="k")["Body"].read() == b"null two"


def test_deleting_a_version_removes_it_for_good(s3, node, versioned):
    v1 = s3.put_object(Bucket=versioned, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=versioned, Key="k", Body=b"two")["VersionId"]
    answer = node.request("DELETE", f"/{versioned}/k?versionId={v2}")
    assert answer.status == 204 and answer.headers["x-amz-version-id"] == v2
    assert "x-amz-delete-marker" not in answer.headers
    assert s3.get_object(Bucket=versioned, Key="k")["Body"].read() == b"one"
    gone = node.request("GET", f"/{versioned}/k?versionId={v2}")
    assert gone.status == 404 and error_of(gone)[0] == "NoSuchVersion"
    doc = xml_of(gone.body)
    assert doc.findtext("VersionId") == v2 and doc.findtext("Key") == "k"
    assert versions_of(s3, versioned) == [("k", v1, True, False)]


def test_an_empty_version_id_is_invalid_argument(node, versioned):
    node.request("PUT", f"/{versioned}/k", body=b"x")
    answer = node.request("GET", f"/{versioned}/k?versionId=")
    assert answer.status == 400 and error_of(answer)[0] == "InvalidArgument"


def test_an_unreadable_version_id_is_invalid_argument(node, versioned):
    """S3 answers a version id it could never have issued with 400 "Invalid version id
    specified", one it could have but does not hold with 404 NoSuchVersion."""
    node.request("PUT", f"/{versioned}/k", body=b"x")
    answer = node.request("GET", f"/{versioned}/k?versionId=not-a-version")
    assert answer.status == 400
    assert error_of(answer) == ("InvalidArgument", "Invalid version id specified")


# -- delete markers -------------------------------------------------------------------------


def test_a_delete_without_version_leaves_a_marker(s3, node, versioned):
    v1 = s3.put_object(Bucket=versioned, Key="k", Body=b"one")["VersionId"]
    answer = node.request("DELETE", f"/{versioned}/k")
    assert answer.status == 204
    assert answer.headers["x-amz-delete-marker"] == "true"
    marker = answer.headers["x-amz-version-id"]
    assert marker and marker != v1
    assert versions_of(s3, versioned) == [("k", marker, True, True), ("k", v1, False, False)]
    assert s3.list_objects_v2(Bucket=versioned).get("Contents") is None
    assert s3.get_object(Bucket=versioned, Key="k", VersionId=v1)["Body"].read() == b"one"


def test_a_get_of_a_key_behind_a_marker_is_404(node, versioned):
    node.request("PUT", f"/{versioned}/k", body=b"one")
    node.request("DELETE", f"/{versioned}/k")
    answer = node.request("GET", f"/{versioned}/k")
    assert answer.status == 404 and error_of(answer)[0] == "NoSuchKey"
    assert node.request("HEAD", f"/{versioned}/k").status == 404


def test_a_get_naming_a_marker_is_405(node, versioned):
    """AWS GetObject: "If the specified version is a delete marker, the response returns
    a 405 Method Not Allowed error"."""
    node.request("PUT", f"/{versioned}/k", body=b"one")
    marker = node.request("DELETE", f"/{versioned}/k").headers["x-amz-version-id"]
    answer = node.request("GET", f"/{versioned}/k?versionId={marker}")
    assert answer.status == 405 and error_of(answer)[0] == "MethodNotAllowed"
    assert node.request("HEAD", f"/{versioned}/k?versionId={marker}").status == 405


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_404_behind_a_marker_says_it_is_one(node, versioned, method):
    node.request("PUT", f"/{versioned}/k", body=b"one")
    marker = node.request("DELETE", f"/{versioned}/k").headers["x-amz-version-id"]
    answer = node.request(method, f"/{versioned}/k")
    assert answer.status == 404
    assert answer.headers.get("x-amz-delete-marker") == "true"
    assert answer.headers.get("x-amz-version-id") == marker


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_405_naming_a_marker_says_it_is_one(node, versioned, method):
    node.request("PUT", f"/{versioned}/k", body=b"one")
    marker = node.request("DELETE", f"/{versioned}/k").headers["x-amz-version-id"]
    answer = node.request(method, f"/{versioned}/k?versionId={marker}")
    assert answer.status == 405
    assert answer.headers.get("x-amz-delete-marker") == "true"
    assert "last-modified" in answer.headers


def test_deleting_the_marker_brings_the_object_back(s3, node, versioned):
    node.request("PUT", f"/{versioned}/k", body=b"back")
    marker = node.request("DELETE", f"/{versioned}/k").headers["x-amz-version-id"]
    answer = node.request("DELETE", f"/{versioned}/k?versionId={marker}")
    assert answer.status == 204
    assert answer.headers["x-amz-delete-marker"] == "true"
    assert answer.headers["x-amz-version-id"] == marker
    assert s3.get_object(Bucket=versioned, Key="k")["Body"].read() == b"back"


def test_deleting_a_missing_key_still_leaves_a_marker(s3, node, versioned):
    answer = node.request("DELETE", f"/{versioned}/never")
    assert answer.status == 204 and answer.headers["x-amz-delete-marker"] == "true"
    assert versions_of(s3, versioned) == [("never", answer.headers["x-amz-version-id"],
                                           True, True)]


def test_a_suspended_delete_leaves_the_null_marker(s3, node, versioned):
    kept = s3.put_object(Bucket=versioned, Key="k", Body=b"enabled")["VersionId"]
    s3.put_bucket_versioning(Bucket=versioned,
                             VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=versioned, Key="k", Body=b"null")
    answer = node.request("DELETE", f"/{versioned}/k")
    assert answer.headers["x-amz-delete-marker"] == "true"
    assert answer.headers.get("x-amz-version-id", "null") == "null"
    assert versions_of(s3, versioned) == [("k", "null", True, True),
                                          ("k", kept, False, False)]


# -- ListObjectVersions ---------------------------------------------------------------------


def test_the_versions_document(s3, node, versioned):
    v1 = s3.put_object(Bucket=versioned, Key="a", Body=b"1")["VersionId"]
    marker = s3.delete_object(Bucket=versioned, Key="a")["VersionId"]
    s3.put_object(Bucket=versioned, Key="b", Body=b"22")
    doc = xml_of(node.request("GET", f"/{versioned}?versions").body)
    assert doc.tag.endswith("ListVersionsResult")
    assert text(doc, "Name") == versioned and text(doc, "MaxKeys") == "1000"
    assert text(doc, "IsTruncated") == "false"
    entries = [(e.tag.rpartition("}")[2], text(e, "Key"), text(e, "VersionId"))
               for e in doc if e.tag.endswith(("Version", "DeleteMarker"))]
    assert entries[:2] == [("DeleteMarker", "a", marker), ("Version", "a", v1)]
    assert entries[2][:2] == ("Version", "b")
    [dm] = find(doc, "DeleteMarker")
    assert text(dm, "IsLatest") == "true" and text(dm, "ETag") is None
    assert text(dm, "Owner/ID")
    version_b = find(doc, "Version")[-1]
    assert text(version_b, "Size") == "2" and text(version_b, "StorageClass") == "STANDARD"
    assert text(version_b, "ETag") == f'"{hashlib.md5(b"22").hexdigest()}"'


def test_versions_page_by_key_and_version_id_marker(s3, versioned):
    ids = [s3.put_object(Bucket=versioned, Key="k", Body=str(i).encode())["VersionId"]
           for i in range(3)]
    z = s3.put_object(Bucket=versioned, Key="z", Body=b"z")["VersionId"]
    first = s3.list_object_versions(Bucket=versioned, MaxKeys=2)
    assert [v["VersionId"] for v in first["Versions"]] == ids[::-1][:2]
    assert first["IsTruncated"] is True
    assert (first["NextKeyMarker"], first["NextVersionIdMarker"]) == ("k", ids[1])
    rest = s3.list_object_versions(Bucket=versioned, KeyMarker="k",
                                   VersionIdMarker=ids[1])
    assert [(v["Key"], v["VersionId"]) for v in rest["Versions"]] == [("k", ids[0]), ("z", z)]
    after_key = s3.list_object_versions(Bucket=versioned, KeyMarker="k")
    assert [v["Key"] for v in after_key["Versions"]] == ["z"]


def test_versions_with_prefix_and_delimiter(s3, versioned):
    for key in ("dir/a", "dir/b", "top"):
        s3.put_object(Bucket=versioned, Key=key, Body=b"x")
    page = s3.list_object_versions(Bucket=versioned, Delimiter="/")
    assert [v["Key"] for v in page["Versions"]] == ["top"]
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["dir/"]
    page = s3.list_object_versions(Bucket=versioned, Prefix="dir/")
    assert [v["Key"] for v in page["Versions"]] == ["dir/a", "dir/b"]


def test_a_version_id_marker_needs_a_key_marker(node, versioned):
    answer = node.request("GET", f"/{versioned}?versions&version-id-marker=abc")
    assert answer.status == 400 and error_of(answer)[0] == "InvalidArgument"


# -- batches and multipart on versions ------------------------------------------------------


def delete_body(*objects: tuple[str, str]) -> bytes:
    inner = "".join(f"<Object><Key>{k}</Key>" + (f"<VersionId>{v}</VersionId>" if v else "")
                    + "</Object>" for k, v in objects)
    return f"<Delete>{inner}</Delete>".encode()


def md5_header(body: bytes) -> dict[str, str]:
    return {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}


def test_a_batch_delete_leaves_markers_and_removes_named_versions(s3, node, versioned):
    v1 = s3.put_object(Bucket=versioned, Key="a", Body=b"1")["VersionId"]
    s3.put_object(Bucket=versioned, Key="b", Body=b"2")
    body = delete_body(("a", v1), ("b", ""))
    answer = node.request("POST", f"/{versioned}?delete", md5_header(body), body)
    assert answer.status == 200
    deleted = {text(d, "Key"): d for d in find(xml_of(answer.body), "Deleted")}
    assert text(deleted["a"], "VersionId") == v1
    assert text(deleted["a"], "DeleteMarker") is None
    assert text(deleted["b"], "DeleteMarker") == "true"
    marker = text(deleted["b"], "DeleteMarkerVersionId")
    assert marker
    assert [(k, m) for k, _, _, m in versions_of(s3, versioned)] == [
        ("b", True), ("b", False)]
    body = delete_body(("b", marker or ""))
    answer = node.request("POST", f"/{versioned}?delete", md5_header(body), body)
    [entry] = find(xml_of(answer.body), "Deleted")
    assert text(entry, "DeleteMarker") == "true"
    assert text(entry, "DeleteMarkerVersionId") == marker
    assert s3.get_object(Bucket=versioned, Key="b")["Body"].read() == b"2"


def test_a_completed_upload_answers_its_version(s3, versioned):
    upload_id = s3.create_multipart_upload(Bucket=versioned, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=versioned, Key="mp", UploadId=upload_id, PartNumber=1,
                          Body=b"part")["ETag"]
    done = s3.complete_multipart_upload(
        Bucket=versioned, Key="mp", UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert done["VersionId"]
    assert s3.head_object(Bucket=versioned, Key="mp")["VersionId"] == done["VersionId"]
