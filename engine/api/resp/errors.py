"""Error replies with Redis 7's exact texts, and the engine's cache errors in Redis form."""

from __future__ import annotations

from engine.errors import EngineError

NOT_INTEGER = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
NO_CLUSTER = "ERR This instance has cluster support disabled"
MAX_CLIENTS = "ERR max number of clients reached"

# Engine codes whose message already is Redis's text after "ERR ".
_PREFIXED = {"OOM": "OOM", "WrongType": "WRONGTYPE", "TryAgain": "TRYAGAIN",
             "ServiceUnavailable": "CLUSTERDOWN", "CrossSlot": "CROSSSLOT"}


class RespError(Exception):
    """Raised by a handler: ``text`` is the reply after "-" (code word first)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def wrong_args(name: str) -> RespError:
    return RespError(f"ERR wrong number of arguments for '{name}' command")


def unknown_command(argv: list[bytes]) -> RespError:
    """Redis's text: the name and the first arguments, quoted, up to 128 characters."""
    args = ""
    for arg in argv[1:]:
        if len(args) >= 128:
            break
        args += f"'{_text(arg)[:128 - len(args)]}' "
    return RespError(f"ERR unknown command '{_text(argv[0])[:128]}', "
                     f"with args beginning with: {args}")


def unknown_subcommand(container: str, sub: bytes) -> RespError:
    return RespError(f"ERR unknown subcommand '{_text(sub)[:128]}'. "
                     f"Try {container.upper()} HELP.")


def from_engine(err: EngineError) -> RespError:
    prefix = _PREFIXED.get(err.code)
    if prefix is not None:
        text = err.message
        return RespError(text if text.startswith(prefix) else f"{prefix} {text}")
    return RespError(f"ERR {err.message}")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").replace("\r", " ").replace("\n", " ")
