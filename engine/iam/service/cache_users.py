"""ElastiCache's user API (CreateUser, ModifyUser, DeleteUser, DescribeUsers) over the
identity store, with the ElastiCache API Reference's members, shapes and error codes.

Served by the ElastiCache gRPC service (elasticache.proto), whose one method carries the
action and its members as JSON like IAM's. Stateless checks (names, engine, passwords,
the access string's syntax) run here; what depends on the store (exists? name taken?
quota? the string an append makes) is decided by the identity machine in log order
(engine/iam/store/cache_users.py). Changes are synchronous, so a user is always
``active``. ElastiCache's user groups do not exist here: every user applies to the whole
cache tier, so UserGroupIds is always empty.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from engine.clock import Clock
from engine.errors import EngineError, clip
from engine.iam.cache_access import InvalidParameter, hash_passwords, parse_access_string
from engine.iam.principal import Principal
from engine.iam.store import cache_users as records
from engine.iam.store.state import Record
from engine.iam.store.table import IdentityStore

Out = dict[str, Any]
ENGINES = ("redis", "valkey")
MINIMUM_ENGINE_VERSION = "6.0"
MAX_ID = 128  # the engine's own bound; ElastiCache documents only the pattern
_USER_ID = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*$")
_USER_NAME = re.compile(r"^[\x21-\x7e]+$")
AUTH_TYPES = {"password": "password", "no-password-required": "no-password", "iam": "iam"}
PAGE = (20, 100)  # MaxRecords' range; 100 when not given


def invalid(message: str) -> EngineError:
    return EngineError("InvalidParameterValue", message)


def combination(message: str) -> EngineError:
    return EngineError("InvalidParameterCombination", message)


def _need(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise EngineError("MissingParameter", f"The request must contain the parameter "
                          f"{name}.")
    return value


def _text(params: dict[str, Any], name: str) -> str:
    value = _need(params, name)
    if not isinstance(value, str):
        raise invalid(f"Invalid value for parameter {name}: it must be a string.")
    return value


def _user_id(params: dict[str, Any]) -> str:
    user_id = _text(params, "UserId")
    if len(user_id) > MAX_ID or not _USER_ID.match(user_id):
        raise invalid(f"Invalid user id {clip(user_id, 128)}: a user id begins with a letter "
                      f"and has only ASCII letters, digits and hyphens, at most {MAX_ID} "
                      "characters.")
    return user_id.lower()  # ElastiCache: "stored as a lowercase string"


def _user_name(params: dict[str, Any]) -> str:
    name = _text(params, "UserName")
    if len(name) > MAX_ID or not _USER_NAME.match(name):
        raise invalid(f"Invalid user name {clip(name, 128)}: a user name has only printable "
                      f"ASCII characters other than space, at most {MAX_ID} characters.")
    return name


def _engine(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in ENGINES:
        raise invalid(f"Invalid engine {clip(str(value), 64)}: the options are valkey or "
                      "redis.")
    return value.lower()


def _access(value: Any, name: str = "AccessString") -> str:
    if not isinstance(value, str):
        raise invalid(f"Invalid value for parameter {name}: it must be a string.")
    try:
        parse_access_string(value)
    except InvalidParameter as err:
        raise invalid(str(err)) from None
    return " ".join(value.split())


def _hashes(passwords: Any) -> list[str]:
    if not isinstance(passwords, list):
        raise invalid("Passwords must be a list of strings.")
    try:
        return hash_passwords(passwords)
    except InvalidParameter as err:
        raise invalid(str(err)) from None


def _authentication(params: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The ``auth`` and ``passwords`` fields the request sets ({}: none)."""
    mode = params.get("AuthenticationMode")
    passwords = params.get("Passwords")
    no_password = params.get("NoPasswordRequired")
    if mode is not None:
        if passwords is not None or no_password is not None:
            raise combination("AuthenticationMode cannot be combined with Passwords or "
                              "NoPasswordRequired.")
        if not isinstance(mode, dict) or mode.get("Type") not in AUTH_TYPES:
            raise invalid("Invalid AuthenticationMode Type: the options are password, "
                          "no-password-required or iam.")
        kind = AUTH_TYPES[mode["Type"]]
        if kind == "password":
            if not mode.get("Passwords"):
                raise invalid("No password was provided for authentication type: password.")
            return {"auth": kind, "passwords": _hashes(mode["Passwords"])}
        if mode.get("Passwords"):
            raise combination(f"Passwords cannot be provided for authentication type: "
                              f"{mode['Type']}.")
        return {"auth": kind, "passwords": []}
    if no_password is True:
        if passwords:
            raise combination("No password required flag is true but passwords are "
                              "provided.")
        return {"auth": "no-password", "passwords": []}
    if passwords is not None:
        return {"auth": "password", "passwords": _hashes(passwords)}
    if creating:
        raise invalid("No password was provided. If you want to create/update the user "
                      "without password, please use the NoPasswordRequired flag.")
    return {}


