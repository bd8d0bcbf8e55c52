"""Shared pieces of the SQS integration tests: a module-scoped `engine serve --manual-clock`
process, an SDK client on it, the engine-clock control, SQS's error codes as boto3 shows
them, an independent implementation of SQS's MD5OfMessageAttributes, and receive loops.

The fixtures here (`sqs_server`, `sqs`; functions `*_fixture`) are imported by the test
modules that use them; a module-scoped fixture imported into two modules gives each module
its own server.

Time: the server's engine clock stands still and moves only through Admin.AdvanceClock, so
visibility timeouts, delays, retention and the FIFO deduplication window are driven with
`sqs_server.advance(seconds)` and never slept for. Long-poll waits are real time.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from health import wait_healthy
from ports import free_port

from engine.client import ClientError, client, signed_channels
from engine.v1 import admin_pb2, admin_pb2_grpc

# -- SQS's error codes, as `e.response["Error"]["Code"]` carries them in boto3 ------------
# SQS speaks JSON with the awsQueryCompatible trait: boto3 reports the query-protocol code
# (x-amzn-query-error), which is the "AWS.SimpleQueueService." form for these, and raises
# the modeled class named after the shape (QueueDoesNotExist, QueueNameExists, ...).
NON_EXISTENT_QUEUE = "AWS.SimpleQueueService.NonExistentQueue"  # QueueDoesNotExist
QUEUE_ALREADY_EXISTS = "QueueAlreadyExists"  # QueueNameExists
QUEUE_DELETED_RECENTLY = "AWS.SimpleQueueService.QueueDeletedRecently"
PURGE_QUEUE_IN_PROGRESS = "AWS.SimpleQueueService.PurgeQueueInProgress"  # HTTP 403
MESSAGE_NOT_INFLIGHT = "AWS.SimpleQueueService.MessageNotInflight"
RECEIPT_HANDLE_IS_INVALID = "ReceiptHandleIsInvalid"
TOO_MANY_ENTRIES = "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
EMPTY_BATCH_REQUEST = "AWS.SimpleQueueService.EmptyBatchRequest"
BATCH_IDS_NOT_DISTINCT = "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
INVALID_BATCH_ENTRY_ID = "AWS.SimpleQueueService.InvalidBatchEntryId"
BATCH_REQUEST_TOO_LONG = "AWS.SimpleQueueService.BatchRequestTooLong"
INVALID_PARAMETER_VALUE = "InvalidParameterValue"
INVALID_ATTRIBUTE_NAME = "InvalidAttributeName"
INVALID_ATTRIBUTE_VALUE = "InvalidAttributeValue"
INVALID_MESSAGE_CONTENTS = "InvalidMessageContents"
MISSING_PARAMETER = "MissingParameter"

KIB = 1024
MIB = 1024 * KIB
DEDUP_WINDOW = 300  # seconds: FIFO deduplication interval


# -- the server ------------------------------------------------------------------------


@dataclass
class SqsServer:
    """One `engine serve --manual-clock` process on a loopback port."""

    endpoint: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def advance(self, seconds: float) -> float:
        """Move the engine clock forward; returns the engine's new time in seconds."""
        return advance_clock(self.endpoint, seconds)

    def now(self) -> float:
        """The engine clock's time (epoch seconds)."""
        return advance_clock(self.endpoint, 0)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def start_server(data_dir: Path, *extra: str, timeout: float = 30.0) -> SqsServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    endpoint = f"127.0.0.1:{free_port()}"
    log_path = data_dir.parent / f"server-{endpoint.rsplit(':', 1)[1]}.log"
    cmd = [sys.executable, "-m", "engine", "serve", "--data", str(data_dir),
           "--listen", endpoint, "--manual-clock", *extra]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log)
    try:
        wait_healthy(endpoint, timeout, proc)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"engine serve --manual-clock did not start:\n{tail}") from None
    return SqsServer(endpoint=endpoint, proc=proc, log_path=log_path)


def advance_clock(endpoint: str, seconds: float) -> float:
    """Admin.AdvanceClock on a `--manual-clock` node; returns the new engine time (s)."""
    with signed_channels.insecure_channel(endpoint) as channel:
        resp = admin_pb2_grpc.AdminStub(channel).AdvanceClock(
            admin_pb2.AdvanceClockRequest(seconds=seconds), timeout=10
        )
    return resp.now_ns / 1e9


@pytest.fixture(scope="module", name="sqs_server")
def sqs_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqsServer]:
    """A single-node server for the whole module; tests isolate themselves by queue name."""
    server = start_server(tmp_path_factory.mktemp("sqs") / "data")
    yield server
    server.stop()
    if os.environ.get("ENGINE_SHOW_SERVER_LOG"):
        print(server.log_path.read_text(errors="replace")[-5000:])


