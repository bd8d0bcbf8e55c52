"""aws-chunked bodies: S3's documented signature chains, boto3's streamed uploads, and the
decoder's refusals (a bad chunk found at that chunk, a wrong checksum, an oversized
header, a truncated body), whatever the sizes the bytes arrive in."""

from __future__ import annotations

import base64
import calendar
import io
import itertools
import zlib
from dataclasses import replace
from urllib.parse import urlsplit

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine._hotpath import crc32c
from engine.errors import EngineError
from engine.iam.signature import verify_request
from engine.iam.signature_chunked import ChunkedBody
from engine.sigv4 import (
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    ChunkedDecoder,
    ChunkedEncoder,
    ChunkedError,
    ChunkSigning,
    Credentials,
    sign_request,
)
from engine.sigv4.canonical import parse_amz_date
from engine.sigv4.chunk_signing import checksum_trailer

# S3 API reference, "Signature Calculations for the Authorization Header: Transferring
# Payload in Multiple Chunks" and "... Including Trailing Headers": 65 KiB of 'a' as a
# 64 KiB chunk, a 1 KiB chunk and the final empty one.
NOW = calendar.timegm((2013, 5, 24, 0, 0, 0))
KEY = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
URL = "https://s3.amazonaws.com/examplebucket/chunkObject.txt"
PAYLOAD = b"a" * 66560
EXAMPLE_HEADERS = [
    ("Content-Encoding", "aws-chunked"), ("x-amz-decoded-content-length", "66560"),
    ("x-amz-storage-class", "REDUCED_REDUNDANCY")]


def _seed(mode, headers):
    result = sign_request("PUT", URL, headers, KEY, "us-east-1", "s3", NOW, payload_hash=mode)
    return result, ChunkSigning(result.signing_key, result.amz_date, result.scope,
                                result.signature)


def _encode(mode, signing, pieces, trailers=()):
    encoder = ChunkedEncoder(mode, signing)
    return b"".join(encoder.chunk(p) for p in pieces) + encoder.finish(trailers)


def test_s3_example_signed_chunks():
    result, signing = _seed(STREAMING_SIGNED, [*EXAMPLE_HEADERS, ("Content-Length", "66824")])
    assert result.signed_headers == (
        "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
        "x-amz-decoded-content-length;x-amz-storage-class")
    assert result.signature == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    body = _encode(STREAMING_SIGNED, signing, [PAYLOAD[:65536], PAYLOAD[65536:]])
    assert len(body) == 66824
    assert body.startswith(
        b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        b"\r\n")
    assert (b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a5"
            b"03ef5497\r\n") in body
    assert body.endswith(
        b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
        b"\r\n\r\n")
    decoder = ChunkedDecoder(STREAMING_SIGNED, signing, decoded_length=66560)
    assert decoder.feed(body) == PAYLOAD
    decoder.finish()


def test_s3_example_signed_chunks_with_trailer():
    headers = [*EXAMPLE_HEADERS, ("x-amz-trailer", "x-amz-checksum-crc32c")]
    result, signing = _seed(STREAMING_SIGNED_TRAILER, headers)
    assert result.signature == "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
    checksum = base64.b64encode(crc32c(PAYLOAD).to_bytes(4, "big")).decode()
    assert checksum == "sOO8/Q=="
    body = _encode(STREAMING_SIGNED_TRAILER, signing, [PAYLOAD[:65536], PAYLOAD[65536:]],
                   [("x-amz-checksum-crc32c", checksum)])
    assert len(body) == 66946
    for signature in (b"b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
                      b"1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7"):
        assert b";chunk-signature=" + signature + b"\r\n" in body
    assert body.endswith(
        b"0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n"
        b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
        b"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
        b"\r\n\r\n")

    # The server path: verify the headers, then decode with the engine's CRC32C.
    sent = [("Host", "s3.amazonaws.com"), *headers, *result.headers]
    verified = verify_request("PUT", "/examplebucket/chunkObject.txt", "", sent, service="s3",
                              region="us-east-1", now=NOW, lookup={KEY.access_key_id:
                                                                   KEY.secret_access_key}.get)
    chunked = ChunkedBody(verified, sent)
    assert b"".join(chunked.feed(body[i:i + 999]) for i in range(0, len(body), 999)) == PAYLOAD
    chunked.finish()
    assert chunked.trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}


