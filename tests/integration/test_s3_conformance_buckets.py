"""S3 conformance, buckets: CreateBucket, HeadBucket, GetBucketLocation, ListBuckets and
DeleteBucket as AWS's API reference documents them (naming rules, us-east-1's
re-create rule, location constraints, status codes and error codes), with boto3 and
with raw signed requests where boto3 hides the wire."""

from __future__ import annotations

import datetime as dt
import uuid

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
def bucket(s3) -> str:
    name = bucket_name("bkt")
    s3.create_bucket(Bucket=name)
    return name


# -- naming rules (AWS "General purpose bucket naming rules") ------------------------------

_U = uuid.uuid4().hex[:8]
GOOD_NAMES = {"three-chars": "abc", "sixty-three-chars": "a" * 63,
              "dotted": f"my.dotted.{_U}", "dashed": f"with-dash-{_U}",
              "starts-with-digit": f"1{_U}x", "ends-with-digit": f"x{_U}9",
              "dots-and-dashes": f"a-b.c-d.{_U}"}
BAD_NAMES = {
    "too-short-2": "ab",
    "too-short-1": "a",
    "too-long-64": "a" * 64,
    "upper-case": "UpperCase",
    "underscore": "under_score",
    "starts-with-underscore": "_bkt",
    "starts-with-dash": "-bkt",
    "starts-with-dot": ".bkt",
    "ends-with-dash": "bkt-",
    "ends-with-dot": "bkt.",
    "double-dot": "a..b",
    "dot-dash": "a.-b",
    "dash-dot": "a-.b",
    "ip-address": "192.168.5.123",
    "xn-prefix": "xn--bucket",
    "sthree-prefix": "sthree-bucket",
    "s3alias-suffix": "bucket-s3alias",
    "ol-s3-suffix": "bucket--ol-s3",
}


@pytest.mark.parametrize("name", GOOD_NAMES.values(), ids=GOOD_NAMES.keys())
def test_valid_names_are_created(s3, node, name):
    answer = node.request("PUT", f"/{name}")
    assert answer.status == 200, answer.body
    assert answer.headers["location"] == f"/{name}"
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_invalid_names_are_invalid_bucket_name(node, name):
    answer = node.request("PUT", f"/{name}")
    assert answer.status == 400
    assert error_of(answer) == ("InvalidBucketName", "The specified bucket is not valid.")
    assert xml_of(answer.body).findtext("BucketName") == name


# -- CreateBucket -------------------------------------------------------------------------


def test_create_bucket_answers_its_location_and_no_body(node):
    name = bucket_name("create")
    answer = node.request("PUT", f"/{name}", body=b"")
    assert answer.status == 200 and answer.body == b""
    assert answer.headers["location"] == f"/{name}"
    assert answer.headers["x-amz-request-id"] and answer.headers["x-amz-id-2"]


def test_recreating_your_own_bucket_in_us_east_1_is_200(s3, bucket):
    """AWS: in us-east-1 re-creating a bucket you own succeeds (the legacy behaviour);
    every other region answers 409 BucketAlreadyOwnedByYou."""
    again = s3.create_bucket(Bucket=bucket)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert again["Location"] == f"/{bucket}"


def test_a_bucket_owned_by_you_elsewhere_is_409(server_factory):
    server = server_factory("--region", "eu-west-1").start()
    s3 = s3_client(server.http_url, region="eu-west-1")
    name = bucket_name("eu")
    config = {"LocationConstraint": "eu-west-1"}
    s3.create_bucket(Bucket=name, CreateBucketConfiguration=config)
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration=config)
    got = failure(exc)
    assert (got.status, got.code) == (409, "BucketAlreadyOwnedByYou")
    assert got.error["BucketName"] == name
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=bucket_name("none"))
    got = failure(exc)
    assert (got.status, got.code) == (400, "IllegalLocationConstraintException")


@pytest.mark.parametrize(("constraint", "code"), [
    ("us-east-1", "InvalidLocationConstraint"),
    ("eu-west-1", "IllegalLocationConstraintException"),
    ("ap-south-1", "IllegalLocationConstraintException"),
])
def test_location_constraints_other_than_the_endpoints_are_refused(s3, constraint, code):
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=bucket_name("loc"),
                         CreateBucketConfiguration={"LocationConstraint": constraint})
    got = failure(exc)
    assert (got.status, got.code) == (400, code)


def test_a_malformed_create_bucket_configuration_is_malformed_xml(node):
    answer = node.request("PUT", f"/{bucket_name('xml')}", body=b"<CreateBucketConfiguration")
    assert answer.status == 400 and error_of(answer)[0] == "MalformedXML"


def test_an_empty_create_bucket_configuration_is_the_default_region(s3, node):
    name = bucket_name("empty-cfg")
    body = (b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            b"</CreateBucketConfiguration>")
    answer = node.request("PUT", f"/{name}", body=body)
    assert answer.status == 200, answer.body
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None


def test_a_canned_acl_on_an_owner_enforced_bucket_is_refused(s3):
    """AWS: with Object Ownership BucketOwnerEnforced (the default) only the private and
    bucket-owner-full-control ACLs are accepted on CreateBucket."""
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=bucket_name("acl"), ACL="public-read")
    got = failure(exc)
    assert (got.status, got.code) == (400, "InvalidBucketAclWithObjectOwnership")
    private = bucket_name("private")
    assert s3.create_bucket(Bucket=private, ACL="private")[
        "ResponseMetadata"]["HTTPStatusCode"] == 200


def test_object_ownership_is_set_at_creation(s3):
    name = bucket_name("owner")
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    rules = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "ObjectWriter"}]


