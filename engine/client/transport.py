"""The gRPC channel a client owns, and the idle timeout its streaming calls use.

TLS is the endpoint's scheme (``https://`` or ``grpcs://``); ``verify`` says whom to
trust, as boto3's does: None or True the system roots (or ``AWS_CA_BUNDLE`` when set),
a path a PEM CA bundle. gRPC cannot turn certificate checks off, so ``verify=False``
fetches the server's certificate once, unchecked, and pins it, with a warning: the
connection is encrypted and stays with that key, but nothing vouched for who holds it.
``client_cert`` (a PEM file holding certificate and key, or a (cert, key) pair of
paths, as botocore's ``client_cert``) is presented to servers that require one.

A fixed deadline is wrong for streams (a 5 GiB download legitimately takes long), so
streams get a read timeout instead: the call is cancelled when the client has been
*waiting on the server* for longer than the timeout, as botocore's read_timeout does.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import grpc
from cryptography import x509

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


CA_BUNDLE_ENV = "AWS_CA_BUNDLE"
PIN_TIMEOUT = 10.0  # seconds to fetch a server's certificate for verify=False
Verify = bool | str | os.PathLike[str] | None
ClientCert = str | os.PathLike[str] | tuple[str | os.PathLike[str], str | os.PathLike[str]]


class InsecureTLSWarning(UserWarning):
    """verify=False: the server's certificate was pinned without being checked."""


def open_channel(endpoint: str, *, verify: Verify = None,
                 client_cert: ClientCert | None = None) -> grpc.Channel:
    """One channel per client; gRPC multiplexes every call of the client over it.
    ``verify`` and ``client_cert`` matter only for a TLS (``https://``) endpoint."""
    target, secure = normalize_endpoint(endpoint)
    if not secure:
        return grpc.insecure_channel(target, CHANNEL_OPTIONS)
    options = list(CHANNEL_OPTIONS)
    key, chain = _client_pair(client_cert) if client_cert is not None else (None, None)
    if verify is False:
        roots, name = _pinned(target, key, chain)
        if name:  # the name the certificate was issued to, whatever host was dialled
            options.append(("grpc.ssl_target_name_override", name))
    else:
        roots = _ca_bundle(verify)
    credentials = grpc.ssl_channel_credentials(roots, key, chain)
    return grpc.secure_channel(target, credentials, options)


def _ca_bundle(verify: Verify) -> bytes | None:
    """The roots to trust: a given bundle, else AWS_CA_BUNDLE, else gRPC's (None)."""
    path = verify if isinstance(verify, str | os.PathLike) else os.environ.get(CA_BUNDLE_ENV)
    if not path:
        return None
    return _read(path, "CA bundle")


def _client_pair(cert: ClientCert) -> tuple[bytes, bytes]:
    """(private key, certificate chain) from one PEM file holding both, or two files."""
    if isinstance(cert, tuple):
        return _read(cert[1], "client key"), _read(cert[0], "client certificate")
    both = _read(cert, "client certificate")
    return both, both  # gRPC takes the key and the chain out of the same PEM text


def _read(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"Could not read the {what} {os.fspath(path)!r}: {exc.strerror}"
                         ) from None


def _pinned(target: str, key: bytes | None, chain: bytes | None) -> tuple[bytes, str]:
    """The server's own certificate, fetched without checking it, to trust alone; and a
    name it was issued to (what gRPC will match instead of the host dialled)."""
    host, _, port = target.rpartition(":")
    host = host.strip("[]")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, int(port)), PIN_TIMEOUT) as sock, \
                context.wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ValueError) as exc:
        raise ValueError(f"verify=False: could not fetch the certificate of {target} to "
                         f"pin it: {exc}") from None
    if not der:
        raise ValueError(f"verify=False: {target} sent no certificate")
    cert = x509.load_der_x509_certificate(der)
    warnings.warn(f"verify=False: trusting the certificate {target} presented now "
                  f"({cert.subject.rfc4514_string()}) without checking who issued it",
                  InsecureTLSWarning, stacklevel=4)
    return ssl.DER_cert_to_PEM_cert(der).encode(), _issued_name(cert)


def _issued_name(cert: x509.Certificate) -> str:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        names = None
    if names is not None:
        for ip in names.get_values_for_type(x509.IPAddress):
            return str(ip)
        for dns in names.get_values_for_type(x509.DNSName):
            if "*" not in dns:
                return dns
    common = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return str(common[0].value) if common else ''


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
