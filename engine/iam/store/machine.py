"""IdentityMachine: every change to the identity store, decided in log order.

The service layer validates names and policy documents and seals secrets before it
proposes (those checks need no state and would otherwise run on every replica); the
machine decides everything that depends on the state — existence, conflicts, quotas —
so two nodes creating the same user at once get one EntityAlreadyExists between them.
Commands are JSON objects ``{"op": ..., "now": "...", ...}``; ``now`` is the proposer's
engine-clock time (ISO 8601), the only time an apply sees.
"""

from __future__ import annotations

import json
from typing import Any

from engine.cluster.consensus.machine import Keyspace, Rejected, ReplicatedStateMachine
from engine.iam.store import cache_users, members
from engine.iam.store.state import Record, State, dumps

# AWS's default IAM quotas ("IAM and AWS STS quotas").
QUOTAS = {"UsersPerAccount": 5000, "GroupsPerAccount": 300, "RolesPerAccount": 1000,
          "PoliciesPerAccount": 1500, "GroupsPerUser": 10, "AccessKeysPerUser": 2,
          "PolicyVersionsPerPolicy": 5, "AttachedPoliciesPerEntity": 10}
COUNTED = {"user": "UsersPerAccount", "group": "GroupsPerAccount",
           "role": "RolesPerAccount", "policy": "PoliciesPerAccount"}


def over(quota: str) -> Rejected:
    return Rejected("LimitExceeded", f"Cannot exceed quota for {quota}: {QUOTAS[quota]}")


class IdentityMachine(ReplicatedStateMachine):
    name = "iam"

    def apply(self, keys: Keyspace, command: bytes, index: int) -> bytes:
        cmd: dict[str, Any] = json.loads(command)
        handler = _OPS.get(cmd.get("op", ""))
        if handler is None:
            raise Rejected("InvalidInput", f"unknown identity store operation {cmd.get('op')!r}")
        return dumps(handler(State(keys), cmd))


# -- the account and its root key -----------------------------------------------------


def _bootstrap(s: State, cmd: Record) -> Record:
    """First start of the cluster: the first proposal wins, later ones see it. A root
    key given again with another id (ENGINE_ROOT_ACCESS_KEY_ID changed) replaces it."""
    current = s.account()
    if current is not None and not cmd.get("replace"):
        return current
    if current is not None:
        if current["root_key"] == cmd["key_id"]:
            return current
        s.delete("key", current["root_key"])
        current["root_key"] = cmd["key_id"]
    else:
        current = {"id": cmd["account"], "root_key": cmd["key_id"], "created": cmd["now"]}
    s.put("key", {"id": cmd["key_id"], "user": "", "status": "Active",
                  "sealed": cmd["sealed"], "created": cmd["now"]})
    s.put_account(current)
    return current


# -- users, groups, roles ---------------------------------------------------------------


def _create(kind: str) -> Any:
    def create(s: State, cmd: Record) -> Record:
        record: Record = cmd["record"]
        s.absent(kind, record["name"])
        if s.count(kind) >= QUOTAS[COUNTED[kind]]:
            raise over(COUNTED[kind])
        record.update(created=cmd["now"], inline={}, attached=[])
        record.update({"user": {"groups": [], "keys": []}, "group": {"members": []},
                       "role": {}, "policy": {}}[kind])
        if kind == "policy":
            del record["inline"], record["attached"]
            record.update(versions={"v1": {"doc": cmd["doc"], "created": cmd["now"]}},
                          default="v1", next=2, attachments=0, updated=cmd["now"])
        s.put(kind, record)
        return record
    return create


def _delete(kind: str) -> Any:
    def delete(s: State, cmd: Record) -> Record:
        record = s.need(kind, cmd["name"])
        members.check_deletable(kind, record)
        s.delete(kind, cmd["name"])
        return {}
    return delete


def _update_role(s: State, cmd: Record) -> Record:
    role = s.need("role", cmd["name"])
    for field in ("trust", "max_session", "description"):
        if field in cmd:
            role[field] = cmd[field]
    s.put("role", role)
    return role


