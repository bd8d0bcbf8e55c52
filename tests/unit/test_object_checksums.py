"""Multipart checksums from part checksums: COMPOSITE as S3 computes it, FULL_OBJECT
CRCs combined without the data, checked against digests of the whole body."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest
from awscrt import checksums as crt

from engine.errors import EngineError
from engine.objects import checksums

PARTS = [b"a" * 1000, b"b" * 7, b"c"]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_composite_is_the_digest_of_the_part_digests():
    digests = [hashlib.sha256(p).digest() for p in PARTS]
    assert checksums.composite("SHA256", [b64(d) for d in digests]) == \
        b64(hashlib.sha256(b"".join(digests)).digest()) + "-3"


@pytest.mark.parametrize(("algorithm", "whole"), [
    ("CRC32", lambda data: zlib.crc32(data).to_bytes(4, "big")),
    ("CRC32C", lambda data: crt.crc32c(data).to_bytes(4, "big")),
    ("CRC64NVME", lambda data: crt.crc64nvme(data).to_bytes(8, "big")),
])
def test_full_object_crcs_combine_to_the_whole_bodys(algorithm, whole):
    parts = [(b64(checksums.digest(algorithm, p)), len(p)) for p in PARTS]
    assert checksums.full_object(algorithm, parts) == b64(whole(b"".join(PARTS)))


def test_crc64nvme_of_hello_world_is_awss():
    assert b64(checksums.digest("CRC64NVME", b"hello world")) == "jSnVw/bqjr4="


@pytest.mark.parametrize(("algorithm", "kind", "allowed"), [
    ("CRC32", "", "COMPOSITE"), ("CRC64NVME", "", "FULL_OBJECT"),
    ("CRC32C", "FULL_OBJECT", "FULL_OBJECT"), ("SHA1", "full_object", None),
    ("CRC64NVME", "COMPOSITE", None), ("", "COMPOSITE", None), ("SHA256", "OTHER", None),
])
def test_checksum_types_allowed_per_algorithm(algorithm, kind, allowed):
    if allowed is None:
        with pytest.raises(EngineError) as exc:
            checksums.check_type(algorithm, kind)
        assert exc.value.code == "InvalidRequest"
    else:
        assert checksums.check_type(algorithm, kind) == allowed
