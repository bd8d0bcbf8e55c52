"""Upload streams are bounded in time (S3's RequestTimeout) and refuse bytes that are not
a message with InvalidArgument. Time is the event loop's: these run on a virtual clock,
so a 60-second idle limit takes no wall time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from google.protobuf.message import DecodeError
from helpers_virtual_time import run_virtual

from engine.api.upload_stream import StreamLimits, open_upload
from engine.errors import EngineError
from engine.v1 import objects_pb2 as pb

HEADER = pb.PutObjectRequest(header=pb.PutObjectHeader(bucket="b", key="k"))


def chunk(data: bytes) -> pb.PutObjectRequest:
    return pb.PutObjectRequest(chunk=data)


async def messages(*items: object, gap: float = 0.0, stall: bool = False
                   ) -> AsyncIterator[object]:
    """Yields ``items`` ``gap`` seconds apart (an exception item is raised), then ends,
    or with ``stall`` waits forever."""
    for item in items:
        await asyncio.sleep(gap)
        if isinstance(item, BaseException):
            raise item
        yield item
    if stall:
        await asyncio.Event().wait()


async def upload(stream: AsyncIterator[object], limits: StreamLimits
                 ) -> tuple[bytes, float, EngineError | None]:
    """(the body read, the seconds it took, the error that ended it)."""
    loop = asyncio.get_running_loop()
    start, body = loop.time(), b""
    try:
        _, chunks = await open_upload(stream, "PutObject", limits)
        async for data in chunks:
            body += data
    except EngineError as err:
        return body, loop.time() - start, err
    return body, loop.time() - start, None


def test_a_stream_that_stalls_fails_after_the_idle_limit():
    body, took, err = run_virtual(upload(messages(HEADER, chunk(b"ab"), stall=True),
                                         StreamLimits(idle=60, total=3600)))
    assert body == b"ab" and took == pytest.approx(60)
    assert err is not None and (err.code, err.http_status, err.message) == (
        "RequestTimeout", 400, "Your socket connection to the server was not read from or "
        "written to within the timeout period.")


def test_a_stream_that_never_sends_its_header_fails_too():
    _, took, err = run_virtual(upload(messages(stall=True), StreamLimits(idle=5, total=0)))
    assert err is not None and err.code == "RequestTimeout" and took == pytest.approx(5)


def test_a_slow_but_steady_stream_is_cut_at_the_total_limit():
    steady = messages(HEADER, *(chunk(b"x") for _ in range(100)), gap=35)
    body, took, err = run_virtual(upload(steady, StreamLimits(idle=60, total=600)))
    assert err is not None and err.code == "RequestTimeout"
    assert took == pytest.approx(600) and body == b"x" * 16  # header at 35 s; 70 s ... 595 s


def test_without_limits_a_slow_stream_completes():
    slow = messages(HEADER, chunk(b"a"), chunk(b"b"), gap=10_000)
    assert run_virtual(upload(slow, StreamLimits(idle=0, total=0))) == (b"ab", 30_000, None)


def test_bytes_that_are_not_a_message_are_invalid_argument():
    broken = messages(HEADER, chunk(b"a"), DecodeError("Wire format was corrupt"))
    body, _, err = run_virtual(upload(broken, StreamLimits()))
    assert body == b"a" and err is not None
    assert (err.code, err.grpc_status.name, err.message) == (
        "InvalidArgument", "INVALID_ARGUMENT",
        "The request body is not a valid PutObject request message")


def test_framing_errors_keep_their_wording():
    _, _, err = run_virtual(upload(messages(chunk(b"a")), StreamLimits()))
    assert err is not None and (err.code, err.message) == (
        "InvalidRequest", "The first PutObject message must be the header")
    _, _, err = run_virtual(upload(messages(HEADER, HEADER), StreamLimits()))
    assert err is not None and (err.code, err.message) == (
        "InvalidRequest", "Only the first message is a header")
