"""The command table both endpoints share: name -> (Redis's arity, handler), and the one
entry point :func:`run` that checks arity, puts the keys in their namespace, runs the
handler on the store and says which store keys a write may have changed.

Handlers see argv with every key (by the key positions of Redis's own command table,
engine/iam/redis_commands.py) already namespaced, so they parse options and call the
store; the few replies that name keys (KEYS, SCAN, RANDOMKEY, LMPOP) strip the namespace
with :meth:`Call.out`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.cache.store import CacheStore
from engine.errors import EngineError
from engine.iam.redis_commands import COMMANDS, Command

Argv = list[bytes]
Reply = Any  # bytes | int | float | None | Status | list | tuple | dict | Members


class Call:
    """One command's view of the node: the store, the key namespace, and for keyless
    reads (KEYS, SCAN, RANDOMKEY, DBSIZE) which client keys this node answers for.
    (A plain slotted class: one is made per command.)"""

    __slots__ = ("ns", "owned", "store")

    def __init__(self, store: CacheStore, ns: bytes,
                 owned: Callable[[bytes], bool] | None = None) -> None:
        self.store = store
        self.ns = ns
        self.owned = owned

    def out(self, key: bytes) -> bytes:
        """A store key as the client names it."""
        return key[len(self.ns):]

    def mine(self, key: bytes) -> bool:
        """A store key is the client's (this namespace) and served here."""
        if not key.startswith(self.ns):
            return False
        return self.owned is None or self.owned(key[len(self.ns):])


Handler = Callable[[Call, Argv], Reply]


@dataclass(frozen=True)
class Spec:
    name: str  # "hset", "object|encoding"
    arity: int  # Redis's: n exactly, -n at least n (the name counts)
    handler: Handler
    write: bool = False  # in Redis's @write category: its keys' states are copied
    # The key positions when Redis's key spec is one fixed index (GET, SET, HSET, ...),
    # so that the commands run most skip key_indexes.
    fixed_key: int | None = None


TABLE: dict[str, Spec] = {}
# The spec of each name spelt in lower or upper case, so that the common spellings skip
# decoding (other spellings take full_name's way).
_BY_RAW: dict[bytes, Spec] = {}
_CONTAINERS = frozenset({"object", "memory"})  # commands whose subcommand names the handler


def command(name: str, arity: int) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        redis = COMMANDS.get(name)
        fixed = None
        if redis is not None and len(redis.keys) == 1:
            where = redis.keys[0].where
            if not (where.counted or where.streams) and where.first == where.last > 0:
                fixed = where.first
        spec = Spec(name, arity, handler, redis is not None and "write" in redis.categories,
                    fixed)
        TABLE[name] = spec
        if "|" not in name:
            _BY_RAW[name.encode()] = _BY_RAW[name.upper().encode()] = spec
        return handler
    return register


def wrong_args(name: str) -> EngineError:
    return EngineError("SyntaxError", f"wrong number of arguments for '{name}' command")


def unknown(argv: Argv) -> EngineError:
    """Redis's text: the name and the first arguments, quoted, up to 128 characters."""
    def text(raw: bytes) -> str:
        return raw.decode("utf-8", "replace").replace("\r", " ").replace("\n", " ")

    args = ""
    for arg in argv[1:]:
        if len(args) >= 128:
            break
        args += f"'{text(arg)[:128 - len(args)]}' "
    return EngineError("UnknownCommand", f"unknown command '{text(argv[0])[:128]}', "
                       f"with args beginning with: {args}")


def full_name(argv: Argv) -> str:
    """``hset``, or ``object|encoding`` for a container's subcommand."""
    name = argv[0].decode("utf-8", "replace").lower()
    if name in _CONTAINERS:
        if len(argv) < 2:
            raise wrong_args(name)
        sub = argv[1].decode("utf-8", "replace").lower()
        full = f"{name}|{sub}"
        if full not in TABLE:
            shown = argv[1].decode("utf-8", "replace")[:128]
            raise EngineError("SyntaxError",
                              f"unknown subcommand '{shown}'. Try {name.upper()} HELP.")
        return full
    return name


def lookup(argv: Argv) -> Spec:
    """The command ``argv`` runs, its arity checked; Redis's errors otherwise."""
    if not argv:
        raise EngineError("SyntaxError", "empty command")
    spec = TABLE.get(full_name(argv))
    if spec is None:
        raise unknown(argv)
    if (spec.arity > 0 and len(argv) != spec.arity) or len(argv) < -spec.arity:
        raise wrong_args(spec.name)
    return spec


def key_indexes(name: str, argv: Argv) -> list[int]:
    """Where ``argv``'s keys are, from Redis's key specs (a bad key count: none)."""
    spec: Command | None = COMMANDS.get(name)
    if spec is None:
        return []
    found: list[int] = []
    for key_spec in spec.keys:
        where = key_spec.where
        if where.counted:
            try:
                count = int(argv[where.first])
            except (IndexError, ValueError):
                continue
            found += range(where.first + 1, min(len(argv), where.first + 1 + max(count, 0)))
            continue
        last = where.last if where.last >= 0 else len(argv) + where.last
        found += range(where.first, min(last, len(argv) - 1) + 1, where.step)
    return sorted(set(found))


def keys_of(argv: Argv) -> list[bytes]:
    """The client keys a command names (for routing and slot checks)."""
    name = full_name(argv)
    return [argv[i] for i in key_indexes(name, argv)]


def is_write(argv: Argv) -> bool:
    spec = _BY_RAW.get(argv[0]) if argv else None
    if spec is not None:
        return spec.write
    redis = COMMANDS.get(full_name(argv))
    return redis is not None and "write" in redis.categories


def run(store: CacheStore, argv: Argv, ns: bytes,
        owned: Callable[[bytes], bool] | None = None) -> tuple[Reply, list[bytes]]:
    """Run ``argv`` on ``store``: (reply, store keys a write may have changed).
    EngineErrors carry Redis's text (without "ERR ") and change nothing."""
    spec = _BY_RAW.get(argv[0]) if argv else None
    if spec is None or (spec.arity > 0 and len(argv) != spec.arity) or len(argv) < -spec.arity:
        spec = lookup(argv)
    args = list(argv)
    fixed = spec.fixed_key
    if fixed is not None:  # one key at a fixed place: most commands
        if fixed >= len(args):
            indexes: list[int] = []
        else:
            args[fixed] = ns + args[fixed]
            indexes = [fixed]
    else:
        indexes = key_indexes(spec.name, argv)
        for i in indexes:
            args[i] = ns + args[i]
    reply = spec.handler(Call(store, ns, owned), args)
    written = [args[i] for i in indexes] if spec.write else []
    return reply, written