@pytest.fixture(scope="module", name="sqs")
def sqs_fixture(sqs_server: SqsServer) -> Iterator[Any]:
    """The SDK's SQS client (boto3-compatible) on the module's server."""
    c = client("sqs", endpoint=sqs_server.endpoint)
    yield c
    c.close()


# -- names and queues ------------------------------------------------------------------


def unique_queue_name(hint: str, *, fifo: bool = False) -> str:
    """A fresh valid queue name derived from `hint` (a test name)."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", hint).strip("-")[:50].strip("-") or "q"
    name = f"{base}-{uuid.uuid4().hex[:10]}"
    return f"{name}.fifo" if fifo else name


def make_queue(sqs: Any, hint: str, *, fifo: bool = False, **attributes: Any) -> str:
    """Create a uniquely named queue with `attributes` (values str()-ed); its URL."""
    attrs = {k: str(v) for k, v in attributes.items()}
    if fifo:
        attrs["FifoQueue"] = "true"
    name = unique_queue_name(hint, fifo=fifo)
    return sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]


def queue_name_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def queue_attributes(sqs: Any, url: str, *names: str) -> dict[str, str]:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"])[
        "Attributes"
    ]


def queue_arn(sqs: Any, url: str) -> str:
    return queue_attributes(sqs, url, "QueueArn")["QueueArn"]


def counts(sqs: Any, url: str) -> tuple[int, int, int]:
    """(ApproximateNumberOfMessages, ...NotVisible, ...Delayed)."""
    a = queue_attributes(sqs, url, "ApproximateNumberOfMessages",
                         "ApproximateNumberOfMessagesNotVisible",
                         "ApproximateNumberOfMessagesDelayed")
    return (int(a["ApproximateNumberOfMessages"]),
            int(a["ApproximateNumberOfMessagesNotVisible"]),
            int(a["ApproximateNumberOfMessagesDelayed"]))


# -- receiving -------------------------------------------------------------------------


def receive(sqs: Any, url: str, *, wait: int = 1, max_messages: int = 10,
            **kwargs: Any) -> list[dict[str, Any]]:
    """One ReceiveMessage call (long poll of `wait` seconds); the messages it returned."""
    resp = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=wait,
                               MaxNumberOfMessages=max_messages, **kwargs)
    return list(resp.get("Messages", []))


def receive_n(sqs: Any, url: str, n: int, *, deadline: float = 15.0,
              **kwargs: Any) -> list[dict[str, Any]]:
    """Receive until `n` distinct messages arrived (long polls; messages are spread over
    partitions, so one call may return fewer). Fails if they do not arrive in time."""
    got: dict[str, dict[str, Any]] = {}
    end = time.monotonic() + deadline
    while len(got) < n and time.monotonic() < end:
        for m in receive(sqs, url, wait=1, **kwargs):
            got.setdefault(m["MessageId"], m)
    assert len(got) >= n, f"received {len(got)} of {n} messages within {deadline}s"
    assert len(got) == n, f"received {len(got)} distinct messages, expected {n}"
    return list(got.values())


def receive_one(sqs: Any, url: str, **kwargs: Any) -> dict[str, Any]:
    [m] = receive_n(sqs, url, 1, **kwargs)
    return m


def assert_nothing_to_receive(sqs: Any, url: str, *, wait: int = 1) -> None:
    """A long poll (which asks every partition) returns no message."""
    msgs = receive(sqs, url, wait=wait)
    assert msgs == [], f"expected no message, got {[m['Body'] for m in msgs]}"


# -- errors ----------------------------------------------------------------------------


def error_code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def assert_sqs_error(info: pytest.ExceptionInfo[ClientError], code: str,
                     status: int = 400) -> None:
    """The error is SQS's `code` with AWS's HTTP status (so never INTERNAL/UNKNOWN)."""
    err = info.value.response["Error"]
    assert err["Code"] == code, f"{err['Code']!r} (want {code!r}): {err.get('Message')}"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status, (
        f"HTTP {info.value.response['ResponseMetadata']['HTTPStatusCode']} for {code}"
    )


# -- MD5OfMessageAttributes, as SQS computes it ----------------------------------------


def _length_prefixed(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def md5_of_message_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """SQS's digest of message (or system) attributes, written from AWS's description:
    for each attribute in name order: length-prefixed (4-byte big-endian) UTF-8 name,
    length-prefixed data type, one transport byte (1 String/Number, 2 Binary), then the
    length-prefixed value (UTF-8 string or raw bytes); MD5 of the concatenation."""
    digest = hashlib.md5()
    for name in sorted(attributes):
        attr = attributes[name]
        data_type = str(attr["DataType"])
        digest.update(_length_prefixed(name.encode()))
        digest.update(_length_prefixed(data_type.encode()))
        if attr.get("StringValue") is not None:
            digest.update(b"\x01")
            digest.update(_length_prefixed(str(attr["StringValue"]).encode()))
        else:
            digest.update(b"\x02")
            digest.update(_length_prefixed(bytes(attr["BinaryValue"])))
    return digest.hexdigest()


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()
