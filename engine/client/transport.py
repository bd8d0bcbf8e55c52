"""The gRPC channel a client owns, and the idle timeout its streaming calls use.

A fixed deadline is wrong for streams (a 5 GiB download legitimately takes long), so
streams get a read timeout instead: the call is cancelled when the client has been
*waiting on the server* for longer than the timeout, as botocore's read_timeout does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import grpc

from engine import __version__

# Where `engine serve` listens unless told otherwise. The SDK imports nothing from the
# server side, so this is a copy of engine.config.DEFAULT_LISTEN that a test keeps equal.
DEFAULT_ENDPOINT = "127.0.0.1:50051"
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # 1 MiB body chunks plus headers, with room to spare

CHANNEL_OPTIONS: list[tuple[str, int | str]] = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # 5 minutes is the most often a default gRPC server accepts pings on a call that is
    # not sending it data (a long upload); more often gets the channel a GOAWAY.
    ("grpc.keepalive_time_ms", 300_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 0),
    ("grpc.primary_user_agent", f"engine-sdk/{__version__}"),
]


def normalize_endpoint(endpoint: str) -> tuple[str, bool]:
    """"host:port", "http://host:port/" or "https://host:port" -> (target, use_tls)."""
    target = endpoint.strip()
    secure = False
    for scheme in ("http://", "https://", "grpc://", "grpcs://"):
        if target.lower().startswith(scheme):
            secure = scheme in ("https://", "grpcs://")
            target = target[len(scheme) :]
            break
    target = target.rstrip("/")
    if not target or "/" in target:
        raise ValueError(f"Invalid endpoint: {endpoint!r} (expected host:port)")
    return target, secure


def open_channel(endpoint: str) -> grpc.Channel:
    """One channel per client; gRPC multiplexes every call of the client over it."""
    target, secure = normalize_endpoint(endpoint)
    if secure:
        return grpc.secure_channel(target, grpc.ssl_channel_credentials(), CHANNEL_OPTIONS)
    return grpc.insecure_channel(target, CHANNEL_OPTIONS)


class IdleWatchdog:
    """Calls ``on_expire`` once the caller has waited ``timeout`` seconds in one go.

    The caller brackets its waits with :meth:`waiting` / :meth:`working`; time spent
    working (the application reading its file, or not reading the body yet) never
    counts. One timer runs at a time and re-arms itself, so the cost per chunk is two
    assignments.
    """

    def __init__(self, timeout: float | None, on_expire: Callable[[], object]) -> None:
        self._timeout = timeout
        self._on_expire = on_expire
        self._lock = threading.Lock()
        self._since: float | None = time.monotonic()  # None while working
        self._timer: threading.Timer | None = None
        self._stopped = False
        self.expired = False
        if timeout is not None:
            self._arm(timeout)

    def _arm(self, delay: float) -> None:
        self._timer = threading.Timer(delay, self._check)
        self._timer.daemon = True
        self._timer.start()

    def _check(self) -> None:
        assert self._timeout is not None
        with self._lock:
            if self._stopped:
                return
            since = self._since
            idle = 0.0 if since is None else time.monotonic() - since
            if idle < self._timeout:
                self._arm(self._timeout - idle)
                return
            self.expired = True
            self._stopped = True
        self._on_expire()

    def waiting(self) -> None:
        self._since = time.monotonic()

    def working(self) -> None:
        self._since = None

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()
