"""AWS codes survive the trip through a gRPC status, and unknown failures stay usable."""

from __future__ import annotations

import grpc
from grpc_status import rpc_status

from engine.errors import CATALOGUE, EngineError


class FakeCall(grpc.RpcError, grpc.Call):  # a failed call as the client sees it
    def __init__(self, status: grpc.Status | None, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details
        self._trailing = status.trailing_metadata if status else ()

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self):
        return self._trailing

    def initial_metadata(self):
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback) -> bool:
        return False


def test_round_trip_keeps_code_http_status_and_details() -> None:
    err = EngineError("NoSuchKey", Key="a/b")
    status = rpc_status.to_status(err.to_rpc_status())
    back = EngineError.from_rpc_error(FakeCall(status, status.code, status.details))
    assert (back.code, back.http_status, back.grpc_status) == ("NoSuchKey", 404,
                                                                 grpc.StatusCode.NOT_FOUND)
    assert back.details == {"Key": "a/b"}
    assert back.message == "The specified key does not exist."


def test_a_failure_without_detail_keeps_its_grpc_name() -> None:
    back = EngineError.from_rpc_error(FakeCall(None, grpc.StatusCode.UNAVAILABLE, "down"))
    assert (back.code, back.http_status) == ("UNAVAILABLE", 503)


def test_catalogue_statuses_are_consistent() -> None:
    for code, (http, status, message) in CATALOGUE.items():
        assert message and 300 <= http < 600, code
        if http == 404:
            assert status == grpc.StatusCode.NOT_FOUND
        if http >= 500 and code != "NotImplemented":
            assert status in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE)
