"""IAM operations on users, groups and roles (IAM API Reference names and shapes)."""

from __future__ import annotations

from typing import Any

from engine.errors import EngineError
from engine.iam import names
from engine.iam.policy import TRUST, parse_policy
from engine.iam.service import shapes
from engine.iam.service.context import Call

Out = dict[str, Any]
MIN_SESSION, MAX_SESSION = 3600, 43200


def _record(call: Call, kind: str, field: str) -> dict[str, Any]:
    name = names.check_name(kind, call.need(field))
    path = names.check_path(call.get("Path", "/"))
    arn = {"user": names.user_arn, "group": names.group_arn,
           "role": names.role_arn}[kind](call.account, name, path)
    return {"name": name, "path": path, "id": names.new_id(kind), "arn": arn,
            "tags": _tags(call)}


def _tags(call: Call) -> list[dict[str, str]]:
    tags = list(call.get("Tags", []))
    if len(tags) > 50:
        raise EngineError("LimitExceeded", "Cannot exceed quota for TagsPerUser: 50")
    return [{"Key": str(t["Key"]), "Value": str(t.get("Value", ""))} for t in tags]


async def create_user(call: Call) -> Out:
    return {"User": shapes.user(await call.change("create_user",
                                                  record=_record(call, "user", "UserName")))}


async def get_user(call: Call) -> Out:
    name = call.get("UserName") or call.self_user()
    if not name:  # root: AWS answers with the account's root "user"
        return {"User": {"UserId": call.account, "Arn": names.root_arn(call.account),
                         "CreateDate": (call.store.account() or {}).get("created", "")}}
    return {"User": shapes.user(await call.existing("user", name))}


async def list_users(call: Call) -> Out:
    prefix = call.get("PathPrefix", "/")
    users = [shapes.user(r) for r in await call.store.all("user")
             if r["path"].startswith(prefix)]
    return shapes.page(users, "Users", "UserName", call.params)


async def delete_user(call: Call) -> Out:
    await call.change("delete_user", name=call.need("UserName"))
    return {}


async def create_group(call: Call) -> Out:
    record = _record(call, "group", "GroupName")
    del record["tags"]
    return {"Group": shapes.group(await call.change("create_group", record=record))}


async def get_group(call: Call) -> Out:
    group = await call.existing("group", call.need("GroupName"))
    users = [shapes.user(u) for m in group["members"]
             if (u := await call.store.fetch("user", m)) is not None]
    return {"Group": shapes.group(group), **shapes.page(users, "Users", "UserName",
                                                        call.params)}


async def list_groups(call: Call) -> Out:
    prefix = call.get("PathPrefix", "/")
    groups = [shapes.group(r) for r in await call.store.all("group")
              if r["path"].startswith(prefix)]
    return shapes.page(groups, "Groups", "GroupName", call.params)


async def list_groups_for_user(call: Call) -> Out:
    user = await call.existing("user", call.need("UserName"))
    groups = [shapes.group(g) for name in user["groups"]
              if (g := await call.store.fetch("group", name)) is not None]
    return shapes.page(groups, "Groups", "GroupName", call.params)


async def delete_group(call: Call) -> Out:
    await call.change("delete_group", name=call.need("GroupName"))
    return {}


async def add_user_to_group(call: Call) -> Out:
    await call.change("add_user_to_group", group=call.need("GroupName"),
                      user=call.need("UserName"))
    return {}


async def remove_user_from_group(call: Call) -> Out:
    await call.change("remove_user_from_group", group=call.need("GroupName"),
                      user=call.need("UserName"))
    return {}


def _max_session(call: Call) -> int:
    value = int(call.get("MaxSessionDuration", MIN_SESSION))
    if not MIN_SESSION <= value <= MAX_SESSION:
        raise EngineError("ValidationError", f"1 validation error detected: Value '{value}' "
                          "at 'maxSessionDuration' failed to satisfy constraint: Member must "
                          f"have value between {MIN_SESSION} and {MAX_SESSION}")
    return value


async def create_role(call: Call) -> Out:
    record = _record(call, "role", "RoleName")
    trust = call.need("AssumeRolePolicyDocument")
    parse_policy(trust, TRUST)
    record.update(trust=trust, max_session=_max_session(call),
                  description=str(call.get("Description", "")))
    return {"Role": shapes.role(await call.change("create_role", record=record))}


async def get_role(call: Call) -> Out:
    return {"Role": shapes.role(await call.existing("role", call.need("RoleName")))}


async def list_roles(call: Call) -> Out:
    prefix = call.get("PathPrefix", "/")
    roles = [shapes.role(r) for r in await call.store.all("role")
             if r["path"].startswith(prefix)]
    return shapes.page(roles, "Roles", "RoleName", call.params)


async def delete_role(call: Call) -> Out:
    await call.change("delete_role", name=call.need("RoleName"))
    return {}


async def update_assume_role_policy(call: Call) -> Out:
    trust = call.need("PolicyDocument")
    parse_policy(trust, TRUST)
    await call.change("update_role", name=call.need("RoleName"), trust=trust)
    return {}


async def update_role(call: Call) -> Out:
    fields: dict[str, Any] = {}
    if call.get("MaxSessionDuration") is not None:
        fields["max_session"] = _max_session(call)
    if call.get("Description") is not None:
        fields["description"] = str(call.get("Description"))
    await call.change("update_role", name=call.need("RoleName"), **fields)
    return {}


OPERATIONS = {
    "CreateUser": create_user, "GetUser": get_user, "ListUsers": list_users,
    "DeleteUser": delete_user, "CreateGroup": create_group, "GetGroup": get_group,
    "ListGroups": list_groups, "ListGroupsForUser": list_groups_for_user,
    "DeleteGroup": delete_group, "AddUserToGroup": add_user_to_group,
    "RemoveUserFromGroup": remove_user_from_group, "CreateRole": create_role,
    "GetRole": get_role, "ListRoles": list_roles, "DeleteRole": delete_role,
    "UpdateAssumeRolePolicy": update_assume_role_policy, "UpdateRole": update_role,
}
