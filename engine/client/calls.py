"""How a service client runs its gRPC calls: timeouts, cancellation and error mapping.

Unary calls get a deadline. Streams get an idle timeout instead (see transport.py), are
cancelled when abandoned, and never leave a truncated upload behind. Every failure comes
out as the botocore-shaped exception from errors.py. Service modules (s3, later sqs and
cache) only build requests and shape responses.

Streaming messages follow one convention in every proto of the project: a oneof named
``part`` whose members are ``header`` (first message) and ``chunk`` (bytes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from engine.client.errors import (
    ClientError,
    ClientExceptions,
    ReadTimeoutError,
    error_from_rpc,
    response_metadata,
)
from engine.client.transport import IdleWatchdog

R = TypeVar("R")


class Caller:
    """Runs calls against one endpoint with one timeout policy."""

    def __init__(
        self, endpoint: str, timeout: float | None, exceptions: ClientExceptions
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.exceptions = exceptions

    def error(self, exc: grpc.RpcError, op: str, *, no_body: bool = False) -> ClientError:
        return error_from_rpc(
            exc, op, no_body=no_body, endpoint=self.endpoint, exceptions=self.exceptions
        )

    def timeout_error(self, op: str) -> ReadTimeoutError:
        return ReadTimeoutError(
            {
                "Error": {
                    "Code": "DEADLINE_EXCEEDED",
                    "Message": f'Read timeout on endpoint "{self.endpoint}": no data for '
                    f"{self.timeout} s",
                },
                "ResponseMetadata": response_metadata(504),
            },
            op,
        )

    @staticmethod
    def protocol_error(op: str, what: str) -> ClientError:
        return ClientError(
            {
                "Error": {"Code": "InternalError", "Message": f"Malformed response: {what}"},
                "ResponseMetadata": response_metadata(500),
            },
            op,
        )

    def unary(
        self, op: str, method: Callable[..., R], request: Message, *, no_body: bool = False
    ) -> R:
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise self.error(exc, op, no_body=no_body) from None

    def upload(
        self,
        op: str,
        method: Any,
        header: Message,
        chunks: Iterator[bytes],
        wrap_chunk: Callable[[bytes], Message],
    ) -> Any:
        """Send ``header`` then every chunk; return the unary response.

        A failure reading ``chunks`` (the caller's file) cancels the call, so the server
        never completes a truncated object, and is re-raised as itself.
        """
        ready = threading.Event()
        body_error: list[BaseException] = []
        call: list[grpc.Future] = []

        def requests() -> Iterator[Message]:
            yield header
            while True:
                watchdog.working()
                try:
                    chunk = next(chunks)
                except StopIteration:
                    break
                except BaseException as exc:  # abort the upload, report after
                    body_error.append(exc)
                    ready.wait()
                    call[0].cancel()
                    return
                finally:
                    watchdog.waiting()
                yield wrap_chunk(chunk)

        watchdog = IdleWatchdog(self.timeout, lambda: ready.wait() and call[0].cancel())
        try:
            call.append(method.future(requests()))
            ready.set()
            return call[0].result()
        except (grpc.RpcError, grpc.FutureCancelledError) as exc:
            if body_error:
                raise body_error[0] from None
            if watchdog.expired:
                raise self.timeout_error(op) from None
            if isinstance(exc, grpc.RpcError):
                raise self.error(exc, op) from None
            raise
        except BaseException:  # e.g. KeyboardInterrupt: do not keep uploading behind our back
            if call:
                call[0].cancel()
            raise
        finally:
            watchdog.stop()

    def download(
        self, op: str, method: Any, request: Message
    ) -> tuple[Any, Iterator[bytes], Callable[[], None]]:
        """Start a server stream: (its header, the chunks to come, a cancel function).

        The chunks are pulled only as the caller iterates; cancel when abandoning them.
        """
        call = method(request)
        watchdog = IdleWatchdog(self.timeout, call.cancel)
        try:
            first = next(call)
        except grpc.RpcError as exc:
            watchdog.stop()
            if watchdog.expired:
                raise self.timeout_error(op) from None
            raise self.error(exc, op) from None
        except StopIteration:
            watchdog.stop()
            raise self.protocol_error(op, "stream ended before its header") from None
        watchdog.working()
        if first.WhichOneof("part") != "header":
            call.cancel()
            watchdog.stop()
            raise self.protocol_error(op, "first message is not a header")

        def cancel() -> None:
            watchdog.stop()
            call.cancel()

        return first.header, self._chunks(op, call, watchdog), cancel

    def _chunks(self, op: str, call: Any, watchdog: IdleWatchdog) -> Iterator[bytes]:
        try:
            while True:
                watchdog.waiting()
                try:
                    msg = next(call)
                except StopIteration:
                    return
                except grpc.RpcError as exc:
                    if watchdog.expired:
                        raise self.timeout_error(op) from None
                    raise self.error(exc, op) from None
                finally:
                    watchdog.working()
                if msg.WhichOneof("part") != "chunk":
                    raise self.protocol_error(op, "header repeated mid-stream")
                yield msg.chunk
        finally:
            watchdog.stop()
