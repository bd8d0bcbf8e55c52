"""Connection commands as Redis 7 answers them: AUTH, HELLO, PING, ECHO, QUIT, RESET,
SELECT, READONLY/READWRITE (CLIENT ...: client_commands.py). Passwords are compared by
CacheUsers and never kept or logged here."""

from __future__ import annotations

from typing import Any

from engine.api.resp import errors, transactions
from engine.api.resp.context import RespContext
from engine.api.resp.encoder import OK, Simple
from engine.api.resp.errors import RespError
from engine.api.resp.registry import command
from engine.api.resp.session import UNCHECKED, Session
from engine.iam.cache_users import CacheIdentity

REDIS_VERSION = "7.2.0"  # the Redis version whose behaviour the endpoint follows
_HELLO_NOAUTH = ("NOAUTH HELLO must be called with the client already authenticated, "
                 "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                 "authenticate the client and select the RESP protocol version at the same "
                 "time")


def initial_identity(ctx: RespContext) -> CacheIdentity | None:
    """Who a new connection is before AUTH: everyone with auth off; the default user
    when it is on without a password (as Redis does); else nobody yet."""
    if ctx.users is None:
        return UNCHECKED
    user = ctx.users.user_named("default")
    if user is not None and user["auth"] == "no-password":
        return ctx.users.authenticate("default", "")
    return None


def _authenticate(ctx: RespContext, session: Session, user: bytes, password: bytes) -> None:
    if ctx.users is None:
        session.identity = UNCHECKED
        return
    identity = ctx.users.authenticate(user.decode("utf-8", "replace"),
                                      password.decode("utf-8", "replace"))
    if identity is None:
        raise RespError(errors.WRONGPASS)
    session.identity = identity


@command("auth", -2)
async def auth(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise RespError(errors.SYNTAX)
    if len(argv) == 2 and _default_without_password(ctx):
        raise RespError("ERR AUTH <password> called without any password configured for "
                        "the default user. Are you sure your configuration is correct?")
    user, password = (b"default", argv[1]) if len(argv) == 2 else (argv[1], argv[2])
    _authenticate(ctx, session, user, password)
    return OK


def _default_without_password(ctx: RespContext) -> bool:
    """Redis's requirepass is unset: auth is off, or the default user is on, nopass."""
    if ctx.users is None:
        return True
    user = ctx.users.user_named("default")
    return (user is not None and user["auth"] == "no-password"
            and ctx.users.authenticate("default", "") is not None)


def valid_name(raw: bytes) -> bool:
    """What Redis accepts in a client name or library name: printable, no spaces."""
    return all(33 <= c <= 126 for c in raw)


@command("hello", -1)
async def hello(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    proto = session.proto
    if len(argv) > 1:
        try:
            proto = int(argv[1])
        except ValueError:
            raise RespError("ERR Protocol version is not an integer or out of range") from None
        if proto not in (2, 3):
            raise RespError("NOPROTO unsupported protocol version")
    credentials: tuple[bytes, bytes] | None = None
    name: bytes | None = None
    i = 2
    while i < len(argv):
        option = argv[i].lower()
        if option == b"auth" and i + 2 < len(argv):
            credentials = (argv[i + 1], argv[i + 2])
            i += 3
        elif option == b"setname" and i + 1 < len(argv):
            name = argv[i + 1]
            i += 2
        else:
            option_text = argv[i].decode(errors="replace")
            raise RespError(f"ERR Syntax error in HELLO option '{option_text}'")
    if credentials is not None:
        _authenticate(ctx, session, *credentials)
    if session.identity is None:
        raise RespError(_HELLO_NOAUTH)
    if name is not None:
        if not valid_name(name):
            raise RespError("ERR Client names cannot contain spaces, newlines or special "
                            "characters.")
        session.name = name.decode()
    session.proto = proto
    return {"server": "redis", "version": REDIS_VERSION, "proto": proto, "id": session.id,
            "mode": "cluster" if ctx.cluster is not None else "standalone",
            "role": "master", "modules": []}


@command("ping", -1)
async def ping(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if len(argv) > 2:
        raise errors.wrong_args("ping")
    if session.subscribed:  # RESP2 subscribed mode: Redis answers in a message's shape
        return [b"pong", argv[1] if len(argv) == 2 else b""]
    return argv[1] if len(argv) == 2 else Simple("PONG")


@command("echo", 2)
async def echo(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return argv[1]


@command("quit", -1)
async def quit_(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    session.close_after_reply = True
    return OK


@command("reset", 1)
async def reset(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if session.pubsub is not None:
        session.pubsub.drop_all()
    transactions.forget(ctx, session)
    session.proto = 2
    session.name = ""
    session.readonly = False
    session.identity = initial_identity(ctx)
    return Simple("RESET")


@command("select", 2)
async def select(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    try:
        index = int(argv[1])
    except ValueError:
        raise RespError(errors.NOT_INTEGER) from None
    if ctx.cluster is not None and index != 0:
        raise RespError("ERR SELECT is not allowed in cluster mode")
    if index != 0:
        raise RespError("ERR DB index is out of range")
    return OK


@command("readonly", 1)
async def readonly(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if ctx.cluster is None:
        raise RespError(errors.NO_CLUSTER)
    session.readonly = True
    return OK


@command("asking", 1)
async def asking(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    """Accepted for clients that send it, with nothing to do: this node never answers
    -ASK, since no slot is ever migrating (engine/cache/slots.py)."""
    if ctx.cluster is None:
        raise RespError(errors.NO_CLUSTER)
    return OK


@command("readwrite", 1)
async def readwrite(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if ctx.cluster is None:
        raise RespError(errors.NO_CLUSTER)
    session.readonly = False
    return OK
