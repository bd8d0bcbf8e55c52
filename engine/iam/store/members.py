"""What hangs off an identity: inline policies, attached managed policies, policy
versions, and the rule that an entity is deleted only once they are gone (IAM's
DeleteConflict: AWS makes callers detach first, so nothing is removed by surprise)."""

from __future__ import annotations

from typing import Any

from engine.cluster.consensus.machine import Rejected
from engine.iam.store.state import Record, State

# Aggregate size of an entity's inline policies, non-whitespace characters (AWS quotas).
INLINE_QUOTA = {"user": ("UserPolicySize", 2048), "group": ("GroupPolicySize", 5120),
                "role": ("RolePolicySize", 10240)}
ATTACHED_QUOTA = 10
VERSIONS_QUOTA = 5


def size(document: str) -> int:
    return sum(1 for c in document if not c.isspace())


def check_deletable(kind: str, record: Record) -> None:
    conflict = ""
    if kind == "user" and record["keys"]:
        conflict = "Cannot delete entity, must delete access keys first."
    elif record.get("groups") or record.get("members"):
        conflict = "Cannot delete entity, must remove users from group first."
    elif kind in ("user", "group", "role") and record["inline"]:
        conflict = "Cannot delete entity, must delete policies first."
    elif kind in ("user", "group", "role") and record["attached"]:
        conflict = "Cannot delete entity, must detach all policies first."
    elif kind == "policy" and record["attachments"]:
        conflict = "Cannot delete a policy attached to entities."
    elif kind == "policy" and len(record["versions"]) > 1:
        conflict = ("This policy has more than one version. Before you delete a policy, "
                    "you must delete the policy's versions. The default version is "
                    "deleted with the policy.")
    if conflict:
        raise Rejected("DeleteConflict", conflict)


def _policy_by_arn(s: State, arn: str) -> Record:
    name = arn.rsplit("/", 1)[-1]
    policy = s.get("policy", name)
    if policy is None or policy["arn"] != arn:
        raise Rejected("NoSuchEntity", f"Policy {arn} does not exist or is not attachable.")
    return policy


def _attach(s: State, cmd: Record) -> Record:
    kind, entity = cmd["kind"], s.need(cmd["kind"], cmd["name"])
    policy = _policy_by_arn(s, cmd["arn"])
    if policy["arn"] in entity["attached"]:
        return {}
    if len(entity["attached"]) >= ATTACHED_QUOTA:
        quota = {"user": "PoliciesPerUser", "group": "PoliciesPerGroup",
                 "role": "PoliciesPerRole"}[kind]
        raise Rejected("LimitExceeded", f"Cannot exceed quota for {quota}: {ATTACHED_QUOTA}")
    entity["attached"].append(policy["arn"])
    policy["attachments"] += 1
    s.put(kind, entity)
    s.put("policy", policy)
    return {}


def _detach(s: State, cmd: Record) -> Record:
    kind, entity = cmd["kind"], s.need(cmd["kind"], cmd["name"])
    policy = _policy_by_arn(s, cmd["arn"])
    if policy["arn"] not in entity["attached"]:
        raise Rejected("NoSuchEntity", f"Policy {cmd['arn']} was not found.")
    entity["attached"].remove(policy["arn"])
    policy["attachments"] -= 1
    s.put(kind, entity)
    s.put("policy", policy)
    return {}


def _put_inline(s: State, cmd: Record) -> Record:
    kind, entity = cmd["kind"], s.need(cmd["kind"], cmd["name"])
    inline = {k: v for k, v in entity["inline"].items() if k.lower() != cmd["policy"].lower()}
    inline[cmd["policy"]] = cmd["doc"]
    quota, limit = INLINE_QUOTA[kind]
    if sum(size(d) for d in inline.values()) > limit:
        raise Rejected("LimitExceeded", f"Cannot exceed quota for {quota}: {limit}")
    entity["inline"] = inline
    s.put(kind, entity)
    return {}


def _delete_inline(s: State, cmd: Record) -> Record:
    kind, entity = cmd["kind"], s.need(cmd["kind"], cmd["name"])
    found = [k for k in entity["inline"] if k.lower() == cmd["policy"].lower()]
    if not found:
        raise Rejected("NoSuchEntity", f"The {kind} policy with name {cmd['policy']} cannot "
                       "be found.")
    del entity["inline"][found[0]]
    s.put(kind, entity)
    return {}


def _create_version(s: State, cmd: Record) -> Record:
    policy = _policy_by_arn(s, cmd["arn"])
    if len(policy["versions"]) >= VERSIONS_QUOTA:
        raise Rejected("LimitExceeded", "A managed policy can have up to 5 versions. Before "
                       "you create a new version, you must delete an existing version.")
    version = f"v{policy['next']}"
    policy["next"] += 1
    policy["versions"][version] = {"doc": cmd["doc"], "created": cmd["now"]}
    if cmd.get("set_default"):
        policy["default"] = version
    policy["updated"] = cmd["now"]
    s.put("policy", policy)
    return {"version": version, **policy["versions"][version],
            "default": policy["default"] == version}


def _known_version(policy: Record, version: str) -> None:
    if version not in policy["versions"]:
        raise Rejected("NoSuchEntity", f"Policy {policy['arn']} version {version} does not "
                       "exist or is not attachable.")


def _delete_version(s: State, cmd: Record) -> Record:
    policy = _policy_by_arn(s, cmd["arn"])
    _known_version(policy, cmd["version"])
    if policy["default"] == cmd["version"]:
        raise Rejected("DeleteConflict", "Cannot delete the default version of a policy.")
    del policy["versions"][cmd["version"]]
    s.put("policy", policy)
    return {}


def _set_default(s: State, cmd: Record) -> Record:
    policy = _policy_by_arn(s, cmd["arn"])
    _known_version(policy, cmd["version"])
    policy["default"] = cmd["version"]
    policy["updated"] = cmd["now"]
    s.put("policy", policy)
    return {}


OPS: dict[str, Any] = {
    "attach": _attach,
    "detach": _detach,
    "put_inline": _put_inline,
    "delete_inline": _delete_inline,
    "create_policy_version": _create_version,
    "delete_policy_version": _delete_version,
    "set_default_policy_version": _set_default,
}
