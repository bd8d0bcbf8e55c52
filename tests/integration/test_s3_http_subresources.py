"""Object and bucket subresources over the S3 REST endpoint with boto3: tagging,
versioning, lifecycle configuration, RestoreObject and GetObjectAttributes, each
round trip and its S3 error codes."""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError
from helpers_s3_http import bucket_name, s3_client, send, signed_headers

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture
def bucket(s3):
    name = bucket_name("sub")
    s3.create_bucket(Bucket=name)
    return name


def error_of(call, **kwargs) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    response = exc.value.response
    return (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"],
            response["Error"].get("Message", ""))


# -- object tagging --------------------------------------------------------------------


def test_object_tags_round_trip_and_are_removed(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "a",
                                                                          "Value": "1"}]
    tags = [{"Key": "project", "Value": "blue sky"}, {"Key": "team", "Value": "a+b=c"}]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tags})
    assert sorted(s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"],
                  key=lambda t: t["Key"]) == tags
    assert s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"][
        "x-amz-tagging-count"] == "2"
    deleted = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []


def test_object_tags_name_the_version_they_touch(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    put = s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=first,
                                Tagging={"TagSet": [{"Key": "old", "Value": "yes"}]})
    assert put["VersionId"] == first
    got = s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=first)
    assert (got["VersionId"], got["TagSet"]) == (first, [{"Key": "old", "Value": "yes"}])
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []


def test_object_tagging_refuses_what_s3_refuses(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    eleven = [{"Key": f"k{i}", "Value": "v"} for i in range(11)]
    assert error_of(s3.put_object_tagging, Bucket=bucket, Key="k",
                    Tagging={"TagSet": eleven})[:2] == (400, "BadRequest")
    twice = [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]
    assert error_of(s3.put_object_tagging, Bucket=bucket, Key="k",
                    Tagging={"TagSet": twice})[:2] == (400, "InvalidTag")
    assert error_of(s3.put_object_tagging, Bucket=bucket, Key="k",
                    Tagging={"TagSet": [{"Key": "aws:x", "Value": "1"}]})[1] == "InvalidTag"
    assert error_of(s3.get_object_tagging, Bucket=bucket, Key="missing")[:2] == (
        404, "NoSuchKey")


def test_a_malformed_tagging_document_is_malformed_xml(shared_server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = f"{shared_server.http_url}/{bucket}/k?tagging"
    for body in (b"<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>",
                 b"<Tagging><TagSet>", b"<Other/>",
                 b'<!DOCTYPE x [<!ENTITY e "boom">]><Tagging><TagSet/></Tagging>'):
        headers = signed_headers("PUT", url, hashlib.sha256(body).hexdigest())
        answer = send(url, "PUT", headers.items(), body)
        assert answer.status == 400, body
        assert b"<Code>MalformedXML</Code>" in answer.body, body
    headers = signed_headers("PUT", url, hashlib.sha256(b"").hexdigest())
    answer = send(url, "PUT", headers.items(), b"")
    assert (answer.status, b"<Code>MissingRequestBodyError</Code>" in answer.body) == (400, True)


# -- bucket tagging --------------------------------------------------------------------


def test_bucket_tags_round_trip_and_are_deleted(s3, bucket):
    assert error_of(s3.get_bucket_tagging, Bucket=bucket)[:2] == (404, "NoSuchTagSet")
    tags = [{"Key": f"k{i:02}", "Value": f"v{i}"} for i in range(50)]
    put = s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags
    assert s3.delete_bucket_tagging(Bucket=bucket)["ResponseMetadata"][
        "HTTPStatusCode"] == 204
    assert error_of(s3.get_bucket_tagging, Bucket=bucket)[1] == "NoSuchTagSet"


def test_bucket_tagging_limits_and_missing_bucket(s3, bucket):
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    assert error_of(s3.put_bucket_tagging, Bucket=bucket,
                    Tagging={"TagSet": too_many})[:2] == (400, "BadRequest")
    twice = [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]
    assert error_of(s3.put_bucket_tagging, Bucket=bucket,
                    Tagging={"TagSet": twice})[1] == "InvalidTag"
    assert error_of(s3.get_bucket_tagging, Bucket=bucket_name("none"))[:2] == (
        404, "NoSuchBucket")


# -- versioning ------------------------------------------------------------------------


def test_versioning_is_enabled_and_suspended(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    one = s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    assert one["VersionId"] not in ("", "null")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


def test_versioning_refuses_an_unknown_status(s3, bucket):
    assert error_of(s3.put_bucket_versioning, Bucket=bucket,
                    VersioningConfiguration={"Status": "On"})[:2] == (400, "MalformedXML")
    assert error_of(s3.get_bucket_versioning, Bucket=bucket_name("none"))[1] == "NoSuchBucket"


# -- lifecycle -------------------------------------------------------------------------

RULES = [{"ID": "archive", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
          "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}],
          "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
          "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
         {"ID": "tmp", "Status": "Disabled",
          "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "t", "Value": "1"}]}},
          "Expiration": {"Days": 1}}]


def test_lifecycle_round_trips_and_is_deleted(s3, bucket):
    assert error_of(s3.get_bucket_lifecycle_configuration, Bucket=bucket)[:2] == (
        404, "NoSuchLifecycleConfiguration")
    s3.put_bucket_lifecycle_configuration(Bucket=bucket,
                                          LifecycleConfiguration={"Rules": RULES})
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == RULES
    deleted = s3.delete_bucket_lifecycle(Bucket=bucket)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(s3.get_bucket_lifecycle_configuration,
                    Bucket=bucket)[1] == "NoSuchLifecycleConfiguration"


def test_lifecycle_refuses_invalid_rules(s3, bucket):
    no_action = [{"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""}}]
    status, code, _ = error_of(s3.put_bucket_lifecycle_configuration, Bucket=bucket,
                               LifecycleConfiguration={"Rules": no_action})
    assert (status, code) in ((400, "InvalidRequest"), (400, "MalformedXML"))
    bad_status = [{"ID": "x", "Status": "On", "Filter": {"Prefix": ""},
                   "Expiration": {"Days": 1}}]
    assert error_of(s3.put_bucket_lifecycle_configuration, Bucket=bucket,
                    LifecycleConfiguration={"Rules": bad_status})[:2] == (400, "MalformedXML")


# -- restore and attributes ------------------------------------------------------------


def test_glacier_objects_are_restored(s3, bucket):
    s3.put_object(Bucket=bucket, Key="cold", Body=b"archived", StorageClass="GLACIER")
    assert error_of(s3.get_object, Bucket=bucket, Key="cold")[:2] == (
        403, "InvalidObjectState")
    started = s3.restore_object(Bucket=bucket, Key="cold",
                                RestoreRequest={"Days": 2,
                                                "GlacierJobParameters": {"Tier": "Bulk"}})
    assert started["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert s3.head_object(Bucket=bucket, Key="cold")["Restore"] == 'ongoing-request="true"'
    assert error_of(s3.restore_object, Bucket=bucket, Key="cold",
                    RestoreRequest={"Days": 2})[:2] == (409, "RestoreAlreadyInProgress")


def test_restore_refuses_what_s3_refuses(s3, bucket):
    s3.put_object(Bucket=bucket, Key="warm", Body=b"x")
    assert error_of(s3.restore_object, Bucket=bucket, Key="warm",
                    RestoreRequest={"Days": 1})[:2] == (403, "ObjectAlreadyInActiveTierError")
    assert error_of(s3.restore_object, Bucket=bucket, Key="missing",
                    RestoreRequest={"Days": 1})[:2] == (404, "NoSuchKey")


def test_object_attributes_answer_what_is_asked(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"hello", StorageClass="STANDARD_IA")
    got = s3.get_object_attributes(Bucket=bucket, Key="k",
                                   ObjectAttributes=["ETag", "ObjectSize", "StorageClass",
                                                     "Checksum"])
    assert got["ETag"] == put["ETag"].strip('"')
    assert (got["ObjectSize"], got["StorageClass"]) == (5, "STANDARD_IA")
    assert got["Checksum"]["ChecksumCRC32"] == "NhCmhg=="  # boto3's CRC32 of the PUT
    assert "LastModified" in got
    only = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectSize"])
    assert "ETag" not in only and only["ObjectSize"] == 5


def test_object_attributes_page_the_parts_of_a_multipart_object(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    parts = []
    for number, size in ((1, 5 * 1024 * 1024), (2, 5 * 1024 * 1024), (3, 7)):
        etag = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=number,
                              Body=b"p" * size)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload,
                                 MultipartUpload={"Parts": parts})
    got = s3.get_object_attributes(Bucket=bucket, Key="big", ObjectAttributes=["ObjectParts"],
                                   MaxParts=2)
    page = got["ObjectParts"]
    assert (page["TotalPartsCount"], page["IsTruncated"], page["NextPartNumberMarker"]) == (
        3, True, 2)
    assert [p["PartNumber"] for p in page["Parts"]] == [1, 2]
    rest = s3.get_object_attributes(Bucket=bucket, Key="big", ObjectAttributes=["ObjectParts"],
                                    PartNumberMarker=2)["ObjectParts"]
    assert [(p["PartNumber"], p["Size"]) for p in rest["Parts"]] == [(3, 7)]


def test_object_attributes_errors(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    status, code, _ = error_of(s3.get_object_attributes, Bucket=bucket, Key="k",
                               ObjectAttributes=["Colour"])
    assert (status, code) == (400, "InvalidArgument")
    assert error_of(s3.get_object_attributes, Bucket=bucket, Key="missing",
                    ObjectAttributes=["ETag"])[:2] == (404, "NoSuchKey")