def test_a_bucket_with_object_lock_is_not_silently_created_without_it(s3, node):
    name = bucket_name("lock")
    answer = node.request("PUT", f"/{name}", {"x-amz-bucket-object-lock-enabled": "true"})
    assert answer.status == 501 and error_of(answer)[0] == "NotImplemented"
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_create_bucket_unsigned_is_access_denied(node):
    answer = node.request("PUT", f"/{bucket_name('anon')}", sign=False)
    assert answer.status == 403 and error_of(answer)[0] == "AccessDenied"


# -- HeadBucket / GetBucketLocation -------------------------------------------------------


def test_head_bucket_answers_the_region_without_a_body(node, bucket):
    answer = node.request("HEAD", f"/{bucket}")
    assert answer.status == 200 and answer.body == b""
    assert answer.headers["x-amz-bucket-region"] == "us-east-1"
    wire = node.raw_head(f"/{bucket}")
    assert wire.startswith(b"HTTP/1.1 200") and wire.endswith(b"\r\n\r\n")


def test_head_of_a_missing_bucket_is_a_bare_404(s3, node):
    name = bucket_name("gone")
    answer = node.request("HEAD", f"/{name}")
    assert answer.status == 404 and answer.body == b""
    assert answer.headers["x-amz-request-id"]
    wire = node.raw_head(f"/{name}")
    assert wire.startswith(b"HTTP/1.1 404") and wire.endswith(b"\r\n\r\n")
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=name)
    assert failure(exc).code == "404"


def test_get_bucket_location_document(node, bucket):
    answer = node.request("GET", f"/{bucket}?location")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("application/xml")
    doc = xml_of(answer.body)
    assert doc.tag.endswith("LocationConstraint") and not doc.text


def test_location_of_a_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_location(Bucket=bucket_name("gone"))
    got = failure(exc)
    assert (got.status, got.code) == (404, "NoSuchBucket")
    assert got.message == "The specified bucket does not exist"


# -- ListBuckets --------------------------------------------------------------------------


def test_list_buckets_document(node, bucket):
    answer = node.request("GET", "/")
    assert answer.status == 200
    doc = xml_of(answer.body)
    assert doc.tag.endswith("ListAllMyBucketsResult")
    assert text(doc, "Owner/ID")
    entries = {text(b, "Name"): b for b in find(doc, "Buckets/Bucket")}
    assert bucket in entries
    created = text(entries[bucket], "CreationDate") or ""
    when = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs((dt.datetime.now(dt.UTC).replace(tzinfo=None) - when).total_seconds()) < 600
    names = [text(b, "Name") for b in find(doc, "Buckets/Bucket")]
    assert names == sorted(names)


def test_list_buckets_unsigned_is_access_denied(node):
    answer = node.request("GET", "/", sign=False)
    assert answer.status == 403 and error_of(answer)[0] == "AccessDenied"


def test_list_buckets_filters_by_prefix(s3):
    stem = bucket_name("pfx")
    for suffix in ("a", "b"):
        s3.create_bucket(Bucket=f"{stem}-{suffix}")
    listed = s3.list_buckets(Prefix=stem)
    assert [b["Name"] for b in listed["Buckets"]] == [f"{stem}-a", f"{stem}-b"]
    assert listed["Prefix"] == stem


@pytest.mark.parametrize("value", ["0", "-1", "abc", "10001"])
def test_list_buckets_max_buckets_out_of_range_is_invalid_argument(node, value):
    answer = node.request("GET", f"/?max-buckets={value}")
    assert answer.status == 400 and error_of(answer)[0] == "InvalidArgument"


# -- DeleteBucket -------------------------------------------------------------------------


def test_delete_bucket_is_204_and_the_bucket_is_gone(s3, node):
    name = bucket_name("del")
    s3.create_bucket(Bucket=name)
    answer = node.request("DELETE", f"/{name}")
    assert answer.status == 204 and answer.body == b""
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    again = node.request("DELETE", f"/{name}")
    assert again.status == 404
    assert error_of(again) == ("NoSuchBucket", "The specified bucket does not exist")
    assert xml_of(again.body).findtext("BucketName") == name


def test_a_non_empty_bucket_is_not_deleted(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    got = failure(exc)
    assert (got.status, got.code) == (409, "BucketNotEmpty")
    assert got.message == "The bucket you tried to delete is not empty"
    assert got.error["BucketName"] == bucket
    s3.delete_object(Bucket=bucket, Key="k")
    assert s3.delete_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_old_versions_and_delete_markers_keep_a_bucket_non_empty(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    s3.delete_object(Bucket=bucket, Key="k")  # only a marker and a noncurrent version left
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    assert failure(exc).code == "BucketNotEmpty"


def test_a_deleted_bucket_name_can_be_created_again(s3):
    name = bucket_name("again")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"old")
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    s3.create_bucket(Bucket=name)
    assert "Contents" not in s3.list_objects_v2(Bucket=name)


# -- a missing bucket, whatever the operation ---------------------------------------------


@pytest.mark.parametrize(("method", "suffix"), [
    ("GET", ""), ("GET", "?list-type=2"), ("GET", "?versions"), ("GET", "?uploads"),
    ("PUT", "/key"), ("GET", "/key"), ("DELETE", "/key"), ("POST", "/key?uploads"),
    ("GET", "?versioning"), ("GET", "?tagging"), ("GET", "?policy"), ("GET", "?acl"),
])
def test_any_operation_on_a_missing_bucket_is_no_such_bucket(node, method, suffix):
    name = bucket_name("missing")
    body = b"data" if method == "PUT" else None
    answer = node.request(method, f"/{name}{suffix}", body=body)
    assert answer.status == 404, answer.body
    assert error_of(answer)[0] == "NoSuchBucket"
    assert xml_of(answer.body).findtext("BucketName") == name
