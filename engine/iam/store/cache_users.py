"""ElastiCache users in the identity store: creation, changes and deletion in log order.

A record (key ``c/<user id>``; ids are stored lower-case, as ElastiCache stores them):
``{"id", "name", "engine", "access", "auth", "passwords", "created"}``, where ``auth``
is ``password`` | ``no-password`` | ``iam`` and ``passwords`` the SHA-256 hex of each
password (never a password).

The ``default`` user always exists. Until an administrator changes it, it is the
built-in :data:`DEFAULT_USER`: ``off``, so nobody is let in without credentials (Redis
and ElastiCache ship a default user that is ``on`` with no password; here that is an
explicit choice an administrator makes with ModifyUser). It cannot be deleted. As in
ElastiCache, another user may take the name ``default`` (at most one): it then answers
``AUTH <password>`` in the built-in's place.

Names are unique (DuplicateUserName), except that one user besides the built-in may be
named ``default``. An appended access string is joined and checked here, in log order,
so two appends at once both land and the result is one a Redis server would accept.
"""

from __future__ import annotations

from typing import Any

from engine.cluster.consensus.machine import ReadKeyspace, Rejected
from engine.iam.cache_access import InvalidParameter, parse_access_string
from engine.iam.store import state
from engine.iam.store.state import Record, State

KIND = "cache_user"
DEFAULT = "default"
DEFAULT_USER: Record = {"id": DEFAULT, "name": DEFAULT, "engine": "redis",
                        "access": "off ~* +@all", "auth": "no-password", "passwords": [],
                        "created": ""}
QUOTA = 1000  # ElastiCache's users per account


def get(keys: ReadKeyspace, user_id: str) -> Record | None:
    """A user by id (the built-in default when it was never changed)."""
    found = state.read(keys, KIND, user_id)
    if found is None and user_id.lower() == DEFAULT:
        return dict(DEFAULT_USER)
    return found


def all_users(keys: ReadKeyspace) -> list[Record]:
    """Every user, the default one included, sorted by id."""
    users = {u["id"]: u for u in state.read_all(keys, KIND)}
    users.setdefault(DEFAULT, dict(DEFAULT_USER))
    return [users[k] for k in sorted(users)]


def _need(s: State, user_id: str) -> Record:
    found = get(s.keys, user_id)
    if found is None:
        raise Rejected("UserNotFound", f"User {user_id} not found.")
    return found


def _checked_access(text: str) -> str:
    try:
        parse_access_string(text)
    except InvalidParameter as err:
        raise Rejected("InvalidParameterValue", str(err)) from None
    return " ".join(text.split())


def _create(s: State, cmd: Record) -> Record:
    record: Record = dict(cmd["record"])
    if get(s.keys, record["id"]) is not None:
        raise Rejected("UserAlreadyExists", f"User {record['id']} already exists.")
    others = [u for u in all_users(s.keys) if u["id"] != DEFAULT]
    if any(u["name"] == record["name"] for u in others):
        raise Rejected("DuplicateUserName", f"User name {record['name']} already exists.")
    if len(others) + 1 >= QUOTA:
        raise Rejected("UserQuotaExceeded", "The quota of users has been exceeded.")
    record["access"] = _checked_access(record["access"])
    record["created"] = cmd["now"]
    s.put(KIND, record)
    return record


def _modify(s: State, cmd: Record) -> Record:
    user = _need(s, cmd["id"])
    if "access" in cmd:
        user["access"] = _checked_access(cmd["access"])
    if "append" in cmd:
        user["access"] = _checked_access(f"{user['access']} {cmd['append']}")
    for field in ("engine", "auth", "passwords"):
        if field in cmd:
            user[field] = cmd[field]
    if user["auth"] == "iam" and user["id"] != user["name"]:
        raise Rejected("InvalidParameterCombination", "User Id and User name must be same "
                       "for authentication type: iam")
    s.put(KIND, user)
    return user


def _delete(s: State, cmd: Record) -> Record:
    user = _need(s, cmd["id"])
    if user["id"] == DEFAULT:
        raise Rejected("InvalidParameterValue", "The default user cannot be deleted: modify "
                       "it, or create another user named default to take its place.")
    s.delete(KIND, user["id"])
    return user


OPS: dict[str, Any] = {
    "create_cache_user": _create,
    "modify_cache_user": _modify,
    "delete_cache_user": _delete,
}
