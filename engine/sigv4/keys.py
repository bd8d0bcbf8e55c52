"""Credentials and the SigV4 signing-key derivation.

The signing key depends only on (secret, date, region, service), so a server verifying
thousands of requests a day from one key derives it four HMACs deep once per day, not
once per request: a small LRU remembers recent keys. It lives in process memory next to
the secrets it was derived from, and never leaves it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from functools import lru_cache

from engine.sigv4.canonical import TERMINATOR

_CACHE_SIZE = 256


@dataclass(frozen=True)
class Credentials:
    """An access key pair, with the session token of temporary (STS) credentials."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def hmac_sha256(key: bytes, message: str | bytes) -> bytes:
    data = message.encode("utf-8") if isinstance(message, str) else message
    return hmac.digest(key, data, "sha256")  # one-shot: OpenSSL's, no HMAC object


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
    "aws4_request"); ``date`` is YYYYMMDD."""
    return _derive(secret, date, region, service)


@lru_cache(maxsize=_CACHE_SIZE)
def _derive(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac_sha256(f"AWS4{secret}".encode(), date)
    for part in (region, service, TERMINATOR):
        key = hmac_sha256(key, part)
    return key


def sign(key: bytes, string_to_sign: str) -> str:
    """The hex signature of a string to sign."""
    return hmac.digest(key, string_to_sign.encode("utf-8"), "sha256").hex()


def cache_info() -> tuple[int, int]:
    """(hits, misses) of the signing-key cache, so tests can see it work."""
    info = _derive.cache_info()
    return info.hits, info.misses
