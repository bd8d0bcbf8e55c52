"""CopyObject over the S3 REST endpoint with boto3: metadata and tagging directives,
versioned and URL-encoded sources, x-amz-copy-source-if-* conditions, the errors S3
gives for a bad source, and authorization on both the source and the target."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from botocore.exceptions import ClientError
from helpers_s3_http import bucket_name, s3_client

from engine.client import client as engine_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

PAST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FUTURE = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture
def bucket(s3):
    name = bucket_name("copy")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def source(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"original body", ContentType="text/plain",
                  Metadata={"owner": "ana"}, Tagging="team=blue")
    return {"Bucket": bucket, "Key": "src"}


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_a_copy_keeps_body_metadata_and_tags(s3, bucket, source):
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource=source)
    head = s3.head_object(Bucket=bucket, Key="src")
    assert copied["CopyObjectResult"]["ETag"] == head["ETag"]
    assert copied["CopyObjectResult"]["LastModified"].year >= 2025
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"original body"
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"owner": "ana"}
    assert s3.get_object_tagging(Bucket=bucket, Key="dst")["TagSet"] == \
        [{"Key": "team", "Value": "blue"}]


def test_replace_directives_take_the_requests_metadata_and_tags(s3, bucket, source):
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, MetadataDirective="REPLACE",
                   ContentType="application/json", Metadata={"n": "2"},
                   TaggingDirective="REPLACE", Tagging="a=1&b=2", StorageClass="STANDARD_IA")
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["ContentType"] == "application/json" and got["Metadata"] == {"n": "2"}
    assert got["TagCount"] == 2 and got["StorageClass"] == "STANDARD_IA"
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=source,
                       MetadataDirective="MERGE")  # type: ignore[arg-type]
    assert error(exc) == ("InvalidArgument", "Unknown metadata directive.")


def test_copying_onto_itself_needs_a_change(s3, bucket, source):
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="src", CopySource=source)
    code, message = error(exc)
    assert code == "InvalidRequest" and "copy an object to itself" in message
    s3.copy_object(Bucket=bucket, Key="src", CopySource=source, MetadataDirective="REPLACE",
                   Metadata={"changed": "yes"})
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"changed": "yes"}


@pytest.mark.parametrize("key", ["dir/a b+c", "pct%2Fkey", "q?uestion&amp", "unicodé/日本"])
def test_url_encoded_sources_name_exactly_their_key(s3, bucket, key):
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    s3.copy_object(Bucket=bucket, Key=f"copy/{key}", CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key=f"copy/{key}")["Body"].read() == key.encode()


def test_a_version_of_the_source_is_copied(shared_server, s3, bucket):
    with engine_client("s3", endpoint=shared_server.endpoint) as grpc_s3:
        grpc_s3.put_bucket_versioning(Bucket=bucket,
                                      VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="doc", Body=b"first")["VersionId"]
    s3.put_object(Bucket=bucket, Key="doc", Body=b"second")
    copied = s3.copy_object(Bucket=bucket, Key="restored",
                            CopySource={"Bucket": bucket, "Key": "doc", "VersionId": old})
    assert copied["CopySourceVersionId"] == old and copied["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="restored")["Body"].read() == b"first"


def test_source_conditions_fail_with_412(s3, bucket, source):
    etag = s3.head_object(Bucket=bucket, Key="src")["ETag"]
    failing = [{"CopySourceIfMatch": '"0123"'}, {"CopySourceIfNoneMatch": etag},
               {"CopySourceIfModifiedSince": FUTURE}, {"CopySourceIfUnmodifiedSince": PAST}]
    for condition in failing:
        with pytest.raises(ClientError) as exc:
            s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, **condition)
        assert error(exc) == ("PreconditionFailed",
                              "At least one of the pre-conditions you specified did not hold")
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
        assert exc.value.response["Error"]["Condition"].startswith("x-amz-copy-source-If-")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="dst")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, CopySourceIfMatch=etag,
                   CopySourceIfNoneMatch='"other"', CopySourceIfModifiedSince=PAST,
                   CopySourceIfUnmodifiedSince=FUTURE)
    assert s3.head_object(Bucket=bucket, Key="dst")["ETag"] == etag


def test_a_missing_or_malformed_source_gets_s3s_errors(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "nope"})
    assert error(exc)[0] == "NoSuchKey"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst",
                       CopySource={"Bucket": bucket_name("gone"), "Key": "k"})
    assert error(exc)[0] == "NoSuchBucket"
    for value in (bucket, f"{bucket}/", "/"):
        with pytest.raises(ClientError) as exc:
            s3.copy_object(Bucket=bucket, Key="dst", CopySource=value)
        assert error(exc) == ("InvalidArgument", "Copy Source must mention the source bucket "
                              "and key: sourcebucket/sourcekey")


def test_a_copy_needs_read_on_the_source_and_write_on_the_target(shared_server, s3, bucket,
                                                                 source):
    with engine_client("iam", endpoint=shared_server.endpoint) as iam:
        user = f"copier-{bucket[-6:]}"
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        app = s3_client(shared_server.http_url, key=key["AccessKeyId"],
                        secret=key["SecretAccessKey"])

        def allow(*actions: str) -> None:
            iam.put_user_policy(UserName=user, PolicyName="copy", PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": list(actions),
                    "Resource": f"arn:aws:s3:::{bucket}/*"}]}))

        allow("s3:PutObject")
        with pytest.raises(ClientError) as exc:
            app.copy_object(Bucket=bucket, Key="dst", CopySource=source)
        code, message = error(exc)
        assert code == "AccessDenied" and "s3:GetObject" in message
        allow("s3:GetObject")
        with pytest.raises(ClientError) as exc:
            app.copy_object(Bucket=bucket, Key="dst", CopySource=source)
        code, message = error(exc)
        assert code == "AccessDenied" and "s3:PutObject" in message
        allow("s3:GetObject", "s3:PutObject")
    app.copy_object(Bucket=bucket, Key="dst", CopySource=source)
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"original body"
