"""CLIENT ID/SETNAME/GETNAME/SETINFO/INFO/LIST/KILL as Redis 7 answers them (what
redis-py sends on connect among them). Unknown subcommands, MAINT_NOTIFICATIONS
included, get Redis 7's "unknown subcommand" error, which redis-py carries on after."""

from __future__ import annotations

from typing import Any

from engine.api.resp import errors
from engine.api.resp.connection_commands import valid_name
from engine.api.resp.context import RespContext
from engine.api.resp.encoder import OK, Verbatim
from engine.api.resp.errors import RespError
from engine.api.resp.registry import command
from engine.api.resp.session import Session


@command("client|id", 2)
async def client_id(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return session.id


@command("client|setname", 3)
async def client_setname(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if not valid_name(argv[2]):
        raise RespError("ERR Client names cannot contain spaces, newlines or special "
                        "characters.")
    session.name = argv[2].decode()
    return OK


@command("client|getname", 2)
async def client_getname(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return session.name.encode() if session.name else None


@command("client|setinfo", 4)
async def client_setinfo(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    attribute = argv[2].decode("utf-8", "replace").lower()
    if attribute not in ("lib-name", "lib-ver"):
        raise RespError(f"ERR Unrecognized option '{argv[2].decode(errors='replace')}'")
    if not valid_name(argv[3]):
        raise RespError(f"ERR {attribute} cannot contain spaces, newlines or special "
                        "characters.")
    if attribute == "lib-name":
        session.lib_name = argv[3].decode()
    else:
        session.lib_ver = argv[3].decode()
    return OK


@command("client|info", 2)
async def client_info(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return Verbatim(session.describe() + "\n")


@command("client|list", -2)
async def client_list(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    wanted: set[int] | None = None
    rest = [a.lower() for a in argv[2:]]
    if rest and rest[0] == b"id" and len(rest) > 1:
        try:
            wanted = {int(a) for a in argv[3:]}
        except ValueError:
            raise RespError("ERR Invalid client ID") from None
    elif rest and rest[0] == b"type" and len(rest) == 2:
        if rest[1] not in (b"normal", b"master", b"replica", b"pubsub"):
            raise RespError(f"ERR Unknown client type '{argv[3].decode(errors='replace')}'")
        wanted = None if rest[1] == b"normal" else set()
    elif rest:
        raise RespError(errors.SYNTAX)
    lines = [s.describe() + "\n" for cid, (s, _) in sorted(ctx.clients.items())
             if wanted is None or cid in wanted]
    return Verbatim("".join(lines))


@command("client|kill", -3)
async def client_kill(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if len(argv) == 3:  # the old form: CLIENT KILL addr:port
        address = argv[2].decode("utf-8", "replace")
        for other, close in list(ctx.clients.values()):
            if other.addr == address:
                _kill(session, other, close)
                return OK
        raise RespError("ERR No such client")
    if len(argv) % 2:
        raise RespError(errors.SYNTAX)
    filters = [(argv[i].lower(), argv[i + 1]) for i in range(2, len(argv), 2)]
    skipme = True
    for key, value in filters:
        if key == b"skipme":
            if value.lower() not in (b"yes", b"no"):
                raise RespError(errors.SYNTAX)
            skipme = value.lower() == b"yes"
        elif key == b"id":
            try:
                int(value)
            except ValueError:
                raise RespError("ERR client-id should be greater than 0") from None
        elif key not in (b"addr", b"laddr", b"user"):
            raise RespError(errors.SYNTAX)
    killed = 0
    for other, close in list(ctx.clients.values()):
        if skipme and other is session:
            continue
        if all(_matches(other, key, value) for key, value in filters if key != b"skipme"):
            _kill(session, other, close)
            killed += 1
    return killed


def _matches(other: Session, key: bytes, value: bytes) -> bool:
    text = value.decode("utf-8", "replace")
    if key == b"id":
        return str(other.id) == text
    if key == b"addr":
        return other.addr == text
    if key == b"laddr":
        return other.laddr == text
    return other.user == text


def _kill(me: Session, other: Session, close: Any) -> None:
    if other is me:
        me.close_after_reply = True
    else:
        close()