class ElastiCacheService:
    def __init__(self, store: IdentityStore, clock: Clock, region: str) -> None:
        self.store = store
        self.clock = clock
        self.region = region
        self.operations = {"CreateUser": self.create_user, "ModifyUser": self.modify_user,
                           "DeleteUser": self.delete_user,
                           "DescribeUsers": self.describe_users}

    async def handle(self, action: str, params: dict[str, Any], caller: Principal) -> Out:
        """Run an ElastiCache operation for an already-authorized caller."""
        operation = self.operations.get(action)
        if operation is None:
            raise EngineError("InvalidAction", f"The action {clip(action, 64)} is not valid "
                              "for this web service.")
        return await operation(params, caller.account)

    def _now(self) -> str:
        return dt.datetime.fromtimestamp(self.clock.now_ns() / 1e9, dt.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ")

    def shape(self, r: Record, account: str, status: str = "active") -> Out:
        """A User as the ElastiCache API returns it."""
        return {"UserId": r["id"], "UserName": r["name"], "Status": status,
                "Engine": r["engine"], "MinimumEngineVersion": MINIMUM_ENGINE_VERSION,
                "AccessString": r["access"], "UserGroupIds": [],
                "Authentication": {"Type": r["auth"], "PasswordCount": len(r["passwords"])},
                "ARN": f"arn:aws:elasticache:{self.region}:{account}:user:{r['id']}"}

    async def _change(self, op: str, **fields: Any) -> Record:
        return await self.store.change({"op": op, "now": self._now(), **fields})

    async def create_user(self, params: dict[str, Any], account: str) -> Out:
        record = {"id": _user_id(params), "name": _user_name(params),
                  "engine": _engine(_need(params, "Engine")),
                  "access": _access(_need(params, "AccessString")),
                  **_authentication(params, creating=True)}
        if record["auth"] == "iam" and record["id"] != record["name"]:
            raise combination("User Id and User name must be same for authentication type: "
                              "iam")
        return self.shape(await self._change("create_cache_user", record=record), account)

    async def modify_user(self, params: dict[str, Any], account: str) -> Out:
        fields: dict[str, Any] = {"id": _user_id(params)}
        if params.get("AccessString") is not None and params.get("AppendAccessString"
                                                                  ) is not None:
            raise combination("AccessString and AppendAccessString cannot be used "
                              "together.")
        if params.get("AccessString") is not None:
            fields["access"] = _access(params["AccessString"])
        if params.get("AppendAccessString") is not None:
            fields["append"] = _access(params["AppendAccessString"], "AppendAccessString")
        if params.get("Engine") is not None:
            fields["engine"] = _engine(params["Engine"])
        fields.update(_authentication(params, creating=False))
        if len(fields) == 1:
            raise combination("No modifications were requested.")
        return self.shape(await self._change("modify_cache_user", **fields), account)

    async def delete_user(self, params: dict[str, Any], account: str) -> Out:
        user = await self._change("delete_cache_user", id=_user_id(params))
        return self.shape(user, account, status="deleting")

    async def describe_users(self, params: dict[str, Any], account: str) -> Out:
        users = await self.store.read(records.all_users)
        if params.get("UserId") is not None:
            wanted = _user_id(params)
            users = [u for u in users if u["id"] == wanted]
            if not users:
                raise EngineError("UserNotFound", f"User {wanted} not found.")
        engines = set(ENGINES)
        if params.get("Engine") is not None:
            engines = {_engine(params["Engine"])}
        for item in params.get("Filters") or []:
            if not isinstance(item, dict) or item.get("Name") not in ("engine", "user-id"):
                raise invalid("Invalid filter: the filter names are engine and user-id.")
            values = {str(v).lower() for v in item.get("Values") or []}
            field = "engine" if item["Name"] == "engine" else "id"
            users = [u for u in users if u[field] in values]
        users = [u for u in users if u["engine"] in engines]
        return self._page(users, params, account)

    def _page(self, users: list[Record], params: dict[str, Any], account: str) -> Out:
        limit = params.get("MaxRecords", PAGE[1])
        if not isinstance(limit, int) or not PAGE[0] <= limit <= PAGE[1]:
            raise invalid(f"Invalid value for MaxRecords: it must be between {PAGE[0]} and "
                          f"{PAGE[1]}.")
        marker = params.get("Marker")
        if marker:
            users = [u for u in users if u["id"] > str(marker)]
        out: Out = {"Users": [self.shape(u, account) for u in users[:limit]]}
        if len(users) > limit:
            out["Marker"] = users[limit - 1]["id"]
        return out
