"""Echoed client input is clipped on the wire (message and ErrorInfo values), so an
error always fits gRPC's trailing metadata and the AWS code reaches the client."""

from __future__ import annotations

from google.rpc import error_details_pb2

from engine.errors import MAX_DETAILS_BYTES, MAX_MESSAGE_BYTES, EngineError, clip


def info_of(err: EngineError) -> tuple[str, dict[str, str]]:
    status = err.to_rpc_status()
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return status.message, dict(info.metadata)


def test_clip_cuts_utf8_on_a_character_boundary_with_an_ellipsis():
    assert clip("short", 10) == "short"
    assert clip("a" * 11, 10) == "aaaaaaa..."
    assert clip("é" * 10, 10) == "ééé..."  # 2-byte characters: 6 bytes + "..." fit 10
    assert len(clip("€" * 5000, 1024).encode()) <= 1024


def test_small_errors_are_unchanged():
    message, meta = info_of(EngineError("NoSuchBucket", BucketName="photos"))
    assert message == "The specified bucket does not exist"
    assert meta == {"http_status": "404", "BucketName": "photos"}


def test_huge_messages_and_values_are_clipped():
    err = EngineError("InvalidBucketName", "The specified bucket is not valid: " + "a" * 65536,
                      BucketName="a" * 65536, Other="ü" * 65536, Third="x" * 65536)
    message, meta = info_of(err)
    assert len(message.encode()) <= MAX_MESSAGE_BYTES and message.endswith("...")
    assert message.startswith("The specified bucket is not valid: aaa")
    values = [v for k, v in meta.items() if k != "http_status"]
    # past the shared budget a value is only an ellipsis
    assert sum(len(v.encode()) for v in values) <= MAX_DETAILS_BYTES + len("...")
    assert all(v.endswith("...") for v in values)
    assert err.message.endswith("a" * 100)  # the error itself keeps the whole text
