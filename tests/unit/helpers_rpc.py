"""Fakes of gRPC calls and contexts, for the SDK's error-mapping and servicer tests."""

from __future__ import annotations

import grpc

from engine.errors import EngineError


class FakeRpcError(grpc.RpcError, grpc.Call):
    """A failed call as grpc raises it, optionally carrying our ErrorInfo status."""

    def __init__(self, code: grpc.StatusCode, message: str, status: bytes | None = None):
        self._code, self._message, self._status = code, message, status

    @classmethod
    def of(cls, err: EngineError, *, with_detail: bool = True) -> FakeRpcError:
        """What the server sends for ``err`` (without the ErrorInfo detail if asked)."""
        status = err.to_rpc_status().SerializeToString() if with_detail else None
        return cls(err.grpc_status, err.message, status)

    @classmethod
    def engine(cls, code: str, message: str | None = None, **details: str) -> FakeRpcError:
        return cls.of(EngineError(code, message, **details))

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        if self._status is None:
            return ()
        return (("grpc-status-details-bin", self._status),)

    def initial_metadata(self) -> tuple[()]:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: object) -> bool:
        return False


class AbortingContext:
    """A servicer context whose abort_with_status records the status, then raises as
    grpc's does (here RuntimeError("aborted"))."""

    status: object = None

    async def abort_with_status(self, status: object) -> None:
        self.status = status
        raise RuntimeError("aborted")
