"""What an object keeps besides its body, over both APIs: Expires and
x-amz-website-redirect-location stored and returned (and honoured by the website
endpoint), a copy's storage class (STANDARD unless asked, as AWS documents), and a gRPC
DeleteObjects whose every key is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from helpers_s3_http import bucket_name, s3_client, send
from ports import free_port

from engine.client import client as engine_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

EXPIRES = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture
def bucket(s3):
    name = bucket_name("extras")
    s3.create_bucket(Bucket=name)
    return name


def test_expires_and_redirect_location_round_trip(s3, bucket):
    s3.put_object(Bucket=bucket, Key="page", Body=b"x", Expires=EXPIRES,
                  WebsiteRedirectLocation="/elsewhere.html")
    for read in (s3.head_object, s3.get_object):
        answer = read(Bucket=bucket, Key="page")
        assert answer["ResponseMetadata"]["HTTPHeaders"]["expires"] == \
            "Wed, 02 Jan 2030 03:04:05 GMT"
        assert answer["WebsiteRedirectLocation"] == "/elsewhere.html"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", Expires=EXPIRES,
                                        WebsiteRedirectLocation="https://example.com/")
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
                          PartNumber=1, Body=b"y")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1,
                                                             "ETag": part["ETag"]}]})
    head = s3.head_object(Bucket=bucket, Key="mp")
    assert head["WebsiteRedirectLocation"] == "https://example.com/"
    assert head["ResponseMetadata"]["HTTPHeaders"]["expires"] == \
        "Wed, 02 Jan 2030 03:04:05 GMT"


def test_a_redirect_location_must_be_a_path_or_url(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"x",
                      WebsiteRedirectLocation="ftp://example.com/")
    assert exc.value.response["Error"]["Code"] == "InvalidRedirectLocation"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_copy_keeps_expires_but_not_the_redirect(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Expires=EXPIRES,
                  WebsiteRedirectLocation="/a")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src")
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert "WebsiteRedirectLocation" not in head
    assert head["ResponseMetadata"]["HTTPHeaders"]["expires"] == \
        "Wed, 02 Jan 2030 03:04:05 GMT"
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src",
                   WebsiteRedirectLocation="/b")
    assert s3.head_object(Bucket=bucket, Key="dst")["WebsiteRedirectLocation"] == "/b"


def test_a_copy_without_a_storage_class_is_standard(shared_server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="ia", Body=b"x" * 100, StorageClass="STANDARD_IA")
    s3.copy_object(Bucket=bucket, Key="http-copy", CopySource=f"{bucket}/ia")
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="http-copy")
    s3.copy_object(Bucket=bucket, Key="kept", CopySource=f"{bucket}/ia",
                   StorageClass="STANDARD_IA")
    assert s3.head_object(Bucket=bucket, Key="kept")["StorageClass"] == "STANDARD_IA"
    # onto itself, the class changing to STANDARD is a change only when asked for
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="ia", CopySource=f"{bucket}/ia")
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"
    with engine_client("s3", endpoint=shared_server.endpoint) as grpc_s3:
        grpc_s3.copy_object(Bucket=bucket, Key="grpc-copy",
                            CopySource={"Bucket": bucket, "Key": "ia"})
        listed = grpc_s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert {o["Key"]: o["StorageClass"] for o in listed} == {
        "ia": "STANDARD_IA", "http-copy": "STANDARD", "kept": "STANDARD_IA",
        "grpc-copy": "STANDARD"}


def test_grpc_delete_objects_all_refused_names_each_key(shared_server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    with engine_client("iam", endpoint=shared_server.endpoint) as iam:
        user = f"nodelete-{bucket[-6:]}"
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
    with engine_client("s3", endpoint=shared_server.endpoint,
                       aws_access_key_id=key["AccessKeyId"],
                       aws_secret_access_key=key["SecretAccessKey"]) as refused:
        result = refused.delete_objects(Bucket=bucket, Delete={
            "Objects": [{"Key": "a"}, {"Key": "b"}]})
    assert [(e["Key"], e["Code"]) for e in result["Errors"]] == [
        ("a", "AccessDenied"), ("b", "AccessDenied")]
    assert not result.get("Deleted")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["a"]


def test_the_website_endpoint_follows_an_objects_redirect(server_factory):
    port = free_port()
    domain = "s3-website.localhost"
    node = server_factory("--website-listen", f"127.0.0.1:{port}",
                          "--website-domain", domain).start()
    with engine_client("sts", endpoint=node.endpoint) as sts, \
            engine_client("s3control", endpoint=node.endpoint) as control:
        control.delete_public_access_block(AccountId=sts.get_caller_identity()["Account"])
    s3 = s3_client(node.http_url)
    name = bucket_name("site")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="index.html", Body=b"home", ContentType="text/html")
    s3.put_object(Bucket=name, Key="old.html", Body=b"stale",
                  WebsiteRedirectLocation="/index.html")
    s3.put_bucket_website(Bucket=name, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}})
    s3.delete_public_access_block(Bucket=name)
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{name}/*"}]}))
    answer = send(f"http://127.0.0.1:{port}/old.html", "GET",
                  [("Host", f"{name}.{domain}")])
    assert answer.status == 301 and answer.headers["location"] == "/index.html"
    assert answer.body == b""
    home = send(f"http://127.0.0.1:{port}/", "GET", [("Host", f"{name}.{domain}")])
    assert home.status == 200 and home.body == b"home"
