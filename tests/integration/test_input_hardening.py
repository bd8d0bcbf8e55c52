"""Hostile input over a real server, as a probe would send it: huge echoed values, bytes
that are not a request message, upload streams that stall. Each gets its AWS code and a
plain message; nothing is answered UNKNOWN or INTERNAL, and the server logs no traceback.
"""

from __future__ import annotations

import importlib
import pkgutil
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory

import engine.v1
from engine.api.access_table import RULES
from engine.client import client
from engine.client.signed_channels import insecure_channel
from engine.errors import EngineError
from engine.v1 import objects_pb2 as pb

for _module in pkgutil.iter_modules(engine.v1.__path__):  # every service's descriptors
    if _module.name.endswith("_pb2"):
        importlib.import_module(f"engine.v1.{_module.name}")
BIG = 64 * 1024
MAX_TRAILER_TEXT = 1024  # engine.errors.MAX_MESSAGE_BYTES


@pytest.fixture(scope="module")
def node(module_server_factory) -> Callable[[str], Any]:
    """The module's node for an auth mode ("signed" or "insecure-no-auth"), started when
    first asked for and shared: no test leaves anything in another's bucket."""
    nodes: dict[str, Any] = {}

    def get(auth: str) -> Any:
        if auth not in nodes:
            nodes[auth] = module_server_factory(
                *(("--insecure-no-auth",) if auth != "signed" else ()))
        return nodes[auth]

    return get


def server_log(server) -> str:
    return (server.data_dir.parent / f"server-{server.port}.log").read_text(errors="replace")


def raw(server, path: str, *, streaming: bool = False):
    ch = insecure_channel(server.endpoint)
    make = ch.stream_unary if streaming else ch.unary_unary
    return ch, make(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)


def error_of(fn, *args, **kwargs) -> EngineError:
    with pytest.raises(grpc.RpcError) as caught:
        fn(*args, **kwargs)
    return EngineError.from_rpc_error(caught.value)


# -- echoed input is clipped, so the AWS code arrives -------------------------------------


def test_huge_echoed_values_keep_their_aws_codes(node):
    server = node("signed")
    s3 = client("s3", endpoint=server.endpoint)
    sqs = client("sqs", endpoint=server.endpoint)
    s3.create_bucket(Bucket="hardening")
    url = sqs.create_queue(QueueName="hardening")["QueueUrl"]
    cases = {
        "InvalidBucketName": lambda: s3.create_bucket(Bucket="a" * BIG),
        "InvalidStorageClass": lambda: s3.put_object(Bucket="hardening", Key="k", Body=b"x",
                                                     StorageClass="Z" * BIG),
        "ReceiptHandleIsInvalid": lambda: sqs.delete_message(QueueUrl=url,
                                                             ReceiptHandle="R" * BIG),
        "InvalidAttributeName": lambda: sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["Ä" * BIG]),
    }
    for code, call in cases.items():
        with pytest.raises(Exception) as caught:
            call()
        error = caught.value.response["Error"]  # type: ignore[attr-defined]
        assert error["Code"] == code, error
        assert len(error["Message"].encode()) <= MAX_TRAILER_TEXT
        assert "RESOURCE_EXHAUSTED" not in str(caught.value)


# -- bytes that are not the request message ---------------------------------------------


def garbage_for(method: str, rng: random.Random) -> list[bytes]:
    """Random byte strings that do not parse as the method's request (checked here, so a
    sample never happens to be a valid FlushAll)."""
    decode = _request_type(method).FromString
    found: list[bytes] = []
    while len(found) < 3:
        sample = bytes(rng.randrange(256) for _ in range(rng.choice((4, 17, 300))))
        try:
            decode(sample)
        except Exception:
            found.append(sample)
    return found


def _method(path: str):
    _, service, name = path.split("/")
    return descriptor_pool.Default().FindServiceByName(service).FindMethodByName(name)


def _request_type(path: str) -> type:
    return message_factory.GetMessageClass(_method(path).input_type)


def _streaming(path: str) -> bool:
    return bool(_method(path).client_streaming)


