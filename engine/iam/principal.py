"""Who is asking: the authenticated principal every endpoint hands to authorization.

One shape for every protocol (gRPC metadata, SigV4 over HTTP, RESP AUTH), so the
question "may this principal do this action here?" is asked and answered alike
everywhere. ``keys`` carries the request's global condition keys that belong to the
caller rather than to the operation (aws:SourceIp, aws:SecureTransport, aws:userid ...).
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from dataclasses import dataclass, field

from engine.iam.policy import CompiledPolicy

ROOT, USER, ROLE_SESSION, ANONYMOUS = "root", "user", "assumed-role", "anonymous"


@dataclass(frozen=True)
class Principal:
    kind: str  # ROOT | USER | ROLE_SESSION | ANONYMOUS
    arn: str | None  # None: anonymous
    account: str
    name: str = ""  # the user's name; the role's name for a session
    unique_id: str = ""  # aws:userid: AIDA... for users, AROA...:session for sessions
    access_key: str = ""
    session_name: str = ""
    session_policy: CompiledPolicy | None = None
    expires: float | None = None  # temporary credentials: engine-clock seconds
    keys: dict[str, object] = field(default_factory=dict)

    @property
    def is_root(self) -> bool:
        return self.kind == ROOT

    @property
    def anonymous(self) -> bool:
        return self.kind == ANONYMOUS

    @property
    def canonical_id(self) -> str:
        """The S3 canonical user id of the account (ACL grants name accounts by it)."""
        return canonical_id(self.account)


def canonical_id(account: str) -> str:
    return hashlib.sha256(f"engine-account:{account}".encode()).hexdigest()


def anonymous(account: str) -> Principal:
    return Principal(ANONYMOUS, None, account)


# The current request's caller, set by the endpoint that authenticated it (each request is
# one asyncio task with its own context); read by whatever below needs to name the caller
# (an ACL's writer, an event record's userIdentity).
CALLER: ContextVar[Principal | None] = ContextVar("engine_principal", default=None)
