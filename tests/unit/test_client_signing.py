"""Every SDK call arrives signed: the server's verifier (engine.iam.signature) accepts what
a real channel delivers, refuses it when one byte differs, and a retried call carries a
fresh date. Presigned URLs match boto3's byte for byte and verify."""

from __future__ import annotations

import calendar
import datetime
import io
import itertools
from concurrent import futures
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.auth
import grpc
import pytest
from botocore.config import Config

from engine.client import (
    CacheClient,
    IAMClient,
    NoCredentialsError,
    ParamValidationError,
    S3Client,
    SQSClient,
    STSClient,
    UnknownClientMethodError,
    client,
)
from engine.client.signing import signing_name
from engine.errors import EngineError
from engine.iam.signature import verify_grpc, verify_request
from engine.sigv4 import UNSIGNED_PAYLOAD, Credentials
from engine.sigv4.canonical import parse_amz_date
from engine.v1 import objects_pb2 as opb

NOW = calendar.timegm((2013, 5, 24, 0, 0, 0))
KEY = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
TEMPORARY = Credentials("ASIATEMPORARY", "temporary/secret", "session-token")
LOOKUP = {KEY.access_key_id: KEY.secret_access_key,
          TEMPORARY.access_key_id: TEMPORARY.secret_access_key}.get


