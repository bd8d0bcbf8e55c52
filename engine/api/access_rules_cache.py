"""The actions of the Cache service and of the ElastiCache service (its user API: RBAC
users, ``elasticache:CreateUser`` ... on the user's ARN, as AWS names them).

ElastiCache authorizes data commands through Redis ACLs, not IAM, so these four
data-plane actions are the engine's own, under the "elasticache" prefix: reads, writes,
the stats view, and FlushAll (an admin-level permission: it empties every key of every
tenant).

A key's resource is ``arn:aws:elasticache:<region>:<account>:key/<key>``; keys are bytes,
and a key that is not UTF-8 shows its stray bytes as ``\\xNN`` so an ARN is always text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from engine.api.access_rules_iam import _AwsCall, params_of
from engine.api.access_rules_types import Access, Rule, Target, rule
from engine.iam.redis_commands import COMMANDS, resolve
from engine.v1 import cache_pb2 as pb

SERVICE = "elasticache"
READ = "elasticache:ReadKeys"
WRITE = "elasticache:WriteKeys"
KEY = "`arn:aws:elasticache:<region>:<account>:key/<key>`"


def key_arn(key: bytes, target: Target) -> str:
    text = key.decode("utf-8", "backslashreplace")
    return f"arn:aws:elasticache:{target.region}:{target.account}:key/{text}"


def on_keys(action: str, keys: Iterable[bytes], target: Target) -> list[Access]:
    """One Access per key, in request order. A request naming no key still needs the
    action on every key (``key/*``): an empty list would mean "needs no permission"."""
    found = [Access(action, key_arn(key, target)) for key in keys]
    return found or [Access(action, key_arn(b"*", target))]


class _Keyed(Protocol):  # CacheGetRequest, CacheSetRequest, CacheIncrByRequest, ...
    key: bytes


def single_rule(action: str) -> Rule:
    def accesses(request: _Keyed, target: Target) -> list[Access]:
        return on_keys(action, [request.key], target)
    return rule(SERVICE, f"`{action}` on {KEY}", accesses)


def multi_rule(action: str) -> Rule:
    def accesses(request: pb.CacheKeysRequest, target: Target) -> list[Access]:
        return on_keys(action, request.keys, target)
    return rule(SERVICE, f"`{action}` on {KEY}, one per key", accesses)


def _mset(request: pb.CacheMSetRequest, target: Target) -> list[Access]:
    return on_keys(WRITE, (entry.key for entry in request.entries), target)


def _command(request: pb.CacheCommand, target: Target) -> list[Access]:
    """Cache.Command: by the command's key specs (Redis's), as the RESP endpoint asks
    IAM for a key principal: ``ReadKeys`` for a key it reads, ``WriteKeys`` for one it
    writes; a keyless command (KEYS, SCAN) the action of its category on ``key/*``."""
    argv = list(request.argv)
    if not argv:
        return on_keys(READ, [], target)
    spec = COMMANDS.get(resolve(argv[0].decode("utf-8", "replace"), argv[1:]))
    if spec is None:  # refused as an unknown command by the service; needs no less
        return on_keys(WRITE, [], target)
    found: list[Access] = []
    for key_spec in spec.keys:
        for key in key_spec.where.pick(argv):
            if key_spec.read or not key_spec.write:
                found.append(Access(READ, key_arn(key, target)))
            if key_spec.write:
                found.append(Access(WRITE, key_arn(key, target)))
    return found or on_keys(WRITE if "write" in spec.categories else READ, [], target)


def _stats(request: pb.CacheStatsRequest, target: Target) -> list[Access]:
    return [Access("elasticache:DescribeCache", "*")]


def _flush_all(request: pb.CacheFlushAllRequest, target: Target) -> list[Access]:
    return [Access("elasticache:FlushAll", "*")]


RULES: dict[str, Rule] = {
    "Get": single_rule(READ),
    "Ttl": single_rule(READ),
    "Exists": multi_rule(READ),
    "MGet": multi_rule(READ),
    "Set": single_rule(WRITE),
    "IncrBy": single_rule(WRITE),
    "Expire": single_rule(WRITE),
    "Delete": multi_rule(WRITE),
    "MSet": rule(SERVICE, f"`{WRITE}` on {KEY}, one per key", _mset),
    "Command": rule(SERVICE, f"`{READ}` on {KEY} for each key the command reads, "
                    f"`{WRITE}` for each it writes (Redis's key specs); a keyless one "
                    "(KEYS, SCAN) on `key/*`", _command),
    "Stats": rule(SERVICE, "`elasticache:DescribeCache` on `*`", _stats),
    "FlushAll": rule(SERVICE, "`elasticache:FlushAll` on `*` (admin-level: empties every "
                     "key)", _flush_all),
}


# -- the ElastiCache service: the user API (CreateUser, ModifyUser, ...) ------------------

USER_DOC = ("`elasticache:<Action>` (CreateUser, ModifyUser, DeleteUser, DescribeUsers) on "
            "`arn:aws:elasticache:<region>:<account>:user:<UserId>` (`user:*` when no "
            "UserId is given)")


def _users(request: _AwsCall, target: Target) -> list[Access]:
    user_id = params_of(request).get("UserId")
    name = user_id.lower() if isinstance(user_id, str) and user_id else "*"
    arn = f"arn:aws:elasticache:{target.region}:{target.account}:user:{name}"
    return [Access(f"elasticache:{request.action}", arn)]


USERS: dict[str, Rule] = {"Call": rule(SERVICE, USER_DOC, _users)}
