"""IAM operations on managed policies (with versions), attachments and inline policies.

Documents are validated here, with the kind's size limit and error wording, before
anything is proposed; the machine stores them as given (text, as AWS returns them).
"""

from __future__ import annotations

from typing import Any

from engine.errors import EngineError
from engine.iam import names
from engine.iam.policy import GROUP_INLINE, MANAGED, ROLE_INLINE, USER_INLINE, parse_policy
from engine.iam.service import shapes
from engine.iam.service.context import Call

Out = dict[str, Any]
ENTITIES = {"User": "user", "Group": "group", "Role": "role"}
INLINE_KIND = {"user": USER_INLINE, "group": GROUP_INLINE, "role": ROLE_INLINE}


def _policy_name(arn: str) -> str:
    if not arn.startswith("arn:aws:iam::") or ":policy/" not in arn:
        raise EngineError("InvalidInput", f"ARN {arn} is not valid.")
    return arn.rsplit("/", 1)[-1]


async def _policy(call: Call) -> dict[str, Any]:
    arn = call.need("PolicyArn")
    record = await call.store.fetch("policy", _policy_name(arn))
    if record is None or record["arn"] != arn:
        raise EngineError("NoSuchEntity", f"Policy {arn} was not found.")
    return record


async def create_policy(call: Call) -> Out:
    name = names.check_name("policy", call.need("PolicyName"))
    path = names.check_path(call.get("Path", "/"))
    doc = call.need("PolicyDocument")
    parse_policy(doc, MANAGED)
    record = {"name": name, "path": path, "id": names.new_id("policy"),
              "arn": names.policy_arn(call.account, name, path),
              "description": str(call.get("Description", ""))}
    made = await call.change("create_policy", record=record, doc=doc)
    return {"Policy": shapes.policy(made)}


async def get_policy(call: Call) -> Out:
    return {"Policy": shapes.policy(await _policy(call))}


async def list_policies(call: Call) -> Out:
    if call.get("Scope", "All") == "AWS":
        return {"Policies": [], "IsTruncated": False}
    prefix, attached = call.get("PathPrefix", "/"), call.get("OnlyAttached", False)
    found = [shapes.policy(r) for r in await call.store.all("policy")
             if r["path"].startswith(prefix) and (r["attachments"] or not attached)]
    return shapes.page(found, "Policies", "PolicyName", call.params)


async def delete_policy(call: Call) -> Out:
    await call.change("delete_policy", name=(await _policy(call))["name"])
    return {}


async def create_policy_version(call: Call) -> Out:
    doc = call.need("PolicyDocument")
    parse_policy(doc, MANAGED)
    made = await call.change("create_policy_version", arn=call.need("PolicyArn"), doc=doc,
                             set_default=bool(call.get("SetAsDefault", False)))
    return {"PolicyVersion": {"VersionId": made["version"],
                              "IsDefaultVersion": made["default"],
                              "CreateDate": made["created"]}}


async def get_policy_version(call: Call) -> Out:
    record, version = await _policy(call), call.need("VersionId")
    if version not in record["versions"]:
        raise EngineError("NoSuchEntity", f"Policy {record['arn']} version {version} does "
                          "not exist or is not attachable.")
    return {"PolicyVersion": shapes.version(record, version, document=True)}


async def list_policy_versions(call: Call) -> Out:
    record = await _policy(call)
    versions = [shapes.version(record, v, document=False) for v in record["versions"]]
    versions.sort(key=lambda v: int(v["VersionId"][1:]), reverse=True)
    return {"Versions": versions, "IsTruncated": False}


async def delete_policy_version(call: Call) -> Out:
    await call.change("delete_policy_version", arn=call.need("PolicyArn"),
                      version=call.need("VersionId"))
    return {}


async def set_default_policy_version(call: Call) -> Out:
    await call.change("set_default_policy_version", arn=call.need("PolicyArn"),
                      version=call.need("VersionId"))
    return {}


def _entity_ops(title: str, kind: str) -> dict[str, Any]:
    field = f"{title}Name"

    async def attach(call: Call) -> Out:
        await call.change("attach", kind=kind, name=call.need(field),
                          arn=call.need("PolicyArn"))
        return {}

    async def detach(call: Call) -> Out:
        await call.change("detach", kind=kind, name=call.need(field),
                          arn=call.need("PolicyArn"))
        return {}

    async def list_attached(call: Call) -> Out:
        entity = await call.existing(kind, call.need(field))
        found = [{"PolicyName": arn.rsplit("/", 1)[-1], "PolicyArn": arn}
                 for arn in entity["attached"]]
        return shapes.page(found, "AttachedPolicies", "PolicyName", call.params)

    async def put_inline(call: Call) -> Out:
        policy = names.check_name("inline", call.need("PolicyName"))
        doc = call.need("PolicyDocument")
        parse_policy(doc, INLINE_KIND[kind])
        await call.change("put_inline", kind=kind, name=call.need(field), policy=policy,
                          doc=doc)
        return {}

    async def get_inline(call: Call) -> Out:
        entity = await call.existing(kind, call.need(field))
        wanted = call.need("PolicyName")
        for name, doc in entity["inline"].items():
            if name.lower() == wanted.lower():
                return {field: entity["name"], "PolicyName": name, "PolicyDocument": doc}
        raise EngineError("NoSuchEntity", f"The {kind} policy with name {wanted} cannot be "
                          "found.")

    async def delete_inline(call: Call) -> Out:
        await call.change("delete_inline", kind=kind, name=call.need(field),
                          policy=call.need("PolicyName"))
        return {}

    async def list_inline(call: Call) -> Out:
        entity = await call.existing(kind, call.need(field))
        return {"PolicyNames": sorted(entity["inline"], key=str.lower), "IsTruncated": False}

    return {f"Attach{title}Policy": attach, f"Detach{title}Policy": detach,
            f"ListAttached{title}Policies": list_attached, f"Put{title}Policy": put_inline,
            f"Get{title}Policy": get_inline, f"Delete{title}Policy": delete_inline,
            f"List{title}Policies": list_inline}


OPERATIONS: dict[str, Any] = {
    "CreatePolicy": create_policy, "GetPolicy": get_policy, "ListPolicies": list_policies,
    "DeletePolicy": delete_policy, "CreatePolicyVersion": create_policy_version,
    "GetPolicyVersion": get_policy_version, "ListPolicyVersions": list_policy_versions,
    "DeletePolicyVersion": delete_policy_version,
    "SetDefaultPolicyVersion": set_default_policy_version,
    **{op: fn for title, kind in ENTITIES.items()
       for op, fn in _entity_ops(title, kind).items()},
}