class Recorder(grpc.GenericRpcHandler):
    """Answers every method with an empty reply (raw bytes in and out) and records
    (method, metadata, request bytes or None for a client stream)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[tuple[str, str | bytes]], bytes | None]] = []
        self.get_failures = 0  # GetObject calls to refuse with UNAVAILABLE first

    def _record(self, method: str, context: grpc.ServicerContext,
                message: bytes | None) -> None:
        self.calls.append((method, list(context.invocation_metadata()), message))

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = details.method

        def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
            self._record(method, context, request)
            if method.endswith("/HeadObject"):
                return opb.HeadObjectResponse(
                    info=opb.ObjectInfo(size=3, etag='"e"'), content_length=3,
                ).SerializeToString()
            return b""

        def upload(requests, context: grpc.ServicerContext) -> bytes:
            for _ in requests:
                pass
            self._record(method, context, None)
            return b""

        def download(request: bytes, context: grpc.ServicerContext):
            self._record(method, context, request)
            if self.get_failures:
                self.get_failures -= 1
                context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset")
            header = opb.GetObjectHeader(info=opb.ObjectInfo(size=3, etag='"e"'),
                                         content_length=3)
            yield opb.GetObjectResponse(header=header).SerializeToString()
            yield opb.GetObjectResponse(chunk=b"abc").SerializeToString()

        if method.endswith(("/PutObject", "/UploadPart")):
            return grpc.stream_unary_rpc_method_handler(upload)
        if method.endswith("/GetObject"):
            return grpc.unary_stream_rpc_method_handler(download)
        return grpc.unary_unary_rpc_method_handler(unary)


@pytest.fixture(scope="module")
def server():
    recorder = Recorder()
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.add_generic_rpc_handlers([recorder])
    srv.start()
    yield f"127.0.0.1:{port}", recorder
    srv.stop(None)


@pytest.fixture
def recorded(server):
    endpoint, recorder = server
    recorder.calls.clear()
    return endpoint, recorder


def verify(method, metadata, message, *, service="s3", now=NOW, region="us-east-1"):
    return verify_grpc(method, metadata, service=service, region=region, now=now,
                       lookup=LOOKUP, message=message)


def header(metadata, name):
    return next((v for k, v in metadata if k == name), None)


def error_code(call) -> str:
    with pytest.raises(EngineError) as info:
        call()
    return info.value.code


# --- unary and streaming calls, end to end over a real channel

def test_a_unary_call_is_signed_over_the_bytes_the_server_receives(recorded):
    endpoint, recorder = recorded
    with S3Client(endpoint, credentials=KEY, clock=lambda: NOW) as s3:
        s3.head_bucket(Bucket="examplebucket")
    [(method, metadata, message)] = recorder.calls
    assert method == "/engine.v1.ObjectStore/HeadBucket"
    assert header(metadata, "host") == endpoint
    assert header(metadata, "x-amz-date") == "20130524T000000Z"
    verified = verify(method, metadata, message)
    assert verified is not None and verified.access_key_id == KEY.access_key_id
    assert verified.scope == "20130524/us-east-1/s3/aws4_request"
    tampered = message[:-1] + bytes([message[-1] ^ 1])
    assert error_code(lambda: verify(method, metadata, tampered)) == "XAmzContentSHA256Mismatch"
    assert error_code(lambda: verify("/engine.v1.ObjectStore/DeleteBucket", metadata,
                                     message)) == "SignatureDoesNotMatch"


def test_a_client_streaming_call_is_signed_unsigned_payload(recorded):
    endpoint, recorder = recorded
    with S3Client(endpoint, credentials=KEY, clock=lambda: NOW) as s3:
        s3.put_object(Bucket="b", Key="k", Body=b"x" * 10)
    [(method, metadata, message)] = recorder.calls
    assert method == "/engine.v1.ObjectStore/PutObject" and message is None
    verified = verify(method, metadata, None)
    assert verified is not None and verified.payload_hash == UNSIGNED_PAYLOAD
    assert error_code(lambda: verify(method, metadata, None, now=NOW + 901)) == (
        "RequestTimeTooSkewed")


def test_temporary_credentials_send_their_session_token(recorded):
    endpoint, recorder = recorded
    with SQSClient(endpoint, credentials=TEMPORARY, region_name="eu-west-1",
                   clock=lambda: NOW) as sqs:
        sqs.list_queues()
    [(method, metadata, message)] = recorder.calls
    verified = verify(method, metadata, message, service="sqs", region="eu-west-1")
    assert verified is not None and verified.security_token == "session-token"
    assert verified.scope == "20130524/eu-west-1/sqs/aws4_request"


@pytest.mark.parametrize(("make", "call", "service"), [
    (S3Client, lambda c: c.list_buckets(), "s3"),
    (SQSClient, lambda c: c.list_queues(), "sqs"),
    (CacheClient, lambda c: c.get("k"), "elasticache"),
    (IAMClient, lambda c: c.list_users(), "iam"),
    (STSClient, lambda c: c.get_caller_identity(), "sts"),
])
def test_each_service_signs_with_its_own_name(recorded, make, call, service):
    endpoint, recorder = recorded
    with make(endpoint, credentials=KEY, clock=lambda: NOW) as c:
        call(c)
    [(method, metadata, message)] = recorder.calls
    assert f"/us-east-1/{service}/aws4_request" in header(metadata, "authorization")
    assert verify(method, metadata, message, service=service) is not None
    other = "s3" if service != "s3" else "sqs"
    assert error_code(lambda: verify(method, metadata, message, service=other)) in (
        "SignatureDoesNotMatch", "AuthorizationHeaderMalformed")


def test_signing_names_of_the_public_services():
    assert signing_name("/engine.v1.ObjectStore/PutObject") == "s3"
    assert signing_name("/engine.v1.Queues/SendMessage") == "sqs"
    assert signing_name("/engine.v1.Cache/Get") == "elasticache"
    assert signing_name("/engine.v1.Admin/ClusterStatus") == "engine"
    assert signing_name("/engine.v1.Echo/Echo") == "engine"
    assert signing_name("/engine.v1.Iam/Call") == "iam"
    assert signing_name("/engine.v1.Sts/Call") == "sts"


def test_a_retried_call_carries_a_fresh_signature(recorded):
    """download_fileobj retries a GET the connection dropped; the retry is signed anew."""
    endpoint, recorder = recorded
    recorder.get_failures = 1
    ticks = itertools.count(NOW, 60)
    with S3Client(endpoint, credentials=KEY, clock=lambda: next(ticks)) as s3:
        out = io.BytesIO()
        s3.download_fileobj("b", "k", out)
    assert out.getvalue() == b"abc"
    gets = [(m, md, msg) for m, md, msg in recorder.calls if m.endswith("/GetObject")]
    assert len(gets) == 2
    dates = [header(md, "x-amz-date") for _, md, _ in gets]
    assert dates[0] != dates[1]
    for method, metadata, message in gets:
        signed_at = parse_amz_date(header(metadata, "x-amz-date"))
        assert verify(method, metadata, message, now=signed_at) is not None


def test_without_credentials_calls_go_unsigned(recorded):
    endpoint, recorder = recorded
    with S3Client(endpoint) as s3:
        s3.list_buckets()
    [(method, metadata, message)] = recorder.calls
    assert header(metadata, "authorization") is None
    assert verify(method, metadata, message) is None


def test_client_signs_with_the_credentials_it_finds(recorded, monkeypatch, tmp_path):
    endpoint, recorder = recorded
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KEY.secret_access_key)
    with client("s3", endpoint=endpoint, region_name="ap-south-1") as s3:
        s3.list_buckets()
    [(method, metadata, message)] = recorder.calls
    signed_at = parse_amz_date(header(metadata, "x-amz-date"))
    verified = verify(method, metadata, message, region="ap-south-1", now=signed_at)
    assert verified is not None and verified.access_key_id == KEY.access_key_id


# --- presigned URLs

AKID, SECRET = "AKIAENGINETEST", "engine/secret+key=="
FIXED = datetime.datetime(2024, 2, 29, 23, 59, 30)
FIXED_EPOCH = 1709251170.0


def ours(**kwargs) -> S3Client:
    kwargs.setdefault("credentials", Credentials(AKID, SECRET))
    return S3Client("127.0.0.1:50051", clock=lambda: FIXED_EPOCH, **kwargs)


@pytest.fixture
def boto(monkeypatch):
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: FIXED)
    return boto3.client("s3", endpoint_url="http://127.0.0.1:9000", region_name="us-east-1",
                        aws_access_key_id=AKID, aws_secret_access_key=SECRET,
                        config=Config(signature_version="s3v4"))


@pytest.mark.parametrize(("method", "params"), [
    ("get_object", {"Bucket": "bucket", "Key": "plain.txt"}),
    ("get_object", {"Bucket": "bucket", "Key": "dir/with space/\u00fcn\u00efc\u00f8d\u00e9+a=b",
                    "VersionId": "v 1", "ResponseContentType": "text/plain"}),
    ("get_object", {"Bucket": "bucket", "Key": "k", "Range": "bytes=0-1",
                    "IfModifiedSince": datetime.datetime(2024, 1, 1)}),
    ("put_object", {"Bucket": "bucket", "Key": "k", "ContentType": "text/csv",
                    "Metadata": {"color": "blue"}}),
    ("head_object", {"Bucket": "bucket", "Key": "k"}),
    ("delete_object", {"Bucket": "bucket", "Key": "k", "VersionId": "x"}),
])
def test_presigned_urls_match_boto3(boto, method, params):
    assert ours().generate_presigned_url(method, Params=params, ExpiresIn=900) == (
        boto.generate_presigned_url(method, Params=params, ExpiresIn=900))


def test_presigned_url_shape_and_verification():
    url = ours().generate_presigned_url(
        "get_object", Params={"Bucket": "photos", "Key": "2024/a b.jpg"}, ExpiresIn=600)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "127.0.0.1:9000",
                                                        "/photos/2024/a%20b.jpg")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["X-Amz-Credential"] == f"{AKID}/20240229/us-east-1/s3/aws4_request"
    assert query["X-Amz-Date"] == "20240229T235930Z"
    assert query["X-Amz-Expires"] == "600" and query["X-Amz-SignedHeaders"] == "host"
    lookup = {AKID: SECRET}.get

    def check(method="GET", path=parts.path, now=FIXED_EPOCH + 600):
        return verify_request(method, path, parts.query, [("Host", parts.netloc)],
                              service="s3", region="us-east-1", now=now, lookup=lookup)

    verified = check()
    assert verified is not None and verified.presigned and verified.access_key_id == AKID
    with pytest.raises(EngineError) as info:
        check(path="/photos/2024/a%20c.jpg")
    assert info.value.code == "SignatureDoesNotMatch"
    with pytest.raises(EngineError) as info:
        check(method="PUT")
    assert info.value.code == "SignatureDoesNotMatch"
    with pytest.raises(EngineError) as info:
        check(now=FIXED_EPOCH + 601)
    assert info.value.code == "AccessDenied"


def test_presigned_url_endpoint_and_method_override():
    s3 = ours(s3_endpoint_url="https://files.example.com/", region_name="eu-west-1")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "b", "Key": "k"},
                                    HttpMethod="post")
    assert url.startswith("https://files.example.com/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256")
    assert "%2Feu-west-1%2Fs3%2F" in url and "X-Amz-Expires=3600" in url
    lookup = {AKID: SECRET}.get
    parts = urlsplit(url)
    assert verify_request("POST", parts.path, parts.query, [("Host", parts.netloc)],
                          service="s3", region="eu-west-1", now=FIXED_EPOCH,
                          lookup=lookup) is not None
    default = S3Client("[::1]:7000", credentials=Credentials(AKID, SECRET))
    assert default.generate_presigned_url(
        "head_object", Params={"Bucket": "b", "Key": "k"}).startswith("http://[::1]:9000/b/k?")


def test_presigned_url_refusals():
    s3 = ours()
    with pytest.raises(ValueError, match="604800"):
        s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"},
                                  ExpiresIn=604801)
    assert "X-Amz-Expires=604800" in s3.generate_presigned_url(
        "get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=604800)
    with pytest.raises(UnknownClientMethodError, match="list_buckets"):
        s3.generate_presigned_url("list_buckets")
    with pytest.raises(ParamValidationError, match='Missing required parameter in input: "Key"'):
        s3.generate_presigned_url("get_object", Params={"Bucket": "b"})
    with pytest.raises(ParamValidationError, match='Unknown parameter in input: "Body"'):
        s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k", "Body": "x"})
    with pytest.raises(NoCredentialsError, match="Unable to locate credentials"):
        ours(credentials=None).generate_presigned_url(
            "get_object", Params={"Bucket": "b", "Key": "k"})