def _add_to_group(s: State, cmd: Record) -> Record:
    group, user = s.need("group", cmd["group"]), s.need("user", cmd["user"])
    if group["name"].lower() in (g.lower() for g in user["groups"]):
        return {}
    if len(user["groups"]) >= QUOTAS["GroupsPerUser"]:
        raise over("GroupsPerUser")
    user["groups"].append(group["name"])
    group["members"].append(user["name"])
    s.put("user", user)
    s.put("group", group)
    return {}


def _remove_from_group(s: State, cmd: Record) -> Record:
    group, user = s.need("group", cmd["group"]), s.need("user", cmd["user"])
    user["groups"] = [g for g in user["groups"] if g.lower() != group["name"].lower()]
    group["members"] = [u for u in group["members"] if u.lower() != user["name"].lower()]
    s.put("user", user)
    s.put("group", group)
    return {}


# -- access keys ------------------------------------------------------------------------


def _create_key(s: State, cmd: Record) -> Record:
    user = s.need("user", cmd["user"])
    if len(user["keys"]) >= QUOTAS["AccessKeysPerUser"]:
        raise over("AccessKeysPerUser")
    key = {"id": cmd["key_id"], "user": user["name"], "status": "Active",
           "sealed": cmd["sealed"], "created": cmd["now"]}
    user["keys"].append(key["id"])
    s.put("key", key)
    s.put("user", user)
    return key


def _owned_key(s: State, cmd: Record) -> tuple[Record, Record | None]:
    key = s.need("key", cmd["key_id"])
    owner = cmd.get("user", "")
    if key["user"].lower() != owner.lower():
        raise Rejected("NoSuchEntity", f"The Access Key with id {cmd['key_id']} cannot be "
                       "found.")
    return key, (s.need("user", owner) if owner else None)


def _update_key(s: State, cmd: Record) -> Record:
    key, _ = _owned_key(s, cmd)
    key["status"] = cmd["status"]
    s.put("key", key)
    return key


def _delete_key(s: State, cmd: Record) -> Record:
    key, user = _owned_key(s, cmd)
    if user is None:
        raise Rejected("InvalidInput", "The root access key is replaced by restarting with "
                       "ENGINE_ROOT_ACCESS_KEY_ID and ENGINE_ROOT_SECRET_ACCESS_KEY set")
    user["keys"] = [k for k in user["keys"] if k != key["id"]]
    s.delete("key", key["id"])
    s.put("user", user)
    return {}


def _touch_keys(s: State, cmd: Record) -> Record:
    """Last-used times, batched by each node (AWS's are approximate too)."""
    for key_id, used in sorted(cmd["used"].items()):
        key = s.get("key", key_id)
        if key is not None and used["date"] > key.get("last_used", {}).get("date", ""):
            key["last_used"] = used
            s.keys.put(b"k/" + key_id.encode(), dumps(key))  # not a change callers cache
    return {}


# Account-wide settings the machine stores as given (the service validated them).
SETTING_NAMES = frozenset({"s3-public-access-block"})


def _put_setting(s: State, cmd: Record) -> Record:
    if cmd.get("name") not in SETTING_NAMES:
        raise Rejected("InvalidInput", f"unknown account setting {cmd.get('name')!r}")
    s.put_setting(cmd["name"], cmd.get("value"))
    return {}


_OPS: dict[str, Any] = {
    "bootstrap": _bootstrap,
    **{f"create_{k}": _create(k) for k in ("user", "group", "role", "policy")},
    **{f"delete_{k}": _delete(k) for k in ("user", "group", "role", "policy")},
    "update_role": _update_role,
    "add_user_to_group": _add_to_group,
    "remove_user_from_group": _remove_from_group,
    "create_key": _create_key,
    "update_key": _update_key,
    "delete_key": _delete_key,
    "touch_keys": _touch_keys,
    "put_setting": _put_setting,
    **members.OPS,
    **cache_users.OPS,
}
