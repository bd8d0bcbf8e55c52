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
from dataclasses import dataclass, field
from typing import Any

from engine.cache.store import CacheStore
from engine.errors import EngineError
from engine.iam.redis_commands import COMMANDS, Command

Argv = list[bytes]
Reply = Any  # bytes | int | float | None | Status | list | tuple | dict | Members


@dataclass
class Call:
    """One command's view of the node: the store, the key namespace, and for keyless
    reads (KEYS, SCAN, RANDOMKEY, DBSIZE) which client keys this node answers for."""

    store: CacheStore
    ns: bytes
    owned: Callable[[bytes], bool] | None = None
    written: list[bytes] = field(default_factory=list)

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


TABLE: dict[str, Spec] = {}
_CONTAINERS = frozenset({"object", "memory"})  # commands whose subcommand names the handler


def command(name: str, arity: int) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        TABLE[name] = Spec(name, arity, handler)
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
    spec = COMMANDS.get(full_name(argv))
    return spec is not None and "write" in spec.categories


def run(store: CacheStore, argv: Argv, ns: bytes,
        owned: Callable[[bytes], bool] | None = None) -> tuple[Reply, list[bytes]]:
    """Run ``argv`` on ``store``: (reply, store keys a write may have changed).
    EngineErrors carry Redis's text (without "ERR ") and change nothing."""
    spec = lookup(argv)
    indexes = key_indexes(spec.name, argv)
    args = list(argv)
    for i in indexes:
        args[i] = ns + args[i]
    call = Call(store, ns, owned)
    reply = spec.handler(call, args)
    written = [args[i] for i in indexes] if is_write(argv) else []
    return reply, written
