"""Who a RESP connection is and what it may run: the two calls the Redis endpoint makes.

``authenticate(username, password)`` (AUTH, HELLO ... AUTH) finds, in this node's copy of
the identity store:

1. the ElastiCache user of that name (``default`` for ``AUTH <password>``): it must be
   ``on``, and either need no password or have one whose SHA-256 matches (compared in
   constant time, every stored hash compared);
2. otherwise an IAM access key: user = the access key id, password = its secret
   (constant-time too). Its commands are then authorized by IAM policy, not by an
   access string.

``permits(identity, command, args)`` answers None (allowed) or the NOPERM refusal. A cache
user is checked against its access string (engine.iam.redis_acl). An IAM principal is
asked IAM by the command's category, with the engine's elasticache actions the gRPC
Cache service uses: FLUSHALL, FLUSHDB and every ``@admin`` command need
``elasticache:FlushAll`` on ``*`` (admin-level, as ``@dangerous`` is in Redis); a key
needs ``elasticache:ReadKeys`` and/or ``elasticache:WriteKeys`` on
``arn:aws:elasticache:<region>:<account>:key/<key>`` by the permission the command needs
on it; a channel ``ReadKeys`` (SUBSCRIBE) or ``WriteKeys`` (PUBLISH) on ``...:channel/<name>``;
a keyless ``@keyspace``/``@read``/``@write``/``@scripting`` command (KEYS, SCAN, DBSIZE,
EVAL) the same actions on ``key/*``; INFO and other ``@dangerous`` commands
``elasticache:DescribeCache`` on ``*``; connection and transaction commands nothing.

Not yet: ElastiCache's IAM authentication tokens for users whose AuthenticationMode is
``iam`` (such users cannot AUTH here yet).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from engine.iam.authn import Authenticator
from engine.iam.authz import Authorizer
from engine.iam.principal import Principal
from engine.iam.redis_acl import Acl, Denied, check, parse
from engine.iam.redis_commands import COMMANDS, NO_AUTH, Command, resolve
from engine.iam.store import cache_users as records
from engine.iam.store.state import Record
from engine.iam.store.table import IdentityStore

_UNUSED_HASH = "0" * 64  # compared against when a name is unknown, to spend the same time


@dataclass(frozen=True)
class CacheIdentity:
    """An authenticated RESP connection: a cache user (``acl``) or an IAM principal."""

    name: str  # the name it authenticated as (a user name, or an access key id)
    user_id: str = ""  # the cache user's id; "" for an IAM principal
    acl: Acl | None = None
    principal: Principal | None = None


@lru_cache(maxsize=4096)
def _acl(access: str) -> Acl:
    """Access strings are checked before they are stored, so these parse."""
    return parse(access)


class CacheUsers:
    def __init__(self, store: IdentityStore, authn: Authenticator, authz: Authorizer,
                 region: str, account: Callable[[], str]) -> None:
        self.store = store
        self.authn = authn
        self.authz = authz
        self.region = region
        self.account = account
        self._generation = -1
        self._by_name: dict[str, Record] = {}
        self._by_id: dict[str, Record] = {}

    def _fresh(self) -> None:
        """Re-read the users once the store changed (a change applies to connections
        already authenticated, at their next command, as ACL SETUSER does in Redis)."""
        if self._generation != self.store.generation:
            self._generation = self.store.generation
            users = self.store.local(records.all_users)
            self._by_id = {u["id"]: u for u in users}
            self._by_name = {u["name"]: u for u in users if u["id"] != records.DEFAULT}
            self._by_name.setdefault(records.DEFAULT, self._by_id[records.DEFAULT])

    def user_named(self, name: str) -> Record | None:
        """The user AUTH ``name`` means: for ``default``, a user that took that name
        wins over the built-in one."""
        self._fresh()
        return self._by_name.get(name)

    # -- AUTH -----------------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> CacheIdentity | None:
        user = self.user_named(username)
        if user is not None:
            return self._user(user, password)
        entry = self.authn.key(username) if username.startswith("AKIA") else None
        secret, principal = entry if entry is not None else ("", None)
        if hmac.compare_digest(secret.encode(), password.encode()) and principal is not None:
            return CacheIdentity(username, principal=principal)
        return None

    def _user(self, user: Record, password: str) -> CacheIdentity | None:
        acl = _acl(user["access"])
        digest = hashlib.sha256(password.encode()).hexdigest()
        matched = False
        for stored in user["passwords"] or [_UNUSED_HASH]:
            matched |= hmac.compare_digest(stored, digest)
        if not acl.enabled or user["auth"] == "iam":
            return None
        if user["auth"] != "no-password" and not matched:
            return None
        return CacheIdentity(user["name"], user_id=user["id"], acl=acl)

    # -- every command --------------------------------------------------------------------

    def permits(self, identity: CacheIdentity, command: str, args: Sequence[bytes]
                ) -> Denied | None:
        if identity.acl is not None:
            self._fresh()
            current = self._by_id.get(identity.user_id)
            if current is not None:  # a deleted user may run nothing more
                return check(_acl(current["access"]), identity.name, command, args)
        if identity.principal is None:
            return Denied("command", f"User {identity.name} has no permissions to run the "
                          f"'{resolve(command, list(args))}' command")
        if identity.principal.is_root:
            return None  # no policy restricts the account root (as in IAM): skip the ARNs
        return self._iam(identity, command, list(args))

    def _iam(self, identity: CacheIdentity, command: str, args: list[bytes]) -> Denied | None:
        full = resolve(command, args)
        if full.split("|")[0] in NO_AUTH:
            return None
        refused = Denied("command", f"User {identity.name} has no permissions to run the "
                         f"'{full}' command")
        spec = COMMANDS.get(full)
        if spec is None:
            return refused
        for action, resource, reason in self._needs(spec, [command.encode(), *args]):
            assert identity.principal is not None
            if not self.authz.decide(identity.principal, action, resource).allowed:
                return refused if reason == "command" else Denied(
                    reason, f"No permissions to access a {reason}")
        return None

    def _arn(self, kind: str, name: bytes) -> str:
        text = name.decode("utf-8", "backslashreplace")
        return f"arn:aws:elasticache:{self.region}:{self.account()}:{kind}/{text}"

    def _needs(self, spec: Command, argv: list[bytes]) -> list[tuple[str, str, str]]:
        """(action, resource, what a refusal names) for every permission a call needs."""
        read, write = "elasticache:ReadKeys", "elasticache:WriteKeys"
        cats = spec.categories
        if spec.name in ("flushall", "flushdb") or "admin" in cats:
            return [("elasticache:FlushAll", "*", "command")]
        needs: list[tuple[str, str, str]] = []
        for key_spec in spec.keys:
            for key in key_spec.where.pick(argv):
                arn = self._arn("key", key)
                if key_spec.read or not key_spec.write:
                    needs.append((read, arn, "key"))
                if key_spec.write:
                    needs.append((write, arn, "key"))
        if spec.channels is not None:
            action = write if spec.name in ("publish", "spublish") else read
            needs += [(action, self._arn("channel", c), "channel")
                      for c in spec.channels.pick(argv)]
        if needs:
            return needs
        if cats & {"keyspace", "read", "write", "scripting"}:
            action = write if cats & {"write", "scripting"} else read
            return [(action, self._arn("key", b"*"), "command")]
        if "dangerous" in cats:
            return [("elasticache:DescribeCache", "*", "command")]
        return []
