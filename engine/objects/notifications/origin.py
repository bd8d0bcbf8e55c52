"""Who caused an event and from where: userIdentity and requestParameters of the record.

The endpoint that authenticated the request put its caller in
:data:`engine.iam.principal.CALLER` (the aws:SourceIp condition key among its keys); the
object service, several calls below, reads it when it writes the record.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.iam.principal import CALLER, ROOT, Principal


@dataclass(frozen=True)
class EventOrigin:
    principal_id: str = ""  # userIdentity.principalId: "AWS:AIDA...", the account for root
    source_ip: str = ""  # requestParameters.sourceIPAddress


LIFECYCLE = EventOrigin("s3.amazonaws.com", "s3.amazonaws.com")  # what S3 names itself
ANONYMOUS = "ANONYMOUS_PRINCIPAL"


def of(principal: Principal | None) -> EventOrigin:
    """IAM users and role sessions as "AWS:" + their unique id (S3's form), the account
    root as its account id."""
    if principal is None or principal.anonymous:
        who = ANONYMOUS
    elif principal.kind == ROOT:
        who = principal.account
    else:
        who = f"AWS:{principal.unique_id or principal.name}"
    ip = principal.keys.get("aws:SourceIp", "") if principal is not None else ""
    return EventOrigin(who, str(ip))


def current() -> EventOrigin:
    return of(CALLER.get())