# --- any split of the wire, any chunk sizes

SIGNING = _seed(STREAMING_SIGNED, EXAMPLE_HEADERS)[1]


@settings(max_examples=60, deadline=None)
@given(
    mode=st.sampled_from([STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER]),
    pieces=st.lists(st.binary(min_size=1, max_size=300), max_size=6),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=12),
)
def test_any_split_decodes_to_the_payload(mode, pieces, cuts):
    payload = b"".join(pieces)
    trailers = [] if mode == STREAMING_SIGNED else [checksum_trailer("crc32", pieces)]
    body = _encode(mode, SIGNING, pieces, trailers)
    decoder = ChunkedDecoder(
        mode, SIGNING, declared_trailers=[name for name, _ in trailers],
        decoded_length=len(payload))
    out = []
    points = sorted({0, len(body), *(c % (len(body) + 1) for c in cuts)})
    for start, end in itertools.pairwise(points):
        piece = decoder.feed(body[start:end])
        assert len(piece) <= end - start  # bytes out never exceed bytes in
        out.append(piece)
    decoder.finish()
    assert b"".join(out) == payload
    assert decoder.trailers == dict(trailers)


@settings(max_examples=40, deadline=None)
@given(pieces=st.lists(st.binary(min_size=1, max_size=64), min_size=2, max_size=5),
       data=st.data())
def test_a_changed_byte_is_found_at_its_chunk(pieces, data):
    body = bytearray(_encode(STREAMING_SIGNED, SIGNING, pieces))
    index = data.draw(st.integers(min_value=0, max_value=len(pieces) - 1))
    header_len = len(f"{len(pieces[index]):x};chunk-signature=".encode()) + 64 + 2
    start = sum(len(f"{len(p):x}") + 17 + 64 + 2 + len(p) + 2 for p in pieces[:index])
    offset = data.draw(st.integers(min_value=0, max_value=len(pieces[index]) - 1))
    body[start + header_len + offset] ^= 0x01
    decoder = ChunkedDecoder(STREAMING_SIGNED, SIGNING)
    chunk_end = start + header_len + len(pieces[index])
    decoder.feed(bytes(body[:chunk_end - 1]))  # not caught early...
    with pytest.raises(ChunkedError) as info:
        decoder.feed(bytes(body[chunk_end - 1:]))  # ...but at that chunk's last byte
    assert info.value.code == "SignatureDoesNotMatch"
    assert info.value.details["Chunk"] == str(index + 1)


def test_reordered_chunks_and_a_wrong_seed_are_refused():
    first = ChunkedEncoder(STREAMING_SIGNED, SIGNING)
    one, two = first.chunk(b"one"), first.chunk(b"two")
    with pytest.raises(ChunkedError) as info:
        ChunkedDecoder(STREAMING_SIGNED, SIGNING).feed(two + one)
    assert info.value.details["Chunk"] == "1"
    other = ChunkSigning(SIGNING.signing_key, SIGNING.amz_date, SIGNING.scope, "0" * 64)
    with pytest.raises(ChunkedError):
        ChunkedDecoder(STREAMING_SIGNED, other).feed(one)


def test_dropping_the_last_chunk_is_found():
    encoder = ChunkedEncoder(STREAMING_SIGNED, SIGNING)
    one, _two = encoder.chunk(b"one"), encoder.chunk(b"two")
    final = encoder.finish()
    with pytest.raises(ChunkedError) as info:
        ChunkedDecoder(STREAMING_SIGNED, SIGNING).feed(one + final)
    assert info.value.code == "SignatureDoesNotMatch"


