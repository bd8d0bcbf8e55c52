"""The written-out signature of the usual gRPC call (engine.sigv4.grpc_meta.plain_signature)
and the verifier's fast acceptance (engine.iam.signature_grpc) against the general SigV4
code: the same signatures, and the fast path never lets in what the general one refuses."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import EngineError
from engine.iam.signature import verify_grpc, verify_request
from engine.iam.signature_grpc import accept_plain
from engine.sigv4 import Credentials, sign_grpc
from engine.sigv4.canonical import TERMINATOR, UNSIGNED_PAYLOAD, format_amz_date
from engine.sigv4.grpc_meta import GRPC_METHOD, plain_signature, text_metadata
from engine.sigv4.keys import signing_key
from engine.sigv4.signer import sign_headers

KEY = Credentials("AKIDEXAMPLE0000000001", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
NOW = 1440938160.0  # 20150830T123600Z, the SigV4 test suite's time
METHOD = "/engine.v1.ObjectStore/GetObject"
HOST = "127.0.0.1:50051"


def general(method: str, host: str, message: bytes | None, region: str, service: str,
            now: float) -> str:
    """The signature the general canonical-request code gives the same call."""
    payload = UNSIGNED_PAYLOAD if message is None else hashlib.sha256(message).hexdigest()
    amz_date = format_amz_date(now)
    headers = {"host": [host], "x-amz-date": [amz_date], "x-amz-content-sha256": [payload]}
    signed = sign_headers(GRPC_METHOD, method, "", headers, payload, KEY, region, service,
                          amz_date)
    return dict(signed.headers)["authorization"].rsplit("Signature=", 1)[1]


def test_a_pinned_signature() -> None:
    """botocore's S3SigV4Auth, signing POST http://127.0.0.1:50051/engine.v1.ObjectStore/
    GetObject with this body at 20150830T123600Z, gives this signature: the written-out
    form must too."""
    metadata = dict(sign_grpc(METHOD, HOST, b"\x0a\x05photo", KEY, "us-east-1", "s3", NOW))
    assert metadata["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE0000000001/20150830/us-east-1/s3/"
        "aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="
        "4dfaaefbe4f826a7655d910c5223487a94f90b9d7ae333bd30bfdd0b48f14b70")


@settings(max_examples=200, deadline=None)
@given(path=st.from_regex(r"/[A-Za-z0-9._/-]{0,40}", fullmatch=True),
       host=st.from_regex(r"[a-z0-9.-]{1,20}:[0-9]{1,5}", fullmatch=True),
       message=st.one_of(st.none(), st.binary(max_size=64)),
       region=st.sampled_from(["us-east-1", "eu-west-3", "ap-south-1"]),
       service=st.sampled_from(["s3", "sqs", "elasticache", "iam", "sts", "engine"]),
       offset=st.integers(0, 10**8))
def test_plain_signatures_equal_the_general_ones(path, host, message, region, service,
                                                 offset) -> None:
    now = NOW + offset
    metadata = dict(sign_grpc(path, host, message, KEY, region, service, now))
    assert metadata["authorization"].rsplit("Signature=", 1)[1] == general(
        path, host, message, region, service, now)


def test_paths_and_hosts_the_canonical_form_would_change_are_not_written_out() -> None:
    amz_date = format_amz_date(NOW)
    key = signing_key(KEY.secret_access_key, amz_date[:8], "us-east-1", "s3")
    scope = f"{amz_date[:8]}/us-east-1/s3/{TERMINATOR}"
    for path, host in (("/a b", HOST), ("/a%2F", HOST), ("//", HOST), ("/a/./b", HOST),
                       ("/a/../b", HOST), ("/a/", HOST), (METHOD, " host"), (METHOD, "h\tx")):
        assert plain_signature(path, host, amz_date, UNSIGNED_PAYLOAD, key, scope) is None


def lookup(key_id: str) -> str | None:
    return KEY.secret_access_key if key_id == KEY.access_key_id else None


def outcome(metadata: list[tuple[str, str]], message: bytes | None) -> str:
    """What the general verifier alone says (verify_grpc would try the fast path first)."""
    headers = text_metadata(metadata)
    if "authorization" not in {key for key, _ in headers}:
        return "anonymous"
    digest = None if message is None else hashlib.sha256(message).hexdigest()
    try:
        found = verify_request(GRPC_METHOD, METHOD, "", headers, service="s3",
                               region="us-east-1", now=NOW, lookup=lookup,
                               payload_hash=digest)
    except EngineError as err:
        return err.code
    return f"ok:{found.access_key_id}"


def tampered(metadata: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Every one-entry change an attacker could make to a signed call."""
    out = []
    for i, (key, value) in enumerate(metadata):
        flipped = value[:-1] + ("0" if value[-1] != "0" else "1")
        out.append([*metadata[:i], (key, flipped), *metadata[i + 1:]])
        out.append([*metadata[:i], *metadata[i + 1:]])
        out.append([*metadata, (key, value)])  # repeated
    out.append([*metadata, ("x-amz-acl", "public-read")])
    out.append([*metadata, ("x-amz-security-token", "forged")])
    return out


@pytest.mark.parametrize("message", [b"\x0a\x05photo", None])
def test_the_fast_path_accepts_only_what_the_general_path_accepts(message) -> None:
    metadata = sign_grpc(METHOD, HOST, message, KEY, "us-east-1", "s3", NOW)
    fast = accept_plain(METHOD, metadata, service="s3", region="us-east-1", now=NOW,
                        lookup=lookup, message=message)
    assert fast is not None and fast.access_key_id == KEY.access_key_id
    assert verify_grpc(METHOD, metadata, service="s3", region="us-east-1", now=NOW,
                       lookup=lookup, message=message) == fast
    assert outcome(metadata, message) == f"ok:{KEY.access_key_id}"
    assert fast.scope == "20150830/us-east-1/s3/aws4_request"
    for changed in tampered(metadata):
        accepted = accept_plain(METHOD, changed, service="s3", region="us-east-1", now=NOW,
                                lookup=lookup, message=message)
        if accepted is not None:
            assert outcome(changed, message).startswith("ok:"), changed
    other = b"\x0a\x05other"
    assert accept_plain(METHOD, metadata, service="s3", region="us-east-1", now=NOW,
                        lookup=lookup, message=other if message else b"") is None
    for now in (NOW + 900, NOW - 900):  # 15 minutes exactly: still in time, as in general
        assert accept_plain(METHOD, metadata, service="s3", region="us-east-1", now=now,
                            lookup=lookup, message=message) is not None
    for now in (NOW + 901, NOW - 901):
        assert accept_plain(METHOD, metadata, service="s3", region="us-east-1", now=now,
                            lookup=lookup, message=message) is None
    assert accept_plain(METHOD, metadata, service="sqs", region="us-east-1", now=NOW,
                        lookup=lookup, message=message) is None
    assert accept_plain("/engine.v1.ObjectStore/DeleteObject", metadata, service="s3",
                        region="us-east-1", now=NOW, lookup=lookup, message=message) is None
    assert accept_plain(METHOD, metadata, service="s3", region="us-east-1", now=NOW,
                        lookup=lambda k: None, message=message) is None
