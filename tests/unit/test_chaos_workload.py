"""The object workload's pure parts: self-describing bodies, the seeded plan, and how a
failed call is recorded (fail only for refusals, info for everything uncertain)."""

from __future__ import annotations

import itertools

import botocore.exceptions
import pytest

from engine.chaos.workload.bodies import decode, make_body
from engine.chaos.workload.object_plan import steps
from engine.chaos.workload.outcomes import classify
from engine.chaos.workload.s3_clients import ObjectEndpoint
from engine.client import ClientError, EndpointConnectionError, IncompleteReadError

ENDPOINTS = [ObjectEndpoint("n1", "127.0.0.1:1", "http://127.0.0.1:2"),
             ObjectEndpoint("n2", "127.0.0.1:3")]


def test_body_format_is_pinned():
    # Histories outlive the code: an old run's bodies must still decode.
    body = make_body("r", 1, 2, 4)
    assert body.value == "r:1:2:2ba5accb1aa76aba"
    assert body.data == b"engine-chaos/1 r:1:2:2ba5accb1aa76aba 4\n4\x81\xd8\xd1"
    assert decode(body.data).value == body.value and decode(body.data).intact


def test_every_write_has_its_own_value():
    values = {make_body("r", w, s, 16).value for w in range(3) for s in range(50)}
    assert len(values) == 150


@pytest.mark.parametrize("damage", ["flip", "truncate", "extend", "splice"])
def test_a_damaged_body_is_found_from_its_bytes(damage):
    a, b = make_body("r", 0, 1, 1000), make_body("r", 0, 2, 1000)
    data = {"flip": a.data[:-1] + bytes([a.data[-1] ^ 1]),
            "truncate": a.data[:-10],
            "extend": a.data + b"\0",
            "splice": a.data[:500] + b.data[500:]}[damage]
    decoded = decode(data)
    assert decoded.value == a.value  # the header still names the write it claims to be
    assert not decoded.intact


@pytest.mark.parametrize("data", [b"", b"hello", b"engine-chaos/1 x\n", b"\xff" * 600,
                                  b"engine-chaos/1 \xff 1\nx"])
def test_bytes_without_a_header_name_no_write(data):
    decoded = decode(data)
    assert decoded.value.startswith("unparseable:") and not decoded.intact


def test_the_plan_replays_for_a_seed_and_differs_between_seeds_and_workers():
    def first(seed: int, worker: int) -> list:
        return list(itertools.islice(steps(seed, worker, ENDPOINTS, keys_per_bucket=3,
                                           sizes=(1, 2), two_part_share=0.5), 200))

    assert first(1, 0) == first(1, 0)
    assert first(1, 0) != first(2, 0)
    assert first(1, 0) != first(1, 1)
    plan = first(1, 0)
    assert {s.kind for s in plan} == {"get", "put", "delete", "copy", "multipart"}
    assert {(s.node, s.api) for s in plan} == {("n1", "grpc"), ("n1", "http"), ("n2", "grpc")}
    assert all(s.source != s.key for s in plan)


def sdk_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")


def unavailable(message: str) -> EndpointConnectionError:
    return EndpointConnectionError({"Error": {"Code": "UNAVAILABLE", "Message": message},
                                    "ResponseMetadata": {"HTTPStatusCode": 503}}, "GetObject")


@pytest.mark.parametrize(("exc", "expected"), [
    (sdk_error("PreconditionFailed", 412), ("fail", "PreconditionFailed")),
    (sdk_error("NoSuchBucket", 404), ("fail", "NoSuchBucket")),
    (sdk_error("RequestTimeout", 400), ("info", "RequestTimeout")),
    (sdk_error("InternalError", 500), ("info", "InternalError")),
    (sdk_error("SlowDown", 503), ("info", "SlowDown")),
    (sdk_error("DEADLINE_EXCEEDED", 504), ("info", "DEADLINE_EXCEEDED")),
    (unavailable("Socket closed"), ("info", "UNAVAILABLE")),
    # what the SDK says when it could not connect: the request never left
    (unavailable('Could not connect to the endpoint "127.0.0.1:1": failed to connect to all '
                 "addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Failed to connect to "
                 "remote host: Connection refused"), ("fail", "UNAVAILABLE")),
    (botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"),
     ("fail", "EndpointConnectionError")),
    (botocore.exceptions.ConnectionClosedError(endpoint_url="http://x"),
     ("info", "ConnectionClosedError")),
    (IncompleteReadError(3, 10), ("info", "IncompleteReadError")),
    (ConnectionResetError(), ("info", "ConnectionResetError")),
    (botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied"},
                                      "ResponseMetadata": {"HTTPStatusCode": 403}}, "Put"),
     ("fail", "AccessDenied")),
    (botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"),
     ("info", "ReadTimeoutError")),
])
def test_only_a_refusal_or_a_request_never_sent_is_recorded_as_fail(exc, expected):
    assert classify(exc) == expected
