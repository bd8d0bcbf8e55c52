"""Object tagging through the SDK against a real `engine serve`: S3's tag set rules, tags
set with PUT, copy and multipart, TagCount, and tags per version."""

from __future__ import annotations

import pytest
from helpers_s3 import error_code

from engine.client import ClientError, ParamValidationError


def tag_set(pairs: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in pairs.items()]}


def tags_of(s3, bucket: str, key: str, **kw) -> dict[str, str]:
    return {t["Key"]: t["Value"]
            for t in s3.get_object_tagging(Bucket=bucket, Key=key, **kw)["TagSet"]}


def test_tagging_on_put_and_tag_count(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="team=blue&note=two%20words")
    assert tags_of(s3, bucket, "k") == {"team": "blue", "note": "two words"}
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["TagCount"] == 2
    assert "TagCount" not in s3.head_object(Bucket=bucket, Key="k")  # not in HEAD's model
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="plain")
    assert s3.get_object_tagging(Bucket=bucket, Key="plain")["TagSet"] == []
    with pytest.raises(ClientError):
        s3.put_object(Bucket=bucket, Key="bad", Body=b"x", Tagging="a=1&a=2")
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="bad")


def test_put_get_delete_object_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="old=1")
    resp = s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set({"a": "1", "b": ""}))
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "VersionId" not in resp  # the null version is not named
    assert tags_of(s3, bucket, "k") == {"a": "1", "b": ""}  # replaced, not merged
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 2
    resp = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert tags_of(s3, bucket, "k") == {}
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="k")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"  # body untouched
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object_tagging(Bucket=bucket, Key="absent")
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.put_object_tagging(Bucket=bucket, Key="absent", Tagging=tag_set({"a": "1"}))


def test_tag_limits(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    ten = {f"k{i}": f"v{i}" for i in range(10)}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(ten))
    assert tags_of(s3, bucket, "k") == ten
    with pytest.raises(ClientError) as exc:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set({**ten, "k10": "v"}))
    assert error_code(exc) == "BadRequest"  # S3: "Object tags cannot be greater than 10"

    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set({"k" * 128: "v" * 256}))
    for bad in ({"k" * 129: "v"}, {"k": "v" * 257}, {"": "v"}, {"aws:reserved": "v"}):
        with pytest.raises(ClientError) as exc:
            s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(bad))
        assert error_code(exc) == "InvalidTag", bad
    with pytest.raises(ClientError) as exc:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [
            {"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}]})
    assert error_code(exc) == "InvalidTag"
    assert tags_of(s3, bucket, "k") == {"k" * 128: "v" * 256}  # rejected sets change nothing

    with pytest.raises(ClientError) as exc:  # the same limits apply to the PUT header
        s3.put_object(Bucket=bucket, Key="h", Body=b"x", Tagging=f"{'k' * 129}=v")
    assert error_code(exc) == "InvalidTag"


def test_tagging_parameters_are_validated_before_sending(s3, bucket):
    for bad in ({}, {"TagSet": [{"Key": "a"}]}, {"TagSet": [{"Key": "a", "Value": 1}]},
                {"TagSet": "a=1"}, {"TagSet": [], "Extra": 1}):
        with pytest.raises(ParamValidationError):
            s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=bad)


def test_tags_belong_to_a_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="v=1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"2")["VersionId"]
    assert tags_of(s3, bucket, "k") == {}
    assert tags_of(s3, bucket, "k", VersionId=v1) == {"v": "1"}
    resp = s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=v1,
                                 Tagging=tag_set({"v": "one"}))
    assert resp["VersionId"] == v1
    got = s3.get_object_tagging(Bucket=bucket, Key="k")
    assert got["VersionId"] == v2 and got["TagSet"] == []
    assert s3.put_object_tagging(Bucket=bucket, Key="k",
                                 Tagging=tag_set({"v": "two"}))["VersionId"] == v2
    assert tags_of(s3, bucket, "k", VersionId=v1) == {"v": "one"}
    assert s3.delete_object_tagging(Bucket=bucket, Key="k", VersionId=v1)["VersionId"] == v1
    assert tags_of(s3, bucket, "k", VersionId=v1) == {}
    assert tags_of(s3, bucket, "k") == {"v": "two"}


def test_copy_tagging_directive_and_multipart_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="a=1")
    s3.copy_object(Bucket=bucket, Key="copied", CopySource=f"{bucket}/src")
    assert tags_of(s3, bucket, "copied") == {"a": "1"}  # COPY is the default
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource=f"{bucket}/src",
                   TaggingDirective="REPLACE", Tagging="b=2&c=3")
    assert tags_of(s3, bucket, "replaced") == {"b": "2", "c": "3"}
    s3.copy_object(Bucket=bucket, Key="cleared", CopySource=f"{bucket}/src",
                   TaggingDirective="REPLACE")
    assert tags_of(s3, bucket, "cleared") == {}
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="bad", CopySource=f"{bucket}/src",
                       TaggingDirective="MERGE")
    assert error_code(exc) == "InvalidArgument"

    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="m=p")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1,
                          Body=b"x")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                 MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})
    assert tags_of(s3, bucket, "mp") == {"m": "p"}
    with pytest.raises(ClientError) as exc:
        s3.create_multipart_upload(Bucket=bucket, Key="mp2", Tagging="x=1&x=2")
    assert error_code(exc) == "InvalidArgument"  # S3: the header's error, not InvalidTag
