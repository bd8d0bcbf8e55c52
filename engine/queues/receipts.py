"""Receipt handles: opaque text naming one receive of one message.

A handle carries everything needed to find the message without a lookup table (queue,
incarnation, partition, message id, which receive), so any node can serve a delete or
visibility change. A keyed BLAKE2b tag makes garbage, truncated and edited handles fail
to decode instead of naming some other message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass

from engine.errors import EngineError

MAX_HANDLE_LENGTH = 1024
_VERSION = 1
_TAG_BYTES = 10
_TAG_KEY = b"engine.sqs.receipt-handle"
_HEAD = struct.Struct(">BII")  # version, partition, receipt_seq
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")  # b64decode would skip other characters


@dataclass(frozen=True)
class Receipt:
    queue: str
    incarnation: str
    partition: int
    message_id: str
    receipt_seq: int


def _tag(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_TAG_BYTES, key=_TAG_KEY).digest()


def _field(text: str) -> bytes:
    data = text.encode()
    if len(data) > 255:
        raise ValueError(f"receipt field too long: {text[:40]!r}...")
    return bytes([len(data)]) + data


def encode(r: Receipt) -> str:
    """URL-safe base64 of the fields and their tag, without padding."""
    payload = (
        _HEAD.pack(_VERSION, r.partition, r.receipt_seq)
        + _field(r.queue) + _field(r.incarnation) + _field(r.message_id)
    )
    handle = base64.urlsafe_b64encode(payload + _tag(payload)).rstrip(b"=").decode()
    if len(handle) >= MAX_HANDLE_LENGTH:
        raise ValueError("receipt handle too long")
    return handle


def _invalid(handle: str) -> EngineError:
    return EngineError(
        "ReceiptHandleIsInvalid",
        f'The input receipt handle "{handle}" is not a valid receipt handle.',
    )


def _parse(handle: str) -> Receipt | None:
    if len(handle) >= MAX_HANDLE_LENGTH or not _ALPHABET.fullmatch(handle):
        return None
    try:
        raw = base64.urlsafe_b64decode(handle + "=" * (-len(handle) % 4))
    except (binascii.Error, ValueError):
        return None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != handle:
        return None  # a changed padding bit decodes to the same bytes: still an edit
    payload, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
    if len(payload) < _HEAD.size or tag != _tag(payload):
        return None
    version, partition, receipt_seq = _HEAD.unpack_from(payload)
    fields: list[str] = []
    at = _HEAD.size
    while at < len(payload) and len(fields) < 3:
        size = payload[at]
        fields.append(payload[at + 1:at + 1 + size].decode(errors="replace"))
        at += 1 + size
    if version != _VERSION or len(fields) != 3 or at != len(payload):
        return None
    return Receipt(fields[0], fields[1], partition, fields[2], receipt_seq)


def decode(handle: str, queue_name: str) -> Receipt:
    """The receipt a handle names; a handle issued by another queue is as invalid as
    garbage, since SQS handles are only meaningful to the queue that issued them."""
    if not handle:
        raise EngineError(
            "MissingParameter", "The request must contain the parameter ReceiptHandle."
        )
    receipt = _parse(handle)
    if receipt is None or receipt.queue != queue_name:
        raise _invalid(handle)
    return receipt