# --- trailers

def test_trailer_checksum_mismatch():
    wrong = checksum_trailer("crc32", [b"other"])
    body = _encode(STREAMING_SIGNED_TRAILER, SIGNING, [b"payload"], [wrong])
    decoder = ChunkedDecoder(STREAMING_SIGNED_TRAILER, SIGNING,
                             declared_trailers=["x-amz-checksum-crc32"])
    with pytest.raises(ChunkedError) as info:
        decoder.feed(body)
    assert (info.value.code, info.value.message) == (
        "BadDigest", "The CRC32 you specified did not match the calculated checksum.")


def test_trailer_signature_covers_the_trailer():
    right = checksum_trailer("sha256", [b"payload"])
    body = _encode(STREAMING_SIGNED_TRAILER, SIGNING, [b"payload"], [right])
    value = right[1].encode()
    forged = body.replace(value, base64.b64encode(b"\0" * 32))
    decoder = ChunkedDecoder(STREAMING_SIGNED_TRAILER, SIGNING,
                             declared_trailers=["x-amz-checksum-sha256"])
    with pytest.raises(ChunkedError) as info:
        decoder.feed(forged)
    assert info.value.code == "SignatureDoesNotMatch"


@pytest.mark.parametrize(("declared", "sent", "code"), [
    (["x-amz-checksum-crc32"], [], "IncompleteBody"),
    ([], [("x-amz-checksum-crc32", "AAAAAA==")], "InvalidRequest"),
    (["x-amz-checksum-crc32"], [("x-amz-checksum-crc32", "not base64!")], "InvalidRequest"),
])
def test_trailers_must_be_the_declared_ones(declared, sent, code):
    body = _encode(STREAMING_UNSIGNED_TRAILER, None, [b"x"], sent)
    with pytest.raises(ChunkedError) as info:
        ChunkedDecoder(STREAMING_UNSIGNED_TRAILER, declared_trailers=declared).feed(body)
    assert info.value.code == code


def test_an_unknown_checksum_algorithm_is_refused_up_front():
    with pytest.raises(ChunkedError) as info:
        ChunkedDecoder(STREAMING_UNSIGNED_TRAILER, declared_trailers=["x-amz-checksum-md4"])
    assert info.value.code == "InvalidRequest"


# --- framing

def test_an_oversized_chunk_header_is_refused_without_buffering_it():
    decoder = ChunkedDecoder(STREAMING_SIGNED, SIGNING)
    decoder.feed(b"1" * 4096)  # still within the 4 KiB bound
    with pytest.raises(ChunkedError) as info:
        decoder.feed(b"1")
    assert info.value.code == "InvalidRequest"
    with pytest.raises(ChunkedError):
        ChunkedDecoder(STREAMING_SIGNED, SIGNING).feed(b"a" * 100_000)


@pytest.mark.parametrize("cut", [0, 10, 90, 200, -3, -1])
def test_a_truncated_body_is_incomplete(cut):
    body = _encode(STREAMING_SIGNED, SIGNING, [b"x" * 100, b"y" * 10])
    decoder = ChunkedDecoder(STREAMING_SIGNED, SIGNING)
    decoder.feed(body[:cut])
    with pytest.raises(ChunkedError) as info:
        decoder.finish()
    assert (info.value.code, info.value.message) == (
        "IncompleteBody", "The request body ended before its final chunk.")


@pytest.mark.parametrize("body", [
    b"zz;chunk-signature=" + b"0" * 64 + b"\r\n",
    b"3;chunk-signature=short\r\n",
    b"3\r\nabc\r\n",
    b"3;chunk-signature=" + b"0" * 64 + b"\n",
])
def test_malformed_chunk_headers(body):
    with pytest.raises(ChunkedError) as info:
        ChunkedDecoder(STREAMING_SIGNED, SIGNING).feed(body)
    assert info.value.code == "InvalidRequest"


