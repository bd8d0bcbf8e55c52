"""The SDK without a server: conversions, chunking, StreamingBody, errors, paginators,
and the S3 client's request/response mapping over a fake in-memory channel."""

from __future__ import annotations

import io
import pickle
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from helpers_rpc import FakeRpcError

from engine.client import (
    ClientError,
    EndpointConnectionError,
    IncompleteReadError,
    OperationNotPageableError,
    PaginationError,
    ParamValidationError,
    ReadTimeoutError,
    S3Client,
    StreamingBody,
    UnknownServiceError,
    client,
    convert,
)
from engine.client.errors import error_from_rpc
from engine.client.paginate import PaginationModel, Paginator, encode_token
from engine.client.streaming import CHUNK_SIZE, body_chunks, body_length
from engine.client.transport import DEFAULT_ENDPOINT, IdleWatchdog, normalize_endpoint
from engine.config import DEFAULT_LISTEN
from engine.errors import EngineError
from engine.v1 import objects_pb2 as pb

MIB = 1024 * 1024


# -- fakes -------------------------------------------------------------------------------


class FakeStream:
    """A server-streaming call: iterates the given responses, records cancel()."""

    def __init__(self, items):
        self._items = iter(items)
        self.cancelled = False
        self.pulled = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.cancelled:
            raise FakeRpcError(grpc.StatusCode.CANCELLED, "Locally cancelled")
        item = next(self._items)
        self.pulled += 1
        if isinstance(item, Exception):
            raise item
        return item

    def cancel(self):
        self.cancelled = True
        return True


class FakePutFuture:
    """A client-streaming call: a thread consumes the request iterator like gRPC does."""

    def __init__(self, requests, respond):
        self.requests = []
        self._cancelled = threading.Event()
        self._respond = respond
        self._thread = threading.Thread(target=self._consume, args=(requests,))
        self._thread.start()

    def _consume(self, requests):
        for r in requests:
            if self._cancelled.is_set():
                return
            self.requests.append(r)

    def cancel(self):
        self._cancelled.set()
        return True

    def result(self, timeout=None):
        self._thread.join(5)
        if self._cancelled.is_set():
            raise grpc.FutureCancelledError()
        return self._respond(self.requests)


class FakeMethod:
    def __init__(self, channel, name, kind):
        self.channel, self.name, self.kind = channel, name, kind

    def __call__(self, request, timeout=None, **_kw):
        self.channel.calls.append((self.name, request))
        handler = self.channel.handlers[self.name]
        result = handler(request)
        if isinstance(result, Exception):
            raise result
        return FakeStream(result) if self.kind == "unary_stream" else result

    def future(self, requests, timeout=None, **_kw):
        fut = FakePutFuture(requests, self.channel.handlers[self.name])
        self.channel.calls.append((self.name, fut))
        return fut


class FakeChannel:
    """Enough of grpc.Channel for ObjectStoreStub; handlers answer by method name."""

    def __init__(self, **handlers):
        self.handlers = handlers
        self.calls = []
        self.closed = False

    def _method(self, path, kind):
        return FakeMethod(self, path.rsplit("/", 1)[-1], kind)

    def unary_unary(self, path, **_kw):
        return self._method(path, "unary_unary")

    def unary_stream(self, path, **_kw):
        return self._method(path, "unary_stream")

    def stream_unary(self, path, **_kw):
        return self._method(path, "stream_unary")

    def close(self):
        self.closed = True


def ts(seconds: int, nanos: int = 0) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


def info(**kw) -> pb.ObjectInfo:
    base = dict(
        bucket="b",
        key="k",
        size=5,
        etag='"abc"',
        last_modified=ts(1_700_000_000, 123_456_789),
        storage_class="STANDARD",
    )
    base.update(kw)
    return pb.ObjectInfo(**base)


# -- CopySource --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("bucket/key", ("bucket", "key", "")),
        ("/bucket/key", ("bucket", "key", "")),
        ("bucket/dir/sub/key.txt", ("bucket", "dir/sub/key.txt", "")),
        ("bucket/key?versionId=v1", ("bucket", "key", "v1")),
        ("bucket/ünï cödé%20", ("bucket", "ünï cödé%20", "")),
        ({"Bucket": "b", "Key": "k"}, ("b", "k", "")),
        ({"Bucket": "b", "Key": "a/b", "VersionId": "v9"}, ("b", "a/b", "v9")),
    ],
)
def test_parse_copy_source(source, expected):
    assert convert.parse_copy_source(source) == expected


@pytest.mark.parametrize(
    "source", ["bucket", "bucket/", "/key", "", {"Bucket": "b"}, {"Key": "k"}, 42]
)
def test_parse_copy_source_rejects(source):
    with pytest.raises(ParamValidationError):
        convert.parse_copy_source(source)


# -- request body chunking ---------------------------------------------------------------


def test_chunks_from_bytes_are_one_mib():
    data = bytes(range(256)) * (10 * 1024 + 7)  # 2.5 MiB and a bit
    chunks = list(body_chunks(data))
    assert [len(c) for c in chunks] == [MIB, MIB, len(data) - 2 * MIB]
    assert b"".join(chunks) == data
    assert body_length(data) == len(data)


def test_chunks_exact_multiple_and_empty():
    assert [len(c) for c in body_chunks(b"x" * (2 * MIB))] == [MIB, MIB]
    assert list(body_chunks(b"")) == []
    assert list(body_chunks(None)) == []
    assert body_length(None) == 0
    assert body_length(b"") == 0


def test_chunks_from_str_are_utf8():
    text = "héllo wörld ✓"
    assert b"".join(body_chunks(text)) == text.encode()
    assert body_length(text) == len(text.encode())


def test_chunks_from_bytearray_and_memoryview():
    data = bytearray(b"ab" * 1000)
    assert b"".join(body_chunks(data, 300)) == bytes(data)
    view = memoryview(bytes(range(100))).cast("B")
    assert body_length(view) == 100
    assert [len(c) for c in body_chunks(view, 30)] == [30, 30, 30, 10]


def test_chunks_from_seekable_file_start_at_current_position():
    f = io.BytesIO(b"0123456789" * 300_000)  # 3,000,000 bytes
    f.seek(1000)
    assert body_length(f) == 3_000_000 - 1000
    assert f.tell() == 1000  # measuring did not move it
    chunks = list(body_chunks(f))
    assert [len(c) for c in chunks] == [MIB, MIB, 3_000_000 - 1000 - 2 * MIB]


def test_chunks_from_real_file(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"z" * (MIB + 1))
    with open(p, "rb") as f:
        assert body_length(f) == MIB + 1
        assert [len(c) for c in body_chunks(f)] == [MIB, 1]


