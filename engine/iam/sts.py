"""Temporary credentials (STS): GetSessionToken, AssumeRole, GetCallerIdentity.

A session token is self-contained: the session's secret, who it acts for, its session
policy and its expiry, sealed with a key derived from the cluster's (a purpose of its
own, engine/iam/sealing.py). Any node can check it with no shared state and nothing to
replicate per session; expiry is read on the engine clock. What a token cannot outlive:
the user or role it acts for (checked on every use), its expiry.

Token payload (JSON, sealed, then URL-safe base64 without padding): ``k`` access key id,
``s`` secret, ``x`` expiry (engine-clock seconds), ``t`` kind ("user" | "assumed-role"),
``n`` user or role name, ``i`` unique id, ``a`` account, ``r`` session name, ``p``
session policy text.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from engine.errors import EngineError
from engine.iam import names
from engine.iam.sealing import TOKENS, Sealer

BOUND = "engine-sts-token"
TOKEN_PREFIX = "EngineSts1"


@dataclass(frozen=True)
class Session:
    access_key_id: str
    secret: str
    expires: float
    kind: str
    name: str
    unique_id: str
    account: str
    session_name: str = ""
    policy: str = ""


def expired() -> EngineError:
    return EngineError("ExpiredToken", "The security token included in the request is expired")


def invalid_token() -> EngineError:
    return EngineError("InvalidClientTokenId", "The security token included in the request "
                       "is invalid.")


class Tokens:
    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer.for_purpose(TOKENS)

    def issue(self, session: Session) -> str:
        payload = {"k": session.access_key_id, "s": session.secret, "x": session.expires,
                   "t": session.kind, "n": session.name, "i": session.unique_id,
                   "a": session.account, "r": session.session_name, "p": session.policy}
        sealed = self._sealer.seal(json.dumps(payload, separators=(",", ":")), BOUND)
        return TOKEN_PREFIX + base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, token: str, access_key_id: str, now: float) -> Session:
        """The session behind a token presented with ``access_key_id``: InvalidClientTokenId
        for anything forged, damaged or paired with another key, ExpiredToken after its
        expiry."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 8192:
            raise invalid_token()
        body = token[len(TOKEN_PREFIX):]
        try:
            sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            data: dict[str, Any] = json.loads(self._sealer.open(sealed, BOUND))
        except (ValueError, UnicodeDecodeError) as exc:
            raise invalid_token() from exc
        if data["k"] != access_key_id:
            raise invalid_token()
        if now >= data["x"]:
            raise expired()
        return Session(data["k"], data["s"], data["x"], data["t"], data["n"], data["i"],
                       data["a"], data["r"], data["p"])


def new_session_keys() -> tuple[str, str]:
    return names.new_id("session-key"), names.new_secret()
