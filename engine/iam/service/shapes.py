"""Records as the IAM API returns them (the member names of the IAM API Reference), and
its paging.

Every protocol encodes these dicts its own way (the gRPC IAM service as JSON, the IAM
query API of the HTTP endpoint as XML), so the shapes live once, here. Dates are ISO
8601 strings (the SDK turns them into datetimes, as botocore does).
"""

from __future__ import annotations

from typing import Any

from engine.errors import EngineError
from engine.iam.store.state import Record

MAX_ITEMS = 1000


def user(r: Record) -> dict[str, Any]:
    out = {"Path": r["path"], "UserName": r["name"], "UserId": r["id"], "Arn": r["arn"],
           "CreateDate": r["created"]}
    if r.get("tags"):
        out["Tags"] = r["tags"]
    return out


def group(r: Record) -> dict[str, Any]:
    return {"Path": r["path"], "GroupName": r["name"], "GroupId": r["id"], "Arn": r["arn"],
            "CreateDate": r["created"]}


def role(r: Record) -> dict[str, Any]:
    out = {"Path": r["path"], "RoleName": r["name"], "RoleId": r["id"], "Arn": r["arn"],
           "CreateDate": r["created"], "AssumeRolePolicyDocument": r["trust"],
           "MaxSessionDuration": r["max_session"]}
    if r.get("description"):
        out["Description"] = r["description"]
    return out


def policy(r: Record) -> dict[str, Any]:
    out = {"PolicyName": r["name"], "PolicyId": r["id"], "Arn": r["arn"], "Path": r["path"],
           "DefaultVersionId": r["default"], "AttachmentCount": r["attachments"],
           "PermissionsBoundaryUsageCount": 0, "IsAttachable": True,
           "CreateDate": r["created"], "UpdateDate": r["updated"]}
    if r.get("description"):
        out["Description"] = r["description"]
    return out


def version(r: Record, name: str, *, document: bool) -> dict[str, Any]:
    v = r["versions"][name]
    out = {"VersionId": name, "IsDefaultVersion": r["default"] == name,
           "CreateDate": v["created"]}
    if document:
        out["Document"] = v["doc"]
    return out


def key(r: Record, *, secret: str | None = None) -> dict[str, Any]:
    out = {"UserName": r["user"], "AccessKeyId": r["id"], "Status": r["status"],
           "CreateDate": r["created"]}
    if secret is not None:
        out["SecretAccessKey"] = secret
    return out


def page(items: list[dict[str, Any]], field: str, sort_key: str, params: dict[str, Any]
         ) -> dict[str, Any]:
    """IAM's Marker/MaxItems paging over items sorted by ``sort_key``."""
    items = sorted(items, key=lambda i: str(i[sort_key]).lower())
    limit = int(params.get("MaxItems") or 100)
    if not 1 <= limit <= MAX_ITEMS:
        raise EngineError("ValidationError", f"1 validation error detected: Value '{limit}' "
                          "at 'maxItems' failed to satisfy constraint: Member must have "
                          f"value less than or equal to {MAX_ITEMS}")
    marker = params.get("Marker")
    if marker:
        items = [i for i in items if str(i[sort_key]).lower() > marker.lower()]
    out: dict[str, Any] = {field: items[:limit], "IsTruncated": len(items) > limit}
    if len(items) > limit:
        out["Marker"] = str(items[limit - 1][sort_key])
    return out
