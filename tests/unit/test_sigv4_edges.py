"""SigV4 verification at its edges: header bytes that are not UTF-8 and access key ids
with a slash, which reach the verifier from the HTTP server as they are."""

from __future__ import annotations

import calendar
import hashlib

import pytest

from engine.errors import EngineError
from engine.iam.signature import verify_request
from engine.sigv4 import Credentials, sign_request

NOW = calendar.timegm((2013, 5, 24, 0, 0, 0))
HOST = "examplebucket.s3.amazonaws.com"
EMPTY = hashlib.sha256(b"").hexdigest()


def signed(credentials: Credentials) -> list[tuple[str, str]]:
    result = sign_request("GET", f"https://{HOST}/test.txt", [], credentials, "us-east-1", "s3",
                          NOW, payload_hash=EMPTY)
    return [("Host", HOST), *result.headers]


def error_of(headers: list[tuple[str, str]], secrets: dict[str, str]) -> EngineError:
    with pytest.raises(EngineError) as info:
        verify_request("GET", "/test.txt", "", headers, service="s3", region="us-east-1",
                       now=NOW, lookup=secrets.get)
    return info.value


def test_a_signature_with_undecodable_bytes_is_a_mismatch_not_a_crash() -> None:
    """aiohttp hands header bytes that are not UTF-8 over as lone surrogates."""
    key = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    headers = [(k, v.rsplit("=", 1)[0] + "=\udcff\udcfe" if k.lower() == "authorization"
                else v) for k, v in signed(key)]
    err = error_of(headers, {key.access_key_id: key.secret_access_key})
    assert err.code == "SignatureDoesNotMatch"


def test_an_access_key_id_with_a_slash_is_looked_up_whole() -> None:
    """The credential is split from the right: the scope has exactly four parts, and
    whatever precedes them is the key id (AWS's never has a slash; a wrong one is unknown,
    not malformed)."""
    key = Credentials("AKIA/EXAMPLE", "secret")
    headers = signed(key)
    assert verify_request("GET", "/test.txt", "", headers, service="s3", region="us-east-1",
                          now=NOW, lookup={"AKIA/EXAMPLE": "secret"}.get) is not None
    err = error_of(headers, {})
    assert (err.code, err.details) == ("InvalidAccessKeyId", {"AWSAccessKeyId": "AKIA/EXAMPLE"})
