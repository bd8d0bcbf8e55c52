"""Receipt handles pinned to literals: a handle handed out before an upgrade must still
delete its message after it (a consumer may hold one for the whole visibility timeout,
up to 12 hours), so the encoding may change only deliberately."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest

from engine.errors import EngineError
from engine.queues.receipts import MAX_HANDLE_LENGTH, Receipt, decode, encode

RECEIPT = Receipt("orders.fifo", "3f2a9c", 7, "0b5e6f0a-9d1c-4b7e-8a1d-2c3f4e5a6b7c", 3)
HANDLE = ("AQAAAAcAAAADC29yZGVycy5maWZvBjNmMmE5YyQwYjVlNmYwYS05ZDFjLTRiN2UtOGExZC0yYzNmNGU1YTZi"
          "N2MXaBj22Wj-Pf7P")


def test_a_known_handle_decodes() -> None:
    assert decode(HANDLE, "orders.fifo") == RECEIPT


def test_a_known_receipt_encodes_to_the_pinned_handle() -> None:
    assert encode(RECEIPT) == HANDLE
    assert encode(Receipt("q", "i", 0, "m", 1)) == "AQAAAAAAAAABAXEBaQFtP4dTT1AzGQLVFQ"


def sealed(payload: bytes) -> str:
    """A handle around any payload, tagged as the format documents (BLAKE2b-80 keyed with
    the format's key), so only the payload's own checks can reject it."""
    tag = hashlib.blake2b(payload, digest_size=10, key=b"engine.sqs.receipt-handle").digest()
    return base64.urlsafe_b64encode(payload + tag).rstrip(b"=").decode()


def fields(*texts: bytes) -> bytes:
    return b"".join(bytes([len(t)]) + t for t in texts)


def head(version: int = 1, partition: int = 7, seq: int = 3) -> bytes:
    return struct.pack(">BII", version, partition, seq)


def test_the_layout_is_version_partition_seq_then_three_fields() -> None:
    payload = head() + fields(b"orders.fifo", b"3f2a9c", b"0b5e6f0a-9d1c-4b7e-8a1d-2c3f4e5a6b7c")
    assert sealed(payload) == HANDLE


def invalid(handle: str, queue: str = "q") -> None:
    with pytest.raises(EngineError) as info:
        decode(handle, queue)
    assert info.value.code == "ReceiptHandleIsInvalid"


@pytest.mark.parametrize("payload", [
    head(version=2) + fields(b"q", b"i", b"m"),  # a format this node does not know
    head(version=0) + fields(b"q", b"i", b"m"),
    head() + fields(b"q", b"i"),  # a field missing
    head() + fields(b"q", b"i", b"m") + b"\x00",  # trailing bytes
    head() + fields(b"q", b"i", b"m", b"x"),  # a fourth field
    head() + b"\x01q\x01i\x05m",  # the last field shorter than its length says
    head()[:-1],  # shorter than the fixed head
    b"",
])
def test_well_tagged_but_malformed_handles_are_invalid(payload: bytes) -> None:
    invalid(sealed(payload))


def test_a_well_formed_handle_decodes_whatever_its_numbers() -> None:
    handle = sealed(head(partition=2**32 - 1, seq=0) + fields(b"q", b"", b"m"))
    assert decode(handle, "q") == Receipt("q", "", 2**32 - 1, "m", 0)


def test_handle_length_limit() -> None:
    invalid("A" * MAX_HANDLE_LENGTH)
    invalid("A" * (MAX_HANDLE_LENGTH + 4))
    big = Receipt("q" * 255, "i" * 255, 1, "m" * 255, 1)  # 787 bytes: 1050 characters
    with pytest.raises(ValueError, match="too long"):
        encode(big)
    with pytest.raises(ValueError, match="too long"):
        encode(Receipt("q" * 256, "i", 1, "m", 1))
    edge = Receipt("q" * 255, "i" * 255, 1, "m" * 235, 1)  # 767 bytes: 1023 characters
    assert len(encode(edge)) == 1023 and decode(encode(edge), "q" * 255) == edge
    with pytest.raises(ValueError, match="too long"):  # 768 bytes: 1024 characters
        encode(Receipt("q" * 255, "i" * 255, 1, "m" * 236, 1))


def test_a_handle_with_whitespace_or_padding_is_invalid() -> None:
    for bad in (HANDLE + "=", HANDLE + "==", " " + HANDLE, HANDLE[:10] + "\n" + HANDLE[10:],
                HANDLE.replace("-", "+")):
        invalid(bad, "orders.fifo")


def test_a_handle_ending_in_any_base64_character_round_trips() -> None:
    receipt = Receipt("q", "i", 0, "m10020", 1)
    assert encode(receipt) == "AQAAAAAAAAABAXEBaQZtMTAwMjDcmJqjm591-W6X"  # ends in 'X'
    assert decode(encode(receipt), "q") == receipt


def test_the_longest_handle_accepted_is_1023_characters() -> None:
    payload = head() + fields(b"q" * 255, b"i" * 255, b"m" * 235)
    assert len(sealed(payload)) == MAX_HANDLE_LENGTH - 1
    assert decode(sealed(payload), "q" * 255).message_id == "m" * 235
    too_long = sealed(head() + fields(b"q" * 255, b"i" * 255, b"m" * 236))
    assert len(too_long) == MAX_HANDLE_LENGTH
    invalid(too_long, "q" * 255)


def test_a_field_that_is_not_utf8_is_invalid_not_a_crash() -> None:
    invalid(sealed(head() + fields(b"q\xff", b"i", b"m")), "q")
    odd = decode(sealed(head() + fields(b"q", b"i\xff", b"m")), "q")
    assert odd.incarnation == "i\ufffd"  # names no queue incarnation: the lookup misses


def test_receipts_are_values() -> None:
    assert {RECEIPT: 1}[Receipt(*vars(RECEIPT).values())] == 1
    with pytest.raises(AttributeError):
        RECEIPT.receipt_seq = 4  # type: ignore[misc]


def test_a_field_too_long_is_refused_naming_it() -> None:
    with pytest.raises(ValueError) as info:
        encode(Receipt("q" * 300, "i", 1, "m", 1))
    assert str(info.value) == f"receipt field too long: {'q' * 40!r}..."
    with pytest.raises(ValueError) as info:
        encode(Receipt("q" * 255, "i" * 255, 1, "m" * 236, 1))
    assert str(info.value) == "receipt handle too long"
