"""Authorization of S3 REST requests: the same decision the gRPC API makes.

An operation with a gRPC twin builds the protobuf request that twin takes and asks the
same access table (engine/api/access_table.py) which AWS actions on which resources,
with which condition keys, it needs; each is decided by the same function the auth
interceptor uses (the caller's policies with the bucket's policy and ACLs,
engine/api/resource_policies.py), and refused with the same AccessDenied. So a policy
means one thing whichever protocol a client speaks. Operations only HTTP has
(GetBucketLocation) name their Access directly. The audit log gets the same lines.
"""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf.message import Message

from engine.api.access_table import Access, Target, accesses
from engine.api.audit import AuditedCall, AuditLog
from engine.api.auth_interceptor import Decide, authorize_all
from engine.iam.principal import Principal

OBJECT_STORE = "/engine.v1.ObjectStore/"


class S3Access:
    def __init__(self, decide: Decide, target: Callable[[], Target],
                 audit: AuditLog | None = None) -> None:
        self.decide = decide
        self.target = target
        self.audit = audit

    def audited(self, operation: str, authorization: str | None, peer: str
                ) -> AuditedCall | None:
        """The audit record of one request (None: no audit log). ``operation`` is S3's
        name; the line's method says it came over HTTP."""
        if self.audit is None:
            return None
        metadata = [("authorization", authorization)] if authorization else []
        return AuditedCall(self.audit, f"s3:REST.{operation}", "s3", metadata, peer)

    def of_rpc(self, method: str, request: Message) -> list[Access]:
        """What the gRPC method ``method`` (ObjectStore's) needs for ``request``."""
        return accesses(OBJECT_STORE + method, request, self.target())

    async def authorize(self, principal: Principal, needed: list[Access],
                        audit: AuditedCall | None = None) -> None:
        """Every access allowed, or the refusal of the first that is not."""
        await authorize_all(self.decide, principal, needed, audit)