class PipeLike:
    """A read-only stream, like a socket or stdin pipe: no seek, no length."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)
        self.reads = []

    def read(self, n=-1):
        self.reads.append(n)
        return self._data.read(n)


def test_chunks_from_unseekable_stream_have_no_length():
    pipe = PipeLike(b"q" * (MIB + 5))
    assert body_length(pipe) is None
    assert [len(c) for c in body_chunks(pipe)] == [MIB, 5]
    assert set(pipe.reads) == {CHUNK_SIZE}  # read a chunk at a time, never everything


def test_chunks_from_text_file_are_encoded():
    f = io.StringIO("línea\n" * 3)
    assert body_length(f) is None
    assert b"".join(body_chunks(f)) == ("línea\n" * 3).encode()


def test_chunks_reject_other_types():
    with pytest.raises(ParamValidationError):
        list(body_chunks(12345))


# -- StreamingBody -----------------------------------------------------------------------


def make_body(chunks, length=None, on_close=None):
    chunks = list(chunks)
    if length is None:
        length = sum(len(c) for c in chunks)
    return StreamingBody(iter(chunks), length, on_close)


def test_body_read_all_and_amounts_across_chunks():
    body = make_body([b"abc", b"", b"defg", b"h"])
    assert body.read(2) == b"ab"
    assert body.read(4) == b"cdef"
    assert body.tell() == 6
    assert body.read() == b"gh"
    assert body.read() == b""
    assert body.read(10) == b""


def test_body_pulls_lazily():
    pulled = []

    def source():
        for i in range(100):
            pulled.append(i)
            yield b"x" * 10

    body = StreamingBody(source(), 1000)
    assert body.read(15) == b"x" * 15
    assert len(pulled) == 2  # only what the read needed


def test_body_iter_chunks_and_iteration():
    data = bytes(range(256)) * 10
    body = make_body([data[:1000], data[1000:1001], data[1001:]])
    assert [len(c) for c in body.iter_chunks(1024)] == [1024, 1024, 512]
    body = make_body([data[:700], data[700:]])
    assert b"".join(body) == data
    body = make_body([b"x" * (CHUNK_SIZE + 3)])
    assert [len(c) for c in body.iter_chunks()] == [CHUNK_SIZE, 3]
    body = make_body([b"abc"])
    assert next(body) == b"abc"
    with pytest.raises(StopIteration):
        next(body)


def test_body_iter_lines_like_botocore():
    body = make_body([b"one\ntw", b"o\r\nthr", b"ee\n\nfour"])
    assert list(body.iter_lines(chunk_size=4)) == [b"one", b"two", b"three", b"", b"four"]
    body = make_body([b"a\nb", b"\nc\n"])
    assert list(body.iter_lines(keepends=True)) == [b"a\n", b"b\n", b"c\n"]


def test_body_readline_and_readlines():
    body = make_body([b"ab", b"c\nde", b"f\ng"])
    assert body.readline() == b"abc\n"
    assert body.readline(2) == b"de"
    assert body.readline() == b"f\n"
    assert body.readline() == b"g"
    assert body.readline() == b""
    assert make_body([b"x\ny\n", b"z"]).readlines() == [b"x\n", b"y\n", b"z"]


def test_body_readinto():
    body = make_body([b"hello ", b"world"])
    buf = bytearray(8)
    assert body.readinto(buf) == 8
    assert bytes(buf) == b"hello wo"


def test_body_context_manager_closes_and_cancels():
    closed = []
    with make_body([b"abc", b"def"], on_close=lambda: closed.append(True)) as body:
        assert body.read(1) == b"a"
    assert closed == [True]
    assert body.closed
    with pytest.raises(ValueError):
        body.read()
    body.close()  # idempotent
    assert closed == [True]


def test_body_short_stream_raises_incomplete_read():
    body = make_body([b"abc"], length=10)
    with pytest.raises(IncompleteReadError) as exc:
        body.read()
    assert (exc.value.actual_bytes, exc.value.expected_bytes) == (3, 10)


def test_body_long_stream_raises_incomplete_read():
    with pytest.raises(IncompleteReadError):
        make_body([b"abcdef"], length=3).read()


def test_body_propagates_source_errors():
    def source():
        yield b"abc"
        raise RuntimeError("boom")

    body = StreamingBody(source(), 10)
    assert body.read(3) == b"abc"
    with pytest.raises(RuntimeError):
        body.read()


# -- errors ------------------------------------------------------------------------------


def test_client_error_str_and_response_like_botocore():
    err = ClientError(
        {
            "Error": {"Code": "NoSuchKey", "Message": "The specified key does not exist."},
            "ResponseMetadata": {"HTTPStatusCode": 404},
        },
        "GetObject",
    )
    assert str(err) == (
        "An error occurred (NoSuchKey) when calling the GetObject operation: "
        "The specified key does not exist."
    )
    assert err.operation_name == "GetObject"
    copy = pickle.loads(pickle.dumps(err))
    assert copy.response == err.response and str(copy) == str(err)
    assert "(Unknown)" in str(ClientError({}, "X"))


def test_error_from_rpc_service_error_is_modeled():
    exc = FakeRpcError.engine("NoSuchKey", key="a/b", bucket="bkt")
    err = error_from_rpc(exc, "GetObject")
    assert type(err).__name__ == "NoSuchKey"
    assert isinstance(err, ClientError)
    assert err.response["Error"]["Code"] == "NoSuchKey"
    assert err.response["Error"]["Message"] == "The specified key does not exist."
    assert err.response["Error"]["Key"] == "a/b"
    assert err.response["Error"]["BucketName"] == "bkt"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert str(err).startswith("An error occurred (NoSuchKey) when calling the GetObject")


def test_error_from_rpc_unmodeled_code_is_plain_client_error():
    err = error_from_rpc(FakeRpcError.engine("BucketNotEmpty"), "DeleteBucket")
    assert type(err) is ClientError
    assert err.response["Error"]["Code"] == "BucketNotEmpty"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 409


@pytest.mark.parametrize(
    ("code", "expected", "message"),
    [
        ("NoSuchKey", "404", "Not Found"),
        ("NoSuchBucket", "404", "Not Found"),
        ("PreconditionFailed", "412", "Precondition Failed"),
        ("NotModified", "304", "Not Modified"),
        ("AccessDenied", "403", "Forbidden"),
    ],
)
def test_error_from_rpc_head_has_status_as_code(code, expected, message):
    err = error_from_rpc(FakeRpcError.engine(code), "HeadObject", no_body=True)
    assert type(err) is ClientError  # "404" is no modeled exception, as in boto3
    assert err.response["Error"] == {"Code": expected, "Message": message}
    assert (
        str(err)
        == f"An error occurred ({expected}) when calling the HeadObject operation: {message}"
    )


def test_error_from_rpc_get_not_modified_is_304():
    err = error_from_rpc(FakeRpcError.engine("NotModified"), "GetObject")
    assert err.response["Error"]["Code"] == "304"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    err = error_from_rpc(FakeRpcError.engine("PreconditionFailed"), "GetObject")
    assert err.response["Error"]["Code"] == "PreconditionFailed"


def test_error_from_rpc_transport_errors():
    down = FakeRpcError(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses")
    err = error_from_rpc(down, "ListBuckets", endpoint="127.0.0.1:1")
    assert isinstance(err, EndpointConnectionError)
    assert err.response["Error"]["Code"] == "UNAVAILABLE"
    assert "127.0.0.1:1" in err.response["Error"]["Message"]
    # HEAD does not turn a transport failure into an HTTP status
    err = error_from_rpc(down, "HeadObject", no_body=True)
    assert isinstance(err, EndpointConnectionError)
    slow = FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
    assert isinstance(error_from_rpc(slow, "GetObject"), ReadTimeoutError)
    odd = FakeRpcError(grpc.StatusCode.UNKNOWN, "Exception calling application")
    err = error_from_rpc(odd, "PutObject")
    assert type(err) is ClientError and err.response["Error"]["Code"] == "UNKNOWN"


def test_service_unavailable_is_not_a_connection_error():
    err = error_from_rpc(FakeRpcError.engine("SlowDown"), "PutObject")
    assert not isinstance(err, EndpointConnectionError)
    assert err.response["Error"]["Code"] == "SlowDown"


def test_exceptions_namespace():
    s3 = S3Client(channel=FakeChannel())
    assert issubclass(s3.exceptions.NoSuchKey, ClientError)
    assert s3.exceptions.from_code("NoSuchBucket") is s3.exceptions.NoSuchBucket
    assert s3.exceptions.from_code("Whatever") is ClientError
    assert s3.exceptions.ClientError is ClientError
    for name in ("BucketAlreadyExists", "BucketAlreadyOwnedByYou", "InvalidObjectState"):
        assert issubclass(getattr(s3.exceptions, name), ClientError)
    with pytest.raises(AttributeError):
        _ = s3.exceptions.NoSuchThing


# -- dates -------------------------------------------------------------------------------


def test_dates_are_utc_aware_with_header_or_xml_resolution():
    t = ts(1_700_000_000, 987_654_321)
    header = convert.http_date(t)
    assert header == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert header.tzinfo is not None and header.utcoffset() == timedelta(0)
    listing = convert.xml_date(t)
    assert listing == datetime(2023, 11, 14, 22, 13, 20, 987_000, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2023, 11, 14, 22, 13, 20, 500_000, tzinfo=UTC),
        datetime(2023, 11, 14, 22, 13, 20),  # naive is UTC, as botocore treats it
        datetime(2023, 11, 14, 23, 13, 20, tzinfo=timezone(timedelta(hours=1))),
        "2023-11-14T22:13:20Z",
        "2023-11-14T22:13:20+00:00",
        "Tue, 14 Nov 2023 22:13:20 GMT",
        1_700_000_000,
        1_700_000_000.4,
        "1700000000",
    ],
)
def test_to_timestamp_accepts_botocore_date_forms(value):
    assert convert.to_timestamp(value) == ts(1_700_000_000)


def test_to_timestamp_rejects_garbage():
    with pytest.raises(ParamValidationError):
        convert.to_timestamp("yesterday")
    with pytest.raises(ParamValidationError):
        convert.to_timestamp(True)


def test_conditions_leave_absent_fields_unset():
    c = convert.conditions(None, None, None, None)
    assert not c.HasField("if_match") and not c.HasField("if_none_match")
    assert not c.HasField("if_modified_since") and not c.HasField("if_unmodified_since")
    c = convert.conditions('"e"', "*", 1_700_000_000, None)
    assert c.if_match == '"e"' and c.if_none_match == "*"
    assert c.if_modified_since.seconds == 1_700_000_000
    assert not c.HasField("if_unmodified_since")


def test_object_fields_omit_like_boto3():
    out = convert.object_fields(info(), checksum=False)
    assert "StorageClass" not in out and "VersionId" not in out and "ContentType" not in out
    assert out["Metadata"] == {} and out["AcceptRanges"] == "bytes"
    out = convert.object_fields(
        info(
            storage_class="STANDARD_IA",
            version_id="v1",
            checksum_crc32c="AAAAAA==",
            metadata={"a": "1"},
            headers=pb.ContentHeaders(content_type="text/plain", cache_control="no-cache"),
        ),
        checksum=True,
    )
    assert out["StorageClass"] == "STANDARD_IA" and out["VersionId"] == "v1"
    assert out["ContentType"] == "text/plain" and out["CacheControl"] == "no-cache"
    assert out["ChecksumCRC32C"] == "AAAAAA==" and out["Metadata"] == {"a": "1"}


# -- client() and transport --------------------------------------------------------------


def test_client_unknown_service():
    with pytest.raises(UnknownServiceError) as exc:
        client("dynamodb", endpoint="127.0.0.1:1")
    assert isinstance(exc.value, ValueError)
    assert "dynamodb" in str(exc.value)


def test_client_accepts_endpoint_url_and_boto_arguments():
    with client(
        "s3",
        endpoint_url="http://127.0.0.1:9/",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        timeout=3,
    ) as s3:
        assert isinstance(s3, S3Client)
    with pytest.raises(ValueError):
        client("s3", endpoint="a:1", endpoint_url="b:2")


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("127.0.0.1:50051", ("127.0.0.1:50051", False)),
        ("http://localhost:9000/", ("localhost:9000", False)),
        ("HTTPS://node.example:443", ("node.example:443", True)),
    ],
)
def test_normalize_endpoint(endpoint, expected):
    assert normalize_endpoint(endpoint) == expected


def test_normalize_endpoint_rejects_paths():
    with pytest.raises(ValueError):
        normalize_endpoint("http://host:1/some/path")


def test_default_endpoint_is_where_a_node_listens_by_default():
    # the SDK keeps its own copy: it imports nothing from the server side
    assert DEFAULT_ENDPOINT == DEFAULT_LISTEN


def test_close_and_context_manager_close_channel():
    ch = FakeChannel()
    with S3Client(channel=ch):
        pass
    assert ch.closed


def test_watchdog_expires_only_while_waiting():
    fired = []
    wd = IdleWatchdog(0.05, lambda: fired.append(1))
    wd.working()
    time.sleep(0.15)
    assert fired == [] and not wd.expired
    wd.waiting()
    deadline = time.monotonic() + 2
    while not fired and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fired == [1] and wd.expired
    wd.stop()
    never = IdleWatchdog(None, lambda: fired.append(2))
    never.stop()


# -- S3Client over a fake channel --------------------------------------------------------


def test_put_object_streams_header_then_chunks():
    def respond(requests):
        return pb.PutObjectResponse(etag='"e"', checksum_crc32c="CRC=", size=0)

    ch = FakeChannel(PutObject=respond)
    s3 = S3Client(channel=ch)
    data = b"a" * (2 * MIB + 10)
    resp = s3.put_object(
        Bucket="b",
        Key="k",
        Body=data,
        Metadata={"x": "1"},
        ContentType="text/plain",
        IfNoneMatch="*",
        StorageClass="STANDARD_IA",
    )
    assert resp["ETag"] == '"e"' and resp["ChecksumCRC32C"] == "CRC="
    assert "VersionId" not in resp
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    fut = ch.calls[0][1]
    first, *rest = fut.requests
    assert first.WhichOneof("part") == "header"
    h = first.header
    assert (h.bucket, h.key, h.content_length, dict(h.metadata)) == (
        "b",
        "k",
        len(data),
        {"x": "1"},
    )
    assert h.headers.content_type == "text/plain" and h.if_none_match == "*"
    assert not h.HasField("if_match") and h.storage_class == "STANDARD_IA"
    assert [len(r.chunk) for r in rest] == [MIB, MIB, 10]


def test_put_object_without_known_length_leaves_it_unset():
    ch = FakeChannel(PutObject=lambda reqs: pb.PutObjectResponse(etag='"e"'))
    S3Client(channel=ch).put_object(Bucket="b", Key="k", Body=PipeLike(b"abc"))
    h = ch.calls[0][1].requests[0].header
    assert not h.HasField("content_length")


def test_put_object_body_failure_cancels_and_reraises():
    class Broken:
        def __init__(self):
            self.n = 0

        def read(self, size=-1):
            self.n += 1
            if self.n > 2:
                raise OSError("disk on fire")
            return b"x" * size

    ch = FakeChannel(PutObject=lambda reqs: pb.PutObjectResponse(etag='"e"'))
    with pytest.raises(OSError, match="disk on fire"):
        S3Client(channel=ch).put_object(Bucket="b", Key="k", Body=Broken())


def test_put_object_service_error_is_client_error():
    def respond(requests):
        raise FakeRpcError.engine("NoSuchBucket", bucket="b")

    ch = FakeChannel(PutObject=respond)
    s3 = S3Client(channel=ch)
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.put_object(Bucket="b", Key="k", Body=b"x")


def get_stream(body: bytes, *, content_range="", chunk=4, **info_kw):
    header = pb.GetObjectHeader(
        info=info(size=len(body), **info_kw), content_length=len(body), content_range=content_range
    )
    msgs = [pb.GetObjectResponse(header=header)]
    msgs += [pb.GetObjectResponse(chunk=body[i : i + chunk]) for i in range(0, len(body), chunk)]
    return msgs


def test_get_object_response_and_lazy_body():
    streams = []

    def handler(req):
        items = get_stream(
            b"hello world",
            metadata={"m": "v"},
            headers=pb.ContentHeaders(content_type="text/plain"),
        )
        streams.append(items)
        return items

    ch = FakeChannel(GetObject=handler)
    s3 = S3Client(channel=ch)
    resp = s3.get_object(Bucket="b", Key="k", IfMatch='"abc"', Range="bytes=0-")
    req = ch.calls[0][1]
    assert req.range == "bytes=0-" and req.conditions.if_match == '"abc"'
    assert not req.conditions.HasField("if_none_match")
    assert resp["ContentLength"] == 11 and resp["ContentType"] == "text/plain"
    assert resp["Metadata"] == {"m": "v"} and resp["ETag"] == '"abc"'
    assert resp["LastModified"] == datetime.fromtimestamp(1_700_000_000, UTC)
    assert "StorageClass" not in resp and "ContentRange" not in resp
    assert "ChecksumCRC32C" not in resp
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["Body"].read() == b"hello world"


def test_get_object_range_is_206_with_content_range():
    ch = FakeChannel(
        GetObject=lambda req: get_stream(
            b"abc", content_range="bytes 0-2/10", storage_class="GLACIER"
        )
    )
    resp = S3Client(channel=ch).get_object(Bucket="b", Key="k", Range="bytes=0-2")
    assert resp["ContentRange"] == "bytes 0-2/10"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert resp["StorageClass"] == "GLACIER"


def test_get_object_cancel_reaches_stream():
    made = []

    class Recording(FakeChannel):
        def unary_stream(self, path, **_kw):
            method = super().unary_stream(path)

            def call(request, timeout=None, **kw):
                stream = method(request, timeout=timeout, **kw)
                made.append(stream)
                return stream

            return call

    ch = Recording(GetObject=lambda req: get_stream(b"x" * 100))
    with S3Client(channel=ch).get_object(Bucket="b", Key="k")["Body"] as body:
        body.read(10)
    assert made[0].cancelled
    assert made[0].pulled < 10  # 1 header + only the chunks needed


class StallingStream(FakeStream):
    """Sends its items, then hangs (a stuck server) until cancelled."""

    def __init__(self, items):
        super().__init__(items)
        self._gone = threading.Event()

    def __next__(self):
        try:
            return super().__next__()
        except StopIteration:
            self._gone.wait(5)
            raise FakeRpcError(grpc.StatusCode.CANCELLED, "Locally cancelled") from None

    def cancel(self):
        self._gone.set()
        return super().cancel()


def test_get_object_stalled_stream_times_out():
    class Stalling(FakeChannel):
        def unary_stream(self, path, **_kw):
            return lambda request, **kw: StallingStream(get_stream(b"x" * 8)[:2])

    s3 = S3Client(channel=Stalling(), timeout=0.1)
    body = s3.get_object(Bucket="b", Key="k")["Body"]
    time.sleep(0.3)  # the application not reading is not the server being slow
    assert body.read(4) == b"xxxx"
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        body.read()
    assert time.monotonic() - started < 2


def test_get_object_errors():
    def handler(req):
        return (
            [FakeRpcError.engine("NoSuchKey", key=req.key)]
            if req.key == "missing"
            else [FakeRpcError.engine("NotModified")]
        )

    ch = FakeChannel(GetObject=handler)
    s3 = S3Client(channel=ch)
    with pytest.raises(s3.exceptions.NoSuchKey) as exc:
        s3.get_object(Bucket="b", Key="missing")
    assert exc.value.response["Error"]["Key"] == "missing"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="b", Key="k", IfNoneMatch='"abc"')
    assert exc.value.response["Error"]["Code"] == "304"


def test_get_object_midstream_error_surfaces_on_read():
    items = [*get_stream(b"abcdefgh")[:2], FakeRpcError.engine("InternalError")]
    ch = FakeChannel(GetObject=lambda req: items)
    body = S3Client(channel=ch).get_object(Bucket="b", Key="k")["Body"]
    with pytest.raises(ClientError) as exc:
        body.read()
    assert exc.value.response["Error"]["Code"] == "InternalError"


def test_head_object_error_code_is_status():
    ch = FakeChannel(HeadObject=lambda req: FakeRpcError.engine("NoSuchKey"))
    with pytest.raises(ClientError) as exc:
        S3Client(channel=ch).head_object(Bucket="b", Key="k")
    assert exc.value.response["Error"]["Code"] == "404"
    assert exc.value.operation_name == "HeadObject"


def test_head_object_response():
    ch = FakeChannel(
        HeadObject=lambda req: pb.HeadObjectResponse(
            info=info(checksum_crc32c="Q=="), content_length=5
        )
    )
    resp = S3Client(channel=ch).head_object(Bucket="b", Key="k", ChecksumMode="ENABLED")
    assert "Body" not in resp and resp["ContentLength"] == 5
    assert resp["ChecksumCRC32C"] == "Q=="


def test_copy_object_request_and_response():
    ch = FakeChannel(
        CopyObject=lambda req: pb.CopyObjectResponse(
            etag='"c"', last_modified=ts(1_700_000_000, 5_000_000)
        )
    )
    s3 = S3Client(channel=ch)
    resp = s3.copy_object(
        Bucket="d",
        Key="dk",
        CopySource="s/sk?versionId=v2",
        MetadataDirective="REPLACE",
        Metadata={"n": "1"},
        ContentType="a/b",
        CopySourceIfMatch='"x"',
    )
    req = ch.calls[0][1]
    assert (req.source_bucket, req.source_key, req.source_version_id) == ("s", "sk", "v2")
    assert req.metadata_directive == "REPLACE" and dict(req.metadata) == {"n": "1"}
    assert req.headers.content_type == "a/b" and req.source_conditions.if_match == '"x"'
    assert resp["CopyObjectResult"]["ETag"] == '"c"'
    assert resp["CopyObjectResult"]["LastModified"].tzinfo is not None
    assert "VersionId" not in resp


def test_delete_objects_omits_empty_lists():
    ch = FakeChannel(
        DeleteObjects=lambda req: pb.DeleteObjectsResponse(
            deleted=[pb.DeletedObject(key="a")],
            errors=[pb.DeleteError(key="b", code="AccessDenied", message="Access Denied")],
        )
    )
    s3 = S3Client(channel=ch)
    resp = s3.delete_objects(
        Bucket="b",
        Delete={"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "v"}], "Quiet": True},
    )
    req = ch.calls[0][1]
    assert [o.key for o in req.objects] == ["a", "b"] and req.objects[1].version_id == "v"
    assert req.quiet
    assert resp["Deleted"] == [{"Key": "a"}]
    assert resp["Errors"] == [{"Key": "b", "Code": "AccessDenied", "Message": "Access Denied"}]
    ch.handlers["DeleteObjects"] = lambda req: pb.DeleteObjectsResponse()
    resp = s3.delete_objects(Bucket="b", Delete={"Objects": [{"Key": "a"}]})
    assert "Deleted" not in resp and "Errors" not in resp


def test_status_codes_of_bucket_and_delete_calls():
    ch = FakeChannel(
        DeleteObject=lambda req: pb.DeleteObjectResponse(),
        DeleteBucket=lambda req: pb.DeleteBucketResponse(),
        CreateBucket=lambda req: pb.CreateBucketResponse(location="/b"),
        HeadBucket=lambda req: pb.HeadBucketResponse(bucket_region="local"),
        ListBuckets=lambda req: pb.ListBucketsResponse(
            buckets=[pb.Bucket(name="b", creation_date=ts(1_700_000_000))],
            owner_id="id",
            owner_display_name="me",
        ),
    )
    s3 = S3Client(channel=ch)
    assert s3.delete_object(Bucket="b", Key="k") == {
        "ResponseMetadata": {"HTTPStatusCode": 204, "HTTPHeaders": {}, "RetryAttempts": 0}
    }
    assert s3.delete_bucket(Bucket="b")["ResponseMetadata"]["HTTPStatusCode"] == 204
    created = s3.create_bucket(Bucket="b", CreateBucketConfiguration={"LocationConstraint": "eu"})
    assert created["Location"] == "/b"
    assert ch.calls[-1][1].location_constraint == "eu"
    assert s3.head_bucket(Bucket="b")["BucketRegion"] == "local"
    listing = s3.list_buckets()
    assert listing["Buckets"] == [
        {"Name": "b", "CreationDate": datetime.fromtimestamp(1_700_000_000, UTC)}
    ]
    assert listing["Owner"] == {"DisplayName": "me", "ID": "id"}


def test_list_objects_v2_shape():
    def handler(req):
        return pb.ListObjectsV2Response(
            name=req.bucket,
            prefix=req.prefix,
            delimiter=req.delimiter,
            max_keys=2,
            key_count=2,
            is_truncated=True,
            next_continuation_token="tok",
            contents=[
                pb.ObjectSummary(
                    key="a/x",
                    etag='"1"',
                    size=3,
                    last_modified=ts(1_700_000_000),
                    storage_class="STANDARD",
                )
            ],
            common_prefixes=["a/b/"],
        )

    ch = FakeChannel(ListObjectsV2=handler)
    s3 = S3Client(channel=ch)
    resp = s3.list_objects_v2(Bucket="bk", Prefix="a/", Delimiter="/", MaxKeys=2)
    assert ch.calls[0][1].max_keys == 2
    assert resp["Name"] == "bk" and resp["Prefix"] == "a/" and resp["Delimiter"] == "/"
    assert resp["KeyCount"] == 2 and resp["IsTruncated"] is True and resp["MaxKeys"] == 2
    assert resp["NextContinuationToken"] == "tok"
    assert resp["CommonPrefixes"] == [{"Prefix": "a/b/"}]
    assert resp["Contents"][0]["Key"] == "a/x" and resp["Contents"][0]["StorageClass"] == "STANDARD"
    assert "ContinuationToken" not in resp and "StartAfter" not in resp
    ch.handlers["ListObjectsV2"] = lambda req: pb.ListObjectsV2Response(name="bk", max_keys=1000)
    resp = s3.list_objects_v2(Bucket="bk")
    assert not ch.calls[-1][1].HasField("max_keys")
    assert "Contents" not in resp and "CommonPrefixes" not in resp and "Delimiter" not in resp
    assert resp["Prefix"] == ""


# -- paginators --------------------------------------------------------------------------

MODEL = PaginationModel(
    "ContinuationToken",
    "NextContinuationToken",
    "IsTruncated",
    "MaxKeys",
    ("Contents", "CommonPrefixes"),
)


class FakeLister:
    """list_objects_v2 over a sorted key list, token = index of the next key."""

    def __init__(self, keys, prefixes=()):
        self.keys = keys
        self.prefixes = list(prefixes)
        self.calls = []

    def __call__(self, **kw):
        self.calls.append(kw)
        start = int(kw.get("ContinuationToken") or 0)
        size = kw.get("MaxKeys", 1000)
        items = self.keys[start : start + size]
        more = start + size < len(self.keys)
        page = {
            "Contents": [{"Key": k} for k in items],
            "IsTruncated": more,
            "KeyCount": len(items),
        }
        if start == 0 and self.prefixes:
            page["CommonPrefixes"] = [{"Prefix": p} for p in self.prefixes]
        if more:
            page["NextContinuationToken"] = str(start + size)
        return page


def keys_of(pages):
    return [c["Key"] for p in pages for c in p.get("Contents", [])]


def test_paginator_follows_tokens_with_page_size():
    lister = FakeLister([f"k{i:02d}" for i in range(7)])
    pages = list(Paginator(lister, MODEL).paginate(Bucket="b", PaginationConfig={"PageSize": 3}))
    assert [len(p["Contents"]) for p in pages] == [3, 3, 1]
    assert keys_of(pages) == lister.keys
    assert [c.get("ContinuationToken") for c in lister.calls] == [None, "3", "6"]
    assert all(c["MaxKeys"] == 3 and c["Bucket"] == "b" for c in lister.calls)


def test_paginator_max_items_truncates_and_resumes():
    lister = FakeLister([f"k{i:02d}" for i in range(10)], prefixes=["p/"])
    it = Paginator(lister, MODEL).paginate(
        Bucket="b", PaginationConfig={"PageSize": 4, "MaxItems": 6}
    )
    pages = list(it)
    assert keys_of(pages) == lister.keys[:6]
    assert it.resume_token is not None
    rest = Paginator(lister, MODEL).paginate(
        Bucket="b", PaginationConfig={"PageSize": 4, "StartingToken": it.resume_token}
    )
    rest_pages = list(rest)
    assert keys_of(rest_pages) == lister.keys[6:]
    assert "CommonPrefixes" not in rest_pages[0] or rest_pages[0]["CommonPrefixes"] == []


def test_paginator_max_items_on_page_boundary():
    lister = FakeLister([f"k{i}" for i in range(8)])
    it = Paginator(lister, MODEL).paginate(
        Bucket="b", PaginationConfig={"PageSize": 4, "MaxItems": 4}
    )
    assert keys_of(it) == lister.keys[:4]
    rest = Paginator(lister, MODEL).paginate(
        Bucket="b", PaginationConfig={"StartingToken": it.resume_token}
    )
    assert keys_of(rest) == lister.keys[4:]


def test_paginator_accepts_raw_service_token():
    lister = FakeLister([f"k{i}" for i in range(5)])
    it = Paginator(lister, MODEL).paginate(Bucket="b", PaginationConfig={"StartingToken": "2"})
    assert keys_of(it) == lister.keys[2:]


def test_paginator_build_full_result():
    lister = FakeLister([f"k{i}" for i in range(5)], prefixes=["p/"])
    result = (
        Paginator(lister, MODEL)
        .paginate(Bucket="b", PaginationConfig={"PageSize": 2, "MaxItems": 3})
        .build_full_result()
    )
    assert [c["Key"] for c in result["Contents"]] == ["k0", "k1", "k2"]
    assert result["CommonPrefixes"] == [{"Prefix": "p/"}]
    assert "NextToken" in result


def test_paginator_detects_repeated_token():
    def stuck(**kw):
        return {"Contents": [{"Key": "a"}], "IsTruncated": True, "NextContinuationToken": "same"}

    with pytest.raises(PaginationError):
        list(Paginator(stuck, MODEL).paginate(Bucket="b"))


def test_paginator_bad_config():
    with pytest.raises(ParamValidationError):
        Paginator(FakeLister([]), MODEL).paginate(Bucket="b", PaginationConfig={"Bogus": 1})
    with pytest.raises(ParamValidationError):
        Paginator(FakeLister([]), MODEL).paginate(Bucket="b", PaginationConfig={"PageSize": "x"})


def test_get_paginator_names():
    s3 = S3Client(channel=FakeChannel())
    assert s3.can_paginate("list_objects_v2")
    assert not s3.can_paginate("get_object")
    assert isinstance(s3.get_paginator("list_objects_v2"), Paginator)
    with pytest.raises(OperationNotPageableError) as exc:
        s3.get_paginator("get_object")
    assert isinstance(exc.value, ValueError)


def test_encode_token_round_trip():
    from engine.client.paginate import decode_token

    token = encode_token({"ContinuationToken": "abc", "boto_truncate_amount": 3})
    assert decode_token(token, "ContinuationToken") == ({"ContinuationToken": "abc"}, 3)


def test_delete_objects_validates_params_before_sending():
    ch = FakeChannel()
    s3 = S3Client(channel=ch)
    with pytest.raises(ParamValidationError):
        s3.delete_objects(Bucket="b", Delete={})
    with pytest.raises(ParamValidationError):
        s3.delete_objects(Bucket="b", Delete={"Objects": [{"VersionId": "v"}]})
    assert ch.calls == []


def test_error_with_contradictory_status_detail_still_decodes():
    err = EngineError("NoSuchKey")
    exc = FakeRpcError(grpc.StatusCode.INTERNAL, "other", err.to_rpc_status().SerializeToString())
    decoded = error_from_rpc(exc, "GetObject")  # the detail is ignored, the status kept
    assert type(decoded) is ClientError
    assert decoded.response["Error"]["Code"] == "INTERNAL"


def test_client_endpoint_is_keyword_only():
    with pytest.raises(TypeError):
        client("s3", "us-east-1")  # boto3's second positional is the region: refuse, clearly


# -- versioning, multipart, tagging, restore, lifecycle over a fake channel ---------------


def test_paginator_with_two_tokens_drops_a_stale_marker():
    """ListObjectVersions continues from (NextKeyMarker, NextVersionIdMarker); an absent
    NextVersionIdMarker (a page ending on a common prefix) must not resend the old one."""
    pages = {
        (None, None): {"Versions": [{"Key": "a"}], "IsTruncated": True,
                       "NextKeyMarker": "a", "NextVersionIdMarker": "v1"},
        ("a", "v1"): {"Versions": [{"Key": "b"}], "IsTruncated": True, "NextKeyMarker": "p/"},
        ("p/", None): {"Versions": [{"Key": "c"}], "IsTruncated": False},
    }
    calls = []

    def lister(**kw):
        calls.append(kw)
        return pages[(kw.get("KeyMarker"), kw.get("VersionIdMarker"))]

    model = PaginationModel(("KeyMarker", "VersionIdMarker"),
                            ("NextKeyMarker", "NextVersionIdMarker"), "IsTruncated", "MaxKeys",
                            ("Versions", "DeleteMarkers", "CommonPrefixes"))
    got = [v["Key"] for p in Paginator(lister, model).paginate(Bucket="b") for v in p["Versions"]]
    assert got == ["a", "b", "c"]
    assert "VersionIdMarker" not in calls[2]
    it = Paginator(lister, model).paginate(Bucket="b", PaginationConfig={"MaxItems": 1})
    assert [v["Key"] for p in it for v in p["Versions"]] == ["a"]
    rest = Paginator(lister, model).paginate(
        Bucket="b", PaginationConfig={"StartingToken": it.resume_token})
    assert [v["Key"] for p in rest for v in p["Versions"]] == ["b", "c"]


def test_list_object_versions_splits_versions_and_markers():
    def handler(req):
        return pb.ListObjectVersionsResponse(
            name=req.bucket, max_keys=3, is_truncated=True, key_marker=req.key_marker,
            next_key_marker="k", next_version_id_marker="null",
            versions=[
                pb.ObjectVersionSummary(key="k", version_id="m1", is_latest=True,
                                        delete_marker=True, last_modified=ts(1_700_000_000)),
                pb.ObjectVersionSummary(key="k", version_id="null", etag='"e"', size=3,
                                        storage_class="STANDARD",
                                        last_modified=ts(1_700_000_000, 5_000_000)),
            ],
        )

    ch = FakeChannel(ListObjectVersions=handler)
    s3 = S3Client(channel=ch)
    resp = s3.list_object_versions(Bucket="b", KeyMarker="a", MaxKeys=3)
    req = ch.calls[0][1]
    assert req.key_marker == "a" and req.max_keys == 3 and not req.version_id_marker
    assert resp["DeleteMarkers"] == [{"Key": "k", "VersionId": "m1", "IsLatest": True,
                                      "LastModified": datetime.fromtimestamp(1_700_000_000, UTC)}]
    [version] = resp["Versions"]
    assert version["VersionId"] == "null" and version["IsLatest"] is False
    assert version["ETag"] == '"e"' and version["Size"] == 3
    assert version["LastModified"].microsecond == 5000
    assert (resp["NextKeyMarker"], resp["NextVersionIdMarker"]) == ("k", "null")
    assert resp["KeyMarker"] == "a" and resp["VersionIdMarker"] == ""
    assert "CommonPrefixes" not in resp and "Delimiter" not in resp
    assert s3.can_paginate("list_object_versions") and s3.can_paginate("list_parts")
    assert s3.can_paginate("list_multipart_uploads")


def test_versioning_calls():
    ch = FakeChannel(PutBucketVersioning=lambda req: pb.PutBucketVersioningResponse(),
                     GetBucketVersioning=lambda req: pb.GetBucketVersioningResponse())
    s3 = S3Client(channel=ch)
    s3.put_bucket_versioning(Bucket="b", VersioningConfiguration={"Status": "Suspended",
                                                                  "MFADelete": "Disabled"})
    req = ch.calls[0][1]
    assert (req.bucket, req.status, req.mfa_delete) == ("b", "Suspended", "Disabled")
    assert "Status" not in s3.get_bucket_versioning(Bucket="b")
    with pytest.raises(ParamValidationError, match='Unknown parameter in '
                       'VersioningConfiguration: "status"'):
        s3.put_bucket_versioning(Bucket="b", VersioningConfiguration={"status": "Enabled"})
    assert len(ch.calls) == 2


def test_delete_object_reports_markers():
    ch = FakeChannel(DeleteObject=lambda req: pb.DeleteObjectResponse(delete_marker=True,
                                                                       version_id="m"))
    resp = S3Client(channel=ch).delete_object(Bucket="b", Key="k")
    assert resp["DeleteMarker"] is True and resp["VersionId"] == "m"


def test_get_and_head_part_number_and_new_fields():
    ch = FakeChannel(
        GetObject=lambda req: get_stream(b"abc", content_range="bytes 0-2/9", parts_count=3,
                                         restore='ongoing-request="true"', tag_count=2),
        HeadObject=lambda req: pb.HeadObjectResponse(info=info(tag_count=2, parts_count=3),
                                                     content_length=3),
    )
    s3 = S3Client(channel=ch)
    got = s3.get_object(Bucket="b", Key="k", PartNumber=1)
    assert ch.calls[0][1].part_number == 1
    assert got["PartsCount"] == 3 and got["TagCount"] == 2
    assert got["Restore"] == 'ongoing-request="true"'
    head = s3.head_object(Bucket="b", Key="k", PartNumber=2)
    assert ch.calls[1][1].part_number == 2
    assert head["PartsCount"] == 3 and "TagCount" not in head and "Restore" not in head
    s3.get_object(Bucket="b", Key="k")
    assert ch.calls[2][1].part_number == 0


def test_put_and_copy_send_tagging():
    ch = FakeChannel(PutObject=lambda reqs: pb.PutObjectResponse(etag='"e"'),
                     CopyObject=lambda req: pb.CopyObjectResponse(etag='"c"'))
    s3 = S3Client(channel=ch)
    s3.put_object(Bucket="b", Key="k", Body=b"x", Tagging="a=1&b=2")
    assert ch.calls[0][1].requests[0].header.tagging == "a=1&b=2"
    s3.copy_object(Bucket="b", Key="d", CopySource="b/k", TaggingDirective="REPLACE",
                   Tagging="c=3")
    req = ch.calls[1][1]
    assert (req.tagging_directive, req.tagging) == ("REPLACE", "c=3")


def test_multipart_requests_and_responses():
    ch = FakeChannel(
        CreateMultipartUpload=lambda req: pb.CreateMultipartUploadResponse(
            bucket=req.bucket, key=req.key, upload_id="u1"),
        UploadPart=lambda reqs: pb.UploadPartResponse(etag='"p"', checksum_crc32c="AAAAAA=="),
        UploadPartCopy=lambda req: pb.UploadPartCopyResponse(
            etag='"pc"', last_modified=ts(1_700_000_000), copy_source_version_id="sv"),
        CompleteMultipartUpload=lambda req: pb.CompleteMultipartUploadResponse(
            location="/b/k", bucket="b", key="k", etag='"x-2"', version_id="v"),
        AbortMultipartUpload=lambda req: pb.AbortMultipartUploadResponse(),
    )
    s3 = S3Client(channel=ch)
    created = s3.create_multipart_upload(Bucket="b", Key="k", ContentType="t/x",
                                         Metadata={"m": "1"}, StorageClass="GLACIER",
                                         Tagging="a=1")
    assert created["UploadId"] == "u1" and created["Bucket"] == "b" and created["Key"] == "k"
    req = ch.calls[0][1]
    assert req.headers.content_type == "t/x" and req.tagging == "a=1"
    assert req.storage_class == "GLACIER" and dict(req.metadata) == {"m": "1"}

    data = b"z" * (MIB + 1)
    part = s3.upload_part(Bucket="b", Key="k", UploadId="u1", PartNumber=7, Body=data,
                          ContentMD5="bWQ1")
    assert part["ETag"] == '"p"' and part["ChecksumCRC32C"] == "AAAAAA=="
    first, *chunks = ch.calls[1][1].requests
    h = first.header
    assert (h.upload_id, h.part_number, h.content_length, h.content_md5) == (
        "u1", 7, len(data), "bWQ1")
    assert [len(c.chunk) for c in chunks] == [MIB, 1]

    copied = s3.upload_part_copy(Bucket="b", Key="k", UploadId="u1", PartNumber=2,
                                 CopySource="src/key?versionId=v9", CopySourceRange="bytes=0-9",
                                 CopySourceIfNoneMatch='"x"')
    req = ch.calls[2][1]
    assert (req.source_bucket, req.source_key, req.source_version_id) == ("src", "key", "v9")
    assert req.source_range == "bytes=0-9" and req.source_conditions.if_none_match == '"x"'
    assert copied["CopySourceVersionId"] == "sv"
    assert copied["CopyPartResult"]["ETag"] == '"pc"'

    done = s3.complete_multipart_upload(
        Bucket="b", Key="k", UploadId="u1",
        MultipartUpload={"Parts": [{"ETag": '"p"', "PartNumber": 1},
                                   {"ETag": '"q"', "PartNumber": 2}]})
    req = ch.calls[3][1]
    assert [(p.part_number, p.etag) for p in req.parts] == [(1, '"p"'), (2, '"q"')]
    assert done == {"ResponseMetadata": done["ResponseMetadata"], "Location": "/b/k",
                    "Bucket": "b", "Key": "k", "ETag": '"x-2"', "VersionId": "v"}
    aborted = s3.abort_multipart_upload(Bucket="b", Key="k", UploadId="u1")
    assert aborted["ResponseMetadata"]["HTTPStatusCode"] == 204

    calls = len(ch.calls)
    for bad in ({"Parts": [{"PartNumber": "1", "ETag": "e"}]}, {"Parts": {}},
                {"Part": []}, {"Parts": [{"PartNumber": True}]}):
        with pytest.raises(ParamValidationError):
            s3.complete_multipart_upload(Bucket="b", Key="k", UploadId="u", MultipartUpload=bad)
    assert len(ch.calls) == calls


def test_list_parts_and_uploads_shapes():
    ch = FakeChannel(
        ListParts=lambda req: pb.ListPartsResponse(
            bucket="b", key="k", upload_id="u", part_number_marker=req.part_number_marker,
            next_part_number_marker=3, max_parts=2, is_truncated=True,
            parts=[pb.PartSummary(part_number=2, etag='"e"', size=5,
                                  last_modified=ts(1_700_000_000))],
            storage_class="STANDARD"),
        ListMultipartUploads=lambda req: pb.ListMultipartUploadsResponse(
            bucket="b", prefix=req.prefix, delimiter=req.delimiter, max_uploads=1000,
            uploads=[pb.UploadSummary(upload_id="u", key="k", initiated=ts(1_700_000_000),
                                      storage_class="GLACIER")],
            common_prefixes=["d/"]),
    )
    s3 = S3Client(channel=ch)
    parts = s3.list_parts(Bucket="b", Key="k", UploadId="u", PartNumberMarker=1, MaxParts=2)
    assert ch.calls[0][1].part_number_marker == 1 and ch.calls[0][1].max_parts == 2
    assert parts["Parts"] == [{"PartNumber": 2, "ETag": '"e"', "Size": 5,
                               "LastModified": datetime.fromtimestamp(1_700_000_000, UTC)}]
    assert (parts["PartNumberMarker"], parts["NextPartNumberMarker"]) == (1, 3)
    assert parts["IsTruncated"] is True and parts["MaxParts"] == 2
    uploads = s3.list_multipart_uploads(Bucket="b", Delimiter="/")
    assert not ch.calls[1][1].HasField("max_uploads")
    assert uploads["Uploads"][0]["StorageClass"] == "GLACIER"
    assert uploads["CommonPrefixes"] == [{"Prefix": "d/"}] and uploads["Delimiter"] == "/"
    assert uploads["IsTruncated"] is False and uploads["NextKeyMarker"] == ""


def test_tagging_calls_keep_order_and_duplicates():
    ch = FakeChannel(
        PutObjectTagging=lambda req: pb.PutObjectTaggingResponse(version_id="v"),
        GetObjectTagging=lambda req: pb.GetObjectTaggingResponse(
            tags=[pb.Tag(key="a", value="1")]),
        DeleteObjectTagging=lambda req: pb.DeleteObjectTaggingResponse(),
    )
    s3 = S3Client(channel=ch)
    resp = s3.put_object_tagging(Bucket="b", Key="k", VersionId="v", Tagging={"TagSet": [
        {"Key": "x", "Value": "1"}, {"Key": "x", "Value": "2"}]})
    assert [(t.key, t.value) for t in ch.calls[0][1].tags] == [("x", "1"), ("x", "2")]
    assert ch.calls[0][1].version_id == "v" and resp["VersionId"] == "v"
    got = s3.get_object_tagging(Bucket="b", Key="k")
    assert got["TagSet"] == [{"Key": "a", "Value": "1"}] and "VersionId" not in got
    deleted = s3.delete_object_tagging(Bucket="b", Key="k")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ParamValidationError) as exc:
        s3.put_object_tagging(Bucket="b", Key="k", Tagging={"TagSet": [{"Key": "a"}, {}]})
    message = str(exc.value)
    assert message.startswith("Parameter validation failed:\n")
    assert 'Missing required parameter in Tagging.TagSet[0]: "Value"' in message
    assert 'Missing required parameter in Tagging.TagSet[1]: "Key"' in message
    assert len(ch.calls) == 3


def test_restore_object_status_and_request():
    answers = iter([False, True])
    ch = FakeChannel(RestoreObject=lambda req: pb.RestoreObjectResponse(
        already_restored=next(answers)))
    s3 = S3Client(channel=ch)
    started = s3.restore_object(Bucket="b", Key="k", RestoreRequest={
        "Days": 2, "GlacierJobParameters": {"Tier": "Expedited"}})
    assert started["ResponseMetadata"]["HTTPStatusCode"] == 202
    req = ch.calls[0][1]
    assert req.days == 2 and req.tier == "Expedited"
    extended = s3.restore_object(Bucket="b", Key="k", VersionId="v")
    assert extended["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert not ch.calls[1][1].HasField("days") and ch.calls[1][1].version_id == "v"
    with pytest.raises(ParamValidationError):
        s3.restore_object(Bucket="b", Key="k", RestoreRequest={"GlacierJobParameters": {}})
    with pytest.raises(ParamValidationError):
        s3.restore_object(Bucket="b", Key="k", RestoreRequest={"Days": "2"})


LIFECYCLE = {
    "Rules": [
        {
            "ID": "logs",
            "Status": "Enabled",
            "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "t", "Value": "1"}],
                               "ObjectSizeGreaterThan": 0}},
            "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"},
                            {"Days": 90, "StorageClass": "GLACIER"}],
            "Expiration": {"Days": 365},
            "NoncurrentVersionTransitions": [{"NoncurrentDays": 10, "StorageClass": "GLACIER",
                                              "NewerNoncurrentVersions": 2}],
            "NoncurrentVersionExpiration": {"NoncurrentDays": 40},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        },
        {"Status": "Disabled", "Filter": {}, "Expiration": {"ExpiredObjectDeleteMarker": True}},
        {"Status": "Enabled", "Prefix": "", "Expiration": {"Days": 0}},
        {"Status": "Enabled", "Filter": {"Tag": {"Key": "a", "Value": ""}},
         "Expiration": {"Days": 1}},
        {"Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}},
    ]
}


def test_lifecycle_dicts_round_trip_with_absent_and_zero_kept_apart():
    from engine.client import lifecycle

    msg = lifecycle.to_proto(LIFECYCLE)
    assert msg.rules[2].HasField("prefix") and msg.rules[2].expiration.HasField("days")
    assert not msg.rules[1].expiration.HasField("days")
    assert msg.rules[1].HasField("filter") and not msg.rules[0].HasField("prefix")
    assert lifecycle.to_dict(msg) == LIFECYCLE["Rules"]

    ch = FakeChannel(
        PutBucketLifecycleConfiguration=lambda req: pb.PutBucketLifecycleConfigurationResponse(),
        GetBucketLifecycleConfiguration=lambda req: pb.GetBucketLifecycleConfigurationResponse(
            configuration=msg),
        DeleteBucketLifecycle=lambda req: pb.DeleteBucketLifecycleResponse(),
    )
    s3 = S3Client(channel=ch)
    s3.put_bucket_lifecycle_configuration(Bucket="b", LifecycleConfiguration=LIFECYCLE)
    assert ch.calls[0][1].configuration == msg
    assert s3.get_bucket_lifecycle_configuration(Bucket="b")["Rules"] == LIFECYCLE["Rules"]
    assert s3.delete_bucket_lifecycle(Bucket="b")["ResponseMetadata"]["HTTPStatusCode"] == 204


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, 'Missing required parameter in LifecycleConfiguration: "Rules"'),
        ({"Rules": [{"ID": "x"}]},
         'Missing required parameter in LifecycleConfiguration.Rules[0]: "Status"'),
        ({"Rules": [{"Status": "Enabled", "Expire": {}}]},
         'Unknown parameter in LifecycleConfiguration.Rules[0]: "Expire", must be one of: '),
        ({"Rules": [{"Status": "Enabled", "Expiration": {"Days": "3"}}]},
         "Invalid type for parameter LifecycleConfiguration.Rules[0].Expiration.Days"),
        ({"Rules": [{"Status": "Enabled", "Filter": {"Tag": {"Key": "k"}}}]},
         'Missing required parameter in LifecycleConfiguration.Rules[0].Filter.Tag: "Value"'),
        ({"Rules": [{"Status": "Enabled", "Expiration": {"Date": "2030-01-01"}}]},
         "LifecycleConfiguration.Rules[0].Expiration.Date is not supported"),
    ],
)
def test_lifecycle_validation_like_botocore(config, message):
    ch = FakeChannel()
    with pytest.raises(ParamValidationError) as exc:
        S3Client(channel=ch).put_bucket_lifecycle_configuration(
            Bucket="b", LifecycleConfiguration=config)
    assert message in str(exc.value)
    assert ch.calls == []


def test_new_modeled_exceptions():
    s3 = S3Client(channel=FakeChannel())
    for name in ("NoSuchUpload", "ObjectAlreadyInActiveTierError", "InvalidObjectState",
                 "TooManyParts"):
        assert issubclass(getattr(s3.exceptions, name), ClientError)
    err = error_from_rpc(FakeRpcError.engine("NoSuchUpload", upload_id="u"), "ListParts")
    assert isinstance(err, s3.exceptions.NoSuchUpload)
    assert err.response["Error"]["UploadId"] == "u"


# -- transfer manager over a fake client ----------------------------------------------------


class FakeTransferClient:
    """The S3Client methods the transfer manager calls, over an in-memory store."""

    def __init__(self, objects=None, *, part_delay=0.0, fail_part=None):
        self.objects = dict(objects or {})
        self.part_delay = part_delay
        self.fail_part = fail_part
        self.lock = threading.Lock()
        self.events = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.parts = {}
        self.gets = []

    def _log(self, *event):
        with self.lock:
            self.events.append(event)

    def put_object(self, *, Bucket, Key, Body, ContentLength=None, **extra):
        data = Body.read()
        self.objects[Key] = data
        self._log("put", Key, len(data), extra)
        return {"ETag": '"e"'}

    def create_multipart_upload(self, *, Bucket, Key, **extra):
        self._log("create", Key, extra)
        return {"UploadId": "u"}

    def upload_part(self, *, Bucket, Key, UploadId, PartNumber, Body, ContentLength):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            data = Body.read(-1)
            time.sleep(self.part_delay)
            if PartNumber == self.fail_part:
                raise OSError(f"part {PartNumber} failed")
            with self.lock:  # CountingReader sums the parts from another thread
                self.parts[PartNumber] = data
            self._log("part", PartNumber, len(data))
            return {"ETag": f'"p{PartNumber}"'}
        finally:
            with self.lock:
                self.in_flight -= 1

    def complete_multipart_upload(self, *, Bucket, Key, UploadId, MultipartUpload):
        numbers = [p["PartNumber"] for p in MultipartUpload["Parts"]]
        self.objects[Key] = b"".join(self.parts[n] for n in numbers)
        self._log("complete", numbers)

    def abort_multipart_upload(self, *, Bucket, Key, UploadId):
        self._log("abort", self.in_flight)

    def head_object(self, *, Bucket, Key, **extra):
        return {"ContentLength": len(self.objects[Key]), "ETag": '"etag"'}

    def get_object(self, *, Bucket, Key, Range=None, **extra):
        data = self.objects[Key]
        first, last = 0, len(data) - 1
        if Range:
            first, last = (int(x) for x in Range.removeprefix("bytes=").split("-"))
        self.gets.append((Range, extra))
        piece = data[first : last + 1]
        chunks = [piece[i : i + 1000] for i in range(0, len(piece), 1000)]
        return {"Body": StreamingBody(self._chunks(chunks), len(piece))}

    def _chunks(self, chunks):
        yield from chunks


class CountingReader(io.RawIOBase):
    """A stream that records how far ahead of the finished parts it has been read."""

    def __init__(self, data, fake):
        super().__init__()
        self.data = memoryview(data)
        self.pos = 0
        self.fake = fake
        self.max_ahead = 0

    def readable(self):
        return True

    def seekable(self):
        return False

    def readinto(self, buffer):
        n = min(len(buffer), len(self.data) - self.pos)
        buffer[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        with self.fake.lock:  # parts are added by the upload's worker threads
            done = sum(len(p) for p in self.fake.parts.values())
        self.max_ahead = max(self.max_ahead, self.pos - done)
        return n


def test_part_size_like_s3transfer():
    from engine.client.transfer import MAX_PART_SIZE, MIN_PART_SIZE, part_size

    assert part_size(8 * MIB, 100 * MIB) == 8 * MIB
    assert part_size(1 * MIB, None) == MIN_PART_SIZE
    assert part_size(8 * MIB, 200_000 * MIB) == 32 * MIB  # 10,000 parts at most
    assert part_size(10 * 1024 * MIB, None) == MAX_PART_SIZE
    from engine.client import TransferConfig

    assert TransferConfig().multipart_threshold == 8 * MIB
    assert TransferConfig().max_concurrency == 10 and TransferConfig().use_threads
    with pytest.raises(ValueError):
        TransferConfig(max_concurrency=0)


def test_upload_keeps_at_most_max_concurrency_parts_in_memory():
    from engine.client import TransferConfig, transfer

    data = bytes(range(256)) * (40 * 5 * MIB // 256)  # 40 parts of 5 MiB
    fake = FakeTransferClient(part_delay=0.01)
    reader = CountingReader(data, fake)
    progress = []
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB,
                            max_concurrency=3)
    transfer.upload(fake, reader, "b", "k", {"Tagging": "a=1"}, progress.append, config)
    assert fake.objects["k"] == data
    assert fake.events[0] == ("create", "k", {"Tagging": "a=1"})
    assert fake.events[-1] == ("complete", list(range(1, 41)))
    assert 2 <= fake.max_in_flight <= 3  # parallel, never more than max_concurrency
    # Read ahead of the finished parts: the parts in flight, plus what the pipe-threshold
    # probe buffered, never the whole stream.
    assert reader.max_ahead <= 5 * 5 * MIB
    assert sum(progress) == len(data)


def test_failed_part_aborts_after_the_parts_in_flight():
    from engine.client import TransferConfig, transfer

    fake = FakeTransferClient(part_delay=0.02, fail_part=2)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB,
                            max_concurrency=4)
    data = b"x" * (20 * 5 * MIB)
    reader = CountingReader(data, fake)
    with pytest.raises(OSError, match="part 2 failed"):
        transfer.upload(fake, reader, "b", "k", None, None, config)
    assert fake.events[-1] == ("abort", 0)  # nothing was still uploading
    assert not [e for e in fake.events if e[0] == "complete"]
    assert reader.pos < len(data)  # reading stopped soon after the failure
    with pytest.raises(ValueError, match="Invalid extra_args key"):
        transfer.upload(fake, io.BytesIO(b"x"), "b", "k", {"SSECustomerKey": "x"}, None,
                        config)


def test_small_upload_is_one_put():
    from engine.client import transfer

    fake = FakeTransferClient()
    progress = []
    transfer.upload(fake, io.BytesIO(b"abc"), "b", "k", {"ContentType": "t/x"},
                    progress.append, None)
    assert fake.events == [("put", "k", 3, {"ContentType": "t/x"})]
    assert sum(progress) == 3


class BrokenBody(StreamingBody):
    """Hands out its first chunk, then the connection breaks."""

    def __init__(self, first, length):
        super().__init__(iter([first]), length)
        self.first, self.length = first, length

    def iter_chunks(self, chunk_size=CHUNK_SIZE):
        yield self.first
        raise IncompleteReadError(len(self.first), self.length)


def test_download_ranges_pin_the_etag_and_retry_broken_ranges(tmp_path):
    from engine.client import TransferConfig, transfer

    data = bytes(range(256)) * 40  # 10,240 bytes
    fake = FakeTransferClient({"k": data})
    broken = {"left": 1}
    real_get = fake.get_object

    def flaky_get(**kw):
        resp = real_get(**kw)
        if kw.get("Range") == "bytes=4096-6143" and broken["left"]:
            broken["left"] -= 1
            resp["Body"] = BrokenBody(resp["Body"].read(1000), 2048)
        return resp

    fake.get_object = flaky_get
    progress = []
    config = TransferConfig(multipart_threshold=1024, multipart_chunksize=2048,
                            max_concurrency=3)
    target = tmp_path / "out"
    transfer.download_to_file(fake, "b", "k", str(target), None, progress.append, config)
    assert target.read_bytes() == data
    assert sum(progress) == len(data) and -1000 in progress
    assert all(extra == {"IfMatch": '"etag"'} for _, extra in fake.gets)
    assert len(fake.gets) == 6  # five ranges, one of them twice
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]

    out = io.BytesIO()
    fake.gets.clear()
    transfer.download_to_fileobj(fake, "b", "k", out, {"VersionId": "v"}, None, config)
    assert out.getvalue() == data
    assert all("IfMatch" not in extra for _, extra in fake.gets)


def test_download_gives_up_after_the_attempts(tmp_path):
    from engine.client import RetriesExceededError, TransferConfig, transfer

    fake = FakeTransferClient({"k": b"abc"})
    fake.get_object = lambda **kw: {"Body": StreamingBody(iter([b"a"]), 3)}
    with pytest.raises(RetriesExceededError) as exc:
        transfer.download_to_file(fake, "b", "k", str(tmp_path / "out"), None, None,
                                  TransferConfig(num_download_attempts=2))
    assert isinstance(exc.value.last_exception, IncompleteReadError)
    assert list(tmp_path.iterdir()) == []
