"""IAM operations on access keys. The secret exists in plaintext twice: in the
CreateAccessKey answer (shown once, as AWS does) and in memory while signatures are
checked; the store holds it sealed (engine/iam/sealing.py)."""

from __future__ import annotations

from typing import Any

from engine.errors import EngineError
from engine.iam import names
from engine.iam.service import shapes
from engine.iam.service.context import Call

Out = dict[str, Any]


def _owner(call: Call) -> str:
    return call.get("UserName") or call.self_user()


async def create_access_key(call: Call) -> Out:
    user = _owner(call)
    if not user:
        raise EngineError("InvalidInput", "The root access key comes from "
                          "ENGINE_ROOT_ACCESS_KEY_ID/ENGINE_ROOT_SECRET_ACCESS_KEY or the "
                          "first start's root-credentials file; create users for other keys")
    key_id, secret = names.new_id("key"), names.new_secret()
    sealed = call.sealer.seal(secret, key_id).hex()
    record = await call.change("create_key", user=user, key_id=key_id, sealed=sealed)
    return {"AccessKey": shapes.key(record, secret=secret)}


async def list_access_keys(call: Call) -> Out:
    user = _owner(call)
    if user:
        ids = (await call.existing("user", user))["keys"]
    else:
        ids = [(call.store.account() or {}).get("root_key", "")]
    records = [r for i in ids if i and (r := await call.store.fetch("key", i)) is not None]
    return shapes.page([shapes.key(r) for r in records], "AccessKeyMetadata", "AccessKeyId",
                       call.params)


async def update_access_key(call: Call) -> Out:
    status = call.need("Status")
    if status not in ("Active", "Inactive"):
        raise EngineError("ValidationError", f"1 validation error detected: Value '{status}' "
                          "at 'status' failed to satisfy constraint: Member must satisfy enum "
                          "value set: [Active, Inactive]")
    await call.change("update_key", user=_owner(call), key_id=call.need("AccessKeyId"),
                      status=status)
    return {}


async def delete_access_key(call: Call) -> Out:
    await call.change("delete_key", user=_owner(call), key_id=call.need("AccessKeyId"))
    return {}


async def get_access_key_last_used(call: Call) -> Out:
    key_id = call.need("AccessKeyId")
    record = await call.store.fetch("key", key_id)
    if record is None:
        raise EngineError("NoSuchEntity", f"The Access Key with id {key_id} cannot be found.")
    used = record.get("last_used")
    last = ({"LastUsedDate": used["date"], "ServiceName": used["service"],
             "Region": used["region"]} if used else {"ServiceName": "N/A", "Region": "N/A"})
    out: Out = {"AccessKeyLastUsed": last}
    if record["user"]:
        out["UserName"] = record["user"]
    return out


OPERATIONS = {
    "CreateAccessKey": create_access_key, "ListAccessKeys": list_access_keys,
    "UpdateAccessKey": update_access_key, "DeleteAccessKey": delete_access_key,
    "GetAccessKeyLastUsed": get_access_key_last_used,
}
