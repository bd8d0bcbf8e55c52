"""Who may do what over the S3 REST endpoint: header SigV4, presigned SigV4 and SigV2
links opened with plain urllib, the errors a wrong key, secret, clock or region gets
(with S3's codes and messages), and anonymous requests, allowed only by a policy."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import botocore.auth
import pytest
from botocore.exceptions import ClientError
from helpers_s3_http import bucket_name, s3_client, send, signed_headers

from engine.client import client as engine_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture
def bucket(s3):
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="cat.jpg", Body=b"meow")
    return name


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def urlopen(request: urllib.request.Request | str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_an_unknown_key_is_invalid_access_key_id(shared_server, bucket):
    stranger = s3_client(shared_server.http_url, key="AKIANOSUCHKEY0000000", secret="x" * 40)
    with pytest.raises(ClientError) as exc:
        stranger.get_object(Bucket=bucket, Key="cat.jpg")
    assert error(exc) == ("InvalidAccessKeyId",
                          "The AWS Access Key Id you provided does not exist in our records.")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_wrong_secret_is_signature_does_not_match(shared_server, bucket):
    from credentials import ROOT_KEY_ID

    wrong = s3_client(shared_server.http_url, key=ROOT_KEY_ID, secret="not-the-secret")
    with pytest.raises(ClientError) as exc:
        wrong.get_object(Bucket=bucket, Key="cat.jpg")
    code, message = error(exc)
    assert code == "SignatureDoesNotMatch" and message.startswith(
        "The request signature we calculated does not match the signature you provided.")
    assert "StringToSign" in exc.value.response["Error"]
    assert "CanonicalRequest" in exc.value.response["Error"]


def test_a_skewed_clock_is_request_time_too_skewed(shared_server, bucket, monkeypatch):
    url = f"{shared_server.http_url}/{bucket}/cat.jpg"
    an_hour_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1)
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda remove_tzinfo=True: an_hour_ago)
    headers = signed_headers("GET", url, "UNSIGNED-PAYLOAD")
    assert headers["X-Amz-Date"] == an_hour_ago.strftime("%Y%m%dT%H%M%SZ")
    answer = send(url, "GET", list(headers.items()))
    assert answer.status == 403
    assert b"<Code>RequestTimeTooSkewed</Code>" in answer.body
    assert b"<MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>" in answer.body


def test_another_region_is_named_in_authorization_header_malformed(shared_server, bucket):
    url = f"{shared_server.http_url}/{bucket}/cat.jpg"
    headers = signed_headers("GET", url, "UNSIGNED-PAYLOAD", region="eu-west-1")
    answer = send(url, "GET", list(headers.items()))
    assert answer.status == 400
    root = ET.fromstring(answer.body)
    assert root.findtext("Code") == "AuthorizationHeaderMalformed"
    assert "'eu-west-1' is wrong; expecting 'us-east-1'" in root.findtext("Message")
    assert root.findtext("Region") == "us-east-1"
    # which is what botocore's region redirector reads: it signs again, for us-east-1
    elsewhere = s3_client(shared_server.http_url, region="eu-west-1")
    assert elsewhere.get_object(Bucket=bucket, Key="cat.jpg")["Body"].read() == b"meow"


def test_anonymous_requests_need_a_policy(server_factory):
    """On a node of its own: opening a bucket to everyone takes lifting the account's
    Block Public Access too."""
    server = server_factory().start()
    s3 = s3_client(server.http_url)
    bucket = bucket_name("public")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="cat.jpg", Body=b"meow")
    url = f"{server.http_url}/{bucket}/cat.jpg"
    status, body = urlopen(url)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    with engine_client("s3", endpoint=server.endpoint) as sdk, \
            engine_client("s3control", endpoint=server.endpoint) as control, \
            engine_client("sts", endpoint=server.endpoint) as sts:
        control.delete_public_access_block(AccountId=sts.get_caller_identity()["Account"])
        sdk.delete_public_access_block(Bucket=bucket)
        sdk.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    assert urlopen(url) == (200, b"meow")
    status, body = urlopen(url + "?response-content-type=text/plain")
    assert status == 400 and b"<Code>InvalidRequest</Code>" in body  # signed links only
    put = urllib.request.Request(url, data=b"woof", method="PUT")
    status, body = urlopen(put)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    assert s3.get_object(Bucket=bucket, Key="cat.jpg")["Body"].read() == b"meow"


def test_presigned_sigv4_get_and_put_with_urllib(shared_server, bucket):
    s3v4 = s3_client(shared_server.http_url, signature_version="s3v4")
    get = s3v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "cat.jpg"},
                                      ExpiresIn=300)
    assert "X-Amz-Signature=" in get
    assert urlopen(get) == (200, b"meow")
    put = s3v4.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "new"},
                                      ExpiresIn=300)
    status, _ = urlopen(urllib.request.Request(put, data=b"uploaded", method="PUT"))
    assert status == 200
    assert s3v4.get_object(Bucket=bucket, Key="new")["Body"].read() == b"uploaded"
    tampered = get.replace("cat.jpg", "new")
    status, body = urlopen(tampered)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body


def test_presigned_sigv2_get(shared_server, bucket):
    s3v2 = s3_client(shared_server.http_url, signature_version="s3")
    url = s3v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "cat.jpg"},
                                      ExpiresIn=300)
    assert "AWSAccessKeyId=" in url and "Signature=" in url
    assert urlopen(url) == (200, b"meow")
    status, body = urlopen(url.replace("cat.jpg", "dog.jpg"))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body


def test_presigned_link_expires_on_the_engine_clock(server_factory):
    from helpers_sqs import advance_clock

    server = server_factory("--manual-clock").start()
    s3v4 = s3_client(server.http_url, signature_version="s3v4")
    name = bucket_name("exp")
    s3v4.create_bucket(Bucket=name)
    s3v4.put_object(Bucket=name, Key="k", Body=b"v")
    url = s3v4.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "k"},
                                      ExpiresIn=60)
    assert urlopen(url) == (200, b"v")
    advance_clock(server.endpoint, 600)  # the clock stood still since the node started
    status, body = urlopen(url)
    assert status == 403 and b"<Message>Request has expired</Message>" in body


def test_presigned_expiry_is_at_most_a_week(shared_server, bucket):
    s3v4 = s3_client(shared_server.http_url, signature_version="s3v4")
    url = s3v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "cat.jpg"},
                                      ExpiresIn=604801)
    status, body = urlopen(url)
    assert status == 400 and b"AuthorizationQueryParametersError" in body


def test_a_users_key_is_authorized_by_its_policies(shared_server, bucket):
    with engine_client("iam", endpoint=shared_server.endpoint) as iam:
        user = f"reader-{bucket[-6:]}"
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        app = s3_client(shared_server.http_url, key=key["AccessKeyId"],
                        secret=key["SecretAccessKey"])
        with pytest.raises(ClientError) as exc:
            app.get_object(Bucket=bucket, Key="cat.jpg")
        code, message = error(exc)
        assert code == "AccessDenied" and "s3:GetObject" in message
        iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    assert app.get_object(Bucket=bucket, Key="cat.jpg")["Body"].read() == b"meow"
    with pytest.raises(ClientError) as exc:
        app.put_object(Bucket=bucket, Key="cat.jpg", Body=b"x")
    assert error(exc)[0] == "AccessDenied"


def test_http_denials_and_writes_are_audited(server_factory, tmp_path):
    audit = tmp_path / "audit.jsonl"
    server = server_factory("--audit-log", str(audit)).start()
    s3 = s3_client(server.http_url)
    bucket = bucket_name("audit")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    s3.get_object(Bucket=bucket, Key="k")  # a read: not audited
    assert urlopen(f"{server.http_url}/{bucket}/k")[0] == 403
    stranger = s3_client(server.http_url, key="AKIANOSUCHKEY0000000", secret="x" * 40)
    with pytest.raises(ClientError):
        stranger.delete_object(Bucket=bucket, Key="k")
    assert server.stop() == 0  # the audit log is written out on stop
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    rest = [(line["method"], line["decision"], line["error_code"], line["action"])
            for line in lines if line["method"].startswith("s3:REST.")]
    assert rest == [
        ("s3:REST.CreateBucket", "allow", None, "s3:CreateBucket"),
        ("s3:REST.PutObject", "allow", None, "s3:PutObject"),
        ("s3:REST.GetObject", "deny", "AccessDenied", "s3:GetObject"),
        ("s3:REST.DeleteObject", "deny", "InvalidAccessKeyId", None),
    ]
    assert all(line["source"].startswith("ipv4:127.0.0.1:") for line in lines
               if line["method"].startswith("s3:REST."))
