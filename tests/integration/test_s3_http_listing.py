"""Bucket listings over the S3 REST endpoint with boto3: ListObjects (v1), ListObjectsV2
and ListObjectVersions, paged by boto3's own paginators, with delimiters, markers,
owners, keys only ``encoding-type=url`` can carry, and S3's refusals of bad queries."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError
from helpers_s3_http import S3_NS, bucket_name, s3_client, send, signed_headers

from engine.client import client as engine_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

KEYS = ["a/1", "a/2", "a/b/3", "b/1", "c", "d e", "f+g", "h%2Fi", "unicodé"]


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture
def bucket(s3):
    name = bucket_name("list")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def filled(s3, bucket):
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def pages(s3, operation: str, **params) -> list[dict]:
    return list(s3.get_paginator(operation).paginate(**params))


def test_v2_lists_every_key_with_its_details(s3, filled):
    listed = s3.list_objects_v2(Bucket=filled)
    assert [o["Key"] for o in listed["Contents"]] == sorted(KEYS)
    assert listed["KeyCount"] == len(KEYS) and listed["MaxKeys"] == 1000
    assert listed["IsTruncated"] is False and "NextContinuationToken" not in listed
    first = listed["Contents"][0]
    head = s3.head_object(Bucket=filled, Key=first["Key"])
    assert first["ETag"] == head["ETag"] and first["Size"] == len(first["Key"].encode())
    assert first["StorageClass"] == "STANDARD"
    assert first["LastModified"].replace(microsecond=0) == head["LastModified"]
    assert "Owner" not in first


def test_v2_pages_with_the_paginator(s3, filled):
    got = pages(s3, "list_objects_v2", Bucket=filled, PaginationConfig={"PageSize": 4})
    assert [len(p.get("Contents", [])) for p in got] == [4, 4, 1]
    assert [o["Key"] for p in got for o in p["Contents"]] == sorted(KEYS)
    assert got[0]["IsTruncated"] and got[1]["ContinuationToken"] == \
        got[0]["NextContinuationToken"]
    assert not got[-1]["IsTruncated"]


def test_v2_delimiter_rolls_keys_into_common_prefixes(s3, filled):
    top = s3.list_objects_v2(Bucket=filled, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "b/"]
    assert [o["Key"] for o in top["Contents"]] == ["c", "d e", "f+g", "h%2Fi", "unicodé"]
    assert top["KeyCount"] == 7 and top["Delimiter"] == "/"
    inside = s3.list_objects_v2(Bucket=filled, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in inside["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in inside["CommonPrefixes"]] == ["a/b/"]
    assert inside["Prefix"] == "a/"
    paged = pages(s3, "list_objects_v2", Bucket=filled, Delimiter="/",
                  PaginationConfig={"PageSize": 2})
    assert [p["Prefix"] for page in paged for p in page.get("CommonPrefixes", [])] == \
        ["a/", "b/"]
    assert [o["Key"] for page in paged for o in page.get("Contents", [])] == \
        ["c", "d e", "f+g", "h%2Fi", "unicodé"]


def test_v2_start_after_and_fetch_owner(s3, filled):
    listed = s3.list_objects_v2(Bucket=filled, StartAfter="b/1", FetchOwner=True)
    assert [o["Key"] for o in listed["Contents"]] == ["c", "d e", "f+g", "h%2Fi", "unicodé"]
    assert listed["StartAfter"] == "b/1"
    owners = {o["Owner"]["ID"] for o in listed["Contents"]}
    assert len(owners) == 1 and owners.pop()
    assert s3.list_objects_v2(Bucket=filled, StartAfter="zzz").get("Contents") is None


def test_v1_pages_by_marker_with_and_without_a_delimiter(s3, filled):
    flat = pages(s3, "list_objects", Bucket=filled, PaginationConfig={"PageSize": 4})
    assert [o["Key"] for p in flat for o in p["Contents"]] == sorted(KEYS)
    assert flat[1]["Marker"] == "b/1" and "NextMarker" not in flat[0]  # boto3: last key
    assert all("Owner" in o for p in flat for o in p["Contents"])  # v1 always names owners
    rolled = pages(s3, "list_objects", Bucket=filled, Delimiter="/",
                   PaginationConfig={"PageSize": 2})
    assert rolled[0]["NextMarker"] == "b/"  # a prefix resumes past the whole prefix
    assert [p["Prefix"] for page in rolled for p in page.get("CommonPrefixes", [])] == \
        ["a/", "b/"]
    assert [o["Key"] for page in rolled for o in page.get("Contents", [])] == \
        ["c", "d e", "f+g", "h%2Fi", "unicodé"]


def test_keys_xml_cannot_carry_come_back_through_encoding_type_url(s3, bucket):
    """boto3 asks for encoding-type=url on every listing and decodes what comes back."""
    keys = sorted(["ctl\x01char", "tab\there", "cr\rhere", "amp&<lt>", "sp ace+plus"])
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == keys
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == keys
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [v["Key"] for v in versions] == keys


def test_encoding_type_url_on_the_wire(shared_server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a b/ü\x01", Body=b"x")
    url = f"{shared_server.http_url}/{bucket}?list-type=2&encoding-type=url&delimiter=%2F"
    answer = send(url, "GET", signed_headers("GET", url, "UNSIGNED-PAYLOAD").items())
    assert answer.status == 200, answer.body
    doc = ET.fromstring(answer.body)
    assert doc.findtext(f"{S3_NS}EncodingType") == "url"
    assert doc.findtext(f"{S3_NS}CommonPrefixes/{S3_NS}Prefix") == "a+b/"  # "/" stays
    assert doc.findtext(f"{S3_NS}Delimiter") == "/"
    url = f"{shared_server.http_url}/{bucket}?list-type=2&encoding-type=url"
    answer = send(url, "GET", signed_headers("GET", url, "UNSIGNED-PAYLOAD").items())
    assert ET.fromstring(answer.body).findtext(f"{S3_NS}Contents/{S3_NS}Key") == \
        "a+b/%C3%BC%01"


def test_bad_listing_queries_are_invalid_argument(shared_server, s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=bucket, MaxKeys=-1)
    assert error(exc) == ("InvalidArgument",
                          "Argument maxKeys must be an integer between 0 and 2147483647")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=bucket, EncodingType="base64")  # type: ignore[arg-type]
    assert error(exc) == ("InvalidArgument", "Invalid Encoding Method specified in Request")
    url = f"{shared_server.http_url}/{bucket}?list-type=2&max-keys=lots"
    answer = send(url, "GET", signed_headers("GET", url, "UNSIGNED-PAYLOAD").items())
    doc = ET.fromstring(answer.body)
    assert answer.status == 400 and doc.findtext("Code") == "InvalidArgument"
    assert doc.findtext("Message") == "Provided max-keys not an integer or within integer range"
    assert doc.findtext("ArgumentName") == "max-keys" and doc.findtext("ArgumentValue") == "lots"
    url = f"{shared_server.http_url}/{bucket}?list-type=2&marker=x"
    answer = send(url, "GET", signed_headers("GET", url, "UNSIGNED-PAYLOAD").items())
    assert answer.status == 400 and b"Marker unsupported" in answer.body


def test_max_keys_above_1000_is_1000_and_zero_lists_nothing(s3, filled):
    assert s3.list_objects_v2(Bucket=filled, MaxKeys=5000)["MaxKeys"] == 1000
    empty = s3.list_objects_v2(Bucket=filled, MaxKeys=0)
    assert "Contents" not in empty and empty["KeyCount"] == 0


def test_listing_a_missing_bucket_is_no_such_bucket(s3):
    for call in (s3.list_objects, s3.list_objects_v2, s3.list_object_versions):
        with pytest.raises(ClientError) as exc:
            call(Bucket=bucket_name("gone"))
        assert error(exc)[0] == "NoSuchBucket"


def test_versions_and_delete_markers_page_in_order(shared_server, s3, bucket):
    with engine_client("s3", endpoint=shared_server.endpoint) as grpc_s3:
        grpc_s3.put_bucket_versioning(Bucket=bucket,
                                      VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="doc", Body=b"two")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="doc")["VersionId"]
    s3.put_object(Bucket=bucket, Key="other", Body=b"x")
    listed = s3.list_object_versions(Bucket=bucket)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [
        ("doc", second, False), ("doc", first, False), ("other", listed["Versions"][2][
            "VersionId"], True)]
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == \
        [("doc", marker, True)]
    assert listed["Versions"][0]["Size"] == 3 and listed["Versions"][0]["Owner"]["ID"]
    got = pages(s3, "list_object_versions", Bucket=bucket, PaginationConfig={"PageSize": 1})
    assert len(got) == 4
    assert got[0]["NextKeyMarker"] == "doc" and got[0]["NextVersionIdMarker"] == marker
    seen = [v["VersionId"] for p in got for v in p.get("Versions", []) + p.get(
        "DeleteMarkers", [])]
    assert sorted(seen) == sorted([first, second, marker, listed["Versions"][2]["VersionId"]])
    assert s3.list_objects_v2(Bucket=bucket)["Contents"][0]["Key"] == "other"


def test_versions_of_an_unversioned_bucket_are_null(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    listed = s3.list_object_versions(Bucket=bucket, Prefix="k")
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == \
        [("k", "null", True)]
    with pytest.raises(ClientError) as exc:
        s3.list_object_versions(Bucket=bucket, VersionIdMarker="abc")
    assert error(exc) == ("InvalidArgument",
                          "A version-id marker cannot be specified without a key marker.")