@pytest.mark.parametrize("auth", ["signed", "insecure-no-auth"])
def test_random_bytes_to_every_public_method_are_invalid_argument(node, auth):
    server = node(auth)
    rng = random.Random(15)
    seen: dict[str, set[str]] = {}
    for method in sorted(RULES):
        streaming = _streaming(method)
        ch, call = raw(server, method, streaming=streaming)
        with ch:
            for sample in garbage_for(method, rng):
                request = iter([sample]) if streaming else sample
                err = error_of(call, request, timeout=10)
                seen.setdefault(err.grpc_status.name, set()).add(method)
                assert err.grpc_status == grpc.StatusCode.INVALID_ARGUMENT, (method, err)
                assert err.code == "InvalidArgument", (method, err.code)
                assert "Error" not in err.message and "Traceback" not in err.message
    assert set(seen) == {"INVALID_ARGUMENT"}
    assert "Traceback" not in server_log(server)


@pytest.mark.parametrize("rpc", ["PutObject", "UploadPart"])
@pytest.mark.parametrize("auth", ["signed", "insecure-no-auth"])
def test_a_stream_whose_second_message_is_garbage(node, rpc, auth):
    server = node(auth)
    s3 = client("s3", endpoint=server.endpoint)
    bucket = f"garbage-{rpc.lower()}"  # the node is shared by both RPCs' tests
    s3.create_bucket(Bucket=bucket)
    if rpc == "PutObject":
        header = pb.PutObjectRequest(header=pb.PutObjectHeader(bucket=bucket, key="k"))
    else:
        upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
        header = pb.UploadPartRequest(header=pb.UploadPartHeader(
            bucket=bucket, key="k", upload_id=upload, part_number=1))
    ch, call = raw(server, f"/engine.v1.ObjectStore/{rpc}", streaming=True)
    with ch:
        err = error_of(call, iter([header.SerializeToString(), b"\xff\xff\xff\xff"]),
                       timeout=10)
    assert (err.grpc_status, err.code, err.message) == (
        grpc.StatusCode.INVALID_ARGUMENT, "InvalidArgument",
        f"The request body is not a valid {rpc} request message")
    assert "Traceback" not in server_log(server)
    with pytest.raises(Exception) as caught:
        s3.head_object(Bucket=bucket, Key="k")
    assert caught.value.response["Error"]["Code"] == "404"  # type: ignore[attr-defined]


# -- stalled uploads --------------------------------------------------------------------


def stalling(first: list[bytes], release: threading.Event) -> Iterator[bytes]:
    """Sends ``first`` and then nothing until ``release`` (the call has failed by then)."""
    yield from first
    release.wait(30)


def test_a_stalled_upload_gets_request_timeout(server_factory):
    server = server_factory("--stream-idle-timeout", "0.5").start()
    s3 = client("s3", endpoint=server.endpoint)
    s3.create_bucket(Bucket="stalled")
    header = pb.PutObjectRequest(header=pb.PutObjectHeader(bucket="stalled", key="k"))
    chunk = pb.PutObjectRequest(chunk=b"x" * 1000)
    release = threading.Event()
    ch, call = raw(server, "/engine.v1.ObjectStore/PutObject", streaming=True)
    started = time.monotonic()
    try:
        with ch:
            err = error_of(call, stalling([header.SerializeToString(),
                                           chunk.SerializeToString()], release), timeout=20)
    finally:
        release.set()
    waited = time.monotonic() - started
    assert (err.grpc_status, err.code, err.message) == (
        grpc.StatusCode.DEADLINE_EXCEEDED, "RequestTimeout",
        "Your socket connection to the server was not read from or written to within the "
        "timeout period.")
    assert 0.4 < waited < 5
    with pytest.raises(Exception) as caught:
        s3.head_object(Bucket="stalled", Key="k")
    assert caught.value.response["Error"]["Code"] == "404"  # type: ignore[attr-defined]
    # an upload that keeps sending is not cut off by the idle limit
    s3.put_object(Bucket="stalled", Key="whole", Body=b"y" * (3 * 1024 * 1024))
    assert s3.head_object(Bucket="stalled", Key="whole")["ContentLength"] == 3 * 1024 * 1024