def test_chunk_data_longer_than_its_size():
    body = _encode(STREAMING_UNSIGNED_TRAILER, None, [b"abc"]).replace(b"abc\r\n", b"abcd\r\n")
    with pytest.raises(ChunkedError) as info:
        ChunkedDecoder(STREAMING_UNSIGNED_TRAILER).feed(body)
    assert info.value.message == "Chunk data is longer than its declared size."


def test_decoded_length_is_enforced_both_ways():
    body = _encode(STREAMING_SIGNED, SIGNING, [b"12345"])
    with pytest.raises(ChunkedError) as info:
        ChunkedDecoder(STREAMING_SIGNED, SIGNING, decoded_length=4).feed(body)
    assert info.value.code == "InvalidRequest"
    with pytest.raises(ChunkedError) as info:
        ChunkedDecoder(STREAMING_SIGNED, SIGNING, decoded_length=6).feed(body)
    assert info.value.code == "IncompleteBody"


def test_nothing_may_follow_the_end():
    body = _encode(STREAMING_SIGNED, SIGNING, [b"x"])
    decoder = ChunkedDecoder(STREAMING_SIGNED, SIGNING)
    decoder.feed(body)
    with pytest.raises(ChunkedError):
        decoder.feed(b"0")


# --- boto3's streamed upload: STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer

class Captured(Exception):
    def __init__(self, request: object) -> None:
        super().__init__("captured")
        self.request = request


def _capture(request: object, **_: object) -> None:
    raise Captured(request)


def _boto3_upload(payload: bytes):
    """boto3's PutObject of a file over HTTPS, as it would go on the wire, verified."""
    client = boto3.client(
        "s3", endpoint_url="https://127.0.0.1:9000", region_name="us-east-1",
        aws_access_key_id=KEY.access_key_id, aws_secret_access_key=KEY.secret_access_key)
    client.meta.events.register("before-send.s3.*", _capture)
    with pytest.raises(Captured) as info:
        client.put_object(Bucket="b", Key="big", Body=io.BytesIO(payload))
    request = info.value.request
    sent = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()]
    headers = [("Host", "127.0.0.1:9000"), *sent]
    parts = urlsplit(request.url)
    verified = verify_request(
        "PUT", parts.path, parts.query, headers, service="s3", region="us-east-1",
        now=parse_amz_date(dict(headers)["X-Amz-Date"]),
        lookup={KEY.access_key_id: KEY.secret_access_key}.get)
    return verified, headers, request.body.read()


def test_boto3_streamed_upload_decodes_and_its_checksum_is_checked():
    payload = bytes(range(256)) * 9000  # 2.3 MB: three chunks of botocore's 1 MiB
    verified, headers, body = _boto3_upload(payload)
    assert verified.payload_hash == STREAMING_UNSIGNED_TRAILER
    chunked = ChunkedBody(verified, headers)
    out = b"".join(chunked.feed(body[i:i + 65537]) for i in range(0, len(body), 65537))
    chunked.finish()
    assert out == payload
    crc = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()
    assert chunked.trailers == {"x-amz-checksum-crc32": crc}

    flipped = bytearray(body)
    flipped[100] ^= 0x01  # inside the first chunk's data: only the checksum can tell
    with pytest.raises(EngineError) as info:
        ChunkedBody(verified, headers).feed(bytes(flipped))
    assert info.value.code == "BadDigest"


def test_chunked_body_needs_a_streaming_request_and_its_decoded_length():
    verified, headers, _ = _boto3_upload(b"x")
    bare = [(k, v) for k, v in headers if k.lower() != "x-amz-decoded-content-length"]
    with pytest.raises(EngineError) as info:
        ChunkedBody(verified, bare)
    assert info.value.code == "MissingContentLength"
    with pytest.raises(ValueError):
        ChunkedBody(replace(verified, payload_hash="UNSIGNED-PAYLOAD"), headers)
