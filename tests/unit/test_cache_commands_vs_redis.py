"""Differential test of the command layer the endpoints share (engine/cache/commands/):
random command lines over every type, as argv, give the same RESP2 replies and error
texts through ``commands.run`` as from a real redis-server 7.0. The command strategy and
the redis-server fixture are those of test_cache_types_vs_redis.py (which drives the
store directly); this one adds the endpoint's own parsing: option words, integers,
arity, namespacing."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cache.commands import run
from engine.cache.commands.reply import NULL_ARRAY, Members, Status
from engine.cache.local import USER
from engine.cache.store import CacheStore
from engine.cache.types.numbers import format_double
from engine.clock import ManualClock
from engine.errors import EngineError
from tests.reference_redis import needs_redis_server
from tests.unit.test_cache_types_vs_redis import (  # noqa: F401  (server: a fixture)
    COMMAND,
    normalise,
    redis_reply,
    server,
)

pytestmark = needs_redis_server


def resp2(reply: object) -> object:
    """A handler's plain reply as redis-py's raw RESP2 reader gives redis-server's."""
    if reply is NULL_ARRAY:  # *-1: redis-py reads it as None
        return None
    if isinstance(reply, bool):
        return int(reply)
    if isinstance(reply, float):
        return format_double(reply)
    if isinstance(reply, Status | str):
        return str(reply).encode()
    if isinstance(reply, dict):
        return [resp2(x) for kv in reply.items() for x in kv]
    if isinstance(reply, list | tuple | Members):
        out: list[object] = []
        for item in reply:
            if isinstance(item, tuple):
                out += [resp2(x) for x in item]
            else:
                out.append(resp2(item))
        return out
    return reply


def command_reply(store: CacheStore, argv: list[bytes]) -> tuple[str, object]:
    try:
        return "ok", normalise(argv, resp2(run(store, argv, USER)[0]))
    except EngineError as exc:
        return "error", exc.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=st.lists(COMMAND, min_size=1, max_size=40))
def test_command_lines_reply_as_redis_does(server: object,  # noqa: F811 (the fixture)
                                           commands: list[list[bytes]]
                                           ) -> None:
    store = CacheStore(64 * 1024 * 1024, ManualClock())
    redis_reply(server, [b"FLUSHALL"])
    for argv in commands:
        expected = redis_reply(server, argv)
        assert command_reply(store, argv) == expected, argv
